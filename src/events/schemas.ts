import { z } from 'zod';

/**
 * The events hookline understands, one zod schema per `event_type`, shaped like the seed's
 * payloads. Every event may carry the sender's own identity (`event_id`, `idempotency_key`, or
 * Stripe-style `id`); when none is present the receiver falls back to the event's natural key.
 */

const id = (what: string) => z.string().min(1, `${what} is required`).max(128);
const timestamp = z.iso.datetime({ offset: true, message: 'expected an ISO-8601 timestamp' });
const day = z.union([z.iso.date(), z.iso.datetime({ offset: true })], { message: 'expected a date (YYYY-MM-DD)' });
const money = z.number().nonnegative().finite();
const currency = z
  .string()
  .regex(/^[A-Za-z]{3}$/, 'expected an ISO 4217 currency code such as USD')
  .transform((c) => c.toUpperCase());

export const LineItem = z.object({ product_id: id('product_id'), quantity: z.number().int().positive() });
export type LineItem = z.infer<typeof LineItem>;

const base = {
  timestamp,
  event_id: z.string().min(1).max(256).optional(),
  idempotency_key: z.string().min(1).max(256).optional(),
  id: z.string().min(1).max(256).optional(),
};

export const ORDER_STATUSES = [
  'pending',
  'processing',
  'paid',
  'shipped',
  'in_transit',
  'out_for_delivery',
  'delivered',
  'delayed',
  'cancelled',
  'returned',
] as const;

export const OrderStatusUpdated = z.object({
  ...base,
  event_type: z.literal('order.status_updated'),
  order_id: id('order_id'),
  customer_id: id('customer_id'),
  previous_status: z.enum(ORDER_STATUSES).optional(),
  new_status: z.enum(ORDER_STATUSES),
  tracking_number: z.string().max(128).optional(),
  carrier: z.string().max(64).optional(),
  eta: day.optional(),
  items: z.array(LineItem).optional(),
  total_amount: money.optional(),
  currency: currency.optional(),
});
export type OrderStatusUpdated = z.infer<typeof OrderStatusUpdated>;

export const CustomerInquiryNew = z.object({
  ...base,
  event_type: z.literal('customer.inquiry.new'),
  inquiry_id: id('inquiry_id'),
  customer_id: id('customer_id'),
  summary: z.string().min(1).max(2000),
  message: z.string().max(20000).optional(),
  source: z.enum(['email', 'chat', 'phone', 'web', 'social']),
  order_id: z.string().max(128).optional(),
});
export type CustomerInquiryNew = z.infer<typeof CustomerInquiryNew>;

const payment = {
  ...base,
  payment_id: id('payment_id'),
  order_id: id('order_id'),
  customer_id: z.string().max(128).optional(),
  amount: money,
  currency,
};

export const PaymentSucceeded = z.object({ ...payment, event_type: z.literal('payment.succeeded') });
export type PaymentSucceeded = z.infer<typeof PaymentSucceeded>;

export const PaymentFailed = z.object({
  ...payment,
  event_type: z.literal('payment.failed'),
  failure_reason: z.string().max(500).optional(),
});
export type PaymentFailed = z.infer<typeof PaymentFailed>;

export const PaymentRefunded = z.object({
  ...payment,
  event_type: z.literal('payment.refunded'),
  refund_id: z.string().max(128).optional(),
});
export type PaymentRefunded = z.infer<typeof PaymentRefunded>;

export const ReturnInitiated = z.object({
  ...base,
  event_type: z.literal('return.initiated'),
  return_id: id('return_id'),
  order_id: id('order_id'),
  customer_id: id('customer_id'),
  items: z.array(LineItem).min(1, 'a return needs at least one item'),
  reason: z.string().max(500),
});
export type ReturnInitiated = z.infer<typeof ReturnInitiated>;

export const ReturnReceived = z.object({
  ...base,
  event_type: z.literal('return.received'),
  return_id: id('return_id'),
  order_id: z.string().max(128).optional(),
  items: z.array(LineItem).optional(),
  condition: z.enum(['resellable', 'damaged', 'missing_items']).default('resellable'),
});
export type ReturnReceived = z.infer<typeof ReturnReceived>;

const shipment = {
  ...base,
  order_id: id('order_id'),
  customer_id: z.string().max(128).optional(),
  tracking_number: id('tracking_number'),
  carrier: z.string().min(1).max(64),
};

export const ShipmentDelivered = z.object({
  ...shipment,
  event_type: z.literal('shipment.delivered'),
  delivered_at: timestamp.optional(),
});
export type ShipmentDelivered = z.infer<typeof ShipmentDelivered>;

export const ShipmentDelayed = z.object({
  ...shipment,
  event_type: z.literal('shipment.delayed'),
  new_eta: day.optional(),
  delay_reason: z.string().max(500).optional(),
});
export type ShipmentDelayed = z.infer<typeof ShipmentDelayed>;

export const ShipmentException = z.object({
  ...shipment,
  event_type: z.literal('shipment.exception'),
  exception_code: z.string().min(1).max(64),
  description: z.string().max(1000).optional(),
});
export type ShipmentException = z.infer<typeof ShipmentException>;

export const InventoryStockShortage = z.object({
  ...base,
  event_type: z.literal('inventory.stock_shortage'),
  product_id: id('product_id'),
  available_quantity: z.number().int().nonnegative(),
  expected_restock_date: day.optional(),
  affected_order_ids: z.array(id('order_id')).optional(),
});
export type InventoryStockShortage = z.infer<typeof InventoryStockShortage>;

export const CustomerUpdated = z.object({
  ...base,
  event_type: z.literal('customer.updated'),
  customer_id: id('customer_id'),
  changes: z
    .object({
      name: z.string().max(200).optional(),
      email: z.email().optional(),
      phone: z.string().max(40).optional(),
    })
    .refine((c) => Object.keys(c).length > 0, 'changes must name at least one field'),
});
export type CustomerUpdated = z.infer<typeof CustomerUpdated>;

export const WebhookEvent = z.discriminatedUnion('event_type', [
  OrderStatusUpdated,
  CustomerInquiryNew,
  PaymentSucceeded,
  PaymentFailed,
  PaymentRefunded,
  ReturnInitiated,
  ReturnReceived,
  ShipmentDelivered,
  ShipmentDelayed,
  ShipmentException,
  InventoryStockShortage,
  CustomerUpdated,
]);
export type WebhookEvent = z.infer<typeof WebhookEvent>;
export type EventType = WebhookEvent['event_type'];
export type EventOf<T extends EventType> = Extract<WebhookEvent, { event_type: T }>;

export const EVENT_TYPES = WebhookEvent.options.map((option) => option.shape.event_type.value) as EventType[];

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (EVENT_TYPES as string[]).includes(value);
}
