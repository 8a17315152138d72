import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { tsToMs } from '@temporalio/common/lib/time';
import { SAMPLES } from '../src/events/samples';
import { sandboxProvidersEnv, sandboxWorkerEnv, startSandbox, type RunningSandbox } from '../src/sandbox';
import { loadPartnerRates } from '../src/config/partners';
import { loadProvidersConfig } from '../src/config/providers';
import { partnerTaskQueue } from '../workflows/contracts/partners';
import { connectTestEnv, sendSigned, startReceiver, type Receiver } from './support/harness';
import { startWorkerProcess, type Child } from './support/processes';

/**
 * A partner's rate limit holds across worker processes: two `npm run worker` processes poll the
 * same CRM queue with PARTNER_RATE_CRM=5, a burst of inquiries (one CRM read each) arrives at
 * once, and the CRM stand-in counts what reaches it. The limit is the Temporal server's, set by
 * the workers on the queue, so two processes together get no more than one would.
 */

const RATE = 5;
const INQUIRIES = 40;
const unique = () => randomBytes(4).toString('hex').toUpperCase();

/** The most requests in any window of `ms` milliseconds (windows start at each request). */
function busiestWindow(times: number[], ms: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! < sorted[i]! + ms) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

/** A fresh schema in the test PostgreSQL: both worker processes share the knowledge base, as in production. */
async function freshSchema(): Promise<string> {
  const base = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  await client.query(`CREATE SCHEMA ${schema}`);
  await client.end();
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

describe('partner rate limits', () => {
  let env: TestWorkflowEnvironment;
  let sandbox: RunningSandbox;
  let receiver: Receiver;
  const workers: Child[] = [];
  const taskQueue = `test-partner-limits-${randomUUID()}`;

  beforeAll(async () => {
    env = await connectTestEnv();
    sandbox = await startSandbox({ port: 0 });
    const workerEnv = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: inject('temporalNamespace'),
      HOOKLINE_TASK_QUEUE: taskQueue,
      DATABASE_URL: await freshSchema(),
      WORKER_METRICS_ADDRESS: 'off',
      PARTNER_RATE_CRM: String(RATE),
      ...sandboxWorkerEnv(sandbox.url),
    };
    // One after the other: the first migrates the shared database before the second opens it.
    workers.push(await startWorkerProcess(workerEnv));
    workers.push(await startWorkerProcess(workerEnv));
    receiver = await startReceiver({ env, taskQueue, sourceEnv: { WEBHOOK_RATE_LIMIT_CRM: '100000/s' } });
  }, 180_000);
  afterAll(async () => {
    await receiver?.close();
    await Promise.all(workers.map((w) => w.kill('SIGTERM')));
    await sandbox?.close();
    await env?.teardown();
  });

  it(
    `two worker processes together call the CRM at most ${RATE} a second, and every inquiry is decided`,
    { timeout: 180_000 },
    async () => {
      const tag = unique();
      const ids = await Promise.all(
        Array.from({ length: INQUIRIES }, async (_, i) => {
          const res = await sendSigned(receiver.url, 'crm', {
            ...SAMPLES['customer.inquiry.new'],
            inquiry_id: `INQ-${tag}-${i}`,
            customer_id: `CUST-${tag}X${i}`,
            summary: 'Where is my order?',
          });
          expect(res.status, JSON.stringify(res.body)).toBe(202);
          return res.body.workflowId as string;
        }),
      );
      // Every inquiry reaches its decision (answered: the run completes; or handed to a person: its
      // conversation starts): the limit paces the work, it loses none.
      const decided = async (id: string) => {
        const handle = env.client.workflow.getHandle(id);
        if ((await handle.describe()).status.name === 'COMPLETED') return true;
        const { events } = await handle.fetchHistory();
        return (events ?? []).some((e) => e.childWorkflowExecutionStartedEventAttributes);
      };
      const undecided = async () => (await Promise.all(ids.map(decided))).filter((done) => !done).length;
      await expect.poll(undecided, { timeout: 120_000, interval: 1_000 }).toBe(0);

      // What the server handed out: each inquiry's CRM read, when its task was given to a worker,
      // and by which process, as the workflow's history records it.
      const starts = await Promise.all(
        ids.map(async (id) => {
          const { events } = await env.client.workflow.getHandle(id).fetchHistory();
          const scheduled = events?.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'enrichCustomer');
          const started = events?.find(
            (e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === scheduled?.eventId?.toString(),
          );
          return {
            queue: scheduled?.activityTaskScheduledEventAttributes?.taskQueue?.name,
            identity: started?.activityTaskStartedEventAttributes?.identity,
            at: started?.eventTime ? tsToMs(started.eventTime) : undefined,
          };
        }),
      );
      // The calls waited on the CRM's own queue, and both processes served it: the limit held across
      // them, not inside one.
      expect(new Set(starts.map((s) => s.queue))).toEqual(new Set([partnerTaskQueue(taskQueue, 'crm')]));
      const pids = new Set(workers.map((w) => w.process.pid));
      const identities = new Set(starts.map((s) => s.identity));
      expect(identities.size, [...identities].join(', ')).toBe(2);
      for (const identity of identities) expect(pids.has(Number(identity?.split('@')[0]))).toBe(true);

      // The server's limiter is a GCRA with one second of burst: a queue that was idle hands out a
      // second's worth at once (RATE + 1 tasks), then RATE a second, so in any window of W seconds at
      // most RATE × (W + 1) + 1 tasks start. Without the limit all 40 start within about a second.
      const dispatched = starts.map((s) => s.at!);
      for (const seconds of [1, 2, 4]) {
        expect(busiestWindow(dispatched, seconds * 1000), `tasks handed out in the busiest ${seconds}s`).toBeLessThanOrEqual(
          RATE * (seconds + 1) + 1,
        );
      }
      // At the CRM: the same, plus one second's worth for the time between a task being handed out
      // and its request reaching the partner, which a worker process busy with 40 workflow tasks at
      // once stretches by a few hundred milliseconds for some and not others.
      const reads = sandbox.sandbox.calls().filter((c) => c.system === 'crm' && c.path.startsWith(`/customers/CUST-${tag}`));
      expect(reads.length).toBeGreaterThanOrEqual(INQUIRIES);
      const arrived = reads.map((c) => Date.parse(c.at));
      for (const seconds of [1, 2, 4]) {
        expect(busiestWindow(arrived, seconds * 1000), `CRM requests in the busiest ${seconds}s`).toBeLessThanOrEqual(
          RATE * (seconds + 2) + 1,
        );
      }
    },
  );
});

describe('partner rates from the environment', () => {
  it('defaults by provider, PARTNER_RATE_<PARTNER> over them, and a message naming a bad one', () => {
    expect(loadPartnerRates({})).toEqual({ crm: 10, carrier: 10, warehouse: 10, inventory: 10, payments: 10, store: 2, helpdesk: 3 });
    const providers = loadProvidersConfig({ ...sandboxProvidersEnv('http://127.0.0.1:1') });
    expect(loadPartnerRates({}, providers)).toMatchObject({ carrier: 5, payments: 25 });
    expect(
      loadPartnerRates({
        PARTNER_RATE_CRM: '700/min',
        PARTNER_RATE_PAYMENTS: '2.5',
        PARTNER_RATE_CARRIER: 'off',
        PARTNER_RATE_HELPDESK: '400/min',
      }),
    ).toMatchObject({
      crm: 700 / 60,
      payments: 2.5,
      carrier: undefined,
      helpdesk: 400 / 60,
    });
    expect(() => loadPartnerRates({ PARTNER_RATE_CRM: 'fast', PARTNER_RATE_WAREHOUSE: '0' })).toThrow(
      /PARTNER_RATE_CRM: expected requests a second[\s\S]*PARTNER_RATE_WAREHOUSE/,
    );
  });
});

describe("the stand-in's own rate limit", () => {
  it('answers 429 with Retry-After past its rate, as a partner does, and takes requests again a second later', async () => {
    const limited = await startSandbox({ port: 0, rateLimits: { crm: 3 } });
    try {
      const get = () => fetch(`${limited.url}/crm/customers/CUST-67890/details`);
      const answers = await Promise.all(Array.from({ length: 5 }, get));
      expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 200, 429, 429]);
      const refused = answers.find((r) => r.status === 429)!;
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(await refused.json()).toMatchObject({ error: { code: 'rate_limited' } });
      // Other systems are not limited.
      expect((await fetch(`${limited.url}/inventory/health`)).status).not.toBe(429);
      await expect.poll(async () => (await get()).status, { timeout: 5_000, interval: 400 }).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
