import type { Workflows, WorkflowName } from '../../workflows/contracts';
import type { EnvelopeOf } from '../events/envelope';
import type { AllTrue, EventType } from '../events/registry';

/**
 * Which workflow does the agent's work for each event type, by the name the worker registers it
 * under (workflows/contracts/index.ts). Only the name: the receiver starts workflows without
 * loading their code. A type left out, or a name no workflow has, is a compile error.
 */
export const ROUTES = {
  'order.status_updated': 'orderStatusWorkflow',
  'customer.inquiry.new': 'customerInquiryWorkflow',
  'customer.inquiry.followup': 'inquiryFollowUpWorkflow',
  'payment.succeeded': 'paymentEventWorkflow',
  'payment.failed': 'paymentEventWorkflow',
  'payment.refunded': 'paymentEventWorkflow',
  'payment.disputed': 'disputeWorkflow',
  // Both return events go to the return's one long-lived workflow through the relay.
  'return.initiated': 'returnEventRelayWorkflow',
  'return.received': 'returnEventRelayWorkflow',
  'shipment.in_transit': 'shipmentEventWorkflow',
  'shipment.delivered': 'shipmentEventWorkflow',
  'shipment.delayed': 'shipmentEventWorkflow',
  'shipment.exception': 'shipmentEventWorkflow',
  'inventory.stock_shortage': 'stockShortageWorkflow',
  'customer.updated': 'customerUpdatedWorkflow',
  // A return the store runs itself (Shopify): hookline tells the customer where it stands.
  'return.status_changed': 'returnStatusWorkflow',
  'privacy.requested': 'privacyRequestWorkflow',
} as const satisfies Record<EventType, WorkflowName>;

export function workflowForEvent(eventType: EventType): WorkflowName {
  return ROUTES[eventType];
}

// A route to a workflow whose contract does not take its event's envelope is a compile error here.
export type RoutesTakeTheirEvents = AllTrue<{
  [T in EventType]: EnvelopeOf<T> extends Parameters<Workflows[(typeof ROUTES)[T]]>[0] ? true : T;
}>;
