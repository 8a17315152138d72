import { log, patched, workflowInfo } from '@temporalio/workflow';
import type { EnvelopeOf } from '../src/events/envelope';
import { knowledgeBase, notifications, privacy, relay } from './activities';
import type { PrivacyResult } from './contracts/privacy';

/**
 * A data-protection request (Shopify's mandatory privacy topics). A person's data request gathers
 * what hookline holds about them and tells the team it is ready to send (the data stays in the
 * knowledge base's privacy log, not in this workflow's history); an erasure erases the person's (or
 * the shop's) data from the receiver's spool and quarantined bodies, the open conversations, the
 * knowledge base and the outbox, and is logged as done with every count. What this cannot erase at
 * once is in the README: Temporal's histories keep event inputs until the namespace's retention ends.
 */
export async function privacyRequestWorkflow(envelope: EnvelopeOf<'privacy.requested'>): Promise<PrivacyResult> {
  const { event } = envelope;
  const { workflowId } = workflowInfo();
  // Runs recorded before erasures reached the spool and every conversation go on as they began.
  if (event.request !== 'customer-data' && patched('privacy-erases-everywhere')) {
    const rows = await erase(envelope, workflowId);
    log.info('privacy request done', { request: event.request, shopId: event.shop_id, rows });
    return { request: event.request, rows };
  }
  const { rows } = await knowledgeBase.carryOutPrivacyRequest({ id: workflowId, source: envelope.source, event });
  // A person's erasure reaches the conversations still open about them (their state is theirs to erase).
  if (event.request === 'customer-redact' && event.customer_id) {
    rows.conversations = await relay.eraseFromConversations({ customerId: event.customer_id });
  }
  if (event.request === 'customer-data' && patched('privacy-data-from-receiver')) {
    const held = await privacy.exportFromReceiver({ requestId: workflowId, subject: subjectOf(event) });
    Object.assign(
      rows,
      held.reached ? { spool_rows: held.spoolRows, quarantined_bodies: held.quarantinedBodies } : { receiver_database_not_reached: 1 },
    );
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

/**
 * An erasure, outside in: the receiver's copies first (once the person's spooled events have been
 * started, so none is lost and none brings them back afterwards), then the open conversations (a
 * shop's are found through the event log, which the knowledge base's erasure then forgets), then
 * the knowledge base and the outbox, whose log row counts all of it.
 */
async function erase(envelope: EnvelopeOf<'privacy.requested'>, workflowId: string): Promise<Record<string, number>> {
  const { event } = envelope;
  const subject = subjectOf(event);
  const shopSource = event.request === 'shop-redact' ? envelope.source : undefined;
  const receiver = await privacy.eraseFromReceiver({ requestId: workflowId, subject, ...(shopSource ? { shopSource } : {}) });
  const conversations = await privacy.eraseFromOpenConversations({
    customerIds: subject.customerIds,
    ...(shopSource ? { shopSource } : {}),
  });
  const erasedElsewhere = {
    conversations,
    ...(receiver.reached
      ? { spool_rows: receiver.spoolRows, quarantined_bodies: receiver.quarantinedBodies }
      : { receiver_database_not_reached: 1 }),
  };
  const { rows } = await knowledgeBase.carryOutPrivacyRequest({ id: workflowId, source: envelope.source, event, erasedElsewhere });
  return rows;
}

/** Whom a request is about, as Shopify named them in the signed request. */
function subjectOf(event: EnvelopeOf<'privacy.requested'>['event']) {
  return {
    customerIds: event.customer_id ? [event.customer_id] : [],
    emails: event.email ? [event.email] : [],
    phones: event.phone ? [event.phone] : [],
    orderIds: event.order_ids,
  };
}
