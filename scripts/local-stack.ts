/**
 * What `npm start` and `npm run cluster` share as supervisors of a local stack: port checks,
 * readiness waits, and the first lead operator. Each keeps its own process handling (start stops
 * everything when a child dies; the cluster restarts it), which is where they differ.
 */
import type { ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { migrateToLatest, openDatabase } from '../src/db';
import { DEV_LEAD_OPERATOR } from '../src/dev/secrets';
import { createOperatorDirectory } from '../src/operators/directory';

export function portInUse(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

export async function requireFreePorts(ports: number[], what: string, variable: string): Promise<void> {
  for (const port of ports) {
    if (await portInUse(port)) {
      throw new Error(`Port ${port} (${what}) is already in use. Stop whatever holds it, or choose another port with ${variable}=<port>.`);
    }
  }
}

/** Polls `check` (a readiness probe of a process we started) until true, the supervisor stops, or time runs out. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, stopping: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (stopping()) throw new Error('stopped');
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not become ready within ${Math.round(timeoutMs / 1000)}s`);
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
  return res.ok;
}

/**
 * The first lead operator, so the inbox works on a fresh install: created with the dev token
 * unless an operator of that name exists. Returns the line to print about it.
 */
export async function ensureLeadOperator(databaseUrl: string, token: string): Promise<string> {
  const database = await openDatabase(databaseUrl);
  try {
    await migrateToLatest(database);
    const result = await createOperatorDirectory(database.db, { sessionTtlMs: 1 }).ensure(DEV_LEAD_OPERATOR, 'lead', token);
    if (result === 'exists-with-another-token') {
      return (
        `Operator "${DEV_LEAD_OPERATOR}" exists with a token of its own (not the dev one); ` +
        'create yourself one with: npm run operators -- add <name> --role lead'
      );
    }
    return `Operator "${DEV_LEAD_OPERATOR}" (lead) ${result === 'created' ? 'created' : 'ready'}; its token: ${token}`;
  } finally {
    await database.close();
  }
}

/**
 * A child's output, line by line, prefixed with its name so several processes in one terminal
 * stay readable. Once the supervisor is stopping, the children's shutdown chatter is dropped.
 */
export function pipePrefixedLines(
  name: string,
  child: ChildProcess,
  options: { width: number; stopping: () => boolean; onLine?: (line: string) => void },
): void {
  const prefix = `[${name}]`.padEnd(options.width);
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      if (options.stopping()) return;
      for (const line of lines) {
        if (!line.trim()) continue;
        options.onLine?.(line);
        process.stdout.write(`${prefix} ${line}\n`);
      }
    });
  }
}
