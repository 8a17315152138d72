import { z } from 'zod';
import {
  base,
  currency,
  day,
  helpdeskTicket,
  id,
  INQUIRY_CHANNELS,
  LineItem,
  money,
  ORDER_STATUSES,
  PRIVACY_REQUESTS,
  RETURN_CONDITIONS,
  SHIPMENT_PROGRESS,
  timestamp,
} from './fields';
import type { BuiltinSource } from './sources';

/**
 * The events hookline understands: ONE entry per `event_type`, holding everything the type is.
 * EVENT_TYPES, the parsing union, natural keys, which built-in source may send what, `npm run
 * send`'s samples and the bench mixes all derive from this object, so a new event type is an entry
 * here, its workflow (and contract) and its route (src/intake/routes.ts), and a piece left out is a
 * compile error. Nothing here knows the workflows: this is the bottom layer.
 */
export interface EventSpec<S extends EventSchema = EventSchema> {
  schema: S;
  /**
   * The identity an event has when it carries no sender id (src/events/identity.ts): what stays
   * the same when the sender redelivers the event, and differs between two genuine events.
   */
  naturalKey(event: z.output<S>): string;
  /**
   * The built-in sources allowed to send this type (least privilege: any other is quarantined).
   * The first is the default, the one `npm run send <event type>` signs as.
   */
  sources: readonly [BuiltinSource, ...BuiltinSource[]];
  /** A valid example, shaped like the seed's payloads; `npm run send` posts it and tests start from it. */
  sample: Omit<z.output<S>, 'event_type'>;
}

type EventSchema = z.ZodObject<{ event_type: z.ZodLiteral<string> } & z.ZodRawShape>;

/** Infers the entry's event from its schema, so naturalKey and sample are checked against it. */
function event<S extends EventSchema>(spec: EventSpec<S>): EventSpec<S> {
  return spec;
}

const payment = {
  ...base,
  payment_id: id('payment_id'),
  // A payment gateway may not know hookline's order (a Stripe payment intent without the order
  // key in its metadata): the payment is still recorded, and no workflow fails on it.
  order_id: id('order_id').optional(),
  customer_id: z.string().max(128).optional(),
  amount: money,
  currency,
};

const shipment = {
  ...base,
  // A carrier (an EasyPost tracker) knows its tracking number, not hookline's order: the shipment
  // workflow links it by what the knowledge base recorded for that tracking number, and an
  // unknown one is recorded all the same (src/providers/easypost/).
  order_id: id('order_id').optional(),
  customer_id: z.string().max(128).optional(),
  tracking_number: id('tracking_number'),
  carrier: z.string().min(1).max(64),
};

// The four seed examples verbatim (order, inquiry, payment, return); the sandbox CRM knows CUST-67890.
export const EVENTS = {
  'order.status_updated': event({
    schema: z.object({
      ...base,
      event_type: z.literal('order.status_updated'),
      order_id: id('order_id'),
      // A store's fulfillment names its order, not the customer (a Shopify fulfillment): the
      // knowledge base knows whose order it is, and the message goes to them.
      customer_id: id('customer_id').optional(),
      previous_status: z.enum(ORDER_STATUSES).optional(),
      new_status: z.enum(ORDER_STATUSES),
      tracking_number: z.string().max(128).optional(),
      carrier: z.string().max(64).optional(),
      eta: day.optional(),
      items: z.array(LineItem).optional(),
      total_amount: money.optional(),
      currency: currency.optional(),
    }),
    // The same status can recur (shipped → delayed → shipped); the timestamp tells them apart
    // while a redelivery of one transition keeps it.
    naturalKey: (e) => `${e.order_id}:${e.new_status}:${e.timestamp}`,
    sources: ['oms'],
    sample: {
      timestamp: '2023-10-27T10:30:00Z',
      order_id: 'ORD-12345',
      customer_id: 'CUST-67890',
      previous_status: 'processing',
      new_status: 'shipped',
      tracking_number: 'TRK-ABCDEF123',
      carrier: 'FedEx',
      eta: '2023-10-30',
    },
  }),

  'customer.inquiry.new': event({
    schema: z.object({
      ...base,
      event_type: z.literal('customer.inquiry.new'),
      inquiry_id: id('inquiry_id'),
      customer_id: id('customer_id'),
      summary: z.string().min(1).max(2000),
      message: z.string().max(20000).optional(),
      source: z.enum(INQUIRY_CHANNELS),
      order_id: z.string().max(128).optional(),
      /** The helpdesk ticket the inquiry is (a Zendesk ticket): the agent's answers go on it, not by email. */
      ticket: helpdeskTicket.optional(),
    }),
    naturalKey: (e) => e.inquiry_id,
    sources: ['crm'],
    sample: {
      timestamp: '2023-10-27T11:00:00Z',
      inquiry_id: 'INQ-98765',
      customer_id: 'CUST-67890',
      summary: 'Question about a recent order.',
      source: 'email',
    },
  }),

  // A customer's further message on an inquiry (a public comment on its Zendesk ticket): it reaches
  // the conversation a person holds for the inquiry, if one is open.
  'customer.inquiry.followup': event({
    schema: z.object({
      ...base,
      event_type: z.literal('customer.inquiry.followup'),
      inquiry_id: id('inquiry_id'),
      customer_id: id('customer_id'),
      message_id: id('message_id'),
      message: z.string().min(1).max(20000),
      ticket: helpdeskTicket.optional(),
    }),
    naturalKey: (e) => `${e.inquiry_id}:${e.message_id}`,
    sources: ['crm'],
    sample: {
      timestamp: '2023-10-27T12:00:00Z',
      inquiry_id: 'INQ-98765',
      customer_id: 'CUST-67890',
      message_id: 'MSG-1',
      message: 'Any news on this?',
    },
  }),

  'payment.succeeded': event({
    schema: z.object({ ...payment, event_type: z.literal('payment.succeeded') }),
    naturalKey: (e) => e.payment_id,
    sources: ['payments'],
    sample: { timestamp: '2023-10-27T11:30:00Z', payment_id: 'PMT-ABCXYZ', order_id: 'ORD-12345', amount: 99.99, currency: 'USD' },
  }),

  'payment.failed': event({
    schema: z.object({ ...payment, event_type: z.literal('payment.failed'), failure_reason: z.string().max(500).optional() }),
    naturalKey: (e) => e.payment_id,
    sources: ['payments'],
    sample: {
      timestamp: '2023-10-27T11:31:00Z',
      payment_id: 'PMT-DECLINED1',
      order_id: 'ORD-12345',
      customer_id: 'CUST-67890',
      amount: 99.99,
      currency: 'USD',
      failure_reason: 'card_declined',
    },
  }),

  'payment.refunded': event({
    schema: z.object({ ...payment, event_type: z.literal('payment.refunded'), refund_id: z.string().max(128).optional() }),
    naturalKey: (e) => e.payment_id,
    sources: ['payments'],
    sample: {
      timestamp: '2023-11-02T09:00:00Z',
      payment_id: 'PMT-ABCXYZ',
      order_id: 'ORD-12345',
      customer_id: 'CUST-67890',
      amount: 99.99,
      currency: 'USD',
      refund_id: 'RFD-1001',
    },
  }),

  // A chargeback: the customer's bank disputes a payment, and a person must answer before the deadline.
  'payment.disputed': event({
    schema: z.object({
      ...base,
      event_type: z.literal('payment.disputed'),
      dispute_id: id('dispute_id'),
      payment_id: id('payment_id'),
      // A dispute names its payment, not the order: the workflow finds the order the payment was for.
      order_id: id('order_id').optional(),
      customer_id: z.string().max(128).optional(),
      amount: money,
      currency,
      reason: z.string().min(1).max(100),
      status: z.string().max(100).optional(),
      evidence_due_by: timestamp.optional(),
    }),
    naturalKey: (e) => e.dispute_id,
    sources: ['payments'],
    sample: {
      timestamp: '2023-11-05T10:00:00Z',
      dispute_id: 'DSP-2001',
      payment_id: 'PMT-ABCXYZ',
      amount: 99.99,
      currency: 'USD',
      reason: 'product_not_received',
      status: 'needs_response',
      evidence_due_by: '2023-11-20T23:59:59Z',
    },
  }),

  'return.initiated': event({
    schema: z.object({
      ...base,
      event_type: z.literal('return.initiated'),
      return_id: id('return_id'),
      order_id: id('order_id'),
      customer_id: id('customer_id'),
      items: z.array(LineItem).min(1, 'a return needs at least one item'),
      reason: z.string().max(500),
    }),
    naturalKey: (e) => e.return_id,
    sources: ['oms'],
    sample: {
      timestamp: '2023-10-27T12:00:00Z',
      return_id: 'RET-54321',
      order_id: 'ORD-00112',
      customer_id: 'CUST-67890',
      items: [{ product_id: 'PROD-A', quantity: 1 }],
      reason: 'Item too large',
    },
  }),

  'return.received': event({
    schema: z
      .object({
        ...base,
        event_type: z.literal('return.received'),
        // A carrier's tracker on a return label knows the label's tracking number, not the return:
        // the relay finds the return whose label it is (src/providers/easypost/).
        return_id: id('return_id').optional(),
        tracking_number: id('tracking_number').optional(),
        order_id: z.string().max(128).optional(),
        items: z.array(LineItem).optional(),
        condition: z.enum(RETURN_CONDITIONS).default('resellable'),
      })
      .refine((e) => e.return_id !== undefined || e.tracking_number !== undefined, {
        message: 'return_id is required (or the tracking_number of the return label)',
        path: ['return_id'],
      }),
    naturalKey: (e) => e.return_id ?? `label:${e.tracking_number}`,
    // The carrier scans the parcel in; the OMS may report the warehouse's receipt instead.
    sources: ['carrier', 'oms'],
    sample: {
      timestamp: '2023-11-03T15:00:00Z',
      return_id: 'RET-54321',
      order_id: 'ORD-00112',
      items: [{ product_id: 'PROD-A', quantity: 1 }],
      condition: 'resellable',
    },
  }),

  // On its way: a carrier's scan (EasyPost `in_transit`, `out_for_delivery`) between shipped and delivered.
  'shipment.in_transit': event({
    schema: z.object({
      ...shipment,
      event_type: z.literal('shipment.in_transit'),
      status: z.enum(SHIPMENT_PROGRESS),
      status_detail: z.string().max(100).optional(),
      eta: day.optional(),
    }),
    naturalKey: (e) => `${e.tracking_number}:${e.status}:${e.timestamp}`,
    sources: ['carrier'],
    sample: {
      timestamp: '2023-10-30T07:45:00Z',
      order_id: 'ORD-12345',
      customer_id: 'CUST-67890',
      tracking_number: 'TRK-ABCDEF123',
      carrier: 'FedEx',
      status: 'out_for_delivery',
      eta: '2023-10-30',
    },
  }),

  'shipment.delivered': event({
    schema: z.object({ ...shipment, event_type: z.literal('shipment.delivered'), delivered_at: timestamp.optional() }),
    naturalKey: (e) => `${e.tracking_number}:${e.timestamp}`,
    sources: ['carrier'],
    sample: {
      timestamp: '2023-10-30T14:05:00Z',
      order_id: 'ORD-12345',
      customer_id: 'CUST-67890',
      tracking_number: 'TRK-ABCDEF123',
      carrier: 'FedEx',
      delivered_at: '2023-10-30T14:02:00Z',
    },
  }),

  'shipment.delayed': event({
    schema: z.object({
      ...shipment,
      event_type: z.literal('shipment.delayed'),
      new_eta: day.optional(),
      delay_reason: z.string().max(500).optional(),
    }),
    naturalKey: (e) => `${e.tracking_number}:${e.timestamp}`,
    sources: ['carrier'],
    sample: {
      timestamp: '2023-10-29T08:00:00Z',
      order_id: 'ORD-12345',
      customer_id: 'CUST-67890',
      tracking_number: 'TRK-ABCDEF123',
      carrier: 'FedEx',
      new_eta: '2023-11-01',
      delay_reason: 'weather in the Memphis hub',
    },
  }),

  'shipment.exception': event({
    schema: z.object({
      ...shipment,
      event_type: z.literal('shipment.exception'),
      exception_code: z.string().min(1).max(64),
      description: z.string().max(1000).optional(),
    }),
    naturalKey: (e) => `${e.tracking_number}:${e.timestamp}`,
    sources: ['carrier'],
    sample: {
      timestamp: '2023-10-29T09:00:00Z',
      order_id: 'ORD-12345',
      customer_id: 'CUST-67890',
      tracking_number: 'TRK-ABCDEF123',
      carrier: 'FedEx',
      exception_code: 'DAMAGED_IN_TRANSIT',
      description: 'Package damaged at sort facility',
    },
  }),

  'inventory.stock_shortage': event({
    schema: z.object({
      ...base,
      event_type: z.literal('inventory.stock_shortage'),
      product_id: id('product_id'),
      available_quantity: z.number().int().nonnegative(),
      expected_restock_date: day.optional(),
      affected_order_ids: z.array(id('order_id')).optional(),
    }),
    naturalKey: (e) => `${e.product_id}:${e.timestamp}`,
    sources: ['oms'],
    sample: { timestamp: '2023-10-27T13:00:00Z', product_id: 'PROD-A', available_quantity: 0, expected_restock_date: '2023-11-10' },
  }),

  // A store that runs its own returns (Shopify) reports each status; hookline tells the customer.
  'return.status_changed': event({
    schema: z.object({
      ...base,
      event_type: z.literal('return.status_changed'),
      return_id: id('return_id'),
      order_id: id('order_id'),
      customer_id: z.string().max(128).optional(),
      // The store's own word: requested, open (approved), declined, closed, canceled.
      status: z.string().min(1).max(40),
      reason: z.string().max(500).optional(),
    }),
    naturalKey: (e) => `${e.return_id}:${e.status}`,
    sources: ['oms'],
    sample: { timestamp: '2023-10-27T12:00:00Z', return_id: 'RET-77001', order_id: 'ORD-12345', status: 'requested' },
  }),

  // A data-protection request (Shopify's mandatory privacy topics): a person's data to hand over or
  // erase, or a whole shop's to erase.
  'privacy.requested': event({
    schema: z.object({
      ...base,
      event_type: z.literal('privacy.requested'),
      request: z.enum(PRIVACY_REQUESTS),
      shop_id: id('shop_id'),
      shop_domain: z.string().max(255).optional(),
      customer_id: z.string().max(128).optional(),
      email: z.string().max(320).optional(),
      phone: z.string().max(40).optional(),
      order_ids: z.array(id('order_id')).max(10_000),
      request_id: z.string().max(128).optional(),
    }),
    naturalKey: (e) => `${e.request}:${e.shop_id}:${e.customer_id ?? ''}:${e.request_id ?? ''}`,
    sources: ['crm'],
    sample: {
      timestamp: '2023-10-27T14:00:00Z',
      request: 'customer-data',
      shop_id: 'SHOP-1',
      customer_id: 'CUST-67890',
      order_ids: ['ORD-12345'],
      request_id: 'DR-1',
    },
  }),

  'customer.updated': event({
    schema: z.object({
      ...base,
      event_type: z.literal('customer.updated'),
      customer_id: id('customer_id'),
      changes: z
        .object({ name: z.string().max(200).optional(), email: z.email().optional(), phone: z.string().max(40).optional() })
        .refine((c) => Object.keys(c).length > 0, 'changes must name at least one field'),
    }),
    naturalKey: (e) => `${e.customer_id}:${e.timestamp}`,
    sources: ['crm'],
    sample: { timestamp: '2023-10-27T13:30:00Z', customer_id: 'CUST-67890', changes: { phone: '+1-555-0100' } },
  }),
};

type Events = typeof EVENTS;
export type EventType = keyof Events;
export type EventOf<T extends EventType> = z.output<Events[T]['schema']>;

/** Compiles only when every member of R is `true`; a member that is not names what is wrong. */
export type AllTrue<R extends Record<string, true>> = R;

// Each entry's key is the event_type its schema accepts: `EVENTS['payment.failed']` cannot parse refunds.
export type KeysMatchTheirSchemas = AllTrue<{
  [T in EventType]: [EventOf<T>['event_type']] extends [T] ? ([T] extends [EventOf<T>['event_type']] ? true : T) : T;
}>;
