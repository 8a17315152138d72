import { execFile } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as repo from '../src/db/repo';
import { appendEventLog } from '../src/db/repo';
import { createEventLogWriter, type EventLogWriter } from '../src/eventlog/writer';
import { PROVIDERS } from '../src/providers';
import { parseShopifyJson, quoteUnsafeIntegers } from '../src/providers/shopify/json';
import type { QuarantineService } from '../src/receiver/quarantine';
import { silentLogger } from '../src/log';
import type { EventEnvelope } from '../src/events/envelope';
import { openReceiverDatabase } from '../src/spool/store';
import { quarantineStateQuery } from '../workflows/contracts/quarantine';
import { conversationId, conversationQuery } from '../workflows/contracts/conversation';
import { terminateAll } from './support/handoff';
import {
  connectTestEnv,
  quarantineServiceFor,
  startAgent,
  startReceiver,
  testDatabases,
  type Agent,
  type Receiver,
} from './support/harness';

/**
 * Shopify's own webhooks (src/providers/shopify/examples/, Shopify's published samples) through
 * real HTTP, the real receiver, a real worker and the real database, signed the way Shopify signs:
 * base64 HMAC-SHA256 of the raw body with the app's secret, and only the body signed.
 */

const SECRET = 'shpss_shopify_provider_test_0123456789';
const EXAMPLES = join(__dirname, '..', 'src', 'providers', 'shopify', 'examples');
const example = (topic: string) => readFileSync(join(EXAMPLES, `${topic.replace('/', '-')}.json`));
type Json = Record<string, unknown>;
const parsed = (topic: string) => JSON.parse(example(topic).toString('utf8')) as Json;

/** A Shopify ID above 2^53, as Shopify's are: JSON.parse would round it. */
const bigId = () => (2n ** 60n + BigInt(`0x${randomBytes(6).toString('hex')}`)).toString();
/**
 * The body as Shopify sends it: compact JSON whose IDs are numbers. IDs given here as digit strings
 * under the named keys are written as the bare integers they are (no double in between).
 */
function shopifyBytes(body: Json, numericKeys: readonly string[] = ['id', 'order_id']): Buffer {
  let text = JSON.stringify(body);
  for (const key of numericKeys) text = text.replace(new RegExp(`"${key}":"(\\d+)"`, 'g'), `"${key}":$1`);
  return Buffer.from(text);
}

describe('Shopify: its own webhooks run as hookline events', () => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;
  let quarantine: QuarantineService;
  let eventLog: EventLogWriter;
  const raised: string[] = [];
  const sourceEnv = { WEBHOOK_SECRET_SHOPIFY: SECRET };
  // The receiver's own database (its spool and quarantined bodies), which erasures reach too.
  const receiverDatabase = `sqlite:${join(mkdtempSync(join(tmpdir(), 'hookline-shopify-')), 'spool.db')}`;

  beforeAll(async () => {
    env = await connectTestEnv();
    agent = await startAgent({ env, databaseUrl: testDatabases()[0]!.url(), receiverStoreUrl: receiverDatabase });
    eventLog = createEventLogWriter({ write: (rows) => appendEventLog(agent.db, rows), logger: silentLogger, flushIntervalMs: 20 });
    receiver = await startReceiver({ env, taskQueue: agent.taskQueue, sourceEnv, eventLog, spoolEnv: { SPOOL_URL: receiverDatabase } });
    quarantine = quarantineServiceFor(env, receiver, agent.taskQueue, sourceEnv);
  });
  afterAll(async () => {
    await terminateAll(env, raised);
    await receiver?.close();
    await eventLog?.close();
    await agent?.close();
    await env?.teardown();
  });

  /** POSTs bytes to /webhooks/shopify with the headers Shopify sends, a fresh delivery each time. */
  async function deliver(topic: string, body: Buffer, options: { secret?: string; headers?: Record<string, string> } = {}) {
    const res = await fetch(`${receiver.url}/webhooks/shopify`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-shopify-hmac-sha256': createHmac('sha256', options.secret ?? SECRET)
          .update(body)
          .digest('base64'),
        'x-shopify-topic': topic,
        'x-shopify-shop-domain': 'hookline-test.myshopify.com',
        'x-shopify-api-version': '2026-07',
        'x-shopify-webhook-id': randomUUID(),
        'x-shopify-event-id': randomUUID(),
        'x-shopify-triggered-at': new Date().toISOString(),
        ...options.headers,
      },
      body: new Uint8Array(body),
    });
    return { status: res.status, body: (await res.json()) as Json };
  }
  const resultOf = <T = Json>(workflowId: unknown) => env.client.workflow.getHandle(workflowId as string).result() as Promise<T>;
  /** Delivers and waits for the run it started. */
  async function run<T = Json>(topic: string, body: Buffer): Promise<{ workflowId: string; result: T }> {
    const res = await deliver(topic, body);
    expect(res, JSON.stringify(res.body)).toMatchObject({ status: 202, body: { accepted: true, duplicate: false } });
    return { workflowId: res.body.workflowId as string, result: await resultOf<T>(res.body.workflowId) };
  }

  /** A customer the store told hookline about (customers/update), so messages have an address. */
  async function knownCustomer(): Promise<{ id: string; email: string }> {
    const id = bigId();
    const email = `bob.${randomBytes(4).toString('hex')}@example.com`;
    const body = { ...parsed('customers/update'), id, admin_graphql_api_id: `gid://shopify/Customer/${id}`, email };
    const { result } = await run('customers/update', shopifyBytes(body));
    expect(result).toEqual({ applied: true });
    return { id, email };
  }

  function order(o: { id: string; customerId?: string; updatedAt: string; financial?: string; fulfillments?: Json[]; note?: string }) {
    const base = parsed('orders/create');
    return shopifyBytes({
      ...base,
      id: o.id,
      admin_graphql_api_id: `gid://shopify/Order/${o.id}`,
      cancelled_at: null,
      cancel_reason: null,
      test: false,
      financial_status: o.financial ?? 'paid',
      updated_at: o.updatedAt,
      note: o.note ?? null,
      customer: o.customerId
        ? { ...(base.customer as Json), id: o.customerId, admin_graphql_api_id: `gid://shopify/Customer/${o.customerId}` }
        : null,
      fulfillments: o.fulfillments ?? [],
    });
  }
  function fulfillment(f: { id: string; orderId: string; status?: string; shipment?: string | null; updatedAt: string }): Json {
    return {
      ...parsed('fulfillments/create'),
      id: f.id,
      admin_graphql_api_id: `gid://shopify/Fulfillment/${f.id}`,
      order_id: f.orderId,
      status: f.status ?? 'success',
      shipment_status: f.shipment ?? null,
      updated_at: f.updatedAt,
      tracking_company: 'UPS',
      tracking_number: '1Z999AA10123456784',
    };
  }
  /** A run's event as the receiver started it (its start's input), as a spooled row holds it. */
  async function envelopeOf(workflowId: string): Promise<EventEnvelope> {
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    const payload = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
    return JSON.parse(Buffer.from(payload.data!).toString('utf8')) as EventEnvelope;
  }
  /** Everything the receiver's database holds: its spool's rows and its quarantined bodies, as text. */
  async function receiverHolds(): Promise<string> {
    const store = await openReceiverDatabase<{ hookline_spool: { payload: string }; hookline_quarantine: { body: Buffer } }>(
      receiverDatabase,
    );
    try {
      const rows = await store.db.selectFrom('hookline_spool').select('payload').execute();
      const bodies = await store.db.selectFrom('hookline_quarantine').select('body').execute();
      return [...rows.map((r) => r.payload), ...bodies.map((b) => Buffer.from(b.body).toString('utf8'))].join('\n');
    } finally {
      await store.close();
    }
  }
  const messagesTo = (customerId: string) =>
    agent.db
      .selectFrom('notifications')
      .select(['subject', 'body', 'recipient', 'test_mode'])
      .where('customer_id', '=', customerId)
      .orderBy('id')
      .execute();

  it('reads 64-bit IDs exactly: an integer beyond 2^53 keeps its digits, strings and small numbers are untouched', () => {
    const raw = '{"id":820982911946154508,"n":-3,"w":17.6,"s":"820982911946154508 \\" 9007199254740993","ids":[9007199254740993,1]}';
    expect(parseShopifyJson(Buffer.from(raw))).toEqual({
      id: '820982911946154508',
      n: -3,
      w: 17.6,
      s: '820982911946154508 " 9007199254740993',
      ids: ['9007199254740993', 1],
    });
    expect(quoteUnsafeIntegers('{"a":1}')).toBe('{"a":1}');
  });

  it("an order's life: paid, shipped, in transit, delivered, refunded; each status told once whatever topic brings it", async () => {
    const customer = await knownCustomer();
    const orderId = bigId();
    const fulfillmentId = bigId();

    // orders/create, paid: recorded, nothing to tell.
    const created = await run('orders/create', order({ id: orderId, customerId: customer.id, updatedAt: '2026-07-01T10:00:00-04:00' }));
    expect(created.workflowId).toBe(`shopify:order.status_updated:order-${orderId}:paid`);
    expect(created.result).toEqual({ applied: true, notified: null });
    expect(await repo.getOrder(agent.db, orderId)).toMatchObject({
      status: 'paid',
      customer_id: customer.id,
      total_amount: '404.95',
      currency: 'USD',
    });

    // orders/updated for a note: the same status, so the same event; nothing new starts.
    const edited = await deliver(
      'orders/updated',
      order({ id: orderId, customerId: customer.id, updatedAt: '2026-07-01T11:00:00-04:00', note: 'gift' }),
    );
    expect(edited).toMatchObject({ status: 200, body: { duplicate: true, workflowId: created.workflowId } });

    // fulfillments/create: shipped, told once, to the order's customer (the fulfillment does not name them).
    const shipped = fulfillment({ id: fulfillmentId, orderId, updatedAt: '2026-07-02T09:00:00-04:00' });
    const ship = await run('fulfillments/create', shopifyBytes(shipped));
    expect(ship.workflowId).toBe(`shopify:order.status_updated:fulfillment-${fulfillmentId}:success:none`);
    expect(ship.result).toEqual({ applied: true, notified: 'order-shipped' });
    // orders/fulfilled about the same fulfillment, and orders/updated for a tag after it: the same event.
    const fulfilledOrder = order({ id: orderId, customerId: customer.id, updatedAt: '2026-07-02T09:00:01-04:00', fulfillments: [shipped] });
    expect(await deliver('orders/fulfilled', fulfilledOrder)).toMatchObject({
      status: 200,
      body: { duplicate: true, workflowId: ship.workflowId },
    });
    const tagged = order({
      id: orderId,
      customerId: customer.id,
      updatedAt: '2026-07-02T12:00:00-04:00',
      note: 'tag',
      fulfillments: [shipped],
    });
    expect(await deliver('orders/updated', tagged)).toMatchObject({ status: 200, body: { duplicate: true, workflowId: ship.workflowId } });

    // The carrier's progress: in transit (no message), then a stale out_for_delivery retried from earlier changes nothing.
    const transit = await run(
      'fulfillments/update',
      shopifyBytes(fulfillment({ id: fulfillmentId, orderId, shipment: 'in_transit', updatedAt: '2026-07-03T08:00:00-04:00' })),
    );
    expect(transit.result).toEqual({ applied: true, notified: null });
    const stale = await run(
      'fulfillments/update',
      shopifyBytes(fulfillment({ id: fulfillmentId, orderId, shipment: 'out_for_delivery', updatedAt: '2026-07-02T10:00:00-04:00' })),
    );
    expect(stale.result).toEqual({ applied: false, notified: null });
    expect((await repo.getOrder(agent.db, orderId))?.status).toBe('in_transit');

    const delivered = await run(
      'fulfillments/update',
      shopifyBytes(fulfillment({ id: fulfillmentId, orderId, shipment: 'delivered', updatedAt: '2026-07-04T15:00:00-04:00' })),
    );
    expect(delivered.workflowId).toBe(`shopify:shipment.delivered:fulfillment-${fulfillmentId}:success:delivered`);
    expect(delivered.result).toEqual({ applied: true, notified: 'order-delivered' });
    expect((await repo.getOrder(agent.db, orderId))?.status).toBe('delivered');

    // refunds/create: the refund's successful refund transactions, added exactly (75.00 + 10.00).
    const refundId = bigId();
    const refund = {
      ...parsed('refunds/create'),
      id: refundId,
      admin_graphql_api_id: `gid://shopify/Refund/${refundId}`,
      order_id: orderId,
    };
    const refunded = await run('refunds/create', shopifyBytes(refund));
    expect(refunded.workflowId).toBe(`shopify:payment.refunded:refund-${refundId}`);
    expect(refunded.result).toEqual({ duplicate: false, notified: 'payment-refunded' });
    // The same refund under refunds/create again with fresh headers: the same event.
    expect(await deliver('refunds/create', shopifyBytes(refund))).toMatchObject({ status: 200, body: { duplicate: true } });

    const messages = await messagesTo(customer.id);
    expect(messages.map((m) => m.subject)).toEqual([
      `Your order ${orderId} has shipped`,
      `Your order ${orderId} was delivered`,
      `Refund for order ${orderId}`,
    ]);
    expect(messages[0]!.body).toContain('with UPS, tracking 1Z999AA10123456784');
    expect(messages[2]!.body).toContain(`We refunded 85.00 USD for order ${orderId}`);
    expect(messages.every((m) => m.recipient === customer.email && m.test_mode === 0)).toBe(true);
  });

  it('a test order (test: true) is marked through: the order, and every message about it, even from a fulfillment', async () => {
    const orderId = bigId();
    const customer = await knownCustomer();
    const body = JSON.parse(order({ id: orderId, customerId: customer.id, updatedAt: '2026-07-01T10:00:00Z' }).toString('utf8')) as Json;
    const created = await run('orders/create', shopifyBytes({ ...body, test: true }));
    expect(created.result).toEqual({ applied: true, notified: null });
    expect((await repo.getOrder(agent.db, orderId))?.test_mode).toBe(1);
    const ship = await run('fulfillments/create', shopifyBytes(fulfillment({ id: bigId(), orderId, updatedAt: '2026-07-02T10:00:00Z' })));
    expect(ship.result).toEqual({ applied: true, notified: 'order-shipped' });
    expect(await messagesTo(customer.id)).toEqual([expect.objectContaining({ test_mode: 1 })]);
  });

  it('a cancellation is told once, named by its cancelled_at; the same body under another topic is not a new event', async () => {
    const customer = await knownCustomer();
    const orderId = bigId();
    const body = JSON.parse(order({ id: orderId, customerId: customer.id, updatedAt: '2026-07-05T10:00:00Z' }).toString('utf8')) as Json;
    const cancelled = shopifyBytes({
      ...body,
      cancelled_at: '2026-07-05T10:00:00Z',
      cancel_reason: 'customer',
      financial_status: 'voided',
    });
    const first = await run('orders/cancelled', cancelled);
    expect(first.workflowId).toBe(`shopify:order.status_updated:order-${orderId}:cancelled:2026-07-05T10:00:00Z`);
    expect(first.result).toEqual({ applied: true, notified: 'order-cancelled' });
    for (const topic of ['orders/cancelled', 'orders/updated', 'orders/create']) {
      expect(await deliver(topic, cancelled), topic).toMatchObject({
        status: 200,
        body: { duplicate: true, workflowId: first.workflowId },
      });
    }
    expect((await messagesTo(customer.id)).map((m) => m.subject)).toEqual([`Your order ${orderId} was cancelled`]);
  });

  it("returns: each status of the store's return is told once, to the order's customer; closing says nothing", async () => {
    const customer = await knownCustomer();
    const orderId = bigId();
    await run('orders/create', order({ id: orderId, customerId: customer.id, updatedAt: '2026-07-01T10:00:00Z' }));
    const returnId = bigId();
    const ret = (topic: string, id = returnId) => ({
      ...parsed(topic),
      id,
      admin_graphql_api_id: `gid://shopify/Return/${id}`,
      ...('order' in parsed(topic)
        ? { order: { id: orderId, admin_graphql_api_id: `gid://shopify/Order/${orderId}` } }
        : { order_id: orderId }),
    });
    // One return requested, approved and closed; another declined. Each delivered twice: the second is the same event.
    const declined = bigId();
    const outcomes: Record<string, unknown> = {};
    for (const [topic, id] of [
      ['returns/request', returnId],
      ['returns/approve', returnId],
      ['returns/close', returnId],
      ['returns/decline', declined],
    ] as const) {
      const done = await run(topic, shopifyBytes(ret(topic, id)));
      outcomes[topic] = done.result;
      expect(await deliver(topic, shopifyBytes(ret(topic, id))), topic).toMatchObject({ status: 200, body: { duplicate: true } });
    }
    expect(outcomes).toEqual({
      'returns/request': { notified: 'return-requested' },
      'returns/approve': { notified: 'return-approved' },
      'returns/close': { notified: null },
      'returns/decline': { notified: 'return-denied' },
    });
    const bodies = (await messagesTo(customer.id)).map((m) => m.body);
    expect(bodies).toHaveLength(3);
    expect(bodies[2]).toContain('As discussed on the phone, the 30-day return window has ended.');

    // A request retried after its return was approved (stale): old news, told to nobody, and the return stays approved.
    const late = bigId();
    expect((await run('returns/approve', shopifyBytes(ret('returns/approve', late)))).result).toEqual({ notified: 'return-approved' });
    expect((await run('returns/request', shopifyBytes(ret('returns/request', late)))).result).toEqual({ notified: null });
    expect(await agent.db.selectFrom('store_returns').select(['status', 'status_rank']).where('id', '=', late).execute()).toEqual([
      { status: 'open', status_rank: 2 },
    ]);
    expect(await messagesTo(customer.id)).toHaveLength(4);
  });

  it('customers/update: a stale profile retried later never overwrites a newer one', async () => {
    const id = bigId();
    const profile = (email: string, updatedAt: string) =>
      shopifyBytes({
        ...parsed('customers/update'),
        id,
        admin_graphql_api_id: `gid://shopify/Customer/${id}`,
        email,
        updated_at: updatedAt,
      });
    expect((await run('customers/update', profile('new@example.com', '2026-07-02T00:00:00Z'))).result).toEqual({ applied: true });
    expect((await run('customers/update', profile('old@example.com', '2026-07-01T00:00:00Z'))).result).toEqual({ applied: false });
    expect((await repo.getCustomer(agent.db, id))?.email).toBe('new@example.com');
  });

  it('disputes/create: recorded for its order and handed to a person, its id read exactly from the raw text', async () => {
    const orderId = bigId();
    const disputeId = bigId();
    const body = shopifyBytes({
      ...parsed('disputes/create'),
      id: disputeId,
      order_id: orderId,
      evidence_due_by: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    });
    expect(body.toString('utf8')).toContain(`"id":${disputeId},`);
    const res = await deliver('disputes/create', body);
    expect(res.status).toBe(202);
    const workflowId = res.body.workflowId as string;
    expect(workflowId).toBe(`shopify:payment.disputed:dispute-${disputeId}`);
    raised.push(workflowId);
    const conversation = await vi.waitFor(
      () => env.client.workflow.getHandle(conversationId(workflowId, 'chargeback')).query(conversationQuery),
      {
        timeout: 15_000,
      },
    );
    expect(conversation.context.facts).toMatchObject({ disputeId, orderId, amount: '11.5 CAD', reason: 'fraudulent' });
    expect(await repo.getDispute(agent.db, disputeId)).toMatchObject({ order_id: orderId, amount: '11.5', currency: 'CAD' });
  });

  it("each topic's published example starts its workflow and does its work, though hookline has seen none of its orders", async () => {
    const seen = new Map<string, string>();
    for (const topic of Object.keys(PROVIDERS.shopify.handles)) {
      if (topic === 'shop/redact') continue; // erases the source's data: its own test, last
      const res = await deliver(topic, example(topic));
      expect([200, 202], `${topic}: ${JSON.stringify(res.body)}`).toContain(res.status);
      const workflowId = res.body.workflowId as string;
      // The four order topics publish one sample: one event, whichever topic brings it first.
      if (res.status === 200) expect(res.body.duplicate, topic).toBe(true);
      if (topic === 'disputes/create') {
        raised.push(workflowId);
        const described = await vi.waitFor(async () => {
          const d = await env.client.workflow.getHandle(workflowId).describe();
          expect(d.status.name).toBe('RUNNING');
          return d;
        });
        expect(described.workflowId).toBe('shopify:payment.disputed:dispute-285332461850802050');
      } else {
        await resultOf(workflowId); // completes: none fails on an order it does not know
      }
      seen.set(topic, workflowId);
    }
    expect(seen.get('orders/create')).toBe('shopify:order.status_updated:order-820982911946154508:cancelled:2021-12-31T19:00:00-05:00');
    expect(seen.get('orders/fulfilled')).toBe(seen.get('orders/create'));
    expect(seen.get('fulfillments/create')).toBe('shopify:order.status_updated:fulfillment-123456:pending:none');
    expect(seen.get('refunds/create')).toBe('shopify:payment.refunded:refund-890088186047892319');
    expect(seen.get('returns/request')).toBe('shopify:return.status_changed:return-123134564567890:requested');
    expect(seen.get('customers/update')).toBe('shopify:customer.updated:customer-706405506930370084:2021-12-31T19:00:00-05:00');
    // The published cancelled order is a test order (test: true): its message stays in the outbox, marked.
    const message = await agent.db
      .selectFrom('notifications')
      .select(['test_mode', 'subject'])
      .where('idempotency_key', '=', `${seen.get('orders/create')}:notify`)
      .executeTakeFirstOrThrow();
    expect(message).toEqual({ test_mode: 1, subject: 'Your order 820982911946154508 was cancelled' });
  });

  it("npm run send signs and posts the published example with Shopify's headers; --fresh makes it a new event", async () => {
    // Asynchronously: the receiver answering it runs in this process.
    const send = (...args: string[]) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', 'scripts/send.ts', 'shopify', 'returns/approve', ...args, '--url', receiver.url],
          { cwd: join(__dirname, '..'), env: { ...process.env, WEBHOOK_SECRET_SHOPIFY: SECRET }, encoding: 'utf8' },
          (error, stdout, stderr) => resolve({ status: error ? 1 : 0, stdout, stderr }),
        );
      });
    const sent = await send();
    expect(sent.status, sent.stderr).toBe(0);
    expect(sent.stdout).toMatch(/→ 20[02] /);
    expect(sent.stdout).toContain('shopify:return.status_changed:return-123134564567890:open');
    const fresh = await send('--fresh');
    expect(fresh.status, fresh.stderr).toBe(0);
    expect(fresh.stdout).toContain('→ 202 ');
    const workflowId = /"workflowId":"([^"]+)"/.exec(fresh.stdout)?.[1];
    expect(workflowId).toMatch(/^shopify:return\.status_changed:return-\d+:open$/);
    expect(workflowId).not.toContain('123134564567890');
    expect(await resultOf(workflowId)).toEqual({ notified: 'return-approved' });
  });

  it('a forged signature is 401 and starts nothing', async () => {
    const res = await deliver('orders/create', example('orders/create'), { secret: 'shpss_someone_else' });
    expect(res).toMatchObject({ status: 401, body: { reason: 'bad-signature' } });
  });

  it('a topic hookline does not handle is answered ignored and counted by topic; an unknown one as other', async () => {
    const series = async () => {
      const text = await (await fetch(`${receiver.url}/metrics`)).text();
      const count = (type: string) =>
        Number(new RegExp(`^hookline_webhook_ignored_total\\{provider="shopify",type="${type}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
      return { products: count('products/update'), other: count('other') };
    };
    const before = await series();
    expect(await deliver('products/update', Buffer.from('{"id":1}'))).toEqual({
      status: 200,
      body: { accepted: true, ignored: true, type: 'products/update' },
    });
    expect((await deliver(`made/up-${randomBytes(3).toString('hex')}`, Buffer.from('{"id":1}'))).body).toMatchObject({ ignored: true });
    expect(await series()).toEqual({ products: before.products + 1, other: before.other + 1 });
  });

  it('a handled topic whose body fails its schema is quarantined with its topic, and replays once fixed', async () => {
    const orderId = bigId();
    const broken = JSON.parse(order({ id: orderId, updatedAt: '2026-07-06T10:00:00Z' }).toString('utf8')) as Json;
    broken.total_price = 'four hundred';
    const res = await deliver('orders/create', shopifyBytes(broken));
    expect(res).toMatchObject({ status: 202, body: { quarantined: true, reason: 'body does not match the orders/create schema' } });
    expect(res.body.problems).toEqual([expect.stringMatching(/^total_price: /)]);
    const id = res.body.workflowId as string;
    expect((await quarantine.show(id)).event).toMatchObject({
      provider: 'shopify',
      eventType: 'orders/create',
      headers: { 'x-shopify-topic': 'orders/create' },
    });
    const replayed = await quarantine.replay(id, { by: 'ops', body: shopifyBytes({ ...broken, total_price: '404.95' }).toString('utf8') });
    expect(replayed.workflowId).toBe(`shopify:order.status_updated:order-${orderId}:paid`);
    expect(await resultOf(replayed.workflowId)).toEqual({ applied: true, notified: null });
  });

  it('customers/data_request gathers what hookline holds; customers/redact leaves none of it in the knowledge base or outbox', async () => {
    const customer = await knownCustomer();
    const orderId = bigId();
    const placed = await run('orders/create', order({ id: orderId, customerId: customer.id, updatedAt: '2026-07-01T10:00:00Z' }));
    const shipped = await run(
      'fulfillments/create',
      shopifyBytes(fulfillment({ id: bigId(), orderId, updatedAt: '2026-07-02T10:00:00Z' })),
    );
    expect(await messagesTo(customer.id)).toHaveLength(1);
    const who = { id: customer.id, email: customer.email, phone: '555-625-1199' };
    // A chargeback on their order, still open with a person: a conversation about them.
    const disputeId = bigId();
    const disputed = await deliver(
      'disputes/create',
      shopifyBytes({ ...parsed('disputes/create'), id: disputeId, order_id: orderId, reason: 'product_not_received' }),
    );
    raised.push(disputed.body.workflowId as string);
    const chargeback = env.client.workflow.getHandle(conversationId(disputed.body.workflowId as string, 'chargeback'));
    await vi.waitFor(
      async () => {
        const listed = env.client.workflow.list({ query: `WorkflowType = 'conversationWorkflow' AND CustomerId = '${customer.id}'` });
        const found: string[] = [];
        for await (const w of listed) found.push(w.workflowId);
        expect(found).toEqual([chargeback.workflowId]);
      },
      { timeout: 15_000 },
    );

    // What the receiver holds of theirs: a body of theirs quarantined for failing its schema.
    const broken = JSON.parse(order({ id: bigId(), customerId: customer.id, updatedAt: '2026-07-03T10:00:00Z' }).toString('utf8')) as Json;
    const held = await deliver('orders/create', shopifyBytes({ ...broken, email: customer.email, total_price: 'four hundred' }));
    expect(held.body).toMatchObject({ quarantined: true });
    const heldId = held.body.workflowId as string;
    expect(await receiver.quarantine.read(heldId)).toBeDefined();
    const requestId = bigId();
    const asked = await run<{ request: string; rows: Record<string, number> }>(
      'customers/data_request',
      shopifyBytes({ ...parsed('customers/data_request'), customer: who, orders_requested: [orderId], data_request: { id: requestId } }),
    );
    expect(asked.result).toEqual({
      request: 'customer-data',
      rows: expect.objectContaining({ customers: 1, orders: 1, notifications: 1, quarantined_bodies: 1, spool_rows: 0 }),
    });
    const logged = await repo.getPrivacyRequest(agent.db, asked.workflowId);
    expect(logged).toMatchObject({ request: 'customer-data', customer_id: customer.id });
    expect(logged?.export_json).toContain(customer.email);
    // The receiver's copy is in the export too, as it came, and counted in the log row.
    const exported = JSON.parse(logged!.export_json!) as { quarantined_bodies: { workflowId: string; body: string }[] };
    expect(exported.quarantined_bodies).toEqual([{ workflowId: heldId, body: expect.stringContaining('"total_price":"four hundred"') }]);
    expect(JSON.parse(logged!.summary_json)).toMatchObject({ quarantined_bodies: 1, customers: 1 });
    const ready = await agent.db
      .selectFrom('notifications')
      .select('subject')
      .where('idempotency_key', '=', `${asked.workflowId}:ready`)
      .executeTakeFirstOrThrow();
    expect(ready.subject).toBe(`Data request ${requestId} is ready to send`);

    // And a spooled event an operator parked, and a spooled event still waiting for the drain (one that will run).
    const spool = receiver.spool!;
    await spool.drainer.stop();
    expect(await spool.spool.add(shipped.workflowId, { kind: 'event', envelope: await envelopeOf(shipped.workflowId) })).toBe(true);
    const parkedRow = (await spool.spool.list(1000)).find((r) => r.workflowId === shipped.workflowId)!;
    await spool.spool.park(parkedRow.seq, 'held by an operator');
    expect(await spool.spool.add(placed.workflowId, { kind: 'event', envelope: await envelopeOf(placed.workflowId) })).toBe(true);

    const redact = await deliver(
      'customers/redact',
      shopifyBytes({ ...parsed('customers/redact'), customer: who, orders_to_redact: [orderId] }),
    );
    expect(redact.status).toBe(202);
    const erasing = env.client.workflow.getHandle(redact.body.workflowId as string);
    // The erasure waits for the pending row's event to be started rather than lose it.
    await vi.waitFor(
      async () => {
        const { raw } = await erasing.describe();
        expect(raw.pendingActivities?.[0]?.lastFailure?.message).toMatch(/1 spooled event\(s\) about the subject are still to be started/);
      },
      { timeout: 20_000, interval: 200 },
    );
    expect((await erasing.describe()).status.name).toBe('RUNNING');
    spool.drainer.start();
    const erased = {
      workflowId: erasing.workflowId,
      result: (await erasing.result()) as { request: string; rows: Record<string, number> },
    };
    expect(erased.result).toMatchObject({
      request: 'customer-redact',
      rows: { customers: 1, orders: 1, notifications: 1, privacy_exports: 1, conversations: 1, spool_rows: 1, quarantined_bodies: 1 },
    });
    // The log row counts everything erased, the conversations and the receiver's copies too.
    const summary = JSON.parse((await repo.getPrivacyRequest(agent.db, erased.workflowId))!.summary_json) as Json;
    expect(summary).toMatchObject({ conversations: 1, spool_rows: 1, quarantined_bodies: 1, customers: 1 });
    // Nothing of theirs is left in the receiver's database; the quarantine whose body went is resolved.
    const left = await receiverHolds();
    expect(left.includes(customer.email) || left.includes(customer.id) || left.includes(orderId)).toBe(false);
    expect(await receiver.quarantine.read(heldId)).toBeUndefined();
    expect(await env.client.workflow.getHandle(heldId).query(quarantineStateQuery)).toMatchObject({
      status: 'discarded',
      resolution: { by: 'privacy', note: `body erased by ${erased.workflowId}` },
    });
    const conversation = await chargeback.query(conversationQuery);
    expect(conversation.context).toEqual({
      facts: expect.objectContaining({ disputeId, orderId, paymentId: `shopify-order-${orderId}`, reason: '[erased]', amount: '[erased]' }),
    });
    expect(conversation.suggestedReply).toBeUndefined();
    expect(JSON.stringify(conversation)).not.toContain(customer.email);
    expect(await repo.getPrivacyRequest(agent.db, erased.workflowId)).toMatchObject({ request: 'customer-redact', export_json: null });

    // Nothing personal of theirs is left: no row holds their address, and nothing is kept under their id
    // but the privacy log (Shopify asks that each request be logged) and the event log's workflow IDs
    // (IDs only, never a body: the same IDs Temporal's histories keep until retention).
    await eventLog.flush();
    const tables = [
      'customers',
      'orders',
      'order_items',
      'payments',
      'returns',
      'inquiries',
      'notifications',
      'privacy_requests',
      'event_log',
    ] as const;
    for (const table of tables) {
      const rows = JSON.stringify(await agent.db.selectFrom(table).selectAll().execute());
      expect(rows.includes(customer.email), table).toBe(false);
    }
    expect(await repo.getCustomer(agent.db, customer.id)).toBeUndefined();
    expect(await repo.getOrder(agent.db, orderId)).toBeUndefined();
    expect(await repo.listOrderItems(agent.db, orderId)).toEqual([]);
    expect(await messagesTo(customer.id)).toEqual([]);
    const logRows = await agent.db
      .selectFrom('event_log')
      .select(['order_id', 'customer_id'])
      .where('workflow_id', 'like', `%${orderId}%`)
      .execute();
    expect(logRows).not.toHaveLength(0);
    expect(logRows.every((r) => r.order_id === null && r.customer_id === null)).toBe(true);
    // The outbox row stays, emptied, so the message is still never sent twice.
    expect(
      await agent.db.selectFrom('notifications').select(['subject', 'recipient']).where('subject', '=', '[erased]').execute(),
    ).not.toHaveLength(0);
  });

  it("shop/redact erases what the shop's deliveries brought, its open conversations and quarantined bodies; logged as done", async () => {
    const customer = await knownCustomer();
    const orderId = bigId();
    await run('orders/create', order({ id: orderId, customerId: customer.id, updatedAt: '2026-07-01T10:00:00Z' }));
    // A chargeback still open with a person: a conversation about one of the shop's customers.
    const disputeId = bigId();
    const disputed = await deliver(
      'disputes/create',
      shopifyBytes({ ...parsed('disputes/create'), id: disputeId, order_id: orderId, reason: 'product_not_received' }),
    );
    raised.push(disputed.body.workflowId as string);
    const chargeback = env.client.workflow.getHandle(conversationId(disputed.body.workflowId as string, 'chargeback'));
    await vi.waitFor(async () => expect((await chargeback.query(conversationQuery)).context.facts).toMatchObject({ disputeId }), {
      timeout: 15_000,
    });
    // A body of the shop's, quarantined.
    const broken = JSON.parse(order({ id: bigId(), updatedAt: '2026-07-04T10:00:00Z' }).toString('utf8')) as Json;
    const held = await deliver('orders/create', shopifyBytes({ ...broken, total_price: 'four hundred' }));
    expect(held.body).toMatchObject({ quarantined: true });
    await eventLog.flush();
    const done = await run<{ request: string; rows: Record<string, number> }>('shop/redact', example('shop/redact'));
    expect(done.workflowId).toBe('shopify:privacy.requested:privacy-shop-954889');
    expect(done.result.request).toBe('shop-redact');
    expect(done.result.rows.conversations).toBeGreaterThanOrEqual(1);
    expect(done.result.rows.quarantined_bodies).toBeGreaterThanOrEqual(1);
    expect((await chargeback.query(conversationQuery)).context.facts).toMatchObject({ disputeId, reason: '[erased]', amount: '[erased]' });
    expect(await receiver.quarantine.read(held.body.workflowId as string)).toBeUndefined();
    const summary = JSON.parse((await repo.getPrivacyRequest(agent.db, done.workflowId))!.summary_json) as Json;
    expect(summary).toMatchObject({
      conversations: done.result.rows.conversations,
      quarantined_bodies: done.result.rows.quarantined_bodies,
    });
    expect(await repo.getCustomer(agent.db, customer.id)).toBeUndefined();
    expect(await agent.db.selectFrom('orders').select('id').where('customer_id', '=', customer.id).execute()).toEqual([]);
    expect(await repo.getPrivacyRequest(agent.db, done.workflowId)).toMatchObject({ request: 'shop-redact', shop_id: '954889' });
  });
});
