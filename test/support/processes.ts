import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../scripts/ports';
import { devServerArgs, devServerReady } from '../../scripts/temporal-cli';
import { Client, Connection } from '@temporalio/client';
import { makeCurrentWhenPolling, parseVersion } from '../../src/temporal/deployments';

/**
 * hookline's own processes and a private Temporal dev server, as real child processes, for the
 * tests that kill them. Every helper here waits until its process is ready and gives the test a
 * way to kill it with any signal; none of them touches the suite's shared dev server.
 */

// Tests that start processes import it from here with the rest of what they need.
export { freePort };

const ROOT = join(__dirname, '../..');

export interface Child {
  process: ChildProcess;
  /** Every line the process wrote to stdout and stderr so far (JSON log lines, mostly). */
  lines: string[];
  exited: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

function track(process: ChildProcess): Child {
  const lines: string[] = [];
  const exited = new Promise<void>((resolve) => process.once('exit', () => resolve()));
  for (const stream of [process.stdout, process.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop()!;
      lines.push(...parts);
    });
  }
  return {
    process,
    lines,
    exited,
    async kill(signal = 'SIGKILL') {
      if (process.exitCode === null && process.signalCode === null) process.kill(signal);
      await exited;
    },
  };
}

async function until(what: string, child: Child, ready: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`${what} exited before it was ready:\n${lastWords(child)}`);
    }
    if (Date.now() > deadline) throw new Error(`${what} was not ready within ${timeoutMs} ms:\n${lastWords(child)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A child's last 20 lines, after its error and panic lines: a Go panic's message comes before its
 * goroutine dump, which alone fills the last lines (the dev server's did, and hid its cause).
 */
export function lastWords(child: Child): string {
  const causes = child.lines.filter((line) => /^panic: |level=ERROR|"level":"error"/.test(line)).slice(0, 5);
  return [...causes, ...(causes.length > 0 ? ['…'] : []), ...child.lines.slice(-20)].join('\n');
}

/** `tsx <entry>` under this Node, with only the given environment on top of a minimal one. */
function spawnTsx(entry: string, env: Record<string, string>): Child {
  return track(
    spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

/**
 * `npm run worker` as a process; ready once it logged that it polls and its build is current, as
 * `npm start` makes it (a versioned worker gets no tasks before). Its deployment is its task
 * queue's own unless the test names one, so tests sharing a dev server never share a deployment.
 */
export async function startWorkerProcess(env: Record<string, string>): Promise<Child> {
  const taskQueue = env.HOOKLINE_TASK_QUEUE ?? 'hookline';
  const child = spawnTsx('src/worker/main.ts', {
    HOOKLINE_DEPLOYMENT_NAME: `hookline-${taskQueue.replace(/[^A-Za-z0-9_-]/g, '-')}`,
    ...env,
  });
  const started = () => child.lines.find((line) => line.includes('"worker started"'));
  await until('worker', child, () => started() !== undefined, 60_000);
  const version = parseVersion((JSON.parse(started()!) as { deployment?: string }).deployment);
  if (version) {
    const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS ?? 'localhost:7233' });
    try {
      await makeCurrentWhenPolling(new Client({ connection, namespace: env.TEMPORAL_NAMESPACE ?? 'default' }), version);
    } finally {
      await connection.close();
    }
  }
  return child;
}

/**
 * `npm run receiver` as a process; ready once /healthz answers. On port 0 unless told otherwise:
 * the system picks a free one when the receiver binds, and its "receiver listening" line says
 * which. (A port found free first and bound later may be taken in between by another process.)
 */
export async function startReceiverProcess(env: Record<string, string>, port = 0): Promise<Child & { url: string }> {
  // The receiver keeps operators in DATABASE_URL; a private file unless the test shares one.
  const databaseUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), 'hookline-receiver-')), 'operators.db')}`;
  const child = spawnTsx('src/receiver/main.ts', { HOST: '127.0.0.1', PORT: String(port), DATABASE_URL: databaseUrl, ...env });
  const listening = () => child.lines.find((line) => line.includes('"receiver listening"'));
  await until('receiver', child, () => listening() !== undefined, 60_000);
  const url = (JSON.parse(listening()!) as { url: string }).url;
  await until(
    'receiver',
    child,
    () =>
      fetch(`${url}/healthz`).then(
        (res) => res.ok,
        () => false,
      ),
    60_000,
  );
  return Object.assign(child, { url });
}

export interface DevServer {
  address: string;
  current: Child;
  /** Starts it again on the same port and database file (after a kill). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A private `temporal server start-dev` on a SQLite file (in memory without one), with hookline's
 * search attributes and priority flags, as `npm start` runs it. Ready when the default namespace
 * answers and lists the search attributes, which is when a start succeeds. The wait is ours, up to
 * a minute: the SDK's own launcher (`TestWorkflowEnvironment.createLocal`) gives a server five
 * seconds, which a freshly built CLI on a busy machine does not always make.
 */
export async function startDevServer(options: { cliPath: string; dbFile?: string; logLevel?: 'warn' | 'error' }): Promise<DevServer> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const launch = async (): Promise<Child> => {
    const child = track(
      spawn(options.cliPath, devServerArgs({ port, dbFile: options.dbFile, logLevel: options.logLevel ?? 'error' }), {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    await until('dev server', child, () => devServerReady(address), 60_000);
    return child;
  };
  const server: DevServer = {
    address,
    current: await launch(),
    async restart() {
      server.current = await launch();
    },
    stop: () => server.current.kill('SIGKILL'),
  };
  return server;
}
