import { CancellationScope, condition, isCancellation, log, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import type { AgentSettings } from '../src/agent/types';
import type { EnvelopeOf } from '../src/events/envelope';
import { isShopifyOrderId } from '../src/providers/shopify/order-facts';
import { atShop, knowledgeBase, notifications, partners, relay, settings } from './activities';
import { tellAgents } from './agents-channel';
import {
  returnEventSignal,
  returnStateQuery,
  type ReturnDelivery,
  type ReturnEnvelope,
  type ReturnState,
  type ReturnStep,
} from './contracts/returns';
import { shopKey } from './contracts/partners';
import { customerContextFor, escalate, failureCause } from './handoff';

/**
 * The `patched()` ID of returns whose refund waits on the queue of the system that makes it: a
 * Shopify refund on the store's (Shopify's pace), any other on the payments partner's, as before.
 */
const REFUND_ON_ITS_SYSTEMS_QUEUE = 'refund-on-its-systems-queue';

/** An undo for a step that completed; `message` names it in the log if the undo itself fails. */
interface Compensation {
  message: string;
  fn: () => Promise<void>;
}

/**
 * Pattern 4, asynchronous multi-step processing, as a saga in the shape of Temporal's saga sample:
 * each completed step that has an undo puts it at the front of the list, and a step that fails
 * for good runs them in order (a label is voided), each undo's own failure logged and swallowed,
 * then hands the return to a person (a `return-failed` escalation). Once they resolve it the run
 * completes with status `failed`: the failure was handled, so it is not left as a failed workflow
 * nobody is looking at.
 *
 * Cancelled (an operator's decision, from the Temporal UI or CLI), the return stops between
 * steps: a partner call already under way is let finish, because an aborted one may have bought a
 * label or made a refund that nothing would then know of. Then, where the cancellation cannot
 * reach, the undos run (unless the parcel came back, which used the label), the record says
 * `cancelled`, the customer is told once, and a parcel that arrived without its refund goes to the
 * agents' channel for a person. A refund already made completes the return instead.
 */
export async function processReturnWorkflow(returnId: string, carried: ReturnEnvelope[] = []): Promise<ReturnState> {
  const { workflowId } = workflowInfo();
  const key = (step: string) => `${workflowId}:${step}`;
  const state: ReturnState = { returnId, status: 'awaiting-details' };
  let initiated: EnvelopeOf<'return.initiated'>['event'] | undefined;
  let received: EnvelopeOf<'return.received'>['event'] | undefined;
  /** A Shopify return the agent runs (workflows/store-returns.ts hands it here): its decision is shown in the store. */
  let store: { source: string } | undefined;
  /** A test-mode return (a provider's test event, a Shopify test order): its label in the carrier's test mode, its messages kept. */
  let testMode = false;
  const hold = ({ event, provider, source, testMode: test }: ReturnEnvelope) => {
    // Redeliveries and replays of an event we already hold change nothing.
    if (event.event_type === 'return.initiated') {
      if (initiated === undefined && provider === 'shopify') store = { source };
      if (initiated === undefined && test === true) testMode = true;
      initiated ??= event;
    } else received ??= event;
  };
  // A run that replaces a failed one starts with the events that run had (activities/relay.ts).
  carried.forEach(hold);

  setHandler(returnStateQuery, () => state);
  setHandler(returnEventSignal, hold);

  const compensations: Compensation[] = [];
  let step: ReturnStep = 'label';
  let labelVoided = false;
  /** The refund the return owes, once the policy has priced it, e.g. `40 EUR`. */
  let refundDue: string | undefined;

  /**
   * A denial shown in the store. The customer is told by hookline whatever the store says, so a
   * store that cannot take it (the return already decided there) goes to a person, not the run.
   */
  async function showDeclined(source: string, note: string, storeShops: AgentSettings['storeShops']): Promise<void> {
    try {
      await partnerStep(() =>
        atShop(shopKey(storeShops, source)).partners.showStoreReturnDecision({
          returnId,
          source,
          decision: 'decline',
          note,
          idempotencyKey: key('store-decline'),
        }),
      );
    } catch (err) {
      if (isCancellation(err)) throw err;
      const cause = failureCause(err);
      log.warn('store did not take the decline', { returnId, error: cause });
      await tellAgents('store-decision', {
        idempotencyKey: key('store-decline:agents'),
        subject: `Return ${returnId} was denied, but the store does not show it`,
        body: `Return ${returnId} was denied (${note}); declining it in the store failed: ${cause}. Please decline it there by hand.`,
      });
    }
  }

  /** The return was cancelled: undo what can be, record it, tell the customer once, and a person what cannot be undone. */
  async function cancelled(): Promise<void> {
    state.status = 'cancelled';
    // Never initiated: no record, and no customer to tell.
    const ret = initiated;
    if (!ret) return;
    // A parcel that arrived used its label: nothing left to void.
    if (received !== undefined) compensations.length = 0;
    const undone = await compensate(compensations);
    await knowledgeBase.recordReturn({ returnId, status: 'cancelled' });
    await notifications.notifyCustomer({
      // A test-mode return's messages stay in the outbox (an activity input, not a command: replay-safe).
      ...(testMode ? { testMode } : {}),
      idempotencyKey: key('cancelled'),
      customerId: ret.customer_id,
      message: { kind: 'return-cancelled', returnId, labelVoided, parcelReceived: received !== undefined },
    });
    if (received !== undefined || undone.length > 0) {
      // Goods back without their refund, or a label still valid: only a person can settle that.
      const problems = [
        ...(received !== undefined ? [`its parcel arrived and the refund${refundDue ? ` of ${refundDue}` : ''} was not made`] : []),
        ...undone,
      ];
      await tellAgents('return-cancelled', {
        idempotencyKey: key('cancelled:agents'),
        subject: `Return ${returnId} was cancelled: needs a person`,
        body: `Return ${returnId} (order ${ret.order_id}, customer ${ret.customer_id}) was cancelled, but ${problems.join('; ')}.`,
      });
    }
  }

  try {
    const config = await settings.agentSettings();
    if (!(await condition(() => initiated !== undefined, config.returnReceiptWindowMs)) || !initiated) {
      state.status = 'orphaned';
      await tellAgents('orphaned', {
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
    refundDue = `${policy.refundAmount} ${policy.currency}`;
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
          state.approval.outcome !== 'expired'
            ? (state.approval.note ?? policy.reason)
            : state.approval.abandoned
              ? `${policy.reason}; no decision was made`
              : `${policy.reason}; no approval in time`;
        await knowledgeBase.recordReturn({ returnId, status: 'denied' });
        if (store) await showDeclined(store.source, reason, config.storeShops);
        await notifications.notifyCustomer({
          ...(testMode ? { testMode } : {}),
          idempotencyKey: key('denied'),
          customerId: ret.customer_id,
          message: { kind: 'return-denied', returnId, reason },
        });
        return state;
      }
    }

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
      if (store) {
        // Approved (by the policy or a person): the store shows it before anything is bought for it.
        step = 'store-approval';
        const { source } = store;
        await partnerStep(() =>
          atShop(shopKey(config.storeShops, source)).partners.showStoreReturnDecision({
            returnId,
            source,
            decision: 'approve',
            idempotencyKey: key('store-approve'),
          }),
        );
        step = 'label';
      }
      const label = await partnerStep(() =>
        partners.createReturnLabel({
          returnId,
          orderId: ret.order_id,
          customerId: ret.customer_id,
          items: ret.items,
          idempotencyKey: key('label'),
          // Only a field of the activity's input, not a command: runs recorded before it replay as they ran.
          ...(testMode ? { testMode } : {}),
        }),
      );
      state.label = label;
      compensations.unshift({
        message: `void return label ${label.labelId}`,
        fn: async () => {
          // Voided in the mode it was bought in, which the label says: a test-mode return whose label
          // was bought before such returns had keys of their own bought it with EASYPOST_API_KEY.
          await partners.voidReturnLabel({
            labelId: label.labelId,
            idempotencyKey: key('void-label'),
            ...(label.testMode ? { testMode: true } : {}),
          });
          labelVoided = true;
        },
      });
      step = 'warehouse';
      await partnerStep(() =>
        partners.expectReturn({
          returnId,
          orderId: ret.order_id,
          items: ret.items,
          trackingNumber: label.trackingNumber,
          idempotencyKey: key('expect'),
        }),
      );
      step = 'label-sent';
      await knowledgeBase.recordReturn({ returnId, status: 'label-sent', labelId: label.labelId, trackingNumber: label.trackingNumber });
      await notifications.notifyCustomer({
        ...(testMode ? { testMode } : {}),
        idempotencyKey: key('label-sent'),
        customerId: ret.customer_id,
        message: { kind: 'return-label', returnId, labelUrl: label.labelUrl, trackingNumber: label.trackingNumber, carrier: label.carrier },
      });

      state.status = 'awaiting-arrival';
      if (!(await condition(() => received !== undefined, config.returnReceiptWindowMs))) {
        state.status = 'expired';
        await CancellationScope.nonCancellable(() => compensate(compensations));
        await knowledgeBase.recordReturn({ returnId, status: 'expired' });
        await notifications.notifyCustomer({
          ...(testMode ? { testMode } : {}),
          idempotencyKey: key('expired'),
          customerId: ret.customer_id,
          message: { kind: 'return-expired', returnId },
        });
        return state;
      }
    } catch (err) {
      // A cancellation is undone below, where it cannot reach the undos.
      if (isCancellation(err)) throw err;
      // Status and cause together: a query never sees a failed return without why.
      state.status = 'failed';
      state.failure = { step, cause: failureCause(err) };
      // Where a cancellation arriving now cannot cut an undo short.
      await CancellationScope.nonCancellable(() => compensate(compensations));
      await knowledgeBase.recordReturn({ returnId, status: 'failed' });
      return handOver(err);
    }

    // The parcel is here: the label has been used, so from now on failures go to a person, not undone.
    compensations.length = 0;
    try {
      step = 'restock';
      await partnerStep(() => partners.restock({ returnId, items: received?.items ?? ret.items, idempotencyKey: key('restock') }));
      step = 'refund';
      const refund = await partnerStep(() =>
        refundOrder(config, store?.source, {
          orderId: ret.order_id,
          amount: policy.refundAmount,
          currency: policy.currency,
          reason: `return ${returnId}`,
          idempotencyKey: key('refund'),
        }),
      );
      state.refundId = refund.refundId;
      // The money has moved: the return is done, and a cancellation that came meanwhile changes nothing.
      await CancellationScope.nonCancellable(async () => {
        await knowledgeBase.recordReturn({ returnId, status: 'refunded', refundId: refund.refundId });
        await notifications.notifyCustomer({
          ...(testMode ? { testMode } : {}),
          idempotencyKey: key('refunded'),
          customerId: ret.customer_id,
          message: { kind: 'return-refunded', returnId, amount: policy.refundAmount, currency: policy.currency },
        });
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      state.status = 'failed';
      state.failure = { step, cause: failureCause(err) };
      await knowledgeBase.recordReturn({ returnId, status: 'failed' });
      return handOver(err);
    }
    state.status = 'refunded';
    return state;
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // The workflow's own scope is cancelled: activities started in it would fail at once.
    await CancellationScope.nonCancellable(cancelled);
    throw err;
  }
}

/**
 * A refund on the partner queue of the system that makes it, so each is paced at that system's
 * rate: Stripe's (a payment that came through Stripe) and the seed's payments system on `payments`,
 * Shopify's on `store`. Which system that is, only Shopify can say (whether a configured shop has
 * the order), so with a store configured the store's queue is asked first about an order with a
 * Shopify id, unless the knowledge base already says Stripe took the payment. Both record the same completed effect under the same
 * key: the refund is made once, whichever makes it, in this run or a later one.
 */
async function refundOrder(
  config: Pick<AgentSettings, 'store' | 'storeShops'>,
  source: string | undefined,
  input: { orderId: string; amount: number; currency: string; reason: string; idempotencyKey: string },
): Promise<{ refundId: string }> {
  // An order that is not Shopify's (`ORD-12345`) never waits on the store's queue.
  if (!patched(REFUND_ON_ITS_SYSTEMS_QUEUE) || config.store === undefined || !isShopifyOrderId(input.orderId)) {
    return partners.refund(input);
  }
  if (await knowledgeBase.refundsThroughStripe({ orderId: input.orderId })) return partners.refund(input);
  // Under the return's shop's key (the provider-wide shop's for a return from elsewhere): Shopify
  // alone says which shop has the order, so the shop is known only from where the return came, and
  // then only that shop is asked. (A field of the activity's input, not a command: replay is unmoved.)
  const inStore = await atShop(shopKey(config.storeShops, source)).partners.refundInStore({ ...input, ...(source ? { source } : {}) });
  return inStore ?? partners.refund({ ...input, storeChecked: true });
}

/**
 * A partner call as one step of the saga: not started once the return is cancelled, and once
 * started, let finish (retries included), so its effect is known and can be undone.
 */
async function partnerStep<T>(call: () => Promise<T>): Promise<T> {
  const scope = CancellationScope.current();
  if (scope.consideredCancelled) await scope.cancelRequested;
  return CancellationScope.nonCancellable(call);
}

/** Runs the undos in order; resolves to what each one that failed left undone, after logging it. */
async function compensate(compensations: Compensation[]): Promise<string[]> {
  const undone: string[] = [];
  for (const { message, fn } of compensations) {
    try {
      await fn();
    } catch (err) {
      // An undo that fails must not hide the original outcome, nor stop the others.
      const cause = failureCause(err);
      log.error('compensation failed', { compensation: message, error: cause });
      undone.push(`could not ${message}: ${cause}`);
    }
  }
  compensations.length = 0;
  return undone;
}

/**
 * The workflow the receiver starts for each return event: it exists so every delivery gets the
 * same exactly-once start (and duplicate answer) as any other event, then hands the event to the
 * return's own workflow, creating it if this is the first event to arrive. A carrier's parcel on a
 * return label (an EasyPost tracker) names the label's tracking number, not the return: the
 * knowledge base says whose label it is, and a parcel no return is known for goes to a person.
 */
export async function returnEventRelayWorkflow(envelope: ReturnEnvelope): Promise<ReturnDelivery> {
  let handed = envelope;
  if (envelope.event.event_type === 'return.received' && envelope.event.return_id === undefined) {
    const { event } = envelope;
    const label = event.tracking_number ?? 'unknown';
    const found = event.tracking_number === undefined ? null : await knowledgeBase.findReturnByTrackingNumber(event.tracking_number);
    if (!found) {
      await tellAgents('orphaned', {
        idempotencyKey: `${workflowInfo().workflowId}:unmatched`,
        subject: `${envelope.testMode ? '[test] ' : ''}Return parcel ${label} delivered, but no return is known for it`,
        body:
          `The carrier delivered a parcel on return label ${label}, and hookline knows no return with that label. ` +
          'Please find whose it is and handle the return by hand.',
      });
      return { returnWorkflowId: null, delivered: false };
    }
    handed = { ...envelope, event: { ...event, return_id: found.returnId, order_id: event.order_id ?? found.orderId } };
  }
  const result = await relay.deliverReturnEvent(handed);
  if (!result.delivered) {
    const closed = result.closed ? `was ${result.closed} by a person` : 'has already finished';
    await tellAgents('late', {
      idempotencyKey: `${workflowInfo().workflowId}:late`,
      subject: `Late ${envelope.event.event_type} for return ${handed.event.return_id}`,
      body: `Return workflow ${result.returnWorkflowId} ${closed}; this event was not applied. Please review.`,
    });
  }
  return { returnWorkflowId: result.returnWorkflowId, delivered: result.delivered };
}
