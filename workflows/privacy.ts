import { log, workflowInfo } from '@temporalio/workflow';
import type { EnvelopeOf } from '../src/events/envelope';
import { knowledgeBase, notifications, relay } from './activities';
import type { PrivacyResult } from './contracts/privacy';

/**
 * A data-protection request (Shopify's mandatory privacy topics). A person's data request gathers
 * what hookline holds about them and tells the team it is ready to send (the data stays in the
 * knowledge base's privacy log, not in this workflow's history); an erasure erases the person's (or
 * the shop's) data from the knowledge base and the outbox. Each is logged as done. What this cannot
 * erase at once is in the README: Temporal's histories keep event inputs until the namespace's
 * retention ends.
 */
export async function privacyRequestWorkflow(envelope: EnvelopeOf<'privacy.requested'>): Promise<PrivacyResult> {
  const { event } = envelope;
  const { workflowId } = workflowInfo();
  const { rows } = await knowledgeBase.carryOutPrivacyRequest({ id: workflowId, source: envelope.source, event });
  // A person's erasure reaches the conversations still open about them (their state is theirs to erase).
  if (event.request === 'customer-redact' && event.customer_id) {
    rows.conversations = await relay.eraseFromConversations({ customerId: event.customer_id });
  }
  log.info('privacy request done', { request: event.request, shopId: event.shop_id, rows });
  if (event.request === 'customer-data') {
    await notifications.notifyAgents({
      idempotencyKey: `${workflowId}:ready`,
      subject: `Data request ${event.request_id ?? workflowId} is ready to send`,
      body:
        `What hookline holds about customer ${event.customer_id ?? 'unknown'} of shop ${event.shop_id} is in the privacy log ` +
        `(privacy_requests id ${workflowId}); send it to the store owner, who answers the customer.`,
    });
  }
  return { request: event.request, rows };
}
