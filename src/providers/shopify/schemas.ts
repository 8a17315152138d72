import { z } from 'zod';

/**
 * Shopify's own webhook payloads (Admin REST resources, API version 2026-07), as much of each as the
 * mapping reads. The body is read by `parseShopifyJson` (json.ts), so an integer ID too large for a
 * double arrives as its digits; an ID is read as digits either way and never as a rounded number.
 * Where the payload carries an `admin_graphql_api_id` (`gid://shopify/Order/820982911946154508`),
 * that signed string is the ID hookline uses, which is also what Shopify's GraphQL API answers, so
 * a reconciliation from the API computes the same identity.
 */

/** A Shopify ID: a safe integer, or the digits of one too large for a double (json.ts). */
export const ShopifyId = z
  .union([
    z.number().int().nonnegative().refine(Number.isSafeInteger, 'an ID beyond 2^53 must be read as its digits'),
    z.string().regex(/^\d{1,20}$/),
  ])
  .transform(String);

/** `gid://shopify/<Resource>/<digits>`: the exact ID as text, whatever the number beside it became. */
export const gid = (resource: string) =>
  z
    .string()
    .regex(new RegExp(`^gid://shopify/${resource}/\\d{1,20}$`), `expected gid://shopify/${resource}/<id>`)
    .transform((g) => g.slice(g.lastIndexOf('/') + 1));

const timestamp = z.iso.datetime({ offset: true, message: 'expected an ISO-8601 timestamp' });
/** Shopify's money: a decimal string in the currency's major unit (`"10.99"`). */
const decimal = z.string().regex(/^\d+(\.\d+)?$/, 'expected a decimal amount such as "10.99"');
const currency = z.string().regex(/^[A-Za-z]{3}$/, 'expected a three-letter ISO currency code');
const text = (max: number) => z.string().max(max);
const moneySet = z.object({ shop_money: z.object({ amount: decimal, currency_code: z.string() }) });

/** A fulfillment: its own topics' body, and each entry of an order's `fulfillments`. */
export const Fulfillment = z.object({
  id: ShopifyId,
  admin_graphql_api_id: gid('Fulfillment').optional(),
  order_id: ShopifyId,
  // pending, open, success, cancelled, error, failure
  status: text(40),
  created_at: timestamp,
  updated_at: timestamp,
  tracking_company: text(64).nullable().optional(),
  tracking_number: text(128).nullable().optional(),
  // label_printed, label_purchased, attempted_delivery, ready_for_pickup, confirmed, in_transit,
  // out_for_delivery, delivered, failure; null until the carrier reports.
  shipment_status: text(40).nullable().optional(),
  name: text(64).nullable().optional(),
});
export type Fulfillment = z.output<typeof Fulfillment>;

export const Order = z.object({
  id: ShopifyId,
  admin_graphql_api_id: gid('Order'),
  name: text(64).optional(),
  created_at: timestamp,
  updated_at: timestamp,
  cancelled_at: timestamp.nullable(),
  cancel_reason: text(100).nullable().optional(),
  // pending, authorized, partially_paid, paid, partially_refunded, refunded, voided, expired
  financial_status: text(40).nullable().optional(),
  fulfillment_status: text(40).nullable().optional(),
  test: z.boolean(),
  currency,
  total_price: decimal,
  customer: z
    .object({ id: ShopifyId, admin_graphql_api_id: gid('Customer').optional() })
    .nullable()
    .optional(),
  line_items: z.array(
    z.object({
      id: ShopifyId,
      product_id: ShopifyId.nullable().optional(),
      sku: text(128).nullable().optional(),
      quantity: z.number().int().nonnegative(),
    }),
  ),
  fulfillments: z.array(Fulfillment),
});
export type Order = z.output<typeof Order>;

export const Refund = z.object({
  id: ShopifyId,
  admin_graphql_api_id: gid('Refund'),
  order_id: ShopifyId,
  created_at: timestamp,
  processed_at: timestamp.nullable().optional(),
  note: text(2000).nullable().optional(),
  refund_line_items: z.array(z.object({ subtotal_set: moneySet.optional() })),
  transactions: z.array(
    z.object({
      kind: text(40),
      status: text(40),
      amount: decimal,
      currency: currency.nullable().optional(),
      test: z.boolean().optional(),
    }),
  ),
  total_duties_set: moneySet.nullable().optional(),
});
export type Refund = z.output<typeof Refund>;

export const Return = z.object({
  id: ShopifyId,
  admin_graphql_api_id: gid('Return'),
  // requested, open (approved), declined, closed, canceled
  status: text(40),
  // Most return topics nest the order; returns/close names it by `order_id` alone.
  order: z.object({ id: ShopifyId, admin_graphql_api_id: gid('Order') }).optional(),
  order_id: ShopifyId.optional(),
  name: text(64).nullable().optional(),
  decline: z
    .object({ reason: text(100).nullable().optional(), note: text(2000).nullable().optional() })
    .nullable()
    .optional(),
});
export type Return = z.output<typeof Return>;

export const Customer = z.object({
  id: ShopifyId,
  admin_graphql_api_id: gid('Customer'),
  updated_at: timestamp,
  first_name: text(100).nullable().optional(),
  last_name: text(100).nullable().optional(),
  email: text(320).nullable().optional(),
  phone: text(40).nullable().optional(),
});
export type Customer = z.output<typeof Customer>;

/** Shopify Payments' dispute: no `admin_graphql_api_id`, so its ID is read as digits (json.ts). */
export const Dispute = z.object({
  id: ShopifyId,
  order_id: ShopifyId.nullable(),
  type: text(40),
  amount: decimal,
  currency,
  reason: text(100),
  status: text(100),
  evidence_due_by: timestamp.nullable().optional(),
  initiated_at: timestamp,
});
export type Dispute = z.output<typeof Dispute>;

/** The mandatory privacy topics: the shop, and for the customer topics the person and their orders. */
const shop = { shop_id: ShopifyId, shop_domain: text(255) };
const person = z.object({ id: ShopifyId, email: text(320).nullable().optional(), phone: text(40).nullable().optional() });

export const CustomersDataRequest = z.object({
  ...shop,
  customer: person,
  orders_requested: z.array(ShopifyId),
  data_request: z.object({ id: ShopifyId }),
});
export const CustomersRedact = z.object({ ...shop, customer: person, orders_to_redact: z.array(ShopifyId) });
export const ShopRedact = z.object(shop);
