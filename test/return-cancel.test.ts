import { describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { returnWorkflowId } from '../src/events/identity';
import { SAMPLES } from '../src/events/samples';
import type { FaultSpec } from '../src/sandbox/faults';
import { conversationId, conversationQuery } from '../workflows/contracts/conversation';
import { returnStateQuery, type ReturnState } from '../workflows/contracts/returns';
import { day, deliveredPaidOrder, notificationsFor, unique } from './support/fixtures';
import { waitingConversation } from './support/handoff';
import { sendSigned, setupAgent } from './support/harness';

/**
 * An operator cancels `return:process:<id>` (from the Temporal UI or CLI) at each step of the
 * saga. Whatever the step, the label is voided exactly when one exists and its parcel has not come
 * back, the record ends `cancelled`, and the customer is told once. A partner call under way is let
 * finish so that its effect is known; a refund already made completes the return instead.
 */
describe('a return cancelled at each step of the saga', () => {
  const t = setupAgent();

  const deliver = async (source: string, body: object) => {
    const res = await sendSigned(t.receiver.url, source, body);
    expect(res.status).toBe(202);
    return res.body.workflowId as string;
  };
  const sandbox = () => t.agent.sandbox.sandbox;
  const calls = (path: RegExp) =>
    sandbox()
      .calls()
      .filter((c) => c.method === 'POST' && path.test(c.path));

  /** A delivered, paid order and its return; `late` puts the return outside the 30-day window. */
  async function startReturn(options: { late?: boolean } = {}) {
    const suffix = unique();
    const orderId = `ORD-${suffix}`;
    const returnId = `RET-${suffix}`;
    await deliveredPaidOrder(deliver, t.env.client, orderId);
    await deliver('oms', {
      ...SAMPLES['return.initiated'],
      return_id: returnId,
      order_id: orderId,
      customer_id: 'CUST-67890',
      items: [{ product_id: 'PROD-A', quantity: 1 }],
      timestamp: day(options.late ? 60 : 5),
    });
    const handle = t.env.client.workflow.getHandle(returnWorkflowId(returnId));
    return { orderId, returnId, handle };
  }

  const stateOf = (handle: ReturnType<typeof t.env.client.workflow.getHandle>) =>
    handle.query(returnStateQuery).catch(() => undefined) as Promise<ReturnState | undefined>;

  /** Holds the next matching partner call for 1.5 s (under the client's 2 s timeout), then returns once it is under way. */
  async function holdNext(fault: Omit<FaultSpec, 'kind' | 'delayMs' | 'times'> & { path: string }) {
    const before = calls(new RegExp(fault.path)).length;
    sandbox().addFault({ ...fault, method: 'POST', kind: 'latency', delayMs: 1_500, times: 1 });
    await expect.poll(() => calls(new RegExp(fault.path)).length, { timeout: 20_000, interval: 20 }).toBeGreaterThan(before);
  }

  async function expectCancelled(handle: ReturnType<typeof t.env.client.workflow.getHandle>): Promise<void> {
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
  }

  const record = (returnId: string) => t.agent.db.selectFrom('returns').selectAll().where('id', '=', returnId).executeTakeFirst();
  const labelsOf = (returnId: string) => sandbox().state.labels.filter((l) => l.return_id === returnId);
  const voidCalls = (returnId: string) => {
    const ids = new Set(labelsOf(returnId).map((l) => l.label_id));
    return calls(/^\/return-labels\/[^/]+\/void$/).filter((c) => ids.has(c.path.split('/')[2]!)).length;
  };
  async function toldCancelled(workflowId: string): Promise<string> {
    const rows = await t.agent.db
      .selectFrom('notifications')
      .selectAll()
      .where('idempotency_key', '=', `${workflowId}:cancelled`)
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ audience: 'customer', customer_id: 'CUST-67890' });
    return rows[0]!.body;
  }

  it('before return.initiated arrives: nothing to undo, record or tell', async () => {
    const returnId = `RET-${unique()}`;
    await deliver('carrier', { ...SAMPLES['return.received'], return_id: returnId, order_id: `ORD-${unique()}` });
    const handle = t.env.client.workflow.getHandle(returnWorkflowId(returnId));
    await expect.poll(async () => (await stateOf(handle))?.status, { timeout: 15_000 }).toBe('awaiting-details');
    await handle.cancel();
    await expectCancelled(handle);
    expect(await stateOf(handle)).toMatchObject({ status: 'cancelled' });
    expect(await record(returnId)).toBeUndefined();
    expect(await notificationsFor(t.agent.db, `${handle.workflowId}:cancelled`)).toHaveLength(0);
  });

  it('before the label (waiting for a person’s approval): the conversation is withdrawn, no label, the customer told once', async () => {
    const { returnId, handle } = await startReturn({ late: true });
    const conversation = t.env.client.workflow.getHandle(conversationId(handle.workflowId, 'return-approval'));
    await waitingConversation(t.env.client, conversation.workflowId);
    await handle.cancel();
    await expectCancelled(handle);
    expect(await conversation.query(conversationQuery)).toMatchObject({ status: 'resolved', outcome: 'withdrawn' });
    expect(labelsOf(returnId)).toHaveLength(0);
    expect(voidCalls(returnId)).toBe(0);
    expect(await record(returnId)).toMatchObject({ status: 'cancelled' });
    const body = await toldCancelled(handle.workflowId);
    expect(body).toContain(`Your return ${returnId} has been cancelled.`);
    expect(body).not.toContain('label');
  });

  it('while the label is being bought: the purchase finishes, then the label is voided once', async () => {
    const { returnId, handle } = await startReturn();
    await holdNext({ system: 'carrier', path: '^/return-labels$' });
    await handle.cancel();
    await expectCancelled(handle);
    expect(labelsOf(returnId)).toHaveLength(1);
    expect(labelsOf(returnId)[0]!.voided).toBe(true);
    expect(voidCalls(returnId)).toBe(1);
    // Cancelled before the warehouse was told: it never was.
    expect(sandbox().state.expectedReturns.filter((r) => r.return_id === returnId)).toHaveLength(0);
    expect(await record(returnId)).toMatchObject({ status: 'cancelled' });
    expect(await toldCancelled(handle.workflowId)).toContain('The return label we sent you is no longer valid');
    expect(await stateOf(handle)).toMatchObject({ status: 'cancelled', label: { labelId: labelsOf(returnId)[0]!.label_id } });
  });

  it('after the label, while the warehouse is told: the label is voided once', async () => {
    const { returnId, handle } = await startReturn();
    await holdNext({ system: 'warehouse', path: '^/expected-returns$' });
    await handle.cancel();
    await expectCancelled(handle);
    expect(sandbox().state.expectedReturns.filter((r) => r.return_id === returnId)).toHaveLength(1);
    expect(labelsOf(returnId).map((l) => l.voided)).toEqual([true]);
    expect(voidCalls(returnId)).toBe(1);
    expect(await record(returnId)).toMatchObject({ status: 'cancelled' });
    expect(await toldCancelled(handle.workflowId)).toContain('no longer valid');
  });

  it('after the warehouse, while awaiting the parcel: the label is voided once, label-sent becomes cancelled', async () => {
    const { returnId, handle } = await startReturn();
    await expect.poll(async () => (await stateOf(handle))?.status, { timeout: 15_000 }).toBe('awaiting-arrival');
    expect(await record(returnId)).toMatchObject({ status: 'label-sent' });
    await handle.cancel();
    await expectCancelled(handle);
    expect(labelsOf(returnId).map((l) => l.voided)).toEqual([true]);
    expect(voidCalls(returnId)).toBe(1);
    expect(await record(returnId)).toMatchObject({ status: 'cancelled' });
    expect(await toldCancelled(handle.workflowId)).toContain('no longer valid');
    // The label message went out before; the cancellation is the only other one.
    expect(await notificationsFor(t.agent.db, `${handle.workflowId}:label-sent`)).toHaveLength(1);
    expect(await notificationsFor(t.agent.db, `${handle.workflowId}:expired`)).toHaveLength(0);
  });

  it('after the parcel arrived, while restocking: no void (the label was used), no refund, and a person is told', async () => {
    const { returnId, orderId, handle } = await startReturn();
    await expect.poll(async () => (await stateOf(handle))?.status, { timeout: 15_000 }).toBe('awaiting-arrival');
    sandbox().addFault({ system: 'inventory', method: 'POST', path: '^/restocks$', kind: 'latency', delayMs: 1_500, times: 1 });
    const restocks = () => calls(/^\/restocks$/).filter((c) => c.idempotencyKey === `${handle.workflowId}:restock`).length;
    await deliver('carrier', { ...SAMPLES['return.received'], return_id: returnId, order_id: orderId });
    await expect.poll(restocks, { timeout: 15_000, interval: 20 }).toBe(1);
    await handle.cancel();
    await expectCancelled(handle);
    expect(sandbox().state.restocks.filter((r) => r.return_id === returnId)).toHaveLength(1);
    expect(sandbox().state.refunds.filter((r) => r.order_id === orderId)).toHaveLength(0);
    expect(labelsOf(returnId).map((l) => l.voided)).toEqual([false]);
    expect(voidCalls(returnId)).toBe(0);
    expect(await record(returnId)).toMatchObject({ status: 'cancelled' });
    const body = await toldCancelled(handle.workflowId);
    expect(body).toContain('We have received the items you sent back');
    expect(body).not.toContain('label');
    const agents = await t.agent.db
      .selectFrom('notifications')
      .selectAll()
      .where('idempotency_key', '=', `${handle.workflowId}:cancelled:agents`)
      .executeTakeFirstOrThrow();
    expect(agents).toMatchObject({ audience: 'agents' });
    expect(agents.body).toContain('its parcel arrived and the refund of 20 USD was not made');
  });

  it('while the refund is being made: the refund finishes and completes the return; nothing is voided or cancelled', async () => {
    const { returnId, orderId, handle } = await startReturn();
    await expect.poll(async () => (await stateOf(handle))?.status, { timeout: 15_000 }).toBe('awaiting-arrival');
    sandbox().addFault({ system: 'payments', method: 'POST', path: '^/refunds$', kind: 'latency', delayMs: 1_500, times: 1 });
    const refunds = () => calls(/^\/refunds$/).filter((c) => c.idempotencyKey === `${handle.workflowId}:refund`).length;
    await deliver('carrier', { ...SAMPLES['return.received'], return_id: returnId, order_id: orderId });
    await expect.poll(refunds, { timeout: 15_000, interval: 20 }).toBe(1);
    await handle.cancel();
    expect(await handle.result()).toMatchObject({ status: 'refunded' });
    expect(sandbox().state.refunds.filter((r) => r.order_id === orderId)).toHaveLength(1);
    expect(voidCalls(returnId)).toBe(0);
    expect(await record(returnId)).toMatchObject({ status: 'refunded' });
    expect(await notificationsFor(t.agent.db, `${handle.workflowId}:refunded`)).toHaveLength(1);
    expect(await notificationsFor(t.agent.db, `${handle.workflowId}:cancelled`)).toHaveLength(0);
  });
});
