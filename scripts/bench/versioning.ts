/**
 * `npm run bench -- --versioning`: what Worker Versioning costs the worker, in the same run. One
 * Temporal dev server (in memory), the sandbox, and two hookline systems that differ only in
 * WORKER_VERSIONING: a worker polling as a version of a Worker Deployment (made current, as `npm
 * start` does) and one polling unversioned, each with its own receiver and task queue. Each round
 * sends the same number of order events through each system's receiver (closed loop) and times
 * them until every workflow has completed; rounds alternate which goes first. Prints completed
 * workflows/s per round and the ratio of the means (versioned / unversioned).
 */
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { BUILTIN_SCHEMES } from '../../src/receiver/sources';
import { sandboxWorkerEnv } from '../../src/sandbox';
import { generateSecret } from '../../src/signatures';
import { findTemporalCli } from '../temporal-cli';
import { freePort } from '../ports';
import { delivery } from './events';
import { baseEnv, receiverEnv } from './hookline-env';
import { httpOk, makeWorkerCurrent, ProcessGroup, spawnNode, startDevServer, waitUntil } from './processes';

const CONCURRENCY = 16;
const MODES = ['versioned', 'unversioned'] as const;
type Mode = (typeof MODES)[number];

export async function versioningBench(options: { rounds: number; events: number }): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-bench-versioning-'));
  const group = new ProcessGroup();
  try {
    const cli = await findTemporalCli();
    const temporal = await startDevServer({ cliPath: cli.path!, store: 'memory', dir, group });
    const client = new Client({ connection: temporal.connection, namespace: 'default' });
    const secrets = Object.fromEntries(Object.entries(BUILTIN_SCHEMES).map(([name, scheme]) => [name, generateSecret(scheme)]));
    const sandboxPort = await freePort();
    const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
    const sandboxLog = join(dir, 'sandbox.log');
    const sandbox = group.add(
      'sandbox',
      spawnNode('src/sandbox/main.ts', { ...baseEnv(temporal.address, 'none'), PORT: String(sandboxPort), HOST: '127.0.0.1' }, sandboxLog),
    );
    await waitUntil('the sandbox', sandbox, sandboxLog, () => httpOk(`${sandboxUrl}/_sandbox/health`), 120_000);

    const receivers = {} as Record<Mode, string>;
    for (const mode of MODES) {
      const taskQueue = `bench-${mode}`;
      const env = baseEnv(temporal.address, taskQueue);
      const workerLog = join(dir, `worker-${mode}.log`);
      const worker = group.add(
        `worker ${mode}`,
        spawnNode(
          'src/worker/main.ts',
          {
            ...env,
            ...sandboxWorkerEnv(sandboxUrl),
            DATABASE_URL: `sqlite:${join(dir, `${mode}.db`)}`,
            HOOKLINE_DEPLOYMENT_NAME: `bench-${mode}`,
            WORKER_VERSIONING: mode === 'versioned' ? 'on' : 'off',
          },
          workerLog,
        ),
        15_000,
      );
      await waitUntil(`the ${mode} worker`, worker, workerLog, () => readLog(workerLog).includes('"worker started"'), 180_000);
      await makeWorkerCurrent(temporal.address, workerLog);
      const port = await freePort();
      // The receiver's spool and operators, in a folder of each system's own.
      mkdirSync(join(dir, mode));
      const receiverLog = join(dir, `receiver-${mode}.log`);
      const receiver = group.add(
        `receiver ${mode}`,
        spawnNode('src/receiver/main.ts', receiverEnv(env, port, secrets, join(dir, mode)), receiverLog),
      );
      receivers[mode] = `http://127.0.0.1:${port}`;
      await waitUntil(`the ${mode} receiver`, receiver, receiverLog, () => httpOk(`${receivers[mode]}/readyz`), 120_000);
    }

    const results: Record<Mode, number[]> = { versioned: [], unversioned: [] };
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? MODES : ([...MODES].reverse() as Mode[]);
      for (const mode of order) {
        const perSecond = await completedPerSecond(
          client,
          receivers[mode],
          `bench-${mode}`,
          `V${round}${mode[0]!.toUpperCase()}`,
          options.events,
          secrets,
        );
        results[mode].push(perSecond);
        console.log(`round ${round + 1}, ${mode} worker: ${options.events} order events completed at ${perSecond.toFixed(1)} workflows/s`);
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const list = (mode: Mode) => `${results[mode].map((x) => x.toFixed(1)).join(', ')} (mean ${mean(results[mode]).toFixed(1)})`;
    console.log(
      `versioning: versioned ${list('versioned')} workflows/s; unversioned ${list('unversioned')}; ` +
        `ratio versioned/unversioned ${(mean(results.versioned) / mean(results.unversioned)).toFixed(3)}`,
    );
    return 0;
  } finally {
    await group.stopAll();
  }
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** `events` order events through the receiver, closed loop, timed from the first send until every workflow completed. */
async function completedPerSecond(
  client: Client,
  url: string,
  taskQueue: string,
  tag: string,
  events: number,
  secrets: Record<string, string>,
): Promise<number> {
  const query = `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Completed'`;
  const before = (await client.workflow.count(query)).count;
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < events) {
        const d = delivery('order', tag, 'run', next++, secrets);
        const res = await fetch(`${url}/webhooks/${d.source}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...d.headers },
          body: d.body,
        });
        await res.arrayBuffer();
        if (res.status !== 202) throw new Error(`the ${taskQueue} receiver answered ${res.status}`);
      }
    }),
  );
  // Completion shows in visibility a few ms late; polled, since the bench has no other signal.
  while ((await client.workflow.count(query)).count < before + events) await new Promise((resolve) => setTimeout(resolve, 50));
  return events / ((Date.now() - started) / 1000);
}
