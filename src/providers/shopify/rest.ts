import type { UpdatedCustomer, UpdatedOrder } from './client';

/**
 * What Shopify's Admin GraphQL API answers, as the REST-shaped bodies its webhook topics carry: the
 * reconciler hands these to the receiver's own reading (map.ts), so an order found by the API
 * becomes the event, with the identity, its webhook would have made. Only the fields map.ts and
 * schemas.ts read are filled; each is Shopify's REST name with the GraphQL value in REST's form
 * (enum values lower-cased, IDs as the gid's digits beside the gid itself).
 *
 * Left out, because GraphQL has no value that is the REST one: a refund's `processed_at` (REST's is
 * for imported refunds; the mapping then takes `created_at`, as it does for a webhook without it),
 * a refund's `refund_line_items` and `total_duties_set` (the currency is read from its transactions
 * first), a return's `decline.note` when Shopify keeps none.
 *
 * Times: GraphQL answers in UTC (`2022-01-01T00:00:00Z`), REST and the webhooks in the shop's time
 * zone (`2021-12-31T19:00:00-05:00`), and a cancellation's and a customer's identity carry the time
 * as the webhook spelled it (map.ts). So each time is written here as REST writes it, in the shop's
 * `ianaTimezone`, and a change found by the API has the identity its webhook already had: no
 * identity of an event already taken changes. A shop that moves to another time zone between a
 * webhook and the pass that finds the same change would spell it differently; such a change would
 * run twice, once.
 */

/** A body and the topic its webhook would carry in `X-Shopify-Topic`. */
export interface TopicBody {
  /** A Shopify topic (`orders/updated`); `returns/cancel` is one hookline ignores. */
  topic: string;
  body: Record<string, unknown>;
}

const digits = (gid: string): string => gid.slice(gid.lastIndexOf('/') + 1);

/** IANA names whose abbreviation is UTC: Rails (which writes Shopify's REST times) spells their offset `Z`. */
const UTC_ZONES = new Set(['UTC', 'Etc/UTC', 'Etc/UCT', 'UCT', 'Etc/Universal', 'Universal', 'Etc/Zulu', 'Zulu']);

/**
 * An instant as Shopify's REST API writes it: whole seconds in the shop's time zone, with its offset
 * (`2021-12-31T19:00:00-05:00`; `Z` in a UTC shop, `+00:00` in one on GMT such as Europe/London in
 * winter, as Rails' `xmlschema` does).
 */
export function shopTime(time: string, timeZone: string): string;
export function shopTime(time: string | null, timeZone: string): string | null;
export function shopTime(time: string | null, timeZone: string): string | null {
  if (time === null) return null;
  const at = new Date(Math.floor(Date.parse(time) / 1000) * 1000);
  if (Number.isNaN(at.getTime())) throw new Error(`not a time: ${time}`);
  if (UTC_ZONES.has(timeZone)) return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  const local = `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
  const offsetMinutes = Math.round((Date.parse(`${local}Z`) - at.getTime()) / 60_000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
const lower = (value: string | null | undefined): string | null => (value == null ? null : value.toLowerCase());

/** A return's status (GraphQL's `ReturnStatus`) and the topic that reports it; `returns/cancel` is one hookline ignores. */
const RETURN_TOPICS: Record<string, string> = {
  REQUESTED: 'returns/request',
  OPEN: 'returns/approve',
  DECLINED: 'returns/decline',
  CLOSED: 'returns/close',
  CANCELED: 'returns/cancel',
};

/** `orders/updated`: the order as its topics carry it. */
export function orderBody(order: UpdatedOrder, timeZone: string): Record<string, unknown> {
  const orderId = digits(order.id);
  return {
    id: orderId,
    admin_graphql_api_id: order.id,
    created_at: shopTime(order.createdAt, timeZone),
    updated_at: shopTime(order.updatedAt, timeZone),
    cancelled_at: shopTime(order.cancelledAt, timeZone),
    cancel_reason: lower(order.cancelReason),
    // GraphQL's display status is REST's financial status upper-cased (PARTIALLY_REFUNDED → partially_refunded).
    financial_status: lower(order.displayFinancialStatus),
    test: order.test,
    // REST's `currency` and `total_price` are the shop's currency, as `currencyCode` and `shopMoney` are.
    currency: order.currencyCode,
    total_price: order.totalPriceSet.shopMoney.amount,
    customer: order.customer ? { id: digits(order.customer.id), admin_graphql_api_id: order.customer.id } : null,
    line_items: order.lineItems.nodes.map((l) => ({
      id: digits(l.id),
      product_id: l.product ? digits(l.product.id) : null,
      sku: l.sku,
      quantity: l.quantity,
    })),
    fulfillments: order.fulfillments.map((f) => ({
      id: digits(f.id),
      admin_graphql_api_id: f.id,
      order_id: orderId,
      name: f.name,
      // REST's fulfillment status is GraphQL's FulfillmentStatus lower-cased (SUCCESS → success).
      status: f.status.toLowerCase(),
      created_at: shopTime(f.createdAt, timeZone),
      updated_at: shopTime(f.updatedAt, timeZone),
      tracking_company: f.trackingInfo[0]?.company ?? null,
      tracking_number: f.trackingInfo[0]?.number ?? null,
      // REST's `shipment_status` is the latest fulfillment event's status (IN_TRANSIT → in_transit), null before the carrier reports.
      shipment_status: lower(f.events.nodes[0]?.status),
    })),
  };
}

/** `refunds/create`: each refund on the order. */
export function refundBody(order: UpdatedOrder, refund: UpdatedOrder['refunds'][number], timeZone: string): Record<string, unknown> {
  return {
    id: digits(refund.id),
    admin_graphql_api_id: refund.id,
    order_id: digits(order.id),
    created_at: shopTime(refund.createdAt, timeZone),
    note: refund.note ?? null,
    refund_line_items: [],
    // REST's transaction carries its amount in the currency it was paid in (presentment).
    transactions: refund.transactions.nodes.map((t) => ({
      kind: t.kind.toLowerCase(),
      status: t.status.toLowerCase(),
      amount: t.amountSet.presentmentMoney.amount,
      currency: t.amountSet.presentmentMoney.currencyCode,
      test: t.test,
    })),
  };
}

/** `returns/request|approve|decline|close`: each return on the order, under the topic of its status. */
export function returnBody(order: UpdatedOrder, ret: UpdatedOrder['returns']['nodes'][number]): TopicBody | undefined {
  const topic = RETURN_TOPICS[ret.status];
  if (!topic) return undefined;
  return {
    topic,
    body: {
      id: digits(ret.id),
      admin_graphql_api_id: ret.id,
      status: ret.status.toLowerCase(),
      order: { id: digits(order.id), admin_graphql_api_id: order.id },
      name: ret.name ?? null,
      ...(ret.decline ? { decline: { reason: lower(ret.decline.reason), note: ret.decline.note } } : {}),
    },
  };
}

/** Everything an order found changed in the window tells: the order, its refunds, its returns. */
export function orderTopicBodies(order: UpdatedOrder, timeZone: string): TopicBody[] {
  return [
    { topic: 'orders/updated', body: orderBody(order, timeZone) },
    ...order.refunds.map((r) => ({ topic: 'refunds/create', body: refundBody(order, r, timeZone) })),
    ...order.returns.nodes.map((r) => returnBody(order, r)).filter((b): b is TopicBody => b !== undefined),
  ];
}

/**
 * `customers/update`. A customer created and never changed since is listed too: whether Shopify sent
 * it `customers/update` besides `customers/create` cannot be told from the API, and a profile hookline
 * already holds is known by its identity (the customer and its `updated_at`).
 */
export function customerBody(customer: UpdatedCustomer, timeZone: string): TopicBody {
  return {
    topic: 'customers/update',
    body: {
      id: digits(customer.id),
      admin_graphql_api_id: customer.id,
      created_at: shopTime(customer.createdAt, timeZone),
      updated_at: shopTime(customer.updatedAt, timeZone),
      first_name: customer.firstName,
      last_name: customer.lastName,
      email: customer.defaultEmailAddress?.emailAddress ?? null,
      phone: customer.defaultPhoneNumber?.phoneNumber ?? null,
    },
  };
}
