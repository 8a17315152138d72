import { workflowInfo } from '@temporalio/workflow';
import type { CustomerMessage } from '../src/agent/types';
import { knowledgeBase, notifications, settings } from './activities';
import type { ShipmentEnvelope, ShipmentResult } from './contracts/shipments';
import { customerContextFor, escalate } from './handoff';

/**
 * The carrier's view of an order. Delivered and delayed update the knowledge base and tell the
 * customer; an exception (lost, damaged, refused) needs judgement, so it goes to a person.
 */
export async function shipmentEventWorkflow(envelope: ShipmentEnvelope): Promise<ShipmentResult> {
  const { event } = envelope;
  const { workflowId } = workflowInfo();
  const applied = await knowledgeBase.applyShipment(event);

  if (event.event_type === 'shipment.exception') {
    const config = await settings.agentSettings();
    const customerId = applied.customerId ?? event.customer_id;
    const handoff = await escalate({
      kind: 'shipment-exception',
      queue: 'shipping',
      reason: `Shipment ${event.tracking_number} for order ${event.order_id}: ${event.exception_code}`,
      customerId: customerId ?? 'unknown',
      customer: customerId ? await customerContextFor(customerId) : undefined,
      facts: {
        orderId: event.order_id,
        trackingNumber: event.tracking_number,
        carrier: event.carrier,
        exception: event.exception_code,
        description: event.description ?? '',
      },
      unclaimedSlaMs: config.handoffUnclaimedSlaMs,
      unansweredSlaMs: config.handoffUnansweredSlaMs,
    });
    return { applied: applied.applied, notified: null, handoff };
  }
  if (!applied.applied) return { applied: false, notified: null };

  const message: CustomerMessage =
    event.event_type === 'shipment.delivered'
      ? { kind: 'order-delivered', orderId: event.order_id }
      : { kind: 'order-delayed', orderId: event.order_id, eta: event.new_eta, reason: event.delay_reason };
  await notifications.notifyCustomer({
    idempotencyKey: `${workflowId}:notify`,
    customerId: applied.customerId ?? event.customer_id,
    orderId: event.order_id,
    message,
    // A provider's test event (an EasyPost test tracker): the message stays in the outbox.
    testMode: envelope.testMode === true,
  });
  return { applied: true, notified: message.kind };
}
