import { log, patched, workflowInfo } from '@temporalio/workflow';
import type { CustomerMessage } from '../src/agent/types';
import type { EnvelopeOf } from '../src/events/envelope';
import { atShop, knowledgeBase, notifications, relay, settings } from './activities';
import { shopKey } from './contracts/partners';
import type { ReturnEnvelope } from './contracts/returns';
import type { ReturnStatusResult } from './contracts/store-returns';

/** What the customer hears of a store-run return's status: its receipt, approval and refusal; closing says nothing new. */
export function returnStatusMessage(event: EnvelopeOf<'return.status_changed'>['event']): CustomerMessage | null {
  const { return_id: returnId, order_id: orderId } = event;
  switch (event.status) {
    case 'requested':
      return { kind: 'return-requested', returnId, orderId };
    case 'open':
      return { kind: 'return-approved', returnId, orderId };
    case 'declined':
      return { kind: 'return-denied', returnId, reason: event.reason ?? 'the store declined it' };
    default:
      return null;
  }
}

/**
 * A return the store runs itself (Shopify: the merchant approves, labels and refunds in the store):
 * hookline does not process it (no policy check, label or refund of its own, unlike the
 * process-return workflow), it tells the customer where the return stands. The customer is the
 * order's, as the knowledge base knows it; an order it has not seen leaves the message in the
 * outbox for a person, and nothing fails. Each status is its own event (identity), so a redelivery
 * tells nothing twice, and the message's key is the workflow's; a stale status (one the return is
 * past) is recorded nowhere and tells nothing.
 */
export async function returnStatusWorkflow(envelope: EnvelopeOf<'return.status_changed'>): Promise<ReturnStatusResult> {
  const { event } = envelope;
  const outcome = await knowledgeBase.applyStoreReturnStatus({ returnId: event.return_id, orderId: event.order_id, status: event.status });
  if (outcome === 'stale') {
    log.info('stale return status ignored', { returnId: event.return_id, status: event.status });
    return { notified: null };
  }
  // A return requested in a shop the agent acts in (SHOPIFY_* configured for the source) is the
  // agent's to run: the order's facts come from Shopify, and the return's own saga decides it,
  // buys its label, refunds it and shows the decision in the store (workflows/returns.ts).
  // (Patched: runs recorded before the agent ran Shopify's returns replay as they ran.)
  let handedTo: string | undefined;
  let testMode = envelope.testMode === true;
  if (event.status === 'requested' && patched('agent-runs-store-returns')) {
    // Paced under the shop's key, as every call to that shop is, whichever source's run makes it.
    // (No patch: this type is pinned, so a run replays only on the build it started on.)
    const shop = shopKey((await settings.agentSettings()).storeShops, envelope.source);
    // The return's own lines, not the order's: only what is sent back is labelled, checked and refunded.
    const facts = await atShop(shop).partners.storeReturnFacts({
      orderId: event.order_id,
      source: envelope.source,
      testMode: envelope.testMode === true,
      returnId: event.return_id,
    });
    if (facts) {
      // A Shopify return's body does not say whether its order is a test order; the order does.
      if (facts.test) testMode = true;
      const initiated: ReturnEnvelope = {
        source: envelope.source,
        identity: `${envelope.identity}:initiated`,
        identityFrom: envelope.identityFrom,
        receivedAt: envelope.receivedAt,
        provider: 'shopify',
        ...(testMode ? { testMode: true } : {}),
        event: {
          event_type: 'return.initiated',
          timestamp: event.timestamp,
          return_id: event.return_id,
          order_id: event.order_id,
          customer_id: facts.customerId,
          items: facts.items,
          reason: event.reason ?? 'requested in the store',
        },
      };
      handedTo = (await relay.deliverReturnEvent(initiated)).returnWorkflowId;
    }
  }
  const message = returnStatusMessage(event);
  if (!message) return { notified: null, ...(handedTo ? { returnWorkflowId: handedTo } : {}) };
  await notifications.notifyCustomer({
    idempotencyKey: `${workflowInfo().workflowId}:notify`,
    customerId: event.customer_id,
    orderId: event.order_id,
    message,
    testMode,
  });
  return { notified: message.kind, ...(handedTo ? { returnWorkflowId: handedTo } : {}) };
}
