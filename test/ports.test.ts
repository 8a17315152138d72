import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../scripts/ports';

/** The states of this machine's IPv4 TCP sockets bound to 127.0.0.1:port (Linux's /proc/net/tcp, states in hex). */
function socketStates(port: number): string[] {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1] === local)
    .map((fields) => fields[3]!);
}

const TIME_WAIT = '06';
const LISTEN = '0A';

describe('freePort', () => {
  it('leaves the port in TIME_WAIT, which keeps it out of every port-0 pick (the dev server makes five while it starts)', async () => {
    const port = await freePort();
    expect(socketStates(port)).toEqual([TIME_WAIT]);
  });

  it('a server asking for the port by number still gets it', async () => {
    const port = await freePort();
    const server = await new Promise<Server>((resolve, reject) => {
      const listening = createServer();
      listening.once('error', reject);
      listening.listen(port, '127.0.0.1', () => resolve(listening));
    });
    try {
      expect(socketStates(port).sort()).toEqual([TIME_WAIT, LISTEN].sort());
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
