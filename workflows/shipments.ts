import { patched, workflowInfo } from '@temporalio/workflow';
import type { CustomerMessage } from '../src/agent/types';
import { knowledgeBase, notifications, relay, settings } from './activities';
import type { ShipmentEnvelope, ShipmentResult } from './contracts/shipments';
import { customerContextFor, escalate } from './handoff';

/** What the customer is told of a shipment's news, for the order it is; null when it is not news to them. */
export function shipmentMessage(event: ShipmentEnvelope['event'], orderId: string): CustomerMessage | null {
  switch (event.event_type) {
    case 'shipment.in_transit':
      // A scan on the way is not news (the order system told them it shipped); the day it arrives is.
      return event.status === 'out_for_delivery'
        ? { kind: 'order-out-for-delivery', orderId, carrier: event.carrier, trackingNumber: event.tracking_number }
        : null;
    case 'shipment.delivered':
      return { kind: 'order-delivered', orderId };
    case 'shipment.delayed':
      return { kind: 'order-delayed', orderId, eta: event.new_eta, reason: event.delay_reason };
    case 'shipment.exception':
      return null;
  }
}

/**
 * The carrier's view of an order. On its way, delivered and delayed update the knowledge base and
 * tell the customer what is news to them; an exception (lost, damaged, refused) needs judgement, so
 * it goes to a person. A carrier's tracker (EasyPost) names no order: the knowledge base links it
 * by its tracking number, and one it cannot link is recorded all the same, and nobody is told
 * (there is nobody to tell) but a person about an exception.
 */
export async function shipmentEventWorkflow(envelope: ShipmentEnvelope): Promise<ShipmentResult> {
  const { event } = envelope;
  const { workflowId } = workflowInfo();
  const testMode = envelope.testMode === true;
  const applied = await knowledgeBase.applyShipment(event, { testMode });
  const orderId = applied.orderId ?? event.order_id;

  // Delivered on a return label: the return's parcel is back, whatever the tracker says of
  // `is_return` (EasyPost's published delivered Tracker has none, and a tracker created by its
  // tracking code need not): the return's own workflow takes it as its parcel received, as the
  // carrier's `return.received` would be. (Patched: runs recorded before it replay as they ran.)
  if (event.event_type === 'shipment.delivered' && applied.returnId !== undefined && patched('return-label-delivered-closes-return')) {
    const delivery = await relay.deliverReturnEvent({
      source: envelope.source,
      identity: `${envelope.identity}:return`,
      identityFrom: envelope.identityFrom,
      receivedAt: envelope.receivedAt,
      provider: envelope.provider,
      ...(testMode ? { testMode } : {}),
      event: {
        event_type: 'return.received',
        timestamp: event.timestamp,
        return_id: applied.returnId,
        tracking_number: event.tracking_number,
        ...(orderId !== undefined ? { order_id: orderId } : {}),
        // A carrier cannot see into the parcel: hookline's default for a return event that does not say.
        condition: 'resellable',
      },
    });
    return { applied: applied.applied, notified: null, returnWorkflowId: delivery.returnWorkflowId };
  }

  if (event.event_type === 'shipment.exception') {
    const config = await settings.agentSettings();
    const customerId = applied.customerId ?? event.customer_id;
    const whose = orderId
      ? ` for order ${orderId}`
      : applied.returnId
        ? ` (return ${applied.returnId}'s label)`
        : ' (no order known for it)';
    const handoff = await escalate({
      kind: 'shipment-exception',
      queue: 'shipping',
      reason: `${testMode ? '[test] ' : ''}Shipment ${event.tracking_number}${whose}: ${event.exception_code}`,
      customerId: customerId ?? 'unknown',
      customer: customerId ? await customerContextFor(customerId) : undefined,
      facts: {
        orderId: orderId ?? 'unknown',
        trackingNumber: event.tracking_number,
        carrier: event.carrier,
        exception: event.exception_code,
        description: event.description ?? '',
        ...(applied.returnId ? { returnId: applied.returnId } : {}),
        ...(testMode ? { mode: 'test' } : {}),
      },
      unclaimedSlaMs: config.handoffUnclaimedSlaMs,
      unansweredSlaMs: config.handoffUnansweredSlaMs,
    });
    return { applied: applied.applied, notified: null, handoff };
  }
  if (!applied.applied) return { applied: false, notified: null };

  const message = orderId === undefined ? null : shipmentMessage(event, orderId);
  if (!message) return { applied: true, notified: null };
  await notifications.notifyCustomer({
    idempotencyKey: `${workflowId}:notify`,
    customerId: applied.customerId ?? event.customer_id,
    orderId,
    message,
    // A provider's test event (an EasyPost test tracker): the message stays in the outbox.
    testMode,
  });
  return { applied: true, notified: message.kind };
}
