import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { inject } from 'vitest';
import { openDatabase, type Database } from '../../src/db';
import { sandboxProvidersEnv, sandboxWorkerEnv, startSandbox, type RunningSandbox } from '../../src/sandbox';
import { startReceiver, type Receiver } from './harness';
import { startWorkerProcess, type Child } from './processes';

/**
 * The stack the tests that kill a worker mid-call run on: the sandbox (the providers' stand-ins),
 * a worker as a real process (so SIGKILL is real) on a task queue of its own, its knowledge base
 * opened beside it, and an in-process receiver with the given webhook sources. `worker` is the
 * current process: a test that kills it starts the next with `startWorkerProcess(stack.env)` and
 * puts it back here, so `stopKillableStack` kills the one still running.
 */
export interface KillableStack {
  dir: string;
  sandbox: RunningSandbox;
  connection: Connection;
  client: Client;
  env: Record<string, string>;
  worker: Child;
  database: Database;
  receiver: Receiver;
}

export async function startKillableStack(options: {
  taskQueue: string;
  /**
   * The receiver's webhook sources; the worker gets them too, as `npm start` shares them (a
   * provider's webhooks on means the worker needs its credentials).
   */
  sourceEnv: Record<string, string>;
  /** More of the worker's environment (e.g. RETURN_RECEIPT_WINDOW). */
  env?: Record<string, string>;
}): Promise<KillableStack> {
  const dir = mkdtempSync(join(tmpdir(), `hookline-${options.taskQueue}-`));
  const sandbox = await startSandbox({ port: 0 });
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  const client = new Client({ connection, namespace: 'default' });
  const env = {
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    HOOKLINE_TASK_QUEUE: options.taskQueue,
    DATABASE_URL: `sqlite:${join(dir, 'kb.db')}`,
    WORKER_METRICS_ADDRESS: 'off',
    ...options.env,
    ...sandboxWorkerEnv(sandbox.url),
    ...sandboxProvidersEnv(sandbox.url),
    ...options.sourceEnv,
  };
  const worker = await startWorkerProcess(env);
  const database = await openDatabase(env.DATABASE_URL);
  const receiver = await startReceiver({
    env: { client } as TestWorkflowEnvironment,
    taskQueue: options.taskQueue,
    sourceEnv: options.sourceEnv,
  });
  return { dir, sandbox, connection, client, env, worker, database, receiver };
}

/** Stops what `startKillableStack` started (whatever part of it did start), the current worker included. */
export async function stopKillableStack(stack: Partial<KillableStack> | undefined): Promise<void> {
  await stack?.receiver?.close();
  await stack?.worker?.kill();
  await stack?.database?.close();
  await stack?.sandbox?.close();
  await stack?.connection?.close();
  if (stack?.dir) rmSync(stack.dir, { recursive: true, force: true });
}
