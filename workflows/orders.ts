import { log, workflowInfo } from '@temporalio/workflow';
import type { EnvelopeOf } from '../src/events/envelope';
import type { CustomerMessage } from '../src/agent/types';
import { knowledgeBase, notifications } from './activities';
import type { OrderStatusResult } from './contracts/orders';

/** The transitions a customer wants to hear about, and how to tell them. */
function messageFor(event: EnvelopeOf<'order.status_updated'>['event']): CustomerMessage | null {
  const orderId = event.order_id;
  switch (event.new_status) {
    case 'shipped':
      return { kind: 'order-shipped', orderId, carrier: event.carrier, trackingNumber: event.tracking_number, eta: event.eta };
    case 'delivered':
      return { kind: 'order-delivered', orderId };
    case 'delayed':
      return { kind: 'order-delayed', orderId, eta: event.eta };
    case 'cancelled':
      return { kind: 'order-cancelled', orderId };
    default:
      return null;
  }
}

/**
 * Pattern 1, simple notification. Events arrive out of order, so the knowledge base applies a
 * status only if it is newer than the one it holds; a stale event changes nothing and says nothing.
 */
export async function orderStatusWorkflow(envelope: EnvelopeOf<'order.status_updated'>): Promise<OrderStatusResult> {
  const { event } = envelope;
  // A provider's test order is marked as one, so a later event about it (a fulfillment) stays a test too.
  const outcome = await knowledgeBase.applyOrderStatus(event, envelope.testMode === true ? { testMode: true } : undefined);
  if (outcome === 'stale') {
    log.info('stale order status ignored', { orderId: event.order_id, status: event.new_status });
    return { applied: false, notified: null };
  }
  const message = messageFor(event);
  if (message) {
    await notifications.notifyCustomer({
      idempotencyKey: `${workflowInfo().workflowId}:notify`,
      // A store's fulfillment names the order, not the customer: the knowledge base knows whose it is.
      customerId: event.customer_id,
      orderId: event.order_id,
      message,
      // A provider's test event (a Shopify test order): the message stays in the outbox.
      testMode: envelope.testMode === true,
    });
  }
  return { applied: true, notified: message?.kind ?? null };
}
