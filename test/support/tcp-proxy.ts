import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * TEST TOOL: a TCP proxy between a client and a real server (the worker's PostgreSQL pool and
 * PostgreSQL, a receiver and Temporal), so a test can break the link in precise ways without
 * touching the server, which other tests share. Nothing here is meant for production.
 */
export interface TcpProxy {
  /** The proxy's own address, to give the client instead of the server's. */
  host: string;
  port: number;
  /** `host:port`, e.g. for TEMPORAL_ADDRESS. */
  address: string;
  /**
   * The server goes away: every live connection is reset and new ones are reset as soon as they
   * arrive (the client sees its connection fail, as if the server were down).
   */
  cut(): void;
  /**
   * The network fails mid-exchange: what clients send still reaches the server and is executed,
   * but the first reply on any connection kills that connection instead of being delivered. A
   * statement committed this way is applied while its client only sees a broken connection.
   */
  loseReplies(): void;
  /** Back to a transparent link. Connections broken meanwhile stay broken; clients reconnect. */
  restore(): void;
  /** Requests still reach the server, but its replies are held back (in order) until released. */
  holdResponses(): void;
  /** Delivers what was held, then passes replies through again. */
  releaseResponses(): void;
  /** What the proxy did, so a test can assert the fault really bit. */
  readonly stats: { accepted: number; refused: number; destroyed: number; lostReplies: number };
  close(): Promise<void>;
}

type Mode = 'up' | 'cut' | 'lose-replies';

interface Pair {
  client: net.Socket;
  server: net.Socket;
  held: Buffer[];
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: Mode = 'up';
  let holding = false;
  const stats = { accepted: 0, refused: 0, destroyed: 0, lostReplies: 0 };
  const pairs = new Set<Pair>();

  const kill = (pair: Pair) => {
    if (!pairs.delete(pair)) return;
    stats.destroyed += 1;
    // A reset, not a polite FIN: what a crashed server or a dropped network looks like.
    if (!pair.client.destroyed) pair.client.resetAndDestroy();
    pair.server.destroy();
  };

  const deliver = (pair: Pair, chunk: Buffer) => {
    if (!pair.client.write(chunk)) pair.server.pause();
  };

  const proxy = net.createServer((client) => {
    if (mode === 'cut') {
      stats.refused += 1;
      client.resetAndDestroy();
      return;
    }
    stats.accepted += 1;
    const pair: Pair = { client, server: net.connect(target), held: [] };
    pairs.add(pair);
    client.on('data', (chunk) => {
      if (!pair.server.write(chunk)) client.pause();
    });
    pair.server.on('drain', () => client.resume());
    pair.server.on('data', (chunk) => {
      if (mode === 'lose-replies') {
        stats.lostReplies += 1;
        kill(pair);
      } else if (holding) {
        pair.held.push(chunk);
      } else {
        deliver(pair, chunk);
      }
    });
    client.on('drain', () => pair.server.resume());
    const end = () => kill(pair);
    client.on('error', end).on('close', end);
    pair.server.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    stats,
    cut() {
      mode = 'cut';
      for (const pair of [...pairs]) kill(pair);
    },
    loseReplies() {
      mode = 'lose-replies';
    },
    restore() {
      mode = 'up';
    },
    holdResponses() {
      holding = true;
    },
    releaseResponses() {
      holding = false;
      for (const pair of pairs) for (const chunk of pair.held.splice(0)) deliver(pair, chunk);
    },
    close() {
      for (const pair of [...pairs]) kill(pair);
      return new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
