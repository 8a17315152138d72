import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { allPorts, serverPorts, withDatabase } from '../../scripts/cluster-temporal';
import { freeBlock, freePort } from '../../scripts/ports';

/**
 * `npm run cluster` as a user runs it, on databases and ports of its own, for the tests that use
 * the production shape. Its processes are found by the HOOKLINE_DATA_DIR and
 * HOOKLINE_CLUSTER_PROCESS the cluster puts in each child's environment.
 */
const ROOT = resolve(__dirname, '../..');

/** The PostgreSQL server the cluster tests use: TEST_DATABASE_URL's, else the local one. */
export function clusterPostgres(): string {
  return withDatabase(process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres', 'postgres');
}

export interface ClusterEnv {
  env: Record<string, string>;
  receiverUrls: string[];
  temporalAddress: string;
  sandboxUrl: string;
  uiUrl: string;
}

/**
 * Ports and databases for one cluster. The Temporal port is below 32768 with its membership ports
 * (a smallint in PostgreSQL), which the OS's ephemeral range is not.
 */
export async function clusterEnv(options: {
  dataDir: string;
  databasePrefix: string;
  extra?: Record<string, string>;
}): Promise<ClusterEnv> {
  const temporalPort = await freeBlock(20_000, 30_000, (base) => allPorts(serverPorts(base)));
  const receiverPort = await freeBlock(30_000, 32_000, (base) => [base, base + 1]);
  const sandboxPort = await freePort();
  const uiPort = await freePort();
  const pg = clusterPostgres();
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    ...(process.env.XDG_CACHE_HOME ? { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME } : {}),
    HOOKLINE_DATA_DIR: options.dataDir,
    HOOKLINE_TEMPORAL_PORT: String(temporalPort),
    PORT: String(receiverPort),
    SANDBOX_PORT: String(sandboxPort),
    HOOKLINE_UI_PORT: String(uiPort),
    TEMPORAL_DATABASE_URL: withDatabase(pg, `${options.databasePrefix}_temporal`),
    TEMPORAL_VISIBILITY_DATABASE_URL: withDatabase(pg, `${options.databasePrefix}_visibility`),
    DATABASE_URL: withDatabase(pg, `${options.databasePrefix}_kb`),
    ...options.extra,
  };
  return {
    env,
    receiverUrls: [`http://127.0.0.1:${receiverPort}`, `http://127.0.0.1:${receiverPort + 1}`],
    temporalAddress: `127.0.0.1:${temporalPort}`,
    sandboxUrl: `http://127.0.0.1:${sandboxPort}`,
    uiUrl: `http://127.0.0.1:${uiPort}`,
  };
}

/** Every process whose environment carries this data directory, by its HOOKLINE_CLUSTER_PROCESS (or 'other'). */
export function clusterProcesses(dataDir: string): { pid: number; role: string; command: string }[] {
  const found: { pid: number; role: string; command: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0');
      if (!environ.includes(`HOOKLINE_DATA_DIR=${dataDir}`)) continue;
      const role = environ.find((v) => v.startsWith('HOOKLINE_CLUSTER_PROCESS='))?.split('=')[1] ?? 'other';
      found.push({ pid: Number(entry), role, command: readFileSync(`/proc/${entry}/cmdline`, 'latin1').replace(/\0/g, ' ').trim() });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

export interface RunningCluster {
  process: ChildProcess;
  output: () => string;
  /** Ctrl-C, as a terminal sends it: SIGINT to the process group. Resolves when npm has exited. */
  interrupt(): Promise<number | null>;
}

/**
 * `npm run cluster [args]`, detached in its own process group; resolves once it says it runs
 * (`ready`: the line that says so; `--next-build` says another).
 */
export async function startCluster(
  cluster: ClusterEnv,
  args: string[] = [],
  timeoutMs = 300_000,
  ready = 'hookline cluster is running',
): Promise<RunningCluster> {
  const child = spawn('npm', ['run', 'cluster', '--', ...args], {
    cwd: ROOT,
    env: cluster.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  // Resolved by the line itself (no polling): running, exited first, or out of time.
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (output.includes(ready)) finish();
    };
    const timer = setTimeout(
      () => finish(new Error(`npm run cluster was not running within ${timeoutMs / 1000}s:\n${output.slice(-4000)}`)),
      timeoutMs,
    );
    const onExit = (code: number | null) => finish(new Error(`npm run cluster exited with ${code}:\n${output.slice(-4000)}`));
    function finish(err?: Error) {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    }
    child.stdout!.on('data', check);
    child.once('exit', onExit);
    check();
  });
  return {
    process: child,
    output: () => output,
    async interrupt() {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGINT');
      return exited;
    },
  };
}

export const clusterRoot = ROOT;
export const distFile = (path: string) => join(ROOT, 'dist', path);
