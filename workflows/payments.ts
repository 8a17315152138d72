import { log, workflowInfo } from '@temporalio/workflow';
import type { CustomerMessage } from '../src/agent/types';
import { knowledgeBase, notifications } from './activities';
import type { PaymentEnvelope, PaymentResult } from './contracts/payments';

/**
 * The ledger key: the payment and what happened to it. A payment succeeds or fails once, but a
 * provider's payment may be refunded more than once (two partial refunds of one Stripe charge):
 * such a refund is known by its id, else by the amount it reports (the charge's refunded total,
 * which grows with each refund). hookline's own format keeps the key it always had, so a
 * redelivery of an event recorded before providers existed is still recognised.
 */
export function paymentLedgerKey(envelope: Pick<PaymentEnvelope, 'event' | 'provider'>): string {
  const { event } = envelope;
  const key = `${event.event_type}:${event.payment_id}`;
  if (event.event_type !== 'payment.refunded' || (envelope.provider ?? 'hookline') === 'hookline') return key;
  return `${key}:${event.refund_id ?? `amount-${event.amount}`}`;
}

/**
 * Pattern 3, idempotent processing. Temporal's workflow ID stops a redelivery while the run is
 * remembered; the ledger in our own database stops another event about the same payment, and the
 * outbox's key the second message of one that arrives after Temporal's retention has forgotten
 * it. Claiming the ledger entry and applying the payment are one activity, so a crash between
 * them cannot leave the payment claimed but unapplied.
 */
export async function paymentEventWorkflow(envelope: PaymentEnvelope): Promise<PaymentResult> {
  const { event } = envelope;
  const { workflowId, runId } = workflowInfo();
  // The owner is this run: its retries, and a later run of the same event (workflow ID), are let
  // through; another event about the same payment is not.
  const testMode = envelope.testMode === true;
  const first = await knowledgeBase.applyPaymentOnce({
    ledgerKey: paymentLedgerKey(envelope),
    owner: `${workflowId}/${runId}`,
    event,
    testMode,
  });
  if (!first) {
    log.info('payment event already processed', { paymentId: event.payment_id, eventType: event.event_type });
    return { duplicate: true, notified: null };
  }
  const money = { orderId: event.order_id, amount: event.amount, currency: event.currency };
  const message: CustomerMessage =
    event.event_type === 'payment.succeeded'
      ? { kind: 'payment-confirmed', ...money }
      : event.event_type === 'payment.failed'
        ? { kind: 'payment-failed', ...money, reason: event.failure_reason }
        : { kind: 'payment-refunded', ...money };
  // Keyed by the ledger entry, not the workflow: a second workflow for the same payment event
  // (after retention) must not send a second message even if it got this far.
  const sent = await notifications.notifyCustomer({
    idempotencyKey: `payment:${paymentLedgerKey(envelope)}`,
    customerId: event.customer_id,
    orderId: event.order_id,
    paymentId: event.payment_id,
    message,
    testMode,
  });
  // The ledger lets every run of this event through (one that replaces a failed run must finish its
  // work); the outbox tells the two apart: a message already sent means an earlier run completed,
  // and this one is a redelivery after Temporal's retention forgot it.
  if (sent.duplicate) {
    log.info('payment event already processed', { paymentId: event.payment_id, eventType: event.event_type });
    return { duplicate: true, notified: null };
  }
  return { duplicate: false, notified: message.kind };
}
