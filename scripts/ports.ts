/**
 * Loopback ports for the processes scripts and tests start: one way to find free ones, shared by
 * the bench, the cluster and the test support.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/**
 * A loopback port nothing listens on, kept out of the kernel's own picks for a minute or so.
 *
 * A port only found free (listen on 0, close) goes straight back into the pool the kernel draws
 * from whenever a process listens on port 0, and the Temporal dev server does just that for five
 * of its own ports while it starts. Once in a while it drew the frontend port we had given it: the
 * frontend then could not bind, and the server panicked before it was ready (a CI run went red on
 * it). So the probe also takes one connection to itself and closes it from the listening side
 * first. That side's TIME_WAIT (60 s on Linux) keeps the port out of every port-0 pick, while a
 * process that asks for it by number with SO_REUSEADDR, which Go, Node and Rust's standard
 * listeners set, still gets it. The Temporal CLI reserves its own picks the same way
 * (temporalcli/devserver/freeport.go).
 */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  const client = connect(port, '127.0.0.1').resume();
  const [accepted] = (await once(probe, 'connection')) as [Socket];
  // The port's side ends first; the client ends on reading that, and once the port's side has read
  // the client's end too, the kernel holds it in TIME_WAIT.
  accepted.end();
  await Promise.all([once(accepted, 'close'), once(client, 'close')]);
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Whether we could listen on this loopback port right now. */
export function bindable(port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once('error', () => done(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => done(true)));
  });
}

/**
 * A base in [low, high) whose every port in `ports(base)` is free: for servers that bind a fixed
 * pattern of ports (a Temporal server's membership ports, a row of receivers). Random bases, so
 * concurrent runs rarely try the same one.
 */
export async function freeBlock(low: number, high: number, ports: (base: number) => number[]): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const base = low + Math.floor(Math.random() * (high - low));
    if ((await Promise.all(ports(base).map(bindable))).every(Boolean)) return base;
  }
  throw new Error(`no free block of ports between ${low} and ${high}`);
}
