import { z } from 'zod';
import { EVENTS, type EventOf, type EventType } from './registry';

/**
 * The parsing side of the registry (src/events/registry.ts): one zod union over every entry's
 * schema, the list of event types, and a name for each event's type.
 */

export { LineItem, ORDER_STATUSES, type OrderStatus } from './fields';
export type { EventOf, EventType };

type EventSchemaOf = (typeof EVENTS)[EventType]['schema'];

export const EVENT_TYPES = Object.keys(EVENTS) as EventType[];

// zod wants a non-empty tuple; the registry has an entry per event type, so the list is never empty.
const schemas = EVENT_TYPES.map((type) => EVENTS[type].schema) as [EventSchemaOf, ...EventSchemaOf[]];
export const WebhookEvent = z.discriminatedUnion('event_type', schemas);
export type WebhookEvent = EventOf<EventType>;

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && Object.hasOwn(EVENTS, value);
}

export type OrderStatusUpdated = EventOf<'order.status_updated'>;
export type CustomerInquiryNew = EventOf<'customer.inquiry.new'>;
export type PaymentSucceeded = EventOf<'payment.succeeded'>;
export type PaymentFailed = EventOf<'payment.failed'>;
export type PaymentRefunded = EventOf<'payment.refunded'>;
export type PaymentDisputed = EventOf<'payment.disputed'>;
export type ReturnInitiated = EventOf<'return.initiated'>;
export type ReturnReceived = EventOf<'return.received'>;
export type ShipmentInTransit = EventOf<'shipment.in_transit'>;
export type ShipmentDelivered = EventOf<'shipment.delivered'>;
export type ShipmentDelayed = EventOf<'shipment.delayed'>;
export type ShipmentException = EventOf<'shipment.exception'>;
export type InventoryStockShortage = EventOf<'inventory.stock_shortage'>;
export type CustomerUpdated = EventOf<'customer.updated'>;
export type ReturnStatusChanged = EventOf<'return.status_changed'>;
export type PrivacyRequested = EventOf<'privacy.requested'>;
