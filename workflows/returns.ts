import { condition, isCancellation, log, setHandler, workflowInfo } from '@temporalio/workflow';
import type { EnvelopeOf } from '../src/events/envelope';
import { knowledgeBase, notifications, partners, relay, settings } from './activities';
import { returnEventSignal, returnStateQuery, type ReturnEnvelope, type ReturnState, type ReturnStep } from './contracts/returns';
import { customerContextFor, escalate, failureCause } from './handoff';

/**
 * Pattern 4, asynchronous multi-step processing, as a saga. The return's own long-lived
 * workflow owns every step; each completed step that has an undo pushes it, and a step that
 * fails for good undoes the earlier ones (a label is voided), then hands the return to a person
 * (a `return-failed` escalation). Once they resolve it the run completes with status `failed`:
 * the failure was handled, so it is not left as a failed workflow nobody is looking at.
 */
export async function processReturnWorkflow(returnId: string, carried: ReturnEnvelope[] = []): Promise<ReturnState> {
  const { workflowId } = workflowInfo();
  const key = (step: string) => `${workflowId}:${step}`;
  const state: ReturnState = { returnId, status: 'awaiting-details' };
  let initiated: EnvelopeOf<'return.initiated'>['event'] | undefined;
  let received: EnvelopeOf<'return.received'>['event'] | undefined;
  const hold = ({ event }: ReturnEnvelope) => {
    // Redeliveries and replays of an event we already hold change nothing.
    if (event.event_type === 'return.initiated') initiated ??= event;
    else received ??= event;
  };
  // A run that replaces a failed one starts with the events that run had (activities/relay.ts).
  carried.forEach(hold);

  setHandler(returnStateQuery, () => state);
  setHandler(returnEventSignal, hold);

  const config = await settings.agentSettings();
  if (!(await condition(() => initiated !== undefined, config.returnReceiptWindowMs)) || !initiated) {
    state.status = 'orphaned';
    await notifications.notifyAgents({
      idempotencyKey: key('orphaned'),
      subject: `Return ${returnId} received but never initiated`,
      body: `The warehouse reported return ${returnId} but no return.initiated event arrived. Please investigate.`,
    });
    return state;
  }
  const ret = initiated;
  await knowledgeBase.recordReturn({
    returnId,
    orderId: ret.order_id,
    customerId: ret.customer_id,
    status: 'initiated',
    reason: ret.reason,
    items: ret.items,
  });

  state.status = 'checking-policy';
  const policy = await knowledgeBase.checkReturnPolicy({
    orderId: ret.order_id,
    items: ret.items,
    policyDays: config.returnPolicyDays,
    requestedAt: ret.timestamp,
  });
  if (!policy.eligible) {
    state.status = 'awaiting-approval';
    await knowledgeBase.recordReturn({ returnId, status: 'awaiting-approval' });
    state.approval = await escalate({
      kind: 'return-approval',
      queue: 'returns',
      reason: `Return ${returnId} is outside policy: ${policy.reason}`,
      customerId: ret.customer_id,
      customer: await customerContextFor(ret.customer_id),
      facts: {
        returnId,
        orderId: ret.order_id,
        policy: policy.reason,
        reason: ret.reason,
        refund: `${policy.refundAmount} ${policy.currency}`,
      },
      decideWithinMs: config.approvalTimeoutMs,
      unclaimedSlaMs: config.handoffUnclaimedSlaMs,
      unansweredSlaMs: config.handoffUnansweredSlaMs,
    });
    if (state.approval.outcome !== 'approve') {
      state.status = 'denied';
      const reason =
        state.approval.outcome === 'expired' ? `${policy.reason}; no approval in time` : (state.approval.note ?? policy.reason);
      await knowledgeBase.recordReturn({ returnId, status: 'denied' });
      await notifications.notifyCustomer({
        idempotencyKey: key('denied'),
        customerId: ret.customer_id,
        message: { kind: 'return-denied', returnId, reason },
      });
      return state;
    }
  }

  const compensations: (() => Promise<unknown>)[] = [];
  let step: ReturnStep = 'label';
  let labelVoided = false;

  /** A step failed for good: a person takes the return over, and the run ends when they resolve it. */
  async function handOver(err: unknown): Promise<ReturnState> {
    const cause = failureCause(err);
    state.failure = { step, cause };
    state.handoff = await escalate({
      kind: 'return-failed',
      queue: 'returns',
      // Money or goods are in limbo: ahead of routine questions.
      priority: 2,
      reason: `Return ${returnId} failed at step ${step}: ${cause}`,
      customerId: ret.customer_id,
      customer: await customerContextFor(ret.customer_id),
      facts: {
        returnId,
        orderId: ret.order_id,
        step,
        cause,
        label: state.label
          ? `${state.label.labelId} (${labelVoided ? 'voided' : received ? 'used for the parcel' : 'not voided'})`
          : 'none',
        parcel: received ? 'received' : 'not received',
        refund: state.refundId ?? `not made (${policy.refundAmount} ${policy.currency} due)`,
      },
      unclaimedSlaMs: config.handoffUnclaimedSlaMs,
      unansweredSlaMs: config.handoffUnansweredSlaMs,
    });
    return state;
  }

  try {
    const label = await partners.createReturnLabel({
      returnId,
      orderId: ret.order_id,
      customerId: ret.customer_id,
      items: ret.items,
      idempotencyKey: key('label'),
    });
    state.label = label;
    compensations.unshift(async () => {
      await partners.voidReturnLabel({ labelId: label.labelId, idempotencyKey: key('void-label') });
      labelVoided = true;
    });
    step = 'warehouse';
    await partners.expectReturn({
      returnId,
      orderId: ret.order_id,
      items: ret.items,
      trackingNumber: label.trackingNumber,
      idempotencyKey: key('expect'),
    });
    step = 'label-sent';
    await knowledgeBase.recordReturn({ returnId, status: 'label-sent', labelId: label.labelId, trackingNumber: label.trackingNumber });
    await notifications.notifyCustomer({
      idempotencyKey: key('label-sent'),
      customerId: ret.customer_id,
      message: { kind: 'return-label', returnId, labelUrl: label.labelUrl, trackingNumber: label.trackingNumber, carrier: label.carrier },
    });

    state.status = 'awaiting-arrival';
    if (!(await condition(() => received !== undefined, config.returnReceiptWindowMs))) {
      state.status = 'expired';
      await compensate(compensations);
      await knowledgeBase.recordReturn({ returnId, status: 'expired' });
      await notifications.notifyCustomer({
        idempotencyKey: key('expired'),
        customerId: ret.customer_id,
        message: { kind: 'return-expired', returnId },
      });
      return state;
    }
  } catch (err) {
    state.status = 'failed';
    await compensate(compensations);
    await knowledgeBase.recordReturn({ returnId, status: 'failed' });
    if (isCancellation(err)) throw err;
    return handOver(err);
  }

  // The parcel is here: the label has been used, so from now on failures go to a person, not undone.
  try {
    step = 'restock';
    await partners.restock({ returnId, items: received?.items ?? ret.items, idempotencyKey: key('restock') });
    step = 'refund';
    const refund = await partners.refund({
      orderId: ret.order_id,
      amount: policy.refundAmount,
      currency: policy.currency,
      reason: `return ${returnId}`,
      idempotencyKey: key('refund'),
    });
    state.refundId = refund.refundId;
    await knowledgeBase.recordReturn({ returnId, status: 'refunded', refundId: refund.refundId });
    await notifications.notifyCustomer({
      idempotencyKey: key('refunded'),
      customerId: ret.customer_id,
      message: { kind: 'return-refunded', returnId, amount: policy.refundAmount, currency: policy.currency },
    });
  } catch (err) {
    if (isCancellation(err)) throw err;
    state.status = 'failed';
    await knowledgeBase.recordReturn({ returnId, status: 'failed' });
    return handOver(err);
  }
  state.status = 'refunded';
  return state;
}

async function compensate(compensations: (() => Promise<unknown>)[]): Promise<void> {
  for (const undo of compensations) {
    try {
      await undo();
    } catch (err) {
      // A compensation that fails for good must not hide the original outcome; a person sees the log.
      log.error('compensation failed', { error: (err as Error).message });
    }
  }
  compensations.length = 0;
}

/**
 * The workflow the receiver starts for each return event: it exists so every delivery gets the
 * same exactly-once start (and duplicate answer) as any other event, then hands the event to the
 * return's own workflow, creating it if this is the first event to arrive.
 */
export async function returnEventRelayWorkflow(envelope: ReturnEnvelope): Promise<{ returnWorkflowId: string; delivered: boolean }> {
  const result = await relay.deliverReturnEvent(envelope);
  if (!result.delivered) {
    const closed = result.closed ? `was ${result.closed} by a person` : 'has already finished';
    await notifications.notifyAgents({
      idempotencyKey: `${workflowInfo().workflowId}:late`,
      subject: `Late ${envelope.event.event_type} for return ${envelope.event.return_id}`,
      body: `Return workflow ${result.returnWorkflowId} ${closed}; this event was not applied. Please review.`,
    });
  }
  return { returnWorkflowId: result.returnWorkflowId, delivered: result.delivered };
}
