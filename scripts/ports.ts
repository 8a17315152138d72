/**
 * Loopback ports for the processes scripts and tests start: one way to find free ones, shared by
 * the bench, the cluster and the test support.
 */
import { createServer, type AddressInfo } from 'node:net';

/** A loopback port nothing listens on (for as long as nobody takes it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
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
