import { z } from 'zod';

/**
 * The field types event schemas are built from (src/events/registry.ts), shaped like the seed's
 * payloads. Every event may carry the sender's own identity (`event_id`, `idempotency_key`, or
 * Stripe-style `id`); when none is present the receiver falls back to the event's natural key.
 */

export const id = (what: string) => z.string().min(1, `${what} is required`).max(128);
export const timestamp = z.iso.datetime({ offset: true, message: 'expected an ISO-8601 timestamp' });
export const day = z.union([z.iso.date(), z.iso.datetime({ offset: true })], { message: 'expected a date (YYYY-MM-DD)' });
export const money = z.number().nonnegative().finite();
export const currency = z
  .string()
  .regex(/^[A-Za-z]{3}$/, 'expected an ISO 4217 currency code such as USD')
  .transform((c) => c.toUpperCase());

export const LineItem = z.object({ product_id: id('product_id'), quantity: z.number().int().positive() });
export type LineItem = z.infer<typeof LineItem>;

/** What every event may carry besides its own fields. */
export const base = {
  timestamp,
  event_id: z.string().min(1).max(256).optional(),
  idempotency_key: z.string().min(1).max(256).optional(),
  id: z.string().min(1).max(256).optional(),
};

/** The order statuses an OMS sends, and so the ones the orders table stores (src/db/schema.ts). */
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
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** A shipment on its way, as a carrier reports it: the order statuses of the same names. */
export const SHIPMENT_PROGRESS = ['in_transit', 'out_for_delivery'] as const;
export type ShipmentProgress = (typeof SHIPMENT_PROGRESS)[number];

/** A ticket in a helpdesk hookline answers on (Zendesk): the system and the ticket's id there. */
export const helpdeskTicket = z.object({ system: z.literal('zendesk'), id: z.string().regex(/^\d{1,20}$/, 'expected a ticket id') });
export type HelpdeskTicket = z.infer<typeof helpdeskTicket>;

export const INQUIRY_CHANNELS = ['email', 'chat', 'phone', 'web', 'social'] as const;
export type InquiryChannel = (typeof INQUIRY_CHANNELS)[number];

export const RETURN_CONDITIONS = ['resellable', 'damaged', 'missing_items'] as const;
export type ReturnCondition = (typeof RETURN_CONDITIONS)[number];

/** What a privacy request asks: a person's data handed over, a person's data erased, a shop's data erased. */
export const PRIVACY_REQUESTS = ['customer-data', 'customer-redact', 'shop-redact'] as const;
export type PrivacyRequest = (typeof PRIVACY_REQUESTS)[number];
