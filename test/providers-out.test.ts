import { randomBytes } from 'node:crypto';
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
import { PROVIDERS } from '../src/providers';
import type { RunningSandbox, SandboxControl } from '../src/sandbox';
import { conversationId, conversationQuery } from '../workflows/contracts/conversation';
import { returnStateQuery } from '../workflows/contracts/returns';
import { day, notificationsFor, unique } from './support/fixtures';
import { sendSigned, type Agent, type Receiver } from './support/harness';
import { startProviderStack, stopProviderStack } from './support/providers';
import { startWorkerProcess, type Child } from './support/processes';
import { startKillableStack, stopKillableStack, type KillableStack } from './support/killable';

/**
 * The agent acting through Stripe and EasyPost (issue 22): the sandbox's stand-ins in the
 * providers' own shapes, configured as STRIPE_* and EASYPOST_* configure them; the payments
 * arrive as Stripe's own events, signed by the `stripe` package. Real receiver, real worker
 * (in-process, and as a process killed mid-call), real database, real HTTP.
 */

const STRIPE_SECRET = 'whsec_providers_out_test_0123456789abcdef';
const sourceEnv = { WEBHOOK_SECRET_STRIPE: STRIPE_SECRET };
const stripeSdk = new Stripe('sk_test_unused'); // its webhook helper only
const EXAMPLES = join(__dirname, '..', 'src', 'providers', 'stripe', 'examples');

type StripeEvent = { id: string; data: { object: Record<string, unknown> } } & Record<string, unknown>;
function stripeEvent(type: string, edit: (e: StripeEvent) => void): Buffer {
  const e = PROVIDERS.stripe.fresh!(JSON.parse(readFileSync(join(EXAMPLES, `${type}.json`), 'utf8'))) as StripeEvent;
  edit(e);
  return Buffer.from(JSON.stringify(e));
}

async function deliverStripe(url: string, body: Buffer): Promise<string> {
  const header = stripeSdk.webhooks.generateTestHeaderString({ payload: body.toString('utf8'), secret: STRIPE_SECRET });
  const res = await fetch(`${url}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': header },
    body: new Uint8Array(body),
  });
  const answer = (await res.json()) as Record<string, unknown>;
  expect(res.status, JSON.stringify(answer)).toBe(202);
  return answer.workflowId as string;
}

/**
 * A delivered order of one item (PROD-A, 20 USD) paid through Stripe: the OMS's order event, then
 * Stripe's `payment_intent.succeeded` (test mode, metadata naming the order), the intent known to
 * the Stripe stand-in. Resolves to the payment intent's id.
 */
async function deliveredStripeOrder(receiverUrl: string, client: Client, sandbox: SandboxControl, orderId: string): Promise<string> {
  const order = await sendSigned(receiverUrl, 'oms', {
    ...SAMPLES['order.status_updated'],
    order_id: orderId,
    customer_id: 'CUST-67890',
    new_status: 'delivered',
    timestamp: day(0),
    items: [{ product_id: 'PROD-A', quantity: 1 }],
    total_amount: 20,
    currency: 'USD',
  });
  expect(order.status).toBe(202);
  await client.workflow.getHandle(order.body.workflowId as string).result();
  const intent = `pi_${randomBytes(8).toString('hex')}`;
  sandbox.addStripePaymentIntent({ id: intent, amount: 2000, currency: 'usd', metadata: { order_id: orderId } });
  const paid = await deliverStripe(
    receiverUrl,
    stripeEvent('payment_intent.succeeded', (e) => {
      Object.assign(e.data.object, { id: intent, amount: 2000, amount_received: 2000, currency: 'usd', metadata: { order_id: orderId } });
    }),
  );
  await client.workflow.getHandle(paid).result();
  return intent;
}

/** The customer sends back the one item of the order `deliveredStripeOrder` made, five days after delivery: within policy. */
const returnOfOne = (orderId: string, returnId: string) => ({
  ...SAMPLES['return.initiated'],
  return_id: returnId,
  order_id: orderId,
  customer_id: 'CUST-67890',
  items: [{ product_id: 'PROD-A', quantity: 1 }],
  timestamp: day(5),
});

describe('the agent acts through Stripe and EasyPost (in-process worker)', () => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;
  const raised: string[] = [];

  beforeAll(async () => {
    ({ env, agent, receiver } = await startProviderStack(sourceEnv));
  });
  afterAll(() => stopProviderStack({ env, agent, receiver }, raised));

  const deliver = async (source: string, body: object) => {
    const res = await sendSigned(receiver.url, source, body);
    expect(res.status).toBe(202);
    return res.body.workflowId as string;
  };
  const state = () => agent.sandbox.state;

  it('a return: an EasyPost label bought once and tracked, the refund through Stripe in minor units, the customer told once', async () => {
    const orderId = `ORD-${unique()}`;
    const returnId = `RET-${unique()}`;
    const intent = await deliveredStripeOrder(receiver.url, env.client, agent.sandbox.sandbox, orderId);
    await deliver('oms', returnOfOne(orderId, returnId));
    const handle = env.client.workflow.getHandle(returnWorkflowId(returnId));
    await vi.waitFor(async () => expect((await handle.query(returnStateQuery)).status).toBe('awaiting-arrival'), { timeout: 30_000 });

    const shipments = state().easypost.shipments.filter((s) => s.reference === returnId);
    expect(shipments).toHaveLength(1);
    const shipment = shipments[0]!;
    expect(shipment).toMatchObject({
      is_return: true,
      from_address: { street1: '417 Montgomery St' },
      to_address: { id: 'adr_sandboxwarehouse' },
    });
    expect(state().easypost.purchases.filter((p) => p.shipment_id === shipment.id)).toHaveLength(1);
    expect(state().easypost.trackers.filter((t) => t.tracking_code === shipment.tracking_code)).toHaveLength(1);
    // The warehouse expects the parcel under EasyPost's tracking code; the label is the shipment.
    expect(state().expectedReturns.find((r) => r.return_id === returnId)?.tracking_number).toBe(shipment.tracking_code);
    expect((await handle.query(returnStateQuery)).label?.labelId).toBe(shipment.id);

    await deliver('carrier', { ...SAMPLES['return.received'], return_id: returnId, order_id: orderId, timestamp: day(9) });
    const result = await handle.result();
    expect(result.status).toBe('refunded');
    const refunds = state().stripe.refunds.filter((r) => r.payment_intent === intent);
    expect(refunds).toHaveLength(1);
    expect(refunds[0]).toMatchObject({
      amount: 2000,
      currency: 'usd',
      status: 'succeeded',
      idempotency_key: `${returnWorkflowId(returnId)}:refund`,
    });
    expect(result.refundId).toBe(refunds[0]!.id);
    // Nothing went to the seed's payments system or carrier.
    expect(state().refunds.filter((r) => r.order_id === orderId)).toHaveLength(0);
    expect(state().labels.filter((l) => l.return_id === returnId)).toHaveLength(0);
    expect(await notificationsFor(agent.db, `${returnWorkflowId(returnId)}:refunded`)).toHaveLength(1);
  });

  it('a later step failing for good voids the EasyPost label (a refund of the shipment), once', async () => {
    const orderId = `ORD-${unique()}`;
    const returnId = `RET-${unique()}`;
    await deliveredStripeOrder(receiver.url, env.client, agent.sandbox.sandbox, orderId);
    // The warehouse refuses the expected return: a 4xx no retry can fix.
    agent.sandbox.sandbox.addFault({
      system: 'warehouse',
      method: 'POST',
      path: '/expected-returns',
      kind: 'status',
      status: 422,
      times: 1,
    });
    await deliver('oms', returnOfOne(orderId, returnId));
    const handle = env.client.workflow.getHandle(returnWorkflowId(returnId));
    raised.push(returnWorkflowId(returnId));
    await vi.waitFor(async () => expect((await handle.query(returnStateQuery)).status).toBe('failed'), { timeout: 30_000 });
    const shipment = state().easypost.shipments.find((s) => s.reference === returnId)!;
    await vi.waitFor(() => expect(shipment.refund_status).toBe('submitted'), { timeout: 15_000 });
    const refundCalls = agent.sandbox.sandbox
      .calls()
      .filter((c) => c.system === 'easypost' && c.path === `/v2/shipments/${shipment.id}/refund`);
    expect(refundCalls).toHaveLength(1);
    expect((await handle.query(returnStateQuery)).failure?.step).toBe('warehouse');
  });

  it('a return cancelled while the parcel is awaited voids its EasyPost label, once', async () => {
    const orderId = `ORD-${unique()}`;
    const returnId = `RET-${unique()}`;
    await deliveredStripeOrder(receiver.url, env.client, agent.sandbox.sandbox, orderId);
    await deliver('oms', returnOfOne(orderId, returnId));
    const handle = env.client.workflow.getHandle(returnWorkflowId(returnId));
    await vi.waitFor(async () => expect((await handle.query(returnStateQuery)).status).toBe('awaiting-arrival'), { timeout: 30_000 });
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    const shipment = state().easypost.shipments.find((s) => s.reference === returnId)!;
    expect(shipment.refund_status).toBe('submitted');
    const voids = agent.sandbox.sandbox.calls().filter((c) => c.system === 'easypost' && c.path === `/v2/shipments/${shipment.id}/refund`);
    expect(voids).toHaveLength(1);
    expect(await notificationsFor(agent.db, `${returnWorkflowId(returnId)}:cancelled`)).toHaveLength(1);
  });

  it('a Stripe dispute naming only a charge: its order found through the payment intent, handed to a person', async () => {
    const orderId = `ORD-${unique()}`;
    const order = await deliver('oms', {
      ...SAMPLES['order.status_updated'],
      order_id: orderId,
      customer_id: 'CUST-67890',
      new_status: 'delivered',
    });
    await env.client.workflow.getHandle(order).result();
    // A payment hookline never heard of: only Stripe knows which order it was for.
    const intent = `pi_${randomBytes(8).toString('hex')}`;
    agent.sandbox.sandbox.addStripePaymentIntent({ id: intent, amount: 1000, currency: 'usd', metadata: { order_id: orderId } });
    const charge = `ch_${intent.slice(3)}`;
    const dueBy = Math.floor(Date.now() / 1000) + 7 * 86_400;
    const workflowId = await deliverStripe(
      receiver.url,
      stripeEvent('charge.dispute.created', (e) => {
        Object.assign(e.data.object, { id: `dp_${randomBytes(8).toString('hex')}`, charge, payment_intent: null, reason: 'fraudulent' });
        (e.data.object.evidence_details as { due_by: number }).due_by = dueBy;
      }),
    );
    raised.push(workflowId);
    const conversation = await vi.waitFor(
      () => env.client.workflow.getHandle(conversationId(workflowId, 'chargeback')).query(conversationQuery),
      {
        timeout: 15_000,
      },
    );
    expect(conversation).toMatchObject({
      kind: 'chargeback',
      customerId: 'CUST-67890',
      decideBy: new Date(dueBy * 1000).toISOString(),
      context: { facts: { orderId, paymentId: charge } },
    });
    const lookups = agent.sandbox.sandbox.calls().filter((c) => c.system === 'stripe' && c.method === 'GET');
    expect(lookups.map((c) => c.path)).toEqual(expect.arrayContaining([`/v1/charges/${charge}`, `/v1/payment_intents/${intent}`]));
  });
});

describe('each write once under a worker killed between the request and its answer', () => {
  const taskQueue = `providers-out-${unique()}`;
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

  it(
    'SIGKILL while EasyPost buys the label and while Stripe refunds: one label, one refund, the customer told once',
    { timeout: 180_000 },
    async () => {
      const orderId = `ORD-${unique()}`;
      const returnId = `RET-${unique()}`;
      const workflowId = returnWorkflowId(returnId);
      const intent = await deliveredStripeOrder(receiver.url, client, sandbox.sandbox, orderId);

      // EasyPost buys the label, and its answer never comes back.
      sandbox.sandbox.addFault({
        system: 'easypost',
        method: 'POST',
        path: '^/v2/shipments/[^/]+/buy$',
        kind: 'hang',
        phase: 'after',
        times: 1,
      });
      const res = await sendSigned(receiver.url, 'oms', returnOfOne(orderId, returnId));
      expect(res.status).toBe(202);
      await expect.poll(() => sandbox.sandbox.faults().length, { timeout: 30_000, interval: 50 }).toBe(0);
      await worker.kill('SIGKILL');
      const shipment = () => sandbox.state.easypost.shipments.find((s) => s.reference === returnId);
      expect(shipment()?.postage_label).not.toBeNull();

      worker = await startWorkerProcess(env);
      const handle = client.workflow.getHandle(workflowId);
      // The retry (after the 10 s heartbeat timeout) finds the recorded shipment already bought.
      await vi.waitFor(async () => expect((await handle.query(returnStateQuery)).status).toBe('awaiting-arrival'), {
        timeout: 60_000,
        interval: 250,
      });
      expect(sandbox.state.easypost.shipments.filter((s) => s.reference === returnId)).toHaveLength(1);
      expect(sandbox.state.easypost.purchases.filter((p) => p.shipment_id === shipment()!.id)).toHaveLength(1);

      // Stripe makes the refund, and its answer never comes back.
      sandbox.sandbox.addFault({ system: 'stripe', method: 'POST', path: '/v1/refunds', kind: 'hang', phase: 'after', times: 1 });
      const received = await sendSigned(receiver.url, 'carrier', {
        ...SAMPLES['return.received'],
        return_id: returnId,
        order_id: orderId,
        timestamp: day(9),
      });
      expect(received.status).toBe(202);
      await expect.poll(() => sandbox.sandbox.faults().length, { timeout: 30_000, interval: 50 }).toBe(0);
      await worker.kill('SIGKILL');
      expect(sandbox.state.stripe.refunds.filter((r) => r.payment_intent === intent)).toHaveLength(1);

      worker = await startWorkerProcess(env);
      const result = await handle.result();
      expect(result.status).toBe('refunded');
      const refunds = sandbox.state.stripe.refunds.filter((r) => r.payment_intent === intent);
      expect(refunds).toHaveLength(1);
      expect(result.refundId).toBe(refunds[0]!.id);
      // The retry went to Stripe with the same key and was answered from it.
      const refundCalls = sandbox.sandbox
        .calls()
        .filter((c) => c.system === 'stripe' && c.path === '/v1/refunds' && c.idempotencyKey === `${workflowId}:refund`);
      expect(refundCalls.length).toBeGreaterThanOrEqual(2);
      expect(refundCalls.slice(1).every((c) => c.replayed === true)).toBe(true);
      expect(await repo.findCompletedEffect(database.db, `${workflowId}:refund`)).toMatchObject({ effect: 'payments.refund' });
      expect(await notificationsFor(database.db, `${workflowId}:refunded`)).toHaveLength(1);
    },
  );
});
