import { patched } from '@temporalio/workflow';
import { knowledgeBase, partners, settings } from './activities';
import type { DisputeEnvelope, DisputeResult } from './contracts/disputes';
import { customerContextFor, escalate } from './handoff';

/** Chargebacks come before the rest of the payments queue: the gateway's deadline does not move. */
const CHARGEBACK_PRIORITY = 2;

/**
 * A chargeback: the customer's bank disputes a payment. The dispute is recorded with the order its
 * payment was for (from what the knowledge base recorded for that payment, else, for a Stripe payment,
 * from Stripe: the charge's payment intent's metadata; a gateway's dispute names the payment, not the
 * order; an order nobody can name leaves it unknown, and nothing fails),
 * then handed to a person, who answers it with the gateway before the evidence deadline. The
 * deadline is the conversation's: undecided by then, it ends as expired (the gateway decides alone).
 */
export async function disputeWorkflow(envelope: DisputeEnvelope): Promise<DisputeResult> {
  const { event } = envelope;
  const testMode = envelope.testMode === true;
  // Runs recorded before the agent could ask Stripe go on without the lookup (test/histories/dispute.json).
  const orderId =
    event.order_id ??
    (patched('dispute-order-from-provider') ? (await partners.findPaymentOrder({ paymentId: event.payment_id })).orderId : undefined);
  const known = await knowledgeBase.recordDispute({ event: orderId === undefined ? event : { ...event, order_id: orderId }, testMode });
  const config = await settings.agentSettings();
  // Workflow time: the same on replay. A deadline already past gives the person no countdown.
  const untilDue = event.evidence_due_by === undefined ? undefined : Date.parse(event.evidence_due_by) - Date.now();
  const amount = `${event.amount} ${event.currency}`;
  const due = event.evidence_due_by ?? 'none given';
  const handoff = await escalate({
    kind: 'chargeback',
    queue: 'payments',
    reason:
      `${testMode ? '[test] ' : ''}Chargeback ${event.dispute_id} of ${amount} on payment ${event.payment_id}` +
      `${known.orderId ? ` (order ${known.orderId})` : ''}: ${event.reason}; evidence due by ${due}`,
    customerId: known.customerId ?? 'unknown',
    customer: known.customerId ? await customerContextFor(known.customerId) : undefined,
    facts: {
      disputeId: event.dispute_id,
      paymentId: event.payment_id,
      orderId: known.orderId ?? 'unknown',
      amount,
      reason: event.reason,
      evidenceDueBy: due,
      mode: testMode ? 'test' : 'live',
    },
    priority: CHARGEBACK_PRIORITY,
    ...(untilDue !== undefined && untilDue > 0 ? { decideBy: event.evidence_due_by } : {}),
    unclaimedSlaMs: config.handoffUnclaimedSlaMs,
    unansweredSlaMs: config.handoffUnansweredSlaMs,
  });
  return { orderId: known.orderId ?? null, evidenceDueBy: event.evidence_due_by ?? null, handoff };
}
