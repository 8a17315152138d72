import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { Schema } from '../../src/db';
import type { EnvelopeOf } from '../../src/events/envelope';
import { returnWorkflowId, workflowIdFor } from '../../src/events/identity';
import { SAMPLES } from '../../src/events/samples';
import { returnEventSignal, type ProcessReturnWorkflow, type ReturnEnvelope } from '../../workflows/contracts/returns';

/** The events and reads the process- and cluster-level fault tests share. */

export const unique = () => randomBytes(4).toString('hex').toUpperCase();
export const day = (offset: number) => new Date(Date.UTC(2026, 10, 1) + offset * 86_400_000).toISOString();

/** A payment.succeeded of its own, identified by its (signed) event ID. */
export const payment = (paymentId: string) => ({
  ...SAMPLES['payment.succeeded'],
  event_id: `evt-${paymentId}`,
  payment_id: paymentId,
  order_id: `ORD-${paymentId}`,
});
export const paymentWorkflowId = (paymentId: string) => workflowIdFor('payments', 'payment.succeeded', `evt-${paymentId}`);

/** The customer messages the worker wrote for one idempotency key: exactly one means "once". */
export const notificationsFor = (db: Kysely<Schema>, key: string) =>
  db.selectFrom('notifications').select('id').where('idempotency_key', '=', key).execute();

/**
 * A delivered, paid order of one item (PROD-A, 20 USD), both workflows completed: a return of it
 * is within policy and needs no approval.
 */
export async function deliveredPaidOrder(
  deliver: (source: string, body: object) => Promise<string>,
  client: Client,
  orderId: string,
): Promise<void> {
  const order = await deliver('oms', {
    ...SAMPLES['order.status_updated'],
    order_id: orderId,
    customer_id: 'CUST-67890',
    new_status: 'delivered',
    timestamp: day(0),
    items: [{ product_id: 'PROD-A', quantity: 1 }],
    total_amount: 20,
    currency: 'USD',
  });
  await client.workflow.getHandle(order).result();
  const paid = await deliver('payments', { ...payment(`PMT-${orderId}`), order_id: orderId, amount: 20 });
  await client.workflow.getHandle(paid).result();
}

/**
 * A return run as the relay starts it (its `return.initiated` signalled with the start), but with a
 * 30-second time limit, so that it ends unfinished for real (TIMED_OUT): hookline itself sets no
 * such limit, and its activities no longer give up, so a return run rarely fails; a timeout is the
 * way one ends undone in a test. `requestedOn` is the day the return was asked for ({@link day}).
 */
export function startTimeLimitedReturn(client: Client, taskQueue: string, ids: { returnId: string; orderId: string }, requestedOn: number) {
  const { returnId, orderId } = ids;
  const initiated: EnvelopeOf<'return.initiated'> = {
    source: 'oms',
    identity: returnId,
    identityFrom: 'natural-key',
    receivedAt: new Date().toISOString(),
    event: { ...SAMPLES['return.initiated'], return_id: returnId, order_id: orderId, timestamp: day(requestedOn) },
  };
  return client.workflow.signalWithStart<ProcessReturnWorkflow, [ReturnEnvelope]>('processReturnWorkflow', {
    workflowId: returnWorkflowId(returnId),
    taskQueue,
    args: [returnId],
    signal: returnEventSignal,
    signalArgs: [initiated],
    workflowExecutionTimeout: '30s',
  });
}
