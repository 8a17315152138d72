import type { EventType } from './schemas';
import type { EventEnvelope } from './envelope';
import * as workflows from '../../workflows';

/** Which workflow does the agent's work for each event type. Returns go through their relay. */
const ROUTES = {
  'order.status_updated': workflows.orderStatusWorkflow,
  'customer.inquiry.new': workflows.customerInquiryWorkflow,
  'payment.succeeded': workflows.paymentEventWorkflow,
  'payment.failed': workflows.paymentEventWorkflow,
  'payment.refunded': workflows.paymentEventWorkflow,
  'return.initiated': workflows.returnEventRelayWorkflow,
  'return.received': workflows.returnEventRelayWorkflow,
  'shipment.delivered': workflows.shipmentEventWorkflow,
  'shipment.delayed': workflows.shipmentEventWorkflow,
  'shipment.exception': workflows.shipmentEventWorkflow,
  'inventory.stock_shortage': workflows.stockShortageWorkflow,
  'customer.updated': workflows.customerUpdatedWorkflow,
} as const satisfies Record<EventType, (...args: never[]) => Promise<unknown>>;

// Each route accepts exactly its event's envelope; the receiver checks the pairing at run time by
// construction (it looks the route up by the event it parsed), so the union is safe to widen here.
export function workflowForEvent(eventType: EventType): (envelope: EventEnvelope) => Promise<unknown> {
  return ROUTES[eventType] as unknown as (envelope: EventEnvelope) => Promise<unknown>;
}
