import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { SMTPServer } from 'smtp-server';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as repo from '../src/db/repo';
import { SAMPLES } from '../src/events/samples';
import { PROVIDERS } from '../src/providers';
import { stripeAmount } from '../src/providers/stripe/map';
import type { QuarantineService } from '../src/receiver/quarantine';
import { signWebhook, verifyWebhook } from '../src/signatures';
import { conversationId, conversationQuery } from '../workflows/contracts/conversation';
import { terminateAll } from './support/handoff';
import {
  connectTestEnv,
  quarantineServiceFor,
  sendSigned,
  startAgent,
  startReceiver,
  testDatabases,
  type Agent,
  type Receiver,
} from './support/harness';

/**
 * Stripe's own events (src/providers/stripe/examples/, Stripe's published objects in its event
 * envelope) through real HTTP, the real receiver, a real worker and the real database.
 */

const STRIPE_SECRET = 'whsec_stripe_provider_test_0123456789abcdef';
const EXAMPLES = join(__dirname, '..', 'src', 'providers', 'stripe', 'examples');
const example = (type: string) => readFileSync(join(EXAMPLES, `${type}.json`));
const stripeSdk = new Stripe('sk_test_unused'); // no request is made: its webhook helpers only

type StripeEvent = { id: string; livemode: boolean; created: number; data: { object: Record<string, unknown> } } & Record<string, unknown>;

/** The published example of `type` with a fresh event id (so it is a new event here), changed by `edit`. */
function event(type: string, edit: (e: StripeEvent) => void = () => {}): Buffer {
  const e = PROVIDERS.stripe.fresh!(JSON.parse(example(type).toString('utf8'))) as StripeEvent;
  edit(e);
  return Buffer.from(JSON.stringify(e));
}

/** POSTs bytes to /webhooks/stripe signed the way Stripe signs them: by the `stripe` package's own helper. */
async function deliver(url: string, body: Buffer, options: { header?: string; timestamp?: number } = {}) {
  const header =
    options.header ??
    stripeSdk.webhooks.generateTestHeaderString({ payload: body.toString('utf8'), secret: STRIPE_SECRET, timestamp: options.timestamp });
  const res = await fetch(`${url}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': header },
    body: new Uint8Array(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A real SMTP server on 127.0.0.1 that keeps who each mail went to and its subject. */
async function startSmtp(): Promise<{ url: string; mails: { to: string[]; raw: string }[]; close(): Promise<void> }> {
  const mails: { to: string[]; raw: string }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('Stripe: its own events run as hookline events', () => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let quarantine: QuarantineService;
  const raised: string[] = [];
  const sourceEnv = { WEBHOOK_SECRET_STRIPE: STRIPE_SECRET };

  beforeAll(async () => {
    env = await connectTestEnv();
    smtp = await startSmtp();
    // Email configured: a live event's message is mailed, so a test event's staying in the outbox means something.
    agent = await startAgent({ env, databaseUrl: testDatabases()[0]!.url(), notify: { smtpUrl: smtp.url } });
    receiver = await startReceiver({ env, taskQueue: agent.taskQueue, sourceEnv });
    quarantine = quarantineServiceFor(env, receiver, agent.taskQueue, sourceEnv);
  });
  afterAll(async () => {
    await terminateAll(env, raised);
    await receiver?.close();
    await agent?.close();
    await smtp?.close();
    await env?.teardown();
  });

  /** An order the OMS told hookline about, for Alice (the sandbox CRM's customer): what a payment's metadata names. */
  async function knownOrder(): Promise<string> {
    const orderId = `ORD-${randomBytes(4).toString('hex')}`;
    const res = await sendSigned(receiver.url, 'oms', { ...SAMPLES['order.status_updated'], order_id: orderId, new_status: 'processing' });
    await env.client.workflow.getHandle(res.body.workflowId as string).result();
    return orderId;
  }

  it('signatures: hookline verifies what stripe signs, and stripe accepts what hookline signs', () => {
    const body = example('payment_intent.succeeded');
    const header = stripeSdk.webhooks.generateTestHeaderString({ payload: body.toString('utf8'), secret: STRIPE_SECRET });
    expect(() => verifyWebhook('stripe', body, { 'stripe-signature': header }, [STRIPE_SECRET])).not.toThrow();
    const ours = signWebhook('stripe', body, STRIPE_SECRET)['stripe-signature']!;
    expect(stripeSdk.webhooks.constructEvent(body.toString('utf8'), ours, STRIPE_SECRET).id).toBe('evt_1Pgc76B7WZ01zgkWPiSucces');
  });

  it('payment_intent.succeeded: recorded for the order its metadata names, in test mode; a redelivery is a duplicate', async () => {
    const orderId = await knownOrder();
    const body = event('payment_intent.succeeded', (e) => {
      e.data.object.metadata = { order_id: orderId };
      e.data.object.amount_received = 1099;
      e.data.object.id = `pi_${randomBytes(8).toString('hex')}`;
    });
    const { id } = JSON.parse(body.toString('utf8')) as StripeEvent;
    const first = await deliver(receiver.url, body);
    expect(first).toMatchObject({ status: 202, body: { accepted: true, duplicate: false, workflowId: `stripe:payment.succeeded:${id}` } });
    const result = await env.client.workflow.getHandle(first.body.workflowId as string).result();
    expect(result).toEqual({ duplicate: false, notified: 'payment-confirmed' });

    const paymentId = (JSON.parse(body.toString('utf8')) as StripeEvent).data.object.id as string;
    const payment = await agent.db.selectFrom('payments').selectAll().where('id', '=', paymentId).executeTakeFirstOrThrow();
    expect(payment).toMatchObject({ order_id: orderId, status: 'succeeded', amount: '10.99', currency: 'USD', test_mode: 1 });
    // Stripe's livemode: false is a test: its message is in the outbox, marked, and was not mailed.
    const message = await agent.db
      .selectFrom('notifications')
      .selectAll()
      .where('idempotency_key', '=', `payment:payment.succeeded:${paymentId}`)
      .executeTakeFirstOrThrow();
    expect(message).toMatchObject({ channel: 'outbox', status: 'sent', test_mode: 1, customer_id: 'CUST-67890' });
    expect(message.body).toContain(`10.99 USD for order ${orderId}`);
    expect(smtp.mails.filter((m) => m.raw.includes(orderId))).toEqual([]);

    // The same signed bytes again (Stripe retries with the same event): one event.
    expect(await deliver(receiver.url, body)).toMatchObject({ status: 200, body: { duplicate: true, workflowId: first.body.workflowId } });
  });

  it('a live payment is mailed to the customer: test mode is what keeps the other in the outbox', async () => {
    const orderId = await knownOrder();
    const body = event('payment_intent.succeeded', (e) => {
      e.livemode = true;
      e.data.object.livemode = true;
      e.data.object.metadata = { order_id: orderId };
      e.data.object.id = `pi_${randomBytes(8).toString('hex')}`;
    });
    const res = await deliver(receiver.url, body);
    expect(res.status).toBe(202);
    await env.client.workflow.getHandle(res.body.workflowId as string).result();
    await vi.waitFor(() => expect(smtp.mails.filter((m) => m.raw.includes(orderId))).toHaveLength(1), { timeout: 10_000 });
  });

  it('payment_intent.payment_failed without an order key: the payment is recorded without an order, nothing fails', async () => {
    const body = event('payment_intent.payment_failed', (e) => {
      e.data.object.id = `pi_${randomBytes(8).toString('hex')}`;
      e.data.object.last_payment_error = { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds' };
    });
    const res = await deliver(receiver.url, body);
    expect(res.status).toBe(202);
    const result = await env.client.workflow.getHandle(res.body.workflowId as string).result();
    expect(result).toEqual({ duplicate: false, notified: 'payment-failed' });
    const paymentId = (JSON.parse(body.toString('utf8')) as StripeEvent).data.object.id as string;
    expect(await agent.db.selectFrom('payments').selectAll().where('id', '=', paymentId).executeTakeFirstOrThrow()).toMatchObject({
      order_id: null,
      status: 'failed',
      amount: '10.99',
      test_mode: 1,
    });
    const message = await agent.db
      .selectFrom('notifications')
      .selectAll()
      .where('idempotency_key', '=', `payment:payment.failed:${paymentId}`)
      .executeTakeFirstOrThrow();
    expect(message.body).toContain('did not go through (insufficient_funds)');
    expect(message.body).not.toContain('undefined');
  });

  it('charge.refunded: the refund of the payment intent, each partial refund once, told for the order the payment was for', async () => {
    const orderId = await knownOrder();
    const intent = `pi_${randomBytes(8).toString('hex')}`;
    const paid = await deliver(
      receiver.url,
      event('payment_intent.succeeded', (e) => {
        e.data.object.id = intent;
        e.data.object.amount = 5000;
        e.data.object.amount_received = 5000;
        e.data.object.metadata = { order_id: orderId };
      }),
    );
    await env.client.workflow.getHandle(paid.body.workflowId as string).result();
    // Today's API versions do not list a charge's refunds: each event carries the refunded total so far.
    const refund = (total: number) =>
      event('charge.refunded', (e) => {
        Object.assign(e.data.object, { payment_intent: intent, amount: 5000, amount_refunded: total, refunded: total === 5000 });
      });
    for (const total of [1500, 5000]) {
      const res = await deliver(receiver.url, refund(total));
      expect(res.status).toBe(202);
      expect(await env.client.workflow.getHandle(res.body.workflowId as string).result()).toEqual({
        duplicate: false,
        notified: 'payment-refunded',
      });
    }
    const messages = await agent.db
      .selectFrom('notifications')
      .select(['body', 'customer_id'])
      .where('idempotency_key', 'like', `payment:payment.refunded:${intent}:%`)
      .orderBy('id')
      .execute();
    expect(messages.map((m) => m.body.replace(/^Hi \w+,\s+/, ''))).toEqual([
      `We refunded 15.00 USD for order ${orderId}. It may take a few days to appear.`,
      `We refunded 50.00 USD for order ${orderId}. It may take a few days to appear.`,
    ]);
    expect(messages.every((m) => m.customer_id === 'CUST-67890')).toBe(true);
  });

  it('charge.dispute.created: linked to its order through the payment, handed to a person with the evidence deadline', async () => {
    const orderId = await knownOrder();
    const intent = `pi_${randomBytes(8).toString('hex')}`;
    const paid = await deliver(
      receiver.url,
      event('payment_intent.succeeded', (e) => {
        e.data.object.id = intent;
        e.data.object.metadata = { order_id: orderId };
      }),
    );
    await env.client.workflow.getHandle(paid.body.workflowId as string).result();
    const dueBy = Math.floor(Date.now() / 1000) + 7 * 86_400;
    const body = event('charge.dispute.created', (e) => {
      Object.assign(e.data.object, { id: `dp_${randomBytes(8).toString('hex')}`, payment_intent: intent, reason: 'fraudulent' });
      (e.data.object.evidence_details as { due_by: number }).due_by = dueBy;
    });
    const res = await deliver(receiver.url, body);
    expect(res.status).toBe(202);
    const workflowId = res.body.workflowId as string;
    expect(workflowId).toMatch(/^stripe:payment\.disputed:evt_/);
    raised.push(workflowId);
    const id = conversationId(workflowId, 'chargeback');
    const conversation = await vi.waitFor(() => env.client.workflow.getHandle(id).query(conversationQuery), { timeout: 15_000 });
    const due = new Date(dueBy * 1000).toISOString();
    expect(conversation).toMatchObject({
      kind: 'chargeback',
      queue: 'payments',
      status: 'waiting',
      customerId: 'CUST-67890',
      decideBy: due,
      context: { facts: { orderId, paymentId: intent, amount: '10 USD', reason: 'fraudulent', evidenceDueBy: due, mode: 'test' } },
    });
    const disputeId = (JSON.parse(body.toString('utf8')) as StripeEvent).data.object.id as string;
    expect(await repo.getDispute(agent.db, disputeId)).toMatchObject({ order_id: orderId, payment_id: intent, amount: '10', test_mode: 1 });
  });

  it('the published dispute as is (no payment intent, deadline past): recorded without an order, still handed to a person', async () => {
    const res = await deliver(receiver.url, example('charge.dispute.created'));
    expect(res.status).toBe(202);
    const workflowId = res.body.workflowId as string;
    expect(workflowId).toBe('stripe:payment.disputed:evt_1Pgc76B7WZ01zgkWDpCreate');
    raised.push(workflowId);
    const conversation = await vi.waitFor(
      () => env.client.workflow.getHandle(conversationId(workflowId, 'chargeback')).query(conversationQuery),
      { timeout: 15_000 },
    );
    expect(conversation.context.facts).toMatchObject({ orderId: 'unknown', paymentId: 'ch_1PgafuB7WZ01zgkWXYmPNZs8', amount: '10 USD' });
    expect(conversation.decideBy).toBeUndefined();
    const description = await env.client.workflow.getHandle(workflowId).describe();
    expect(description.status.name).toBe('RUNNING');
  });

  it('a forged or stale signature is 401, and nothing starts', async () => {
    const body = event('payment_intent.succeeded');
    const forged = stripeSdk.webhooks.generateTestHeaderString({
      payload: body.toString('utf8'),
      secret: 'whsec_someone_else_entirely_0000',
    });
    expect(await deliver(receiver.url, body, { header: forged })).toMatchObject({ status: 401, body: { reason: 'bad-signature' } });
    const stale = await deliver(receiver.url, body, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    expect(stale).toMatchObject({ status: 401, body: { reason: 'timestamp-too-old' } });
  });

  it('a type hookline does not handle is answered ignored and counted by type; an unknown one as other', async () => {
    const ignoredSeries = async () => {
      const text = await (await fetch(`${receiver.url}/metrics`)).text();
      const count = (type: string) =>
        Number(new RegExp(`^hookline_webhook_ignored_total\\{provider="stripe",type="${type}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
      return { created: count('customer\\.created'), other: count('other') };
    };
    const before = await ignoredSeries();
    const customer = event('payment_intent.succeeded', (e) => {
      e.type = 'customer.created';
      e.data.object = { id: 'cus_123', object: 'customer' };
    });
    expect(await deliver(receiver.url, customer)).toEqual({
      status: 200,
      body: { accepted: true, ignored: true, type: 'customer.created' },
    });
    const made = event('payment_intent.succeeded', (e) => {
      e.type = `made.up.${randomBytes(4).toString('hex')}`;
    });
    expect((await deliver(receiver.url, made)).body).toMatchObject({ accepted: true, ignored: true });
    expect(await ignoredSeries()).toEqual({ created: before.created + 1, other: before.other + 1 });
  });

  it('a handled type whose body fails its schema is quarantined with its provider and type, and replays once fixed', async () => {
    const body = event('payment_intent.succeeded', (e) => {
      e.data.object.amount = 'ten dollars';
    });
    const res = await deliver(receiver.url, body);
    expect(res).toMatchObject({
      status: 202,
      body: { quarantined: true, reason: 'body does not match the payment_intent.succeeded schema' },
    });
    expect((res.body.problems as string[]).join('\n')).toMatch(/^data\.object\.amount: /m);
    const id = res.body.workflowId as string;
    expect((await quarantine.show(id)).event).toMatchObject({
      provider: 'stripe',
      eventType: 'payment_intent.succeeded',
      source: 'stripe',
    });

    const fixed = JSON.parse(body.toString('utf8')) as StripeEvent;
    fixed.data.object.amount = 1099;
    const replayed = await quarantine.replay(id, { by: 'ops', body: JSON.stringify(fixed) });
    expect(replayed.workflowId).toBe(`stripe:payment.succeeded:${fixed.id}`);
    expect(await env.client.workflow.getHandle(replayed.workflowId).result()).toEqual({ duplicate: false, notified: 'payment-confirmed' });
  });

  it("a provider's test event keeps its messages in the outbox in every workflow a provider can start (order, shipment)", async () => {
    const orderId = `ORD-${randomBytes(4).toString('hex')}`;
    const start = async (type: 'order.status_updated' | 'shipment.delayed', event: object) => {
      const workflowType = type === 'order.status_updated' ? 'orderStatusWorkflow' : 'shipmentEventWorkflow';
      const envelope = {
        source: 'test-provider',
        identity: `${type}-${orderId}`,
        identityFrom: 'sender',
        receivedAt: new Date().toISOString(),
        provider: 'shopify',
        testMode: true,
        event: { ...SAMPLES[type], order_id: orderId, ...event },
      };
      const handle = await env.client.workflow.start(workflowType, {
        taskQueue: agent.taskQueue,
        workflowId: `test-provider:${type}:${orderId}`,
        args: [envelope],
      });
      return handle.result();
    };
    expect(await start('order.status_updated', { new_status: 'shipped' })).toMatchObject({ notified: 'order-shipped' });
    expect(await start('shipment.delayed', { timestamp: '2023-10-29T08:00:00Z' })).toMatchObject({ notified: 'order-delayed' });
    const messages = await agent.db
      .selectFrom('notifications')
      .select(['channel', 'test_mode', 'status'])
      .where('idempotency_key', 'like', `test-provider:%:${orderId}:notify`)
      .execute();
    expect(messages).toEqual([
      { channel: 'outbox', test_mode: 1, status: 'sent' },
      { channel: 'outbox', test_mode: 1, status: 'sent' },
    ]);
    expect(smtp.mails.filter((m) => m.raw.includes(orderId))).toEqual([]);
  });

  it('amounts: zero- and three-decimal currencies become their decimal amount exactly', () => {
    expect(stripeAmount(1099, 'usd')).toBe(10.99);
    expect(stripeAmount(500, 'jpy')).toBe(500);
    expect(stripeAmount(1500, 'kwd')).toBe(1.5);
    expect(stripeAmount(1234, 'bhd')).toBe(1.234);
    expect(stripeAmount(50000, 'isk')).toBe(500); // two-decimal in Stripe's API
    expect(stripeAmount(1, 'eur')).toBe(0.01);
  });
});
