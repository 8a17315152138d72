import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { OrderStatus } from '../../events/fields';
import { addDecimal, amountOf, type DecimalText } from '../../events/money';
import { hooklineEvent } from '../event';
import { UnmappableError, type Ignore, type MapContext, type Mapped } from '../types';
import type { Customer, CustomersDataRequest, CustomersRedact, Dispute, Fulfillment, Order, Refund, Return, ShopRedact } from './schemas';

/**
 * Shopify's payloads as hookline's events. Only the body is signed, so everything here comes from
 * it: the identity names the change the body reports (a fulfillment's status, an order's
 * cancellation, a refund, a return's status, a customer's `updated_at`), never the delivery, so the
 * same body under another topic or with fresh delivery headers is the same event, and an order edit
 * that changes no status (a tag, a note) is a delivery of an event hookline already has. Per-entity
 * ordering uses Shopify's own `updated_at`: the knowledge base applies a status only over an older one.
 */

const mapped = (event: Mapped['event'], identity: string, testMode: boolean): Mapped => ({
  event,
  identity,
  identityFrom: 'sender',
  testMode,
});

/** An amount as hookline carries it, exactly (src/events/money.ts), or the payload is refused. */
function amount(text: DecimalText, what: string): number {
  try {
    return amountOf(text);
  } catch (err) {
    throw new UnmappableError(`${what} is not an amount hookline can hold`, [`${what}: ${(err as Error).message}`]);
  }
}

/** The order's ID: its gid's digits (exact), which is also what the fulfillment's `order_id` says. */
const orderIdOf = (order: Order) => order.admin_graphql_api_id;
const customerIdOf = (customer: NonNullable<Order['customer']>) => customer.admin_graphql_api_id ?? customer.id;

/** What a fulfillment's state means, in hookline's events (order statuses and shipment events). */
type FulfillmentMeaning =
  | { kind: 'status'; status: OrderStatus }
  | { kind: 'delivered' }
  | { kind: 'delayed'; reason: string }
  | { kind: 'exception'; code: string }
  | { kind: 'none'; why: string };

/**
 * A fulfillment's `status` (pending, open, success, cancelled, error, failure) and its carrier's
 * `shipment_status`. Pending and open are a request to a fulfillment service, nothing shipped yet;
 * once it succeeded the parcel is shipped until the carrier says more.
 */
export function fulfillmentMeaning(f: Pick<Fulfillment, 'status' | 'shipment_status'>): FulfillmentMeaning {
  if (f.status === 'cancelled' || f.status === 'error' || f.status === 'failure') return { kind: 'none', why: `fulfillment ${f.status}` };
  switch (f.shipment_status) {
    case 'delivered':
      return { kind: 'delivered' };
    case 'failure':
      return { kind: 'exception', code: 'failure' };
    case 'attempted_delivery':
      return { kind: 'delayed', reason: 'the carrier attempted delivery' };
    case 'in_transit':
      return { kind: 'status', status: 'in_transit' };
    case 'out_for_delivery':
      return { kind: 'status', status: 'out_for_delivery' };
    default:
      return { kind: 'status', status: f.status === 'success' ? 'shipped' : 'processing' };
  }
}

/**
 * A fulfillment as a hookline event: from its own topics, and from an order whose newest fulfillment
 * it is, which makes the same event with the same identity (so `orders/fulfilled` and
 * `fulfillments/create` about one shipment tell the customer once).
 */
function fulfillmentEvent(f: Fulfillment, context: { orderId: string; customerId?: string; testMode: boolean }): Mapped | Ignore {
  const meaning = fulfillmentMeaning(f);
  if (meaning.kind === 'none') return { ignore: meaning.why };
  const fulfillmentId = f.admin_graphql_api_id ?? f.id;
  const identity = `fulfillment-${fulfillmentId}:${f.status}:${f.shipment_status ?? 'none'}`;
  const customer = context.customerId ? { customer_id: context.customerId } : {};
  // A shipment event names its parcel; a fulfillment without a tracking number is known by its own name.
  const parcel = {
    tracking_number: f.tracking_number ?? f.name ?? `fulfillment-${fulfillmentId}`,
    carrier: f.tracking_company ?? 'unknown',
  };
  const base = { timestamp: f.updated_at, order_id: context.orderId, ...customer };
  switch (meaning.kind) {
    case 'delivered':
      return mapped(hooklineEvent('shipment.delivered', { ...base, ...parcel, delivered_at: f.updated_at }), identity, context.testMode);
    case 'delayed':
      return mapped(hooklineEvent('shipment.delayed', { ...base, ...parcel, delay_reason: meaning.reason }), identity, context.testMode);
    case 'exception':
      return mapped(hooklineEvent('shipment.exception', { ...base, ...parcel, exception_code: meaning.code }), identity, context.testMode);
    case 'status':
      return mapped(
        hooklineEvent('order.status_updated', {
          ...base,
          new_status: meaning.status,
          ...(f.tracking_number ? { tracking_number: f.tracking_number } : {}),
          ...(f.tracking_company ? { carrier: f.tracking_company } : {}),
        }),
        identity,
        context.testMode,
      );
  }
}

const PAID = new Set(['paid', 'partially_paid', 'partially_refunded', 'refunded']);

/**
 * `orders/create`, `orders/updated`, `orders/fulfilled`, `orders/cancelled`: one order body, one
 * reading whatever the (unsigned) topic. The order's status, newest fact first: cancelled (named by
 * its `cancelled_at`), else its newest fulfillment's state (the same event its fulfillment topic
 * makes), else paid or pending. Its identity names that status, so an edit that leaves it as it was
 * is a redelivery of the same event: the customer hears nothing twice.
 */
export function orderEvent(order: z.output<typeof Order>): Mapped | Ignore {
  const orderId = orderIdOf(order);
  const customerId = order.customer ? customerIdOf(order.customer) : undefined;
  const testMode = order.test;
  if (order.cancelled_at === null) {
    const newest = order.fulfillments
      .filter((f) => fulfillmentMeaning(f).kind !== 'none')
      .reduce<Fulfillment | undefined>((latest, f) => (latest === undefined || f.updated_at > latest.updated_at ? f : latest), undefined);
    if (newest) return fulfillmentEvent(newest, { orderId, customerId, testMode });
  }
  const status: OrderStatus = order.cancelled_at !== null ? 'cancelled' : PAID.has(order.financial_status ?? '') ? 'paid' : 'pending';
  const items = order.line_items
    .filter((l) => l.quantity > 0)
    .map((l) => ({ product_id: l.product_id ?? l.sku ?? `line-${l.id}`, quantity: l.quantity }));
  const event = hooklineEvent('order.status_updated', {
    timestamp: order.updated_at,
    order_id: orderId,
    ...(customerId ? { customer_id: customerId } : {}),
    new_status: status,
    ...(items.length > 0 ? { items } : {}),
    total_amount: amount(order.total_price, 'total_price'),
    currency: order.currency,
  });
  const identity = `order-${orderId}:${status}${order.cancelled_at === null ? '' : `:${order.cancelled_at}`}`;
  return mapped(event, identity, testMode);
}

/** `fulfillments/create`, `fulfillments/update`: the fulfillment's state (its `shipment_status` once the carrier reports). */
export function fulfillmentTopicEvent(f: Fulfillment): Mapped | Ignore {
  // The body does not say whether its order is a test order: the knowledge base keeps the order's.
  return fulfillmentEvent(f, { orderId: f.order_id, testMode: false });
}

/**
 * `refunds/create`: money returned on the order, the sum of the refund's successful refund
 * transactions, in Shopify's decimal strings added exactly. The payment is the order's (Shopify
 * has one payment record per order as far as hookline is concerned), the refund its own.
 */
export function refundEvent(refund: Refund): Mapped | Ignore {
  const refundId = refund.admin_graphql_api_id;
  const transactions = refund.transactions.filter((t) => t.kind === 'refund' && t.status === 'success');
  if (transactions.length === 0) return { ignore: 'refund moved no money (no successful refund transaction)' };
  const total = transactions.reduce<DecimalText>((sum, t) => addDecimal(sum, t.amount), '0');
  const currency =
    transactions.find((t) => t.currency)?.currency ??
    refund.refund_line_items.find((l) => l.subtotal_set)?.subtotal_set?.shop_money.currency_code ??
    refund.total_duties_set?.shop_money.currency_code;
  if (!currency) throw new UnmappableError('the refund names no currency', ['transactions.currency: missing on every transaction']);
  const event = hooklineEvent('payment.refunded', {
    timestamp: refund.processed_at ?? refund.created_at,
    payment_id: `shopify-order-${refund.order_id}`,
    order_id: refund.order_id,
    amount: amount(total, 'transactions.amount'),
    currency,
    refund_id: refundId,
  });
  return mapped(
    event,
    `refund-${refundId}`,
    transactions.some((t) => t.test === true),
  );
}

/** `returns/request|approve|decline|close`: the return's new status; Shopify runs the return, hookline tells the customer. */
export function returnEvent(ret: Return, ctx: MapContext): Mapped {
  const returnId = ret.admin_graphql_api_id;
  const reason = ret.decline?.note ?? ret.decline?.reason ?? undefined;
  const orderId = ret.order?.admin_graphql_api_id ?? ret.order_id;
  if (orderId === undefined) throw new UnmappableError('the return names no order', ['order: expected the order or order_id']);
  const event = hooklineEvent('return.status_changed', {
    // Shopify's return payloads carry no time of their own: when hookline heard of the status.
    timestamp: heardAt(ctx),
    return_id: returnId,
    order_id: orderId,
    status: ret.status,
    ...(reason ? { reason: reason.slice(0, 500) } : {}),
  });
  return mapped(event, `return-${returnId}:${ret.status}`, false);
}

/** `customers/update`: the profile as of its `updated_at`; an older one never overwrites a newer. */
export function customerEvent(customer: Customer): Mapped | Ignore {
  const name = [customer.first_name, customer.last_name].filter((p) => p && p.trim() !== '').join(' ');
  const changes = {
    ...(name ? { name } : {}),
    ...(customer.email ? { email: customer.email } : {}),
    ...(customer.phone ? { phone: customer.phone } : {}),
  };
  if (Object.keys(changes).length === 0) return { ignore: 'customer has no name, email or phone' };
  const customerId = customer.admin_graphql_api_id;
  const event = hooklineEvent('customer.updated', { timestamp: customer.updated_at, customer_id: customerId, changes });
  return mapped(event, `customer-${customerId}:${customer.updated_at}`, false);
}

/** `disputes/create`: a Shopify Payments chargeback (or inquiry), handed to a person like any other. */
export function disputeEvent(dispute: Dispute): Mapped {
  const orderId = dispute.order_id ?? undefined;
  const event = hooklineEvent('payment.disputed', {
    timestamp: dispute.initiated_at,
    dispute_id: dispute.id,
    payment_id: orderId ? `shopify-order-${orderId}` : `shopify-dispute-${dispute.id}`,
    ...(orderId ? { order_id: orderId } : {}),
    amount: amount(dispute.amount, 'amount'),
    currency: dispute.currency,
    reason: dispute.type === 'chargeback' ? dispute.reason : `${dispute.type}: ${dispute.reason}`.slice(0, 100),
    status: dispute.status,
    ...(dispute.evidence_due_by ? { evidence_due_by: dispute.evidence_due_by } : {}),
  });
  return mapped(event, `dispute-${dispute.id}`, false);
}

/** The privacy and return payloads carry no time: the event's is when hookline received it (not part of any identity). */
const heardAt = (ctx: MapContext) => ctx.receivedAt ?? new Date().toISOString();

/** A short digest of a list, so a request about other orders is another request. */
const digestOf = (values: readonly string[]) =>
  createHash('sha256')
    .update([...values].sort().join(','))
    .digest('hex')
    .slice(0, 16);

/** `customers/data_request`: what hookline holds about the customer, gathered for a person to send. */
export function dataRequestEvent(r: z.output<typeof CustomersDataRequest>, ctx: MapContext): Mapped {
  const event = hooklineEvent('privacy.requested', {
    timestamp: heardAt(ctx),
    request: 'customer-data',
    shop_id: r.shop_id,
    shop_domain: r.shop_domain,
    customer_id: r.customer.id,
    ...(r.customer.email ? { email: r.customer.email } : {}),
    ...(r.customer.phone ? { phone: r.customer.phone } : {}),
    order_ids: r.orders_requested,
    request_id: r.data_request.id,
  });
  return mapped(event, `privacy-data-${r.shop_id}-${r.data_request.id}`, false);
}

/** `customers/redact`: erase what hookline holds about the customer and the orders Shopify names. */
export function customerRedactEvent(r: z.output<typeof CustomersRedact>, ctx: MapContext): Mapped {
  const event = hooklineEvent('privacy.requested', {
    timestamp: heardAt(ctx),
    request: 'customer-redact',
    shop_id: r.shop_id,
    shop_domain: r.shop_domain,
    customer_id: r.customer.id,
    ...(r.customer.email ? { email: r.customer.email } : {}),
    ...(r.customer.phone ? { phone: r.customer.phone } : {}),
    order_ids: r.orders_to_redact,
  });
  return mapped(event, `privacy-redact-${r.shop_id}-${r.customer.id}-${digestOf(r.orders_to_redact)}`, false);
}

/** `shop/redact`: the shop uninstalled the app 48 hours ago; erase everything hookline holds from it. */
export function shopRedactEvent(r: z.output<typeof ShopRedact>, ctx: MapContext): Mapped {
  const event = hooklineEvent('privacy.requested', {
    timestamp: heardAt(ctx),
    request: 'shop-redact',
    shop_id: r.shop_id,
    shop_domain: r.shop_domain,
    order_ids: [],
  });
  return mapped(event, `privacy-shop-${r.shop_id}`, false);
}
