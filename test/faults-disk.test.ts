import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { openDatabase, type Database } from '../src/db';
import { SAMPLES } from '../src/events/samples';
import { sandboxWorkerEnv, startSandbox, type RunningSandbox } from '../src/sandbox';
import { sendSigned, startReceiver, type Receiver } from './support/harness';
import { notificationsFor, unique } from './support/fixtures';
import { freePort, startWorkerProcess, type Child } from './support/processes';

/**
 * The finding behind issue 18, made real: the worker's knowledge base refuses every write (the
 * kernel's RLIMIT_FSIZE on the worker process, set with `prlimit` while it runs: SQLite's writes
 * fail with EFBIG, SQLITE_IOERR_WRITE; Node ignores SIGXFSZ), an event is acknowledged meanwhile,
 * and the disk recovers. Before, the write's 20 attempts ran out after about 7.5 minutes and the
 * run failed for good; now it retries for as long as the outage lasts, shows in the worker's
 * metrics while it does, and completes once the disk takes writes again.
 *
 * The outage here lasts until the write has moved from its local fast path to the durable path
 * and retried there a few times (about 20 s), and Temporal's own description of the pending
 * activity shows no attempt limit. `HOOKLINE_DISK_OUTAGE_SECONDS=480` keeps the disk refusing for
 * longer than the old budget, 8 minutes, and checks the run is still retrying at the end.
 */

const OUTAGE_SECONDS = Number(process.env.HOOKLINE_DISK_OUTAGE_SECONDS ?? 0);

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

describe('the knowledge base’s disk refuses writes, then recovers', () => {
  const taskQueue = `faults-disk-${unique()}`;
  let dir: string;
  let sandbox: RunningSandbox;
  let temporal: { client: Client; connection: Connection };
  let worker: Child;
  let receiver: Receiver;
  let database: Database;
  let metricsUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookline-faults-disk-'));
    sandbox = await startSandbox({ port: 0 });
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    temporal = { connection, client: new Client({ connection, namespace: 'default' }) };
    const metricsAddress = `127.0.0.1:${await freePort()}`;
    metricsUrl = `http://${metricsAddress}/metrics`;
    worker = await startWorkerProcess({
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      HOOKLINE_TASK_QUEUE: taskQueue,
      DATABASE_URL: `sqlite:${join(dir, 'kb.db')}`,
      UPSTREAM_TIMEOUT: '10s',
      WORKER_METRICS_ADDRESS: metricsAddress,
      ...sandboxWorkerEnv(sandbox.url),
    });
    database = await openDatabase(`sqlite:${join(dir, 'kb.db')}`);
    receiver = await startReceiver({ env: temporal, taskQueue });
  });
  afterAll(async () => {
    await receiver?.close();
    await worker?.kill();
    await database?.close();
    await sandbox?.close();
    await temporal?.connection.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // The soft limit only: raising a hard limit again takes CAP_SYS_RESOURCE, which a container may not have.
  const fsize = (limit: string) => execFileSync('prlimit', ['--pid', String(worker.process.pid), `--fsize=${limit}:`]);

  it(
    'an acknowledged event waits out the outage, retrying without an attempt limit and visibly, then completes once',
    { timeout: 120_000 + OUTAGE_SECONDS * 1_000 },
    async () => {
      // A first event completes, so the knowledge base is migrated and its files exist at full size.
      const warm = await sendSigned(receiver.url, 'oms', { ...SAMPLES['order.status_updated'], order_id: `ORD-${unique()}` });
      expect(warm.status).toBe(202);
      await temporal.client.workflow.getHandle(String(warm.body.workflowId)).result();

      fsize('1');
      let lifted = false;
      try {
        const orderId = `ORD-${unique()}`;
        const sent = await sendSigned(receiver.url, 'oms', { ...SAMPLES['order.status_updated'], order_id: orderId });
        expect(sent.status).toBe(202);
        const handle = temporal.client.workflow.getHandle(String(sent.body.workflowId));

        // The write's five local attempts give up after about 8 s in the workflow task; the same call
        // then runs as an ordinary activity, which Temporal describes: retrying, with no attempt limit.
        const pending = async () => (await handle.describe()).raw.pendingActivities?.[0];
        await expect.poll(async () => (await pending())?.attempt ?? 0, { timeout: 90_000, interval: 1_000 }).toBeGreaterThanOrEqual(3);
        const activity = (await pending())!;
        expect(activity.activityType?.name).toBe('applyOrderStatus');
        expect(activity.maximumAttempts).toBe(0); // unlimited
        expect(activity.lastFailure?.message).toMatch(/SQLITE_IOERR|disk I\/O error|database or disk is full/i);

        // The retries show in the worker's metrics, by activity and workflow type, on both paths.
        const samples = parseExposition(await (await fetch(metricsUrl)).text());
        const count = (local: string) =>
          samples.find(
            (s) =>
              s.name === 'hookline_activity_retry_attempt_count' &&
              s.labels.activity_type === 'applyOrderStatus' &&
              s.labels.workflow_type === 'orderStatusWorkflow' &&
              s.labels.task_queue === taskQueue &&
              s.labels.local === local,
          )?.value ?? 0;
        // Attempts 2 to 5 on the fast path; on the durable path the one described is the next attempt.
        expect(count('true')).toBeGreaterThanOrEqual(4);
        expect(count('false')).toBeGreaterThanOrEqual(activity.attempt! - 2);
        const ages = samples.filter((s) => s.name === 'hookline_activity_retry_age_bucket' && s.labels.local === 'false');
        expect(ages.some((s) => s.labels.le === '+Inf' && s.value >= 1)).toBe(true);

        if (OUTAGE_SECONDS > 0) {
          const until = Date.now() + OUTAGE_SECONDS * 1_000;
          while (Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10_000));
          // Longer than the old budget's 7.5 minutes: still retrying, never failed.
          expect((await handle.describe()).status.name).toBe('RUNNING');
          expect((await pending())?.attempt).toBeGreaterThan(3);
        }

        fsize('unlimited');
        lifted = true;
        // The next attempt (at most a minute away) writes; the customer is told once.
        expect(await handle.result()).toEqual({ applied: true, notified: 'order-shipped' });
        const order = await database.db.selectFrom('orders').selectAll().where('id', '=', orderId).executeTakeFirst();
        expect(order).toMatchObject({ status: 'shipped' });
        expect(await notificationsFor(database.db, `${handle.workflowId}:notify`)).toHaveLength(1);
      } finally {
        if (!lifted) fsize('unlimited');
      }
    },
  );
});
