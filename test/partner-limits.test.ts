import { createHmac, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { tsToMs } from '@temporalio/common/lib/time';
import { SAMPLES } from '../src/events/samples';
import { shopify } from '../src/providers/shopify';
import { sandboxProvidersEnv, sandboxWorkerEnv, startSandbox, type RunningSandbox } from '../src/sandbox';
import { loadPartnerRates, shopsConfigured } from '../src/config/partners';
import { loadProvidersConfig } from '../src/config/providers';
import { agentSettings } from '../activities/settings';
import type { AgentSettings } from '../src/agent/types';
import { createOutboundProviders } from '../src/providers/outbound';
import { partnerTaskQueue, shopKey } from '../workflows/contracts/partners';
import type { ReturnStatusResult } from '../workflows/contracts/store-returns';
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

/**
 * A run's first `activity`, as its history tells: the queue and priority it was scheduled with, and
 * when and to which worker the server handed it out (undefined until then).
 */
async function handedOut(env: TestWorkflowEnvironment, workflowId: string, activity: string) {
  const { events } = await env.client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = events?.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity);
  const started = events?.find(
    (e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === scheduled?.eventId?.toString(),
  );
  return {
    queue: scheduled?.activityTaskScheduledEventAttributes?.taskQueue?.name,
    priority: scheduled?.activityTaskScheduledEventAttributes?.priority,
    identity: started?.activityTaskStartedEventAttributes?.identity,
    at: started?.eventTime ? tsToMs(started.eventTime) : undefined,
  };
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

/**
 * Two `npm run worker` processes on `taskQueue`, sharing a fresh database and the sandbox at
 * `sandboxUrl`, with `env` on top; started one after the other, as the first migrates the database
 * the second opens.
 */
async function startTwoWorkers(taskQueue: string, sandboxUrl: string, env: Record<string, string>): Promise<Child[]> {
  const workerEnv = {
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_NAMESPACE: inject('temporalNamespace'),
    HOOKLINE_TASK_QUEUE: taskQueue,
    DATABASE_URL: await freshSchema(),
    WORKER_METRICS_ADDRESS: 'off',
    ...sandboxWorkerEnv(sandboxUrl),
    ...env,
  };
  const first = await startWorkerProcess(workerEnv);
  return [first, await startWorkerProcess(workerEnv)];
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
    workers.push(...(await startTwoWorkers(taskQueue, sandbox.url, { PARTNER_RATE_CRM: String(RATE) })));
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
      const starts = await Promise.all(ids.map((id) => handedOut(env, id, 'enrichCustomer')));
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

/**
 * Shopify's limit is a cost bucket per shop, so the store partner is paced per shop: two worker
 * processes, two shops (the provider-wide `shopify` source and a second Shopify source, `shop-b`,
 * each its own shop), and a burst of Shopify `returns/request` webhooks from each. Every one reads
 * its order on the store queue (`storeReturnFacts`), and the server hands those reads out at the
 * store's rate for each shop (the read's fairness key is its shop's domain), not at one rate shared by both.
 */
const STORE_RATE = 2;
/**
 * Bursts of unequal size: once shop B's few reads are done, a limit for the whole queue alone would
 * hand shop A's rest out at the queue's rate (twice a shop's), which the per-shop bounds below catch;
 * with equal bursts, fairness alone would split the queue's rate evenly and hide it.
 */
const BURST = { shopify: 16, 'shop-b': 6 } as const;
const SHOPIFY_SECRET = 'partner-limits-shopify-secret-0123456789';
const SHOP_B_SECRET = 'partner-limits-shop-b-secret-0123456789';
/** Shopify's published `returns/request` sample (src/providers/shopify/examples/README.md names its source). */
const returnsRequest = JSON.parse(
  readFileSync(join(__dirname, '..', 'src', 'providers', 'shopify', 'examples', 'returns-request.json'), 'utf8'),
) as Record<string, unknown>;

describe('Shopify paced per shop', () => {
  let env: TestWorkflowEnvironment;
  let sandbox: RunningSandbox;
  let receiver: Receiver;
  const workers: Child[] = [];
  const taskQueue = `test-partner-shops-${randomUUID()}`;
  const storeQueue = partnerTaskQueue(taskQueue, 'store');
  // The provider-wide shop (the stand-in's, SHOPIFY_SHOP_DOMAIN) and shop B's own.
  const SHOP_DOMAINS = { shopify: sandboxProvidersEnv('http://127.0.0.1:1').SHOPIFY_SHOP_DOMAIN!, 'shop-b': 'hookline-b.myshopify.com' };
  // Both shops are the one stand-in (same token); the worker counts them by their domains.
  const shops = {
    WEBHOOK_SECRET_SHOPIFY: SHOPIFY_SECRET,
    WEBHOOK_SOURCES: 'shop-b',
    WEBHOOK_PROVIDER_SHOP_B: 'shopify',
    WEBHOOK_SECRET_SHOP_B: SHOP_B_SECRET,
  };
  let workerEnv: Record<string, string>;

  beforeAll(async () => {
    env = await connectTestEnv();
    sandbox = await startSandbox({ port: 0 });
    workerEnv = {
      PARTNER_RATE_STORE: String(STORE_RATE),
      ...sandboxProvidersEnv(sandbox.url),
      ...shops,
      SHOPIFY_SHOP_DOMAIN_SHOP_B: SHOP_DOMAINS['shop-b'],
      SHOPIFY_ADMIN_TOKEN_SHOP_B: sandboxProvidersEnv(sandbox.url).SHOPIFY_ADMIN_TOKEN!,
    };
    workers.push(...(await startTwoWorkers(taskQueue, sandbox.url, workerEnv)));
    receiver = await startReceiver({
      env,
      taskQueue,
      sourceEnv: { ...shops, WEBHOOK_RATE_LIMIT_SHOPIFY: '100000/s', WEBHOOK_RATE_LIMIT_SHOP_B: '100000/s' },
    });
  }, 180_000);
  afterAll(async () => {
    await receiver?.close();
    await Promise.all(workers.map((w) => w.kill('SIGTERM')));
    await sandbox?.close();
    await env?.teardown();
  });

  /** `returns/request` for an order the shop does not have, signed and sent as Shopify does; resolves to its run's id. */
  async function requestReturn(source: 'shopify' | 'shop-b'): Promise<string> {
    const returnId = 10_000_000_000 + randomInt(1_000_000_000);
    const orderId = 10_000_000_000 + randomInt(1_000_000_000);
    const body = Buffer.from(
      JSON.stringify({
        ...returnsRequest,
        id: returnId,
        admin_graphql_api_id: `gid://shopify/Return/${returnId}`,
        order: { id: orderId, admin_graphql_api_id: `gid://shopify/Order/${orderId}` },
      }),
    );
    const res = await fetch(`${receiver.url}/webhooks/${source}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-shopify-hmac-sha256': createHmac('sha256', source === 'shopify' ? SHOPIFY_SECRET : SHOP_B_SECRET)
          .update(body)
          .digest('base64'),
        ...shopify.delivery!('returns/request', body),
      },
      body: new Uint8Array(body),
    });
    const answer = (await res.json()) as Record<string, unknown>;
    expect(res.status, JSON.stringify(answer)).toBe(202);
    return answer.workflowId as string;
  }

  const storeRead = (workflowId: string) => handedOut(env, workflowId, 'storeReturnFacts');

  it(`each shop's reads are handed out at ${STORE_RATE} a second, and two shops together at twice that`, { timeout: 180_000 }, async () => {
    // What the workers set on the store queue at start: the rate for each shop, twice it in all.
    const describeQueue = () =>
      env.client.workflowService.describeTaskQueue({
        namespace: inject('temporalNamespace'),
        taskQueue: { name: storeQueue },
        taskQueueType: 2,
        reportConfig: true,
      });
    const { config } = await describeQueue();
    expect(shopsConfigured(loadProvidersConfig(workerEnv))).toBe(2);
    expect(config?.fairnessKeysRateLimitDefault?.rateLimit?.requestsPerSecond).toBe(STORE_RATE);
    expect(config?.queueRateLimit?.rateLimit?.requestsPerSecond).toBe(2 * STORE_RATE);

    // The burst, whatever this machine's speed: the store queue is held (rate 0) until every
    // run has scheduled its read, then given back the workers' limit at once.
    const setQueueRate = (requestsPerSecond: number) =>
      env.client.workflowService.updateTaskQueueConfig({
        namespace: inject('temporalNamespace'),
        taskQueue: storeQueue,
        taskQueueType: 2,
        identity: 'partner-limits-test',
        updateQueueRateLimit: { rateLimit: { requestsPerSecond }, reason: 'test: hold the burst' },
      });
    await setQueueRate(0);
    const sources = ['shopify', 'shop-b'] as const;
    const runs = (
      await Promise.all(
        sources.map(async (source) =>
          Promise.all(Array.from({ length: BURST[source] }, async () => ({ source, id: await requestReturn(source) }))),
        ),
      )
    ).flat();
    await expect
      .poll(async () => (await Promise.all(runs.map(async (r) => (await storeRead(r.id)).queue))).filter(Boolean).length, {
        timeout: 60_000,
        interval: 500,
      })
      .toBe(runs.length);
    await setQueueRate(2 * STORE_RATE);

    // Every run completes: the order is not in the shop, so the store runs the return and the customer is told.
    for (const { id } of runs) {
      const result = (await env.client.workflow.getHandle(id).result()) as ReturnStatusResult;
      expect(result.notified).toBe('return-requested');
    }
    const reads = await Promise.all(runs.map(async (r) => ({ source: r.source, ...(await storeRead(r.id)) })));
    for (const read of reads) {
      expect(read.queue).toBe(storeQueue);
      // Under its shop's key (its domain), at weight 1: a shop's bucket does not grow with its source's weight.
      expect(read.priority).toMatchObject({ fairnessKey: SHOP_DOMAINS[read.source], fairnessWeight: 1 });
    }
    // Each shop on its own: one second of burst (rate + 1), then the rate, as the CRM's queue above.
    for (const source of sources) {
      const times = reads.filter((r) => r.source === source).map((r) => r.at!);
      for (const seconds of [1, 2, 4]) {
        expect(busiestWindow(times, seconds * 1000), `${source}'s reads handed out in the busiest ${seconds}s`).toBeLessThanOrEqual(
          STORE_RATE * (seconds + 1) + 1,
        );
      }
    }
    // Together, more than one shop's limit lets through in the same time: neither shop waited for
    // the other's burst. (With one limit for both, at most 11 of the 22 could start within 4 s.)
    const all = reads.map((r) => r.at!);
    expect(busiestWindow(all, 4_000), 'reads of both shops handed out in the busiest 4s').toBeGreaterThan(STORE_RATE * 5 + 1);
    // Shopify saw one order read per return, and never faster than both shops' rates allow.
    const orderReads = sandbox.sandbox.calls().filter((c) => c.system === 'shopify' && c.operation === 'order');
    expect(orderReads).toHaveLength(runs.length);
    expect(
      busiestWindow(
        orderReads.map((c) => Date.parse(c.at)),
        2_000,
      ),
    ).toBeLessThanOrEqual(2 * (STORE_RATE * (2 + 2) + 1));
  });
});

describe("the key a shop's calls are paced under", () => {
  it("is the shop's domain, from the worker's settings: a source's own shop, else the provider-wide one", async () => {
    const providers = createOutboundProviders(
      loadProvidersConfig({
        ...sandboxProvidersEnv('http://127.0.0.1:1'),
        // Two Shopify sources of shop B (its orders' topics and its returns', say) and the provider-wide shop.
        WEBHOOK_PROVIDER_SHOP_B: 'shopify',
        SHOPIFY_SHOP_DOMAIN_SHOP_B: 'hookline-b.myshopify.com',
        SHOPIFY_ADMIN_TOKEN_SHOP_B: 'shpat_hooklineshopb',
        WEBHOOK_PROVIDER_SHOP_B_ORDERS: 'shopify',
        SHOPIFY_SHOP_DOMAIN_SHOP_B_ORDERS: 'hookline-b.myshopify.com',
        SHOPIFY_ADMIN_TOKEN_SHOP_B_ORDERS: 'shpat_hooklineshopb',
      }),
    );
    const settings: AgentSettings = {
      returnPolicyDays: 30,
      returnReceiptWindowMs: 60_000,
      approvalTimeoutMs: 60_000,
      handoffUnclaimedSlaMs: 60_000,
      handoffUnansweredSlaMs: 60_000,
      refundHandoffThreshold: 100,
    };
    const { store, storeShops } = await agentSettings({ settings, providers }).agentSettings();
    expect(store).toBe('shopify');
    expect(storeShops).toEqual({
      default: 'hookline-dev.myshopify.com',
      'shop-b': 'hookline-b.myshopify.com',
      'shop-b-orders': 'hookline-b.myshopify.com',
    });
    // Two sources on one shop share its key; a source with no shop of its own (the CRM) reads the provider-wide one.
    expect(shopKey(storeShops, 'shop-b')).toBe('hookline-b.myshopify.com');
    expect(shopKey(storeShops, 'shop-b-orders')).toBe('hookline-b.myshopify.com');
    expect(shopKey(storeShops, 'crm')).toBe('hookline-dev.myshopify.com');
    expect(shopKey(storeShops, undefined)).toBe('hookline-dev.myshopify.com');
    // A source's name is never read as something else the map has (an object's own keys only).
    expect(shopKey(storeShops, 'constructor')).toBe('hookline-dev.myshopify.com');
    // No provider-wide shop: a source without its own has no key of a shop (the run's own, its source).
    expect(shopKey({ 'shop-b': 'hookline-b.myshopify.com' }, 'crm')).toBeUndefined();
    // Settings recorded before they named the shops: the run's own key, as then.
    expect(shopKey(undefined, 'shop-b')).toBeUndefined();
  });
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
