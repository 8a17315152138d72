import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { makeCurrentWhenPolling, parseVersion } from '../../src/temporal/deployments';
import { devServerArgs, devServerReady } from '../temporal-cli';
import { freePort } from '../ports';

const ROOT = resolve(__dirname, '../..');
const PROBE = join(__dirname, 'probe.mjs');

/** What ./probe.mjs answers to `memory?`: process.memoryUsage() before, and the heap after, a full GC. */
export interface ProbeAnswer {
  kind: 'memory';
  rss: number;
  heapUsed: number;
  heapUsedAfterGc: number;
  external: number;
}

const alive = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

/**
 * Every process a bench run starts, so that every way out (success, error, Ctrl-C) stops all of
 * them: newest first, so the receiver and worker go before the Temporal server they talk to.
 */
export class ProcessGroup {
  private readonly members: { name: string; child: ChildProcess; graceMs: number }[] = [];
  private stopping?: Promise<void>;

  add(name: string, child: ChildProcess, graceMs = 5_000): ChildProcess {
    this.members.push({ name, child, graceMs });
    return child;
  }

  /** SIGTERM, then SIGKILL after the grace period. Idempotent: a second Ctrl-C waits for the first. */
  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      for (const { child, graceMs } of [...this.members].reverse()) await stop(child, graceMs);
    })();
    return this.stopping;
  }

  /** Stops one member (the worker, once the end-to-end phase is over). */
  async stop(name: string): Promise<void> {
    const member = this.members.find((m) => m.name === name);
    if (member) await stop(member.child, member.graceMs);
  }

  /** For process.on('exit'), where nothing asynchronous runs: no orphan survives an uncaught error. */
  killNow(): void {
    for (const { child } of this.members) if (alive(child)) child.kill('SIGKILL');
  }
}

async function stop(child: ChildProcess, graceMs: number): Promise<void> {
  if (!alive(child)) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** The last lines of a child's log file, to explain a child that failed. */
function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Polls `ready` until it is true; fails at once if the child exits, with its log's tail. */
export async function waitUntil(
  what: string,
  child: ChildProcess,
  logFile: string,
  ready: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive(child)) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tail(logFile)}`);
    if (
      await Promise.resolve()
        .then(ready)
        .catch(() => false)
    )
      return;
    if (Date.now() > deadline) throw new Error(`${what} was not ready within ${timeoutMs / 1000}s:\n${tail(logFile)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
  await res.body?.cancel();
  return res.ok;
}

/**
 * `node --import tsx <entry>` exactly as `npm run receiver` / `worker` / `sandbox` run it, plus the
 * bench's probe (./probe.mjs: answers memory questions over IPC, and stops the process if the bench
 * dies). Its output goes through a pipe, as under Docker, systemd or `npm start` (process.stdout is
 * asynchronous on a pipe, synchronous on a file), and from there to `logFile`.
 */
export function spawnNode(entry: string, env: NodeJS.ProcessEnv, logFile: string, nodeArgs: string[] = []): ChildProcess {
  const child = spawn(process.execPath, [...nodeArgs, '--import', PROBE, '--import', 'tsx', entry], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  return child;
}

/** The child's memory as it sees it, after a full GC (see ./probe.mjs). */
export function askMemory(child: ChildProcess, timeoutMs = 5_000): Promise<ProbeAnswer | undefined> {
  if (!alive(child) || !child.connected) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(undefined), timeoutMs);
    const onMessage = (m: unknown) => {
      if (typeof m === 'object' && m !== null && (m as ProbeAnswer).kind === 'memory') done(m as ProbeAnswer);
    };
    const done = (answer: ProbeAnswer | undefined) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(answer);
    };
    child.on('message', onMessage);
    child.send('memory?');
  });
}

export type DevServerStore = 'memory' | 'file';

/**
 * `temporal server start-dev` on loopback with hookline's search attributes. `file` keeps its state
 * in a SQLite file as `npm start` does (every commit is fsynced); `memory` is the dev server's
 * default, an in-memory SQLite database that is gone when the server stops.
 */
export async function startDevServer(options: {
  cliPath: string;
  store: DevServerStore;
  dir: string;
  group: ProcessGroup;
  ports?: { port: number; metricsPort: number };
  /** Its name in the group and its log file's (the comparison runs dev servers of its own). */
  name?: string;
  /** False: without priorities and fairness (scripts/temporal-cli.ts), as before issue 26. */
  priorities?: boolean;
}): Promise<{
  address: string;
  metricsUrl: string;
  child: ChildProcess;
  dbFile?: string;
  connection: Connection;
  ports: { port: number; metricsPort: number };
}> {
  // `ports` to start it again where the receiver expects it (the outage bench restarts it).
  const [port, metricsPort] = options.ports ? [options.ports.port, options.ports.metricsPort] : await Promise.all([freePort(), freePort()]);
  const address = `127.0.0.1:${port}`;
  const name = options.name ?? 'temporal';
  const dbFile = options.store === 'file' ? join(options.dir, `${name}.db`) : undefined;
  const logFile = join(options.dir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(options.cliPath, devServerArgs({ port, metricsPort, dbFile, logLevel: 'error', priorities: options.priorities }), {
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  options.group.add(name, child, 10_000);
  // Ready means hookline could start a workflow: the namespace answers and our search attributes exist.
  await waitUntil('the Temporal dev server', child, logFile, () => devServerReady(address), 60_000);
  const connection = await Connection.connect({ address });
  return { address, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`, child, dbFile, connection, ports: { port, metricsPort } };
}

/** Linux only: a process's CPU time so far, from /proc (ticks are 1/100 s there); undefined elsewhere. */
function cpuMsOf(pid: number | undefined): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Linux only: resident memory now (VmRSS) and its high-water mark since the process started (VmHWM). */
export function residentOf(pid: number | undefined): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
    return { rss: kib('VmRSS'), peak: kib('VmHWM') };
  } catch {
    return undefined;
  }
}

/** CPU used by each named process between two readings, in cores (1.00 = one core the whole time). */
export function cpuMeter(pids: Record<string, number | undefined>): () => Record<string, number | undefined> {
  const start = performance.now();
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMsOf(pid)]));
  return () => {
    const wall = performance.now() - start;
    return Object.fromEntries(
      Object.entries(pids).map(([name, pid]) => {
        const now = cpuMsOf(pid);
        const then = before[name];
        return [name, now === undefined || then === undefined ? undefined : (now - then) / wall];
      }),
    );
  };
}

/**
 * VmRSS of each process every `everyMs`, keeping the highest: the peak under load, which VmHWM
 * cannot give once start-up (compiling, bundling) has set a higher mark.
 */
export function sampleResident(
  pids: Record<string, number | undefined>,
  everyMs = 250,
): { peaks: Record<string, number>; stop: () => void } {
  const peaks: Record<string, number> = {};
  const read = () => {
    for (const [name, pid] of Object.entries(pids)) {
      const rss = residentOf(pid)?.rss;
      if (rss !== undefined && !Number.isNaN(rss)) peaks[name] = Math.max(peaks[name] ?? 0, rss);
    }
  };
  read();
  const timer = setInterval(read, everyMs);
  return { peaks, stop: () => clearInterval(timer) };
}

/**
 * hookline's worker is versioned and gets no tasks until its build is current: make it so, as
 * `npm start` does, from the version its "worker started" line names (nothing to do when the
 * worker runs with WORKER_VERSIONING=off).
 */
export async function makeWorkerCurrent(address: string, logFile: string): Promise<void> {
  const line = readFileSync(logFile, 'utf8')
    .split('\n')
    .find((l) => l.includes('"worker started"'));
  const version = parseVersion(line ? (JSON.parse(line) as { deployment?: string }).deployment : undefined);
  if (!version) return;
  const connection = await Connection.connect({ address });
  try {
    await makeCurrentWhenPolling(new Client({ connection, namespace: 'default' }), version);
  } finally {
    await connection.close();
  }
}
