import { createHmac, randomBytes, randomInt } from 'node:crypto';
import EasyPost from '@easypost/api';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Database } from '../src/db';
import * as repo from '../src/db/repo';
import { returnWorkflowId } from '../src/events/identity';
import { SAMPLES } from '../src/events/samples';
import { shopify } from '../src/providers/shopify';
import { PROVIDERS } from '../src/providers';
import { signWebhook } from '../src/signatures';
import type { RunningSandbox, SandboxControl } from '../src/sandbox';
import type { ShopifyOrderSeed } from '../src/sandbox/shopify';
import { partnerTaskQueue } from '../workflows/contracts/partners';
import { returnStateQuery } from '../workflows/contracts/returns';
import type { ReturnStatusResult } from '../workflows/contracts/store-returns';
import { day, notificationsFor } from './support/fixtures';
import { sendSigned, type Agent, type Receiver } from './support/harness';
import { startProviderStack, stopProviderStack } from './support/providers';
import { startWorkerProcess, type Child } from './support/processes';
import { startKillableStack, stopKillableStack, type KillableStack } from './support/killable';

/**
 * The agent running a Shopify return (issue 22): Shopify's own `returns/request` webhook, signed as
 * Shopify signs it, hands the return to the returns saga; the order's facts come from Shopify's
 * Admin GraphQL API (the sandbox's stand-in, configured as SHOPIFY_* configure it), the return is
 * approved in the store, the EasyPost label collects the parcel where Shopify shipped it, the refund
 * goes through Shopify (or Stripe, when the payment came through Stripe), and the customer is told.
 * Real receiver, real worker (in-process, and as a process killed mid-call), real database, real HTTP.
 */

const SHOPIFY_SECRET = 'shopify_out_test_secret_0123456789';
const STRIPE_SECRET = 'whsec_shopify_out_test_0123456789abcdef';
// Not ASCII on purpose: EasyPost keys the HMAC with the secret normalised to NFKD.
const EASYPOST_SECRET = 'easypost_shopify_out_s\u00e9cret_0123456789';
const sourceEnv = {
  WEBHOOK_SECRET_SHOPIFY: SHOPIFY_SECRET,
  WEBHOOK_SECRET_STRIPE: STRIPE_SECRET,
  WEBHOOK_SECRET_EASYPOST: EASYPOST_SECRET,
};
const EXAMPLES = join(__dirname, '..', 'src', 'providers');
/** Shopify's published `returns/request` sample (src/providers/shopify/examples/README.md names its source). */
const returnsRequest = JSON.parse(readFileSync(join(EXAMPLES, 'shopify', 'examples', 'returns-request.json'), 'utf8')) as Record<
  string,
  unknown
>;
/**
 * EasyPost's published delivered `tracker.updated` (src/providers/easypost/examples/README.md names
 * its source) for a return label: a fresh event id, the label's tracking code and now; nothing else
 * changed. Its Tracker has no `is_return` (an older shape, as a tracker created by tracking code
 * may be): the label's tracking code alone says whose parcel it is.
 */
function labelDelivered(trackingCode: string): Buffer {
  const e = JSON.parse(readFileSync(join(EXAMPLES, 'easypost', 'examples', 'tracker.updated-delivered.json'), 'utf8')) as {
    id: string;
    result: Record<string, unknown>;
  };
  e.id = `evt_${randomBytes(8).toString('hex')}`;
  Object.assign(e.result, { tracking_code: trackingCode, updated_at: new Date().toISOString() });
  return Buffer.from(JSON.stringify(e));
}

/**
 * POSTs an EasyPost event signed as EasyPost signs it (checked first with `@easypost/api`'s own
 * validateWebhook); resolves to the receiver's answer.
 */
async function deliverEasyPost(receiverUrl: string, body: Buffer): Promise<Record<string, unknown>> {
  const headers = signWebhook('easypost', body, EASYPOST_SECRET);
  expect(() => new EasyPost('EZTK_not_a_key').Utils.validateWebhook(body, headers, EASYPOST_SECRET)).not.toThrow();
  const res = await fetch(`${receiverUrl}/webhooks/easypost`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: new Uint8Array(body),
  });
  const answer = (await res.json()) as Record<string, unknown>;
  expect(res.status, JSON.stringify(answer)).toBe(202);
  return answer;
}

/** Shopify's IDs, kept below 2^53 here so the test can write them as plain JSON numbers. */
const shopifyId = () => String(10_000_000_000 + randomInt(1_000_000_000));

/** `returns/request` for a fresh return on `orderId`, delivered as Shopify delivers it; resolves to the status workflow's id. */
async function requestReturn(receiverUrl: string, orderId: string, returnId: string): Promise<string> {
  const body = Buffer.from(
    JSON.stringify({
      ...returnsRequest,
      id: Number(returnId),
      admin_graphql_api_id: `gid://shopify/Return/${returnId}`,
      order: { id: Number(orderId), admin_graphql_api_id: `gid://shopify/Order/${orderId}` },
    }),
  );
  const res = await fetch(`${receiverUrl}/webhooks/shopify`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-shopify-hmac-sha256': createHmac('sha256', SHOPIFY_SECRET).update(body).digest('base64'),
      ...shopify.delivery!('returns/request', body),
    },
    body: new Uint8Array(body),
  });
  const answer = (await res.json()) as Record<string, unknown>;
  expect(res.status, JSON.stringify(answer)).toBe(202);
  return answer.workflowId as string;
}

/** The carrier's word that the return's parcel reached the warehouse (on day 40 of the fixtures' calendar). */
function parcelArrives(receiverUrl: string, orderId: string, returnId: string): ReturnType<typeof sendSigned> {
  return sendSigned(receiverUrl, 'carrier', { ...SAMPLES['return.received'], return_id: returnId, order_id: orderId, timestamp: day(40) });
}

/**
 * An order Shopify holds: one mug, 40.00 USD paid through Shopify Payments, delivered two days ago,
 * its return requested; `order` changes what a test is about (its lines, its payment, the return's items).
 */
function shopifyOrder(
  sandbox: SandboxControl,
  orderId: string,
  returnId: string,
  order: Partial<ShopifyOrderSeed> & { returnItems?: { sku: string; quantity: number }[] } = {},
): void {
  const { returnItems, ...seed } = order;
  sandbox.addShopifyOrder({
    orderId,
    customerId: shopifyId(),
    amount: '40.00',
    currency: 'USD',
    items: [{ sku: 'PROD-A', quantity: 1, title: 'Mug' }],
    fulfillments: [{ deliveredAt: new Date(Date.now() - 2 * 86_400_000).toISOString(), company: 'USPS', number: `9400${shopifyId()}` }],
    returns: [{ returnId, status: 'REQUESTED', ...(returnItems ? { items: returnItems } : {}) }],
    ...seed,
  });
}

describe('a Shopify return run by the agent (in-process worker)', () => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;
  const raised: string[] = [];

  beforeAll(async () => {
    ({ env, agent, receiver } = await startProviderStack(sourceEnv));
  });
  afterAll(() => stopProviderStack({ env, agent, receiver }, raised));

  const state = () => agent.sandbox.state;
  /** The refund activities a return scheduled, with the partner queue each waited on. */
  const refundActivities = async (workflowId: string) => {
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    return (history.events ?? []).flatMap((e) => {
      const a = e.activityTaskScheduledEventAttributes;
      const name = a?.activityType?.name;
      return name === 'refund' || name === 'refundInStore' ? [{ name, taskQueue: a?.taskQueue?.name }] : [];
    });
  };
  const shopifyCalls = (operation: string) =>
    agent.sandbox.sandbox.calls().filter((c) => c.system === 'shopify' && c.operation === operation);

  it('returns/request → approved in the store → EasyPost label from its address → refunded through Shopify → customer told', async () => {
    const orderId = shopifyId();
    const returnId = shopifyId();
    shopifyOrder(agent.sandbox.sandbox, orderId, returnId);

    const statusRun = await requestReturn(receiver.url, orderId, returnId);
    const told = await env.client.workflow.getHandle(statusRun).result();
    expect(told).toEqual({ notified: 'return-requested', returnWorkflowId: returnWorkflowId(returnId) } satisfies ReturnStatusResult);

    const handle = env.client.workflow.getHandle(returnWorkflowId(returnId));
    await vi.waitFor(async () => expect((await handle.query(returnStateQuery)).status).toBe('awaiting-arrival'), { timeout: 30_000 });
    // The policy's facts came from Shopify's order: delivered within the window, its lines, its total.
    expect(await repo.getOrder(agent.db, orderId)).toMatchObject({ status: 'delivered', total_amount: '40.00', currency: 'USD' });
    // The store shows the return approved.
    expect(state().shopify.returns.find((r) => r.id === `gid://shopify/Return/${returnId}`)?.status).toBe('OPEN');
    expect(shopifyCalls('returnApproveRequest')).toHaveLength(1);
    // The label collects the parcel where Shopify shipped the order.
    const shipments = state().easypost.shipments.filter((s) => s.reference === returnId);
    expect(shipments).toHaveLength(1);
    expect(shipments[0]).toMatchObject({ is_return: true, from_address: { street1: 'Chestnut Street 92', city: 'Louisville' } });
    expect(state().easypost.purchases.filter((p) => p.shipment_id === shipments[0]!.id)).toHaveLength(1);

    await parcelArrives(receiver.url, orderId, returnId);
    const result = await handle.result();
    expect(result.status).toBe('refunded');
    const refunds = state().shopify.refunds.filter((r) => r.orderId === `gid://shopify/Order/${orderId}`);
    expect(refunds).toHaveLength(1);
    expect(refunds[0]).toMatchObject({
      idempotencyKey: `${returnWorkflowId(returnId)}:refund`,
      totalRefundedSet: { shopMoney: { amount: '40.00' } },
    });
    expect(result.refundId).toBe(`shopify:${refunds[0]!.id.split('/').at(-1)}`);
    // Shopify's refund waited on the store's queue, paced at Shopify's rate, not on the payments partner's.
    expect(await refundActivities(returnWorkflowId(returnId))).toEqual([
      { name: 'refundInStore', taskQueue: partnerTaskQueue(agent.taskQueue, 'store') },
    ]);
    expect(state().shopify.orders.find((o) => o.id === `gid://shopify/Order/${orderId}`)?.displayFinancialStatus).toBe('REFUNDED');
    // Nothing went to the seed's payments system, to Stripe, or to the seed's carrier.
    expect(state().refunds.filter((r) => r.order_id === orderId)).toHaveLength(0);
    expect(state().stripe.refunds.filter((r) => r.metadata?.order_id === orderId)).toHaveLength(0);
    expect(state().labels.filter((l) => l.return_id === returnId)).toHaveLength(0);
    expect(await notificationsFor(agent.db, `${returnWorkflowId(returnId)}:label-sent`)).toHaveLength(1);
    expect(await notificationsFor(agent.db, `${returnWorkflowId(returnId)}:refunded`)).toHaveLength(1);
  });

  it("one of the order's items returned: only it is labelled, checked and refunded; EasyPost's delivered tracker closes it", async () => {
    const orderId = shopifyId();
    const returnId = shopifyId();
    // A mug at 25.00 and two plates at 7.50 (40.00 paid); the customer sends one plate back.
    shopifyOrder(agent.sandbox.sandbox, orderId, returnId, {
      items: [
        { sku: 'MUG-1', quantity: 1, title: 'Mug', price: '25.00' },
        { sku: 'PLATE-2', quantity: 2, title: 'Plate', price: '7.50' },
      ],
      returnItems: [{ sku: 'PLATE-2', quantity: 1 }],
    });

    const returnReadsBefore = shopifyCalls('return').length;
    await env.client.workflow.getHandle(await requestReturn(receiver.url, orderId, returnId)).result();
    const handle = env.client.workflow.getHandle(returnWorkflowId(returnId));
    await vi.waitFor(async () => expect((await handle.query(returnStateQuery)).status).toBe('awaiting-arrival'), { timeout: 30_000 });
    // The return's own line, read through its fulfillment line item to the order's line: one plate.
    const returned = [{ product_id: 'PLATE-2', quantity: 1 }];
    expect(JSON.parse((await repo.getReturn(agent.db, returnId))!.items_json!)).toEqual(returned);
    expect(state().expectedReturns.find((r) => r.return_id === returnId)?.items).toEqual(returned);
    expect(shopifyCalls('return').length).toBeGreaterThan(returnReadsBefore);
    // The order's lines are kept with what one unit was paid.
    const lines = await repo.listOrderItems(agent.db, orderId);
    expect(lines.map((l) => [l.product_id, l.quantity, l.unit_price])).toEqual([
      ['MUG-1', 1, '25.00'],
      ['PLATE-2', 2, '7.50'],
    ]);

    // The parcel arrives: EasyPost's own tracker event for the label's tracking code, through the receiver.
    const shipment = state().easypost.shipments.find((s) => s.reference === returnId)!;
    expect(shipment.tracking_code).toBeTruthy();
    const answer = await deliverEasyPost(receiver.url, labelDelivered(shipment.tracking_code));
    expect(answer.workflowId).toMatch(/^easypost:shipment\.delivered:evt_/);
    expect(await env.client.workflow.getHandle(answer.workflowId as string).result()).toMatchObject({
      notified: null,
      returnWorkflowId: returnWorkflowId(returnId),
    });
    const result = await handle.result();
    expect(result.status).toBe('refunded');
    const refunds = state().shopify.refunds.filter((r) => r.orderId === `gid://shopify/Order/${orderId}`);
    expect(refunds).toHaveLength(1);
    expect(refunds[0]!.totalRefundedSet.shopMoney.amount).toBe('7.50');
    expect(state().restocks.find((r) => r.return_id === returnId)?.items).toEqual(returned);
    expect(await notificationsFor(agent.db, `${returnWorkflowId(returnId)}:refunded`)).toHaveLength(1);
  });

  it.each([
    // The shop charges tax on top of its prices (Shopify's `taxesIncluded: false`, as US shops do):
    // the plates' line carries 1.20 of tax for its two units, so one plate was paid 7.50 + 0.60.
    { taxesIncluded: false, paid: '41.20', unitPrice: '8.10' },
    // Its prices include the tax: what the line says one unit cost is what was paid for it.
    { taxesIncluded: true, paid: '40.00', unitPrice: '7.50' },
  ])(
    'one plate returned from a shop whose prices include tax: $taxesIncluded → refunded $unitPrice',
    async ({ taxesIncluded, paid, unitPrice }) => {
      const orderId = shopifyId();
      const returnId = shopifyId();
      shopifyOrder(agent.sandbox.sandbox, orderId, returnId, {
        amount: paid,
        taxesIncluded,
        items: [
          { sku: 'MUG-1', quantity: 1, title: 'Mug', price: '25.00' },
          { sku: 'PLATE-2', quantity: 2, title: 'Plate', price: '7.50', tax: '1.20' },
        ],
        returnItems: [{ sku: 'PLATE-2', quantity: 1 }],
      });

      await env.client.workflow.getHandle(await requestReturn(receiver.url, orderId, returnId)).result();
      const handle = env.client.workflow.getHandle(returnWorkflowId(returnId));
      await vi.waitFor(async () => expect((await handle.query(returnStateQuery)).status).toBe('awaiting-arrival'), { timeout: 30_000 });
      const lines = await repo.listOrderItems(agent.db, orderId);
      expect(lines.map((l) => [l.product_id, l.quantity, l.unit_price])).toEqual([
        ['MUG-1', 1, '25.00'],
        ['PLATE-2', 2, unitPrice],
      ]);

      await parcelArrives(receiver.url, orderId, returnId);
      expect((await handle.result()).status).toBe('refunded');
      const refunds = state().shopify.refunds.filter((r) => r.orderId === `gid://shopify/Order/${orderId}`);
      expect(refunds.map((r) => r.totalRefundedSet.shopMoney.amount)).toEqual([unitPrice]);
    },
  );

  it("a Shopify test order's return is a test-mode one: its messages stay in the outbox", async () => {
    const orderId = shopifyId();
    const returnId = shopifyId();
    // Shopify's Bogus Gateway: a test order, which the returns/request body does not say.
    shopifyOrder(agent.sandbox.sandbox, orderId, returnId, { gateway: 'bogus', test: true });
    const statusRun = await requestReturn(receiver.url, orderId, returnId);
    await env.client.workflow.getHandle(statusRun).result();
    const handle = env.client.workflow.getHandle(returnWorkflowId(returnId));
    raised.push(returnWorkflowId(returnId));
    await vi.waitFor(async () => expect((await handle.query(returnStateQuery)).status).toBe('awaiting-arrival'), { timeout: 30_000 });
    // The store's message and the saga's: both kept in the outbox, never sent.
    for (const key of [`${statusRun}:notify`, `${returnWorkflowId(returnId)}:label-sent`]) {
      const rows = await agent.db.selectFrom('notifications').select('test_mode').where('idempotency_key', '=', key).execute();
      expect(rows.map((n) => n.test_mode)).toEqual([1]);
    }
  });

  it('Shopify answering 503, THROTTLED or late is retried (one approval, one refund); a redirect is refused, to a person', async () => {
    const orderId = shopifyId();
    const returnId = shopifyId();
    shopifyOrder(agent.sandbox.sandbox, orderId, returnId);
    const sandbox = agent.sandbox.sandbox;
    const approvalsBefore = shopifyCalls('returnApproveRequest').length;
    // The approval: first a 503, then no answer within the client's deadline (PROVIDER_TIMEOUT 2s here).
    sandbox.addFault({
      system: 'shopify',
      path: '^/admin/api/[^/]+/graphql.json#returnApproveRequest$',
      kind: 'status',
      status: 503,
      times: 1,
    });
    sandbox.addFault({ system: 'shopify', path: '^/admin/api/[^/]+/graphql.json#returnApproveRequest$', kind: 'hang', times: 1 });
    await env.client.workflow.getHandle(await requestReturn(receiver.url, orderId, returnId)).result();
    const handle = env.client.workflow.getHandle(returnWorkflowId(returnId));
    await vi.waitFor(async () => expect((await handle.query(returnStateQuery)).status).toBe('awaiting-arrival'), { timeout: 60_000 });
    expect(shopifyCalls('returnApproveRequest').length - approvalsBefore).toBe(3);
    expect(state().shopify.returns.find((r) => r.id === `gid://shopify/Return/${returnId}`)?.status).toBe('OPEN');

    // The refund: the cost bucket empty, restored at 50 points a second: THROTTLED, retried once it holds the cost.
    const throttledBefore = state().shopify.throttled;
    sandbox.setShopifyBucket({ currentlyAvailable: 0, restoreRate: 50 });
    await parcelArrives(receiver.url, orderId, returnId);
    expect((await handle.result()).status).toBe('refunded');
    sandbox.setShopifyBucket({ currentlyAvailable: 2000, restoreRate: 100 });
    expect(state().shopify.throttled).toBeGreaterThan(throttledBefore);
    expect(state().shopify.refunds.filter((r) => r.orderId === `gid://shopify/Order/${orderId}`)).toHaveLength(1);

    // A redirect is never followed, nor retried: the return goes to a person, nothing bought for it.
    const other = shopifyId();
    const otherReturn = shopifyId();
    shopifyOrder(sandbox, other, otherReturn);
    sandbox.addFault({
      system: 'shopify',
      path: '^/admin/api/[^/]+/graphql.json#returnApproveRequest$',
      kind: 'status',
      status: 301,
      times: 1,
    });
    await env.client.workflow.getHandle(await requestReturn(receiver.url, other, otherReturn)).result();
    const redirected = env.client.workflow.getHandle(returnWorkflowId(otherReturn));
    raised.push(returnWorkflowId(otherReturn));
    await vi.waitFor(async () => expect((await redirected.query(returnStateQuery)).status).toBe('failed'), { timeout: 30_000 });
    const failure = (await redirected.query(returnStateQuery)).failure;
    expect(failure?.step).toBe('store-approval');
    expect(failure?.cause).toMatch(/redirects are not followed/);
    expect(shopifyCalls('returnApproveRequest').filter((c) => c.status === 301)).toHaveLength(1);
    expect(state().easypost.shipments.filter((s) => s.reference === otherReturn)).toHaveLength(0);
  });

  it('a Shopify order paid through Stripe is refunded through Stripe, the return still approved in the store', async () => {
    const orderId = shopifyId();
    const returnId = shopifyId();
    shopifyOrder(agent.sandbox.sandbox, orderId, returnId);
    // Stripe's payment_intent.succeeded naming the Shopify order: the payment came through Stripe.
    const intent = `pi_${randomBytes(8).toString('hex')}`;
    agent.sandbox.sandbox.addStripePaymentIntent({ id: intent, amount: 4000, currency: 'usd', metadata: { order_id: orderId } });
    const paid = PROVIDERS.stripe.fresh!(
      JSON.parse(readFileSync(join(EXAMPLES, 'stripe', 'examples', 'payment_intent.succeeded.json'), 'utf8')),
    ) as { data: { object: Record<string, unknown> } };
    Object.assign(paid.data.object, { id: intent, amount: 4000, amount_received: 4000, currency: 'usd', metadata: { order_id: orderId } });
    const payload = JSON.stringify(paid);
    const header = new Stripe('sk_test_unused').webhooks.generateTestHeaderString({ payload, secret: STRIPE_SECRET });
    const res = await fetch(`${receiver.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': header },
      body: payload,
    });
    expect(res.status).toBe(202);
    await env.client.workflow.getHandle(((await res.json()) as { workflowId: string }).workflowId).result();

    await env.client.workflow.getHandle(await requestReturn(receiver.url, orderId, returnId)).result();
    const handle = env.client.workflow.getHandle(returnWorkflowId(returnId));
    await vi.waitFor(async () => expect((await handle.query(returnStateQuery)).status).toBe('awaiting-arrival'), { timeout: 30_000 });
    await parcelArrives(receiver.url, orderId, returnId);
    expect((await handle.result()).status).toBe('refunded');
    expect(state().stripe.refunds.filter((r) => r.payment_intent === intent)).toHaveLength(1);
    // Stripe's refund waited on the payments partner's queue, at Stripe's rate; the store's queue was not asked.
    expect(await refundActivities(returnWorkflowId(returnId))).toEqual([
      { name: 'refund', taskQueue: partnerTaskQueue(agent.taskQueue, 'payments') },
    ]);
    expect(state().shopify.refunds.filter((r) => r.orderId === `gid://shopify/Order/${orderId}`)).toHaveLength(0);
    expect(state().shopify.returns.find((r) => r.id === `gid://shopify/Return/${returnId}`)?.status).toBe('OPEN');
  });
});

describe('a Shopify return: each write once under a worker killed between the request and its answer', () => {
  const taskQueue = `shopify-out-${randomBytes(4).toString('hex')}`;
  let stack: KillableStack;
  let sandbox: RunningSandbox;
  let database: Database;
  let client: Client;
  let worker: Child;
  let receiver: Receiver;
  let env: Record<string, string>;

  beforeAll(async () => {
    stack = await startKillableStack({ taskQueue, sourceEnv, env: { RETURN_RECEIPT_WINDOW: '5m' } });
    ({ sandbox, database, client, worker, receiver, env } = stack);
  });
  // The worker a test started last is the one to kill.
  afterAll(() => stopKillableStack({ ...stack, worker }));

  const calls = (operation: string) => sandbox.sandbox.calls().filter((c) => c.system === 'shopify' && c.operation === operation);

  it(
    'SIGKILL while Shopify approves, EasyPost buys, Shopify refunds: one approval, one label, one refund, the customer told once',
    { timeout: 240_000 },
    async () => {
      const orderId = shopifyId();
      const returnId = shopifyId();
      const workflowId = returnWorkflowId(returnId);
      shopifyOrder(sandbox.sandbox, orderId, returnId);
      const ret = () => sandbox.state.shopify.returns.find((r) => r.id === `gid://shopify/Return/${returnId}`);

      // Shopify approves the return, and its answer never comes back.
      sandbox.sandbox.addFault({
        system: 'shopify',
        path: '^/admin/api/[^/]+/graphql.json#returnApproveRequest$',
        kind: 'hang',
        phase: 'after',
        times: 1,
      });
      await requestReturn(receiver.url, orderId, returnId);
      await expect.poll(() => sandbox.sandbox.faults().length, { timeout: 30_000, interval: 50 }).toBe(0);
      await worker.kill('SIGKILL');
      expect(ret()?.status).toBe('OPEN');

      // EasyPost buys the label, and its answer never comes back.
      sandbox.sandbox.addFault({
        system: 'easypost',
        method: 'POST',
        path: '^/v2/shipments/[^/]+/buy$',
        kind: 'hang',
        phase: 'after',
        times: 1,
      });
      worker = await startWorkerProcess(env);
      await expect.poll(() => sandbox.sandbox.faults().length, { timeout: 60_000, interval: 50 }).toBe(0);
      await worker.kill('SIGKILL');
      const shipment = () => sandbox.state.easypost.shipments.find((s) => s.reference === returnId);
      expect(shipment()?.postage_label).not.toBeNull();

      worker = await startWorkerProcess(env);
      const handle = client.workflow.getHandle(workflowId);
      await vi.waitFor(async () => expect((await handle.query(returnStateQuery)).status).toBe('awaiting-arrival'), {
        timeout: 60_000,
        interval: 250,
      });
      // The retried approval found the return already approved: one approval made, the store showing it once.
      expect(calls('returnApproveRequest').length).toBeGreaterThanOrEqual(2);
      expect(ret()?.status).toBe('OPEN');
      expect(sandbox.state.easypost.shipments.filter((s) => s.reference === returnId)).toHaveLength(1);
      expect(sandbox.state.easypost.purchases.filter((p) => p.shipment_id === shipment()!.id)).toHaveLength(1);

      // Shopify makes the refund, and its answer never comes back.
      sandbox.sandbox.addFault({
        system: 'shopify',
        path: '^/admin/api/[^/]+/graphql.json#refundCreate$',
        kind: 'hang',
        phase: 'after',
        times: 1,
      });
      const received = await parcelArrives(receiver.url, orderId, returnId);
      expect(received.status).toBe(202);
      await expect.poll(() => sandbox.sandbox.faults().length, { timeout: 30_000, interval: 50 }).toBe(0);
      await worker.kill('SIGKILL');
      const refunds = () => sandbox.state.shopify.refunds.filter((r) => r.orderId === `gid://shopify/Order/${orderId}`);
      expect(refunds()).toHaveLength(1);

      worker = await startWorkerProcess(env);
      const result = await handle.result();
      expect(result.status).toBe('refunded');
      expect(refunds()).toHaveLength(1);
      // The retry went to Shopify with the same @idempotent key and was answered with the first refund.
      expect(calls('refundCreate').length).toBeGreaterThanOrEqual(2);
      expect(result.refundId).toBe(`shopify:${refunds()[0]!.id.split('/').at(-1)}`);
      expect(await repo.findCompletedEffect(database.db, `${workflowId}:refund`)).toMatchObject({ effect: 'payments.refund' });
      expect(await repo.findCompletedEffect(database.db, `${workflowId}:store-approve`)).toMatchObject({
        effect: 'shopify.return-approve',
      });
      expect(await notificationsFor(database.db, `${workflowId}:refunded`)).toHaveLength(1);
    },
  );
});
