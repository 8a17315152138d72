import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { SAMPLES } from '../src/events/samples';
import { returnWorkflowId } from '../src/events/identity';
import { returnStateQuery } from '../workflows/contracts/returns';
import { conversationId, conversationQuery, resolveUpdate } from '../workflows/contracts/conversation';
import { waitingConversation } from './support/handoff';
import { connectTestEnv, sendSigned, startAgent, startReceiver, testDatabases, type Agent, type Receiver } from './support/harness';

/**
 * The seed's four patterns end to end: HTTP → receiver → Temporal → worker → sandbox APIs →
 * database, once per database (SQLite always; PostgreSQL when TEST_DATABASE_URL is set).
 */

const unique = () => randomBytes(4).toString('hex').toUpperCase();
const day = (offset: number) => new Date(Date.UTC(2026, 10, 1) + offset * 86_400_000).toISOString();

describe.each(testDatabases())('the agent on $name', ({ url }) => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;
  let hasty: Agent;
  let hastyReceiver: Receiver;

  beforeAll(async () => {
    env = await connectTestEnv();
    agent = await startAgent({ env, databaseUrl: url() });
    receiver = await startReceiver({ env, taskQueue: agent.taskQueue });
    // A second agent whose returns expire after two seconds, for the saga's timeout path.
    hasty = await startAgent({ env, databaseUrl: url(), settings: { returnReceiptWindowMs: 2_000 } });
    hastyReceiver = await startReceiver({ env, taskQueue: hasty.taskQueue });
  });
  afterAll(async () => {
    await hastyReceiver?.close();
    await hasty?.close();
    await receiver?.close();
    await agent?.close();
    await env?.teardown();
  });

  async function deliver(to: Receiver, source: string, body: object): Promise<string> {
    const res = await sendSigned(to.url, source, body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.workflowId as string;
  }
  const result = <T>(workflowId: string) => env.client.workflow.getHandle(workflowId).result() as Promise<T>;
  /** A return's own workflow is started by the relay a moment after the receiver answers. */
  async function returnResult<T>(returnId: string): Promise<T> {
    const handle = env.client.workflow.getHandle(returnWorkflowId(returnId));
    await expect
      .poll(
        () =>
          handle.describe().then(
            () => true,
            () => false,
          ),
        { timeout: 15_000, interval: 200 },
      )
      .toBe(true);
    return handle.result() as Promise<T>;
  }
  const notifications = (a: Agent, customerId?: string) =>
    a.db
      .selectFrom('notifications')
      .selectAll()
      .$if(customerId !== undefined, (q) => q.where('customer_id', '=', customerId!))
      .orderBy('id')
      .execute();

  /** An order that was delivered and paid, so a return of it is within policy. */
  async function deliveredPaidOrder(to: Receiver, orderId: string, customerId: string, deliveredOn: string) {
    await result(
      await deliver(to, 'oms', {
        ...SAMPLES['order.status_updated'],
        order_id: orderId,
        customer_id: customerId,
        new_status: 'delivered',
        timestamp: deliveredOn,
        items: [{ product_id: 'PROD-A', quantity: 2 }],
        total_amount: 59.5,
        currency: 'USD',
      }),
    );
    await result(
      await deliver(to, 'payments', { ...SAMPLES['payment.succeeded'], payment_id: `PMT-${orderId}`, order_id: orderId, amount: 59.5 }),
    );
  }

  it('pattern 1: the shipped notification carries carrier, tracking number and ETA', async () => {
    const orderId = `ORD-${unique()}`;
    const id = await deliver(receiver, 'oms', { ...SAMPLES['order.status_updated'], order_id: orderId });
    expect(await result(id)).toEqual({ applied: true, notified: 'order-shipped' });
    const [sent] = (await notifications(agent)).filter((n) => n.idempotency_key === `${id}:notify`);
    expect(sent?.recipient).toBe('alice@example.com');
    expect(sent?.body).toContain(
      `Good news! Your order ${orderId} has shipped with FedEx, tracking TRK-ABCDEF123. Estimated delivery: October 30th.`,
    );
  });

  it('pattern 1: out-of-order status events leave the newest status, and the stale one says nothing', async () => {
    const orderId = `ORD-${unique()}`;
    const delivered = await deliver(receiver, 'oms', {
      ...SAMPLES['order.status_updated'],
      order_id: orderId,
      new_status: 'delivered',
      timestamp: day(3),
    });
    expect(await result(delivered)).toEqual({ applied: true, notified: 'order-delivered' });
    const shipped = await deliver(receiver, 'oms', {
      ...SAMPLES['order.status_updated'],
      order_id: orderId,
      new_status: 'shipped',
      timestamp: day(1),
    });
    expect(await result(shipped)).toEqual({ applied: false, notified: null });
    const order = await agent.db.selectFrom('orders').selectAll().where('id', '=', orderId).executeTakeFirstOrThrow();
    expect(order.status).toBe('delivered');
    expect((await notifications(agent)).filter((n) => n.idempotency_key === `${shipped}:notify`)).toHaveLength(0);
  });

  it('pattern 2: CRM enrichment shapes the reply to an order-status question', async () => {
    const orderId = `ORD-${unique()}`;
    await result(await deliver(receiver, 'oms', { ...SAMPLES['order.status_updated'], order_id: orderId, tracking_number: 'TRK-ENRICH1' }));
    const inquiryId = `INQ-${unique()}`;
    const id = await deliver(receiver, 'crm', {
      ...SAMPLES['customer.inquiry.new'],
      inquiry_id: inquiryId,
      summary: `Where is my order ${orderId}?`,
      order_id: orderId,
    });
    const answer = await result<{ decision: string; reply: string }>(id);
    expect(answer.decision).toBe('answered');
    // The name came from the CRM (the webhook only had the ID); the status from the knowledge base.
    expect(answer.reply).toContain('Alice');
    expect(answer.reply).toContain(`Your order ${orderId} is currently shipped`);
    expect(answer.reply).toContain('TRK-ENRICH1');
    const customer = await agent.db.selectFrom('customers').selectAll().where('id', '=', 'CUST-67890').executeTakeFirstOrThrow();
    expect(JSON.parse(customer.details_json!).previous_tickets[0].ticket_id).toBe('TKT-001');
    const inquiry = await agent.db.selectFrom('inquiries').selectAll().where('id', '=', inquiryId).executeTakeFirstOrThrow();
    expect(inquiry).toMatchObject({ decision: 'answered', reply: answer.reply });
  });

  it('pattern 2: refund questions over the threshold and repeat contacts go to a person, with the reason recorded', async () => {
    /** The conversation the inquiry workflow `raisedBy` opened, once it waits for a person. */
    const conversation = async (raisedBy: string) => {
      return waitingConversation(env.client, conversationId(raisedBy, 'inquiry'));
    };
    const orderId = `ORD-${unique()}`;
    await result(
      await deliver(receiver, 'oms', {
        ...SAMPLES['order.status_updated'],
        order_id: orderId,
        new_status: 'delivered',
        total_amount: 450,
        currency: 'USD',
      }),
    );
    const refund = await deliver(receiver, 'crm', {
      ...SAMPLES['customer.inquiry.new'],
      inquiry_id: `INQ-${unique()}`,
      order_id: orderId,
      summary: 'I would like a refund for this order',
    });
    expect((await conversation(refund)).reason).toBe('refund request of 450 above the 200 threshold or of unknown amount');

    const customerId = `CUST-${unique()}`;
    const ask = (minutes: number) =>
      deliver(receiver, 'crm', {
        ...SAMPLES['customer.inquiry.new'],
        inquiry_id: `INQ-${unique()}`,
        customer_id: customerId,
        summary: 'Can you help me with something?',
        timestamp: new Date(Date.UTC(2026, 10, 20, 9, minutes)).toISOString(),
      });
    await conversation(await ask(0));
    await conversation(await ask(10));
    const third = await conversation(await ask(20));
    expect(third.reason).toBe('repeat contact: the customer has written before about an open matter');
    const recorded = await agent.db
      .selectFrom('inquiries')
      .select(['decision', 'decision_reason'])
      .where('customer_id', '=', customerId)
      .execute();
    expect(recorded.map((r) => r.decision)).toEqual(['handoff', 'handoff', 'handoff']);
  });

  it('pattern 3: a payment redelivered after Temporal forgot its workflow sends no second confirmation', { timeout: 150_000 }, async () => {
    const paymentId = `PMT-${unique()}`;
    const body = { ...SAMPLES['payment.succeeded'], payment_id: paymentId, customer_id: 'CUST-67890' };
    const id = await deliver(receiver, 'payments', body);
    expect(await result(id)).toEqual({ duplicate: false, notified: 'payment-confirmed' });
    // While Temporal remembers the run, the receiver itself answers duplicate.
    const again = await sendSigned(receiver.url, 'payments', body);
    expect(again).toMatchObject({ status: 200, body: { duplicate: true, workflowId: id } });
    // Retention expiry, for real: the closed run is deleted from Temporal, so a redelivery starts a
    // new run. The dev server applies a deletion to ID reuse after roughly 50 s, hence the long poll.
    await env.client.workflowService.deleteWorkflowExecution({
      namespace: env.namespace ?? 'default',
      workflowExecution: { workflowId: id },
    });
    await expect
      .poll(async () => (await sendSigned(receiver.url, 'payments', body)).status, { timeout: 110_000, interval: 2_000 })
      .toBe(202);
    expect(await result(id)).toEqual({ duplicate: true, notified: null });
    const sent = (await notifications(agent)).filter(
      (n) => n.body.includes('We received your payment') && n.idempotency_key.includes(paymentId),
    );
    expect(sent).toHaveLength(1);
  });

  it('pattern 4: a return whose label API fails twice then succeeds completes with one label', async () => {
    const orderId = `ORD-${unique()}`;
    const returnId = `RET-${unique()}`;
    await deliveredPaidOrder(receiver, orderId, 'CUST-67890', day(0));
    agent.sandbox.sandbox.addFault({ system: 'carrier', method: 'POST', path: '/return-labels', kind: 'status', status: 503, times: 2 });
    await deliver(receiver, 'oms', { ...SAMPLES['return.initiated'], return_id: returnId, order_id: orderId, timestamp: day(5) });
    await deliver(receiver, 'carrier', { ...SAMPLES['return.received'], return_id: returnId, order_id: orderId, timestamp: day(9) });
    const state = await returnResult<{ status: string; label: { labelId: string }; refundId: string }>(returnId);
    expect(state.status).toBe('refunded');
    const labels = agent.sandbox.state.labels.filter((l) => l.return_id === returnId);
    expect(labels).toHaveLength(1);
    expect(labels[0]).toMatchObject({ label_id: state.label.labelId, voided: false });
    const attempts = agent.sandbox.sandbox
      .calls()
      .filter((c) => c.system === 'carrier' && c.path.endsWith('/return-labels') && c.method === 'POST');
    expect(attempts.map((c) => c.status)).toEqual([503, 503, 201]);
    expect(agent.sandbox.state.refunds.filter((r) => r.order_id === orderId)).toHaveLength(1);
    expect(agent.sandbox.state.restocks.filter((r) => r.return_id === returnId)).toHaveLength(1);
    const row = await agent.db.selectFrom('returns').selectAll().where('id', '=', returnId).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'refunded', label_id: state.label.labelId, refund_id: state.refundId });
  });

  it('pattern 4: a return received before it was initiated is still processed once', async () => {
    const orderId = `ORD-${unique()}`;
    const returnId = `RET-${unique()}`;
    await deliveredPaidOrder(receiver, orderId, 'CUST-67890', day(0));
    await deliver(receiver, 'carrier', { ...SAMPLES['return.received'], return_id: returnId, order_id: orderId, timestamp: day(9) });
    await deliver(receiver, 'oms', { ...SAMPLES['return.initiated'], return_id: returnId, order_id: orderId, timestamp: day(5) });
    const state = await returnResult<{ status: string }>(returnId);
    expect(state.status).toBe('refunded');
    expect(agent.sandbox.state.labels.filter((l) => l.return_id === returnId)).toHaveLength(1);
  });

  it('pattern 4: a return that never arrives voids its label and tells the customer', async () => {
    const orderId = `ORD-${unique()}`;
    const returnId = `RET-${unique()}`;
    await deliveredPaidOrder(hastyReceiver, orderId, 'CUST-67890', day(0));
    await deliver(hastyReceiver, 'oms', { ...SAMPLES['return.initiated'], return_id: returnId, order_id: orderId, timestamp: day(5) });
    const handle = env.client.workflow.getHandle(returnWorkflowId(returnId));
    await expect
      .poll(async () => (await handle.query(returnStateQuery).catch(() => undefined))?.status, { timeout: 10_000 })
      .toBe('awaiting-arrival');
    const state = await returnResult<{ status: string; label: { labelId: string } }>(returnId);
    expect(state.status).toBe('expired');
    expect(hasty.sandbox.state.labels.find((l) => l.label_id === state.label.labelId)?.voided).toBe(true);
    const sent = await notifications(hasty);
    expect(
      sent.some((n) => n.idempotency_key === `${returnWorkflowId(returnId)}:expired` && n.body.includes('label has been cancelled')),
    ).toBe(true);
  });

  it('pattern 4: a step that fails for good compensates the earlier ones (the label voided) and hands the return to a person', async () => {
    const orderId = `ORD-${unique()}`;
    const returnId = `RET-${unique()}`;
    await deliveredPaidOrder(receiver, orderId, 'CUST-67890', day(0));
    agent.sandbox.sandbox.addFault({
      system: 'warehouse',
      method: 'POST',
      path: '/expected-returns',
      kind: 'status',
      status: 400,
      times: 1,
    });
    await deliver(receiver, 'oms', { ...SAMPLES['return.initiated'], return_id: returnId, order_id: orderId, timestamp: day(5) });
    // The person's side of it is a conversation of its own, derived from the return's workflow ID.
    const handle = env.client.workflow.getHandle(conversationId(returnWorkflowId(returnId), 'return-failed'));
    await waitingConversation(env.client, handle.workflowId);
    // The warehouse's 400 was classified non-retryable where it arose, so it is the cause the person reads.
    const conversation = await handle.query(conversationQuery);
    expect(conversation).toMatchObject({ kind: 'return-failed', queue: 'returns', customerId: 'CUST-67890' });
    expect(conversation.context.facts).toMatchObject({
      step: 'warehouse',
      cause: 'Warehouse POST /expected-returns: 400 Bad Request (injected fault: status 400)',
    });
    const labels = agent.sandbox.state.labels.filter((l) => l.return_id === returnId);
    expect(labels).toHaveLength(1);
    expect(labels[0]?.voided).toBe(true);
    const row = await agent.db.selectFrom('returns').selectAll().where('id', '=', returnId).executeTakeFirstOrThrow();
    expect(row.status).toBe('failed');
    // Straight to the conversation's workflow, as someone with cluster access would: they name the role they act in.
    await handle.executeUpdate(resolveUpdate, { args: [{ agent: 'dana', role: 'lead', outcome: 'resolved', note: 'set up by hand' }] });
    expect(await returnResult(returnId)).toMatchObject({
      status: 'failed',
      failure: { step: 'warehouse' },
      handoff: { outcome: 'resolved', note: 'set up by hand' },
    });
  });

  it('a stock shortage tells the customers of open orders for that product, once each', async () => {
    const product = `PROD-${unique()}`;
    const open = `ORD-${unique()}`;
    const done = `ORD-${unique()}`;
    await result(
      await deliver(receiver, 'oms', {
        ...SAMPLES['order.status_updated'],
        order_id: open,
        new_status: 'processing',
        items: [{ product_id: product, quantity: 1 }],
      }),
    );
    await result(
      await deliver(receiver, 'oms', {
        ...SAMPLES['order.status_updated'],
        order_id: done,
        new_status: 'delivered',
        items: [{ product_id: product, quantity: 1 }],
      }),
    );
    const id = await deliver(receiver, 'oms', { ...SAMPLES['inventory.stock_shortage'], product_id: product });
    expect(await result(id)).toEqual({ notifiedOrders: [open] });
    expect((await notifications(agent)).filter((n) => n.idempotency_key.startsWith(id))).toHaveLength(1);
  });
});
