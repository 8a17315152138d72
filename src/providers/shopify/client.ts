import { AsyncLocalStorage } from 'node:async_hooks';
import { createAdminApiClient } from '@shopify/admin-api-client';
import { z } from 'zod';
import {
  DEFAULT_TIMEOUT_MS,
  parseRetryAfter,
  upstreamFailure,
  type RequestOptions,
  type UpstreamErrorType,
  type UpstreamFailureDetails,
} from '../../clients/http';
import { addDecimal, currencyExponent, shareDecimal, timesDecimal, type DecimalText } from '../../events/money';

/**
 * The Admin GraphQL API version every request names in its path (`/admin/api/2026-10/graphql.json`):
 * the newest stable quarterly version `@shopify/admin-api-client` 2.0.0 accepts (it accepts the four
 * latest and the next). From 2026-04 on, `refundCreate` requires the `@idempotent(key:)` directive,
 * which this client always sends. Raising it is a deliberate change: read Shopify's changelog, run
 * the tests. (The webhook payloads are read as 2026-07's: src/providers/shopify/index.ts.)
 */
export const SHOPIFY_ADMIN_API_VERSION = '2026-10' as const;

const SYSTEM = 'Shopify';

export interface ShopifyClientConfig {
  /** `<shop>.myshopify.com` (SHOPIFY_SHOP_DOMAIN[_<SOURCE>]). */
  shopDomain: string;
  /** An Admin API access token (`shpat_…`), sent as `X-Shopify-Access-Token`. Never in error messages. */
  accessToken: string;
  /** SHOPIFY_API_BASE_URL: the sandbox in tests (`<url>/shopify`), else `https://<shopDomain>`. A path prefix is kept. */
  baseUrl?: string;
  /** Per-request deadline covering connect, headers and body. Default 10 000 ms. */
  timeoutMs?: number;
  /** The clock the cost bucket is projected with. */
  now?: () => number;
  /** The longest the client waits itself for the bucket to refill before a call; longer is a retryable failure. Default 5 000 ms. */
  maxBucketWaitMs?: number;
}

/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/** Shopify's cost extension (`extensions.cost`), in every answer. */
const ThrottleStatus = z.object({
  maximumAvailable: z.number(),
  currentlyAvailable: z.number(),
  restoreRate: z.number().positive(),
});
const Cost = z.object({
  requestedQueryCost: z.number(),
  actualQueryCost: z.number().nullable().optional(),
  throttleStatus: ThrottleStatus,
});
type ThrottleStatus = z.infer<typeof ThrottleStatus>;

const UserErrors = z.array(
  z.object({ field: z.array(z.string()).nullable().optional(), message: z.string(), code: z.string().nullable().optional() }),
);
const Money = z.object({ amount: z.string(), currencyCode: z.string() });

const OrderNode = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  processedAt: z.string().nullable().optional(),
  test: z.boolean(),
  displayFinancialStatus: z.string().nullable(),
  displayFulfillmentStatus: z.string(),
  customer: z.object({ id: z.string(), email: z.string().nullable().optional() }).nullable(),
  shippingAddress: z
    .object({
      name: z.string().nullable(),
      address1: z.string().nullable(),
      address2: z.string().nullable(),
      city: z.string().nullable(),
      provinceCode: z.string().nullable(),
      zip: z.string().nullable(),
      countryCodeV2: z.string().nullable(),
      phone: z.string().nullable(),
    })
    .nullable(),
  totalPriceSet: z.object({ shopMoney: Money }),
  lineItems: z.object({
    nodes: z.array(
      z.object({
        id: z.string(),
        sku: z.string().nullable(),
        quantity: z.number(),
        title: z.string(),
        discountedUnitPriceAfterAllDiscountsSet: z.object({ shopMoney: Money }),
        taxLines: z.array(z.object({ priceSet: z.object({ shopMoney: Money }) })),
      }),
    ),
  }),
  taxesIncluded: z.boolean(),
  fulfillments: z.array(
    z.object({
      id: z.string(),
      status: z.string(),
      displayStatus: z.string().nullable().optional(),
      deliveredAt: z.string().nullable().optional(),
      trackingInfo: z.array(z.object({ company: z.string().nullable(), number: z.string().nullable(), url: z.string().nullable() })),
    }),
  ),
  returns: z.object({ nodes: z.array(z.object({ id: z.string(), name: z.string().nullable().optional(), status: z.string() })) }),
  transactions: z.array(
    z.object({
      id: z.string(),
      kind: z.string(),
      status: z.string(),
      gateway: z.string().nullable(),
      test: z.boolean(),
      amountSet: z.object({ shopMoney: Money }),
    }),
  ),
});
const OrderData = z.object({ order: OrderNode.nullable() });
const FoundOrdersData = z.object({ orders: z.object({ nodes: z.array(OrderNode) }) });

const RefundData = z.object({
  refundCreate: z.object({
    refund: z.object({ id: z.string(), totalRefundedSet: z.object({ shopMoney: Money }) }).nullable(),
    userErrors: UserErrors,
  }),
});
const ReturnPayload = z.object({
  return: z.object({ id: z.string(), status: z.string() }).nullable(),
  userErrors: UserErrors,
});
const ApproveData = z.object({ returnApproveRequest: ReturnPayload });
const DeclineData = z.object({ returnDeclineRequest: ReturnPayload });
const ReturnData = z.object({ return: z.object({ id: z.string(), status: z.string() }).nullable() });
const ReturnLinesData = z.object({
  return: z
    .object({
      id: z.string(),
      status: z.string(),
      order: z.object({ id: z.string() }),
      returnLineItems: z.object({
        nodes: z.array(
          z.object({
            __typename: z.string(),
            id: z.string(),
            quantity: z.number(),
            // Only a ReturnLineItem has one; an UnverifiedReturnLineItem (an item the store cannot tie to its order) has none.
            fulfillmentLineItem: z.object({ id: z.string(), lineItem: z.object({ id: z.string() }) }).optional(),
          }),
        ),
      }),
    })
    .nullable(),
});
const ShopData = z.object({ shop: z.object({ name: z.string(), myshopifyDomain: z.string(), ianaTimezone: z.string() }) });

/** A connection's page: its nodes and where the next page starts (Shopify's `pageInfo`). */
const PageInfo = z.object({ hasNextPage: z.boolean(), endCursor: z.string().nullable() });
const Gid = z.string();

/**
 * An order as the reconciler reads it (`orders(query: "updated_at:…")`): what the webhook topics'
 * REST bodies carry that the mapping reads (src/providers/shopify/rest.ts turns it into them).
 */
export const UpdatedOrder = z.object({
  id: Gid,
  createdAt: z.string(),
  updatedAt: z.string(),
  cancelledAt: z.string().nullable(),
  cancelReason: z.string().nullable().optional(),
  test: z.boolean(),
  displayFinancialStatus: z.string().nullable(),
  currencyCode: z.string(),
  totalPriceSet: z.object({ shopMoney: Money }),
  customer: z.object({ id: Gid }).nullable(),
  lineItems: z.object({
    nodes: z.array(z.object({ id: Gid, sku: z.string().nullable(), quantity: z.number(), product: z.object({ id: Gid }).nullable() })),
  }),
  fulfillments: z.array(
    z.object({
      id: Gid,
      name: z.string().nullable(),
      status: z.string(),
      createdAt: z.string(),
      updatedAt: z.string(),
      trackingInfo: z.array(z.object({ company: z.string().nullable(), number: z.string().nullable() })),
      events: z.object({ nodes: z.array(z.object({ status: z.string() })) }),
    }),
  ),
  refunds: z.array(
    z.object({
      id: Gid,
      createdAt: z.string(),
      note: z.string().nullable().optional(),
      transactions: z.object({
        nodes: z.array(
          z.object({ kind: z.string(), status: z.string(), test: z.boolean(), amountSet: z.object({ presentmentMoney: Money }) }),
        ),
      }),
    }),
  ),
  returns: z.object({
    nodes: z.array(
      z.object({
        id: Gid,
        name: z.string().nullable().optional(),
        status: z.string(),
        decline: z.object({ reason: z.string().nullable(), note: z.string().nullable() }).nullable().optional(),
      }),
    ),
  }),
});
export type UpdatedOrder = z.output<typeof UpdatedOrder>;

/** A customer as the reconciler reads it (`customers(query: "updated_at:…")`). */
export const UpdatedCustomer = z.object({
  id: Gid,
  createdAt: z.string(),
  updatedAt: z.string(),
  firstName: z.string().nullable(),
  lastName: z.string().nullable(),
  defaultEmailAddress: z.object({ emailAddress: z.string().nullable() }).nullable(),
  defaultPhoneNumber: z.object({ phoneNumber: z.string() }).nullable(),
});
export type UpdatedCustomer = z.output<typeof UpdatedCustomer>;

const UpdatedOrdersData = z.object({ orders: z.object({ pageInfo: PageInfo, nodes: z.array(UpdatedOrder) }) });
const CustomersData = z.object({ customers: z.object({ pageInfo: PageInfo, nodes: z.array(UpdatedCustomer) }) });

/** One page of a `…(query: "updated_at:…")` connection, oldest change first. */
export interface UpdatedPage<T> {
  nodes: T[];
  /** The cursor of the next page (`after`), when Shopify has one. */
  next?: string;
}

/** Which changes a listing asks for: updated in [from, to] (ISO-8601), a page of `first` after the cursor `after`. */
export interface UpdatedQuery {
  from: string;
  to: string;
  first: number;
  after?: string;
}

/** What the agent reads of a Shopify order: enrichment for inquiries, and the return policy's facts. */
export interface ShopifyOrder {
  /** hookline's id of it: the digits of its gid, as the webhooks give it (map.ts). */
  orderId: string;
  name: string;
  createdAt: string;
  /** A test order (Bogus Gateway, or a store in test mode): its effects stay in test mode. */
  test: boolean;
  financialStatus: string | null;
  fulfillmentStatus: string;
  customerId?: string;
  /** The customer's email as the store holds it: whose order it is, for an inquiry that names it. */
  customerEmail?: string;
  /** Where the order went: where a return label collects the parcel from. */
  shippingAddress?: {
    name?: string;
    street1: string;
    street2?: string;
    city: string;
    state?: string;
    zip: string;
    country: string;
    phone?: string;
  };
  total: { amount: string; currency: string };
  /**
   * Its lines: `lineItemId` the digits of the LineItem's gid (what a return's line names), `unitPrice`
   * what one unit was paid in the shop's currency, after all discounts and with its share of the
   * line's taxes where the shop charges them on top ({@link paidUnitPrice}).
   */
  items: { lineItemId: string; productId: string; quantity: number; title: string; unitPrice: string }[];
  fulfillments: {
    id: string;
    status: string;
    displayStatus?: string;
    deliveredAt?: string;
    tracking: { carrier?: string; number?: string; url?: string }[];
  }[];
  returns: { returnId: string; name?: string; status: string }[];
  /** The payments Shopify took (SALE or CAPTURE, succeeded): what a refund is made against. */
  payments: { transactionId: string; kind: string; gateway: string | null; amount: string; currency: string; test: boolean }[];
}

export interface ShopifyRefundInput {
  /** hookline's order id (digits) or the order's gid. */
  orderId: string;
  /** In the major unit, as hookline carries it. */
  amount: number;
  currency: string;
  /** Kept on the refund as its note, so a person reading the store's admin sees why. */
  note: string;
  /** The payment it is refunded against (one of {@link ShopifyOrder.payments}), in its currency. */
  payment: { transactionId: string; gateway: string | null };
}

/** The payment of an order a refund in this currency is made against: the first successful one in it. */
export function refundablePayment(order: ShopifyOrder, currency: string): ShopifyOrder['payments'][number] | undefined {
  return order.payments.find((p) => p.currency.toUpperCase() === currency.toUpperCase());
}

export interface ShopifyClient {
  readonly apiVersion: typeof SHOPIFY_ADMIN_API_VERSION;
  readonly shopDomain: string;
  /**
   * `shop { name myshopifyDomain ianaTimezone }`: whether the token is valid and the pinned version
   * accepted (`npm run providers -- check`), and the time zone REST and the webhooks write times in.
   */
  shop(options?: RequestOptions): Promise<{ name: string; domain: string; timeZone: string }>;
  /** The order with its fulfillments and tracking, returns and payments; undefined when Shopify has none by that id. */
  order(orderId: string, options?: RequestOptions): Promise<ShopifyOrder | undefined>;
  /**
   * The newest order (`orders(first: 1, sortKey: PROCESSED_AT, reverse: true, query:)`) with this
   * name (`#1001`, as the customer sees it) or, without one, of this customer email; undefined when none.
   */
  findOrder(search: { name: string } | { email: string }, options?: RequestOptions): Promise<ShopifyOrder | undefined>;
  /**
   * `refundCreate … @idempotent(key:)` against one of the order's payments (read it with `order`): Shopify answers a repeat of the
   * key with the first refund; the completed-effects record guards beyond Shopify's memory of it.
   */
  refund(
    input: ShopifyRefundInput,
    idempotencyKey: string,
    options?: RequestOptions,
  ): Promise<{ refundId: string; amount: string; currency: string }>;
  /**
   * The return's own lines (`Return.returnLineItems`): for each, the order line it returns (its
   * LineItem's digits, through the fulfillment line item it was shipped on) and how many. A line the
   * store could not tie to the order (an UnverifiedReturnLineItem) has no `lineItemId`. Undefined
   * when Shopify has no return by that id.
   */
  returnLines(
    returnId: string,
    options?: RequestOptions,
  ): Promise<{ orderId: string; status: string; lines: { returnLineItemId: string; lineItemId?: string; quantity: number }[] } | undefined>;
  /** `returnApproveRequest`: the store shows the return approved (OPEN). One already approved counts as done. */
  approveReturn(returnId: string, options?: RequestOptions): Promise<{ status: string }>;
  /** `returnDeclineRequest`: the store shows the return declined, with the person's note. One already declined counts as done. */
  declineReturn(returnId: string, note: string, options?: RequestOptions): Promise<{ status: string }>;
  /**
   * `orders(query: "updated_at:>='…' AND updated_at:<='…'", sortKey: UPDATED_AT)`: the orders changed in
   * the range, with what their webhooks carry.
   */
  updatedOrders(query: UpdatedQuery, options?: RequestOptions): Promise<UpdatedPage<UpdatedOrder>>;
  /** `customers(query: "updated_at:…", sortKey: UPDATED_AT)`: the customers changed in the range. */
  updatedCustomers(query: UpdatedQuery, options?: RequestOptions): Promise<UpdatedPage<UpdatedCustomer>>;
}

/** A gid for an id hookline holds as digits (or already as a gid). */
export const shopifyGid = (resource: string, id: string): string => (id.startsWith('gid://') ? id : `gid://shopify/${resource}/${id}`);
const digitsOf = (gid: string): string => gid.slice(gid.lastIndexOf('/') + 1);

/**
 * What the agent reads of an order, the same for a read by id and a search. Its requested cost stays
 * under the 1000 points Shopify allows a query (an object 1 point, a list or connection what it may
 * hold: https://shopify.dev/docs/api/usage/rate-limits): every line asked for pays for its tax lines,
 * so 30 lines of up to 5 tax lines each (a US line's state, county, city and district taxes; one or
 * two elsewhere) come to about 750 points in all, where 50 lines would pass 1000.
 */
const ORDER_FIELDS = `
    id name createdAt processedAt test displayFinancialStatus displayFulfillmentStatus
    customer { id email }
    shippingAddress { name address1 address2 city provinceCode zip countryCodeV2 phone }
    totalPriceSet { shopMoney { amount currencyCode } }
    taxesIncluded
    lineItems(first: 30) {
      nodes {
        id sku quantity title
        discountedUnitPriceAfterAllDiscountsSet { shopMoney { amount currencyCode } }
        taxLines(first: 5) { priceSet { shopMoney { amount currencyCode } } }
      }
    }
    fulfillments(first: 20) { id status displayStatus deliveredAt trackingInfo(first: 5) { company number url } }
    returns(first: 20) { nodes { id name status } }
    transactions(first: 20) { id kind status gateway test amountSet { shopMoney { amount currencyCode } } }`;

const ORDER_QUERY = `#graphql
query HooklineOrder($id: ID!) {
  order(id: $id) {${ORDER_FIELDS}
  }
}`;

const ORDERS_QUERY = `#graphql
query HooklineFindOrder($query: String!) {
  orders(first: 1, sortKey: PROCESSED_AT, reverse: true, query: $query) {
    nodes {${ORDER_FIELDS}
    }
  }
}`;

/** A value in Shopify's search syntax, quoted, so an address's or a name's characters are not read as syntax. */
const searchValue = (value: string): string => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;

const REFUND_MUTATION = `#graphql
mutation HooklineRefund($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) {
    refund { id totalRefundedSet { shopMoney { amount currencyCode } } }
    userErrors { field message }
  }
}`;

const APPROVE_MUTATION = `#graphql
mutation HooklineApproveReturn($input: ReturnApproveRequestInput!) {
  returnApproveRequest(input: $input) {
    return { id status }
    userErrors { field message code }
  }
}`;

const DECLINE_MUTATION = `#graphql
mutation HooklineDeclineReturn($input: ReturnDeclineRequestInput!) {
  returnDeclineRequest(input: $input) {
    return { id status }
    userErrors { field message code }
  }
}`;

/** A return's own lines: each the order line it returns (through the fulfillment line it was shipped on) and how many. */
const RETURN_LINES_QUERY = `#graphql
query HooklineReturnLines($id: ID!) {
  return(id: $id) {
    id status order { id }
    returnLineItems(first: 50) {
      nodes { __typename id quantity ... on ReturnLineItem { fulfillmentLineItem { id lineItem { id } } } }
    }
  }
}`;

const RETURN_QUERY = `#graphql
query HooklineReturn($id: ID!) { return(id: $id) { id status } }`;

// The nested connections are kept small: Shopify charges a connection's `first` times what each of
// its nodes costs, and refuses a query asking for more than 1000 points. An order with more line
// items, fulfillments, refunds or returns than these is read as far as they go (README).
const UPDATED_ORDERS_QUERY = `#graphql
query HooklineUpdatedOrders($query: String!, $first: Int!, $after: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id createdAt updatedAt cancelledAt cancelReason test displayFinancialStatus currencyCode
      totalPriceSet { shopMoney { amount currencyCode } }
      customer { id }
      lineItems(first: 10) { nodes { id sku quantity product { id } } }
      fulfillments(first: 5) {
        id name status createdAt updatedAt
        trackingInfo(first: 1) { company number }
        events(first: 1, sortKey: HAPPENED_AT, reverse: true) { nodes { status } }
      }
      refunds(first: 5) {
        id createdAt note
        transactions(first: 3) { nodes { kind status test amountSet { presentmentMoney { amount currencyCode } } } }
      }
      returns(first: 5) { nodes { id name status decline { reason note } } }
    }
  }
}`;

const UPDATED_CUSTOMERS_QUERY = `#graphql
query HooklineUpdatedCustomers($query: String!, $first: Int!, $after: String) {
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id createdAt updatedAt firstName lastName
      defaultEmailAddress { emailAddress }
      defaultPhoneNumber { phoneNumber }
    }
  }
}`;

/** Shopify's search syntax for a range of `updated_at` (a date value must be quoted: shopify.dev/docs/api/usage/search-syntax). */
export const updatedAtQuery = (from: string, to: string): string => `updated_at:>='${from}' AND updated_at:<='${to}'`;

/** The variables of a search for what changed in a range, one page of it. */
const updatedVariables = (query: UpdatedQuery) => ({
  query: updatedAtQuery(query.from, query.to),
  first: query.first,
  after: query.after ?? null,
});

/** A connection as a page: its nodes and, when Shopify has more, the cursor to ask from next. */
function pageOf<T>(connection: { nodes: T[]; pageInfo: z.infer<typeof PageInfo> }): UpdatedPage<T> {
  const { hasNextPage, endCursor } = connection.pageInfo;
  return { nodes: connection.nodes, ...(hasNextPage && endCursor ? { next: endCursor } : {}) };
}

const SHOP_QUERY = `#graphql
query HooklineShop { shop { name myshopifyDomain ianaTimezone } }`;

/**
 * What one unit of an order line was paid, in the shop's currency: its price after all discounts
 * (`LineItem.discountedUnitPriceAfterAllDiscountsSet`) and, where the shop charges tax on top of its
 * prices (`Order.taxesIncluded: false`), its share of the line's taxes: the sum of its `taxLines`'
 * `priceSet`s, which Shopify gives "after discounts and before returns", that is for the line's whole
 * `quantity` (the units ordered, refunded ones included), shared over that quantity
 * (https://shopify.dev/docs/api/admin-graphql/latest/objects/TaxLine,
 * https://shopify.dev/docs/api/admin-graphql/latest/objects/LineItem,
 * https://shopify.dev/docs/api/admin-graphql/latest/objects/Order). Shipping and its taxes are not an
 * item's: a return refunds none of them, as Shopify's own returns do not by default. A share that
 * does not come out exact in the currency's minor unit (1.00 of tax over 3 units) is rounded half-up
 * to it, so a return of every unit of such a line is off what was paid by under half a minor unit a
 * unit; the refund is capped at the order's total all the same (src/agent/policy.ts `refundFor`).
 */
export function paidUnitPrice(paid: {
  unitPrice: { amount: DecimalText; currencyCode: string };
  quantity: number;
  taxes: readonly DecimalText[];
  taxesIncluded: boolean;
}): DecimalText {
  const { unitPrice, quantity, taxes, taxesIncluded } = paid;
  if (taxesIncluded || taxes.length === 0 || quantity <= 0) return unitPrice.amount;
  // The line's units and its taxes, shared over its units: one rounding, to the currency's minor unit.
  const line = taxes.reduce((sum, t) => addDecimal(sum, t), timesDecimal(unitPrice.amount, quantity));
  return shareDecimal(line, quantity, currencyExponent(unitPrice.currencyCode));
}

/** Shopify's order as the agent reads it: hookline's ids (digits), the successful payments only. */
function orderOf(order: z.infer<typeof OrderNode>): ShopifyOrder {
  const a = order.shippingAddress;
  const address =
    a?.address1 && a.city && a.zip && a.countryCodeV2
      ? {
          ...(a.name ? { name: a.name } : {}),
          street1: a.address1,
          ...(a.address2 ? { street2: a.address2 } : {}),
          city: a.city,
          ...(a.provinceCode ? { state: a.provinceCode } : {}),
          zip: a.zip,
          country: a.countryCodeV2,
          ...(a.phone ? { phone: a.phone } : {}),
        }
      : undefined;
  return {
    orderId: digitsOf(order.id),
    name: order.name,
    createdAt: order.processedAt ?? order.createdAt,
    test: order.test,
    financialStatus: order.displayFinancialStatus,
    fulfillmentStatus: order.displayFulfillmentStatus,
    ...(order.customer ? { customerId: digitsOf(order.customer.id) } : {}),
    ...(order.customer?.email ? { customerEmail: order.customer.email } : {}),
    ...(address ? { shippingAddress: address } : {}),
    total: { amount: order.totalPriceSet.shopMoney.amount, currency: order.totalPriceSet.shopMoney.currencyCode },
    items: order.lineItems.nodes.map((l) => ({
      lineItemId: digitsOf(l.id),
      productId: l.sku ?? digitsOf(l.id),
      quantity: l.quantity,
      title: l.title,
      unitPrice: paidUnitPrice({
        unitPrice: l.discountedUnitPriceAfterAllDiscountsSet.shopMoney,
        quantity: l.quantity,
        taxes: l.taxLines.map((t) => t.priceSet.shopMoney.amount),
        taxesIncluded: order.taxesIncluded,
      }),
    })),
    fulfillments: order.fulfillments.map((f) => ({
      id: digitsOf(f.id),
      status: f.status,
      ...(f.displayStatus ? { displayStatus: f.displayStatus } : {}),
      ...(f.deliveredAt ? { deliveredAt: f.deliveredAt } : {}),
      tracking: f.trackingInfo.map((t) => ({
        ...(t.company ? { carrier: t.company } : {}),
        ...(t.number ? { number: t.number } : {}),
        ...(t.url ? { url: t.url } : {}),
      })),
    })),
    returns: order.returns.nodes.map((r) => ({ returnId: digitsOf(r.id), ...(r.name ? { name: r.name } : {}), status: r.status })),
    payments: order.transactions
      .filter((t) => (t.kind === 'SALE' || t.kind === 'CAPTURE') && t.status === 'SUCCESS')
      .map((t) => ({
        transactionId: t.id,
        kind: t.kind,
        gateway: t.gateway,
        amount: t.amountSet.shopMoney.amount,
        currency: t.amountSet.shopMoney.currencyCode,
        test: t.test,
      })),
  };
}

/** What one call's fetch saw, for classifying what the package then reports. */
interface CallContext {
  signal?: AbortSignal;
  timeout: AbortSignal;
  timeoutMs: number;
}

/** GraphQL error codes that say the request may succeed later. */
const RETRYABLE_CODES = new Set(['THROTTLED', 'INTERNAL_SERVER_ERROR', 'SERVICE_UNAVAILABLE', 'TIMEOUT']);

/**
 * A Shopify Admin GraphQL client on Shopify's official `@shopify/admin-api-client`, keeping what
 * src/clients/http.ts does: errors classified where they arise (429, 5xx and a GraphQL `THROTTLED`
 * retryable, other 4xx and a query Shopify refuses final), `Retry-After` honoured, no redirects
 * followed (a 3xx would carry the access token elsewhere), a deadline per request and the caller's
 * cancellation kept apart from it. It obeys the cost bucket: each answer's
 * `extensions.cost.throttleStatus` is kept, and a query the bucket cannot yet pay for is not sent
 * but failed as rate-limited with the time the bucket needs to refill, as is a `THROTTLED` answer;
 * Temporal's retry waits that long. The package's own retries are off.
 */
export function createShopifyClient(config: ShopifyClientConfig): ShopifyClient {
  const token = config.accessToken;
  const defaultTimeout = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const now = config.now ?? Date.now;
  const maxWaitMs = config.maxBucketWaitMs ?? 5_000;
  const base = config.baseUrl ? new URL(config.baseUrl) : undefined;
  const prefix = base ? base.pathname.replace(/\/+$/, '') : '';
  const calls = new AsyncLocalStorage<CallContext>();
  const redact = (text: string): string => (token.length >= 6 ? text.split(token).join('[redacted]') : text);

  /** The bucket as Shopify last reported it, and what each operation last asked for. */
  let bucket: { status: ThrottleStatus; at: number } | undefined;
  const lastCost = new Map<string, number>();

  // Every request goes through here: the base URL replaces the shop's host (the package always
  // builds `https://<shop>/admin/api/<version>/graphql.json`), a redirect is returned, not followed,
  // and the call's deadline and cancellation abort it.
  const fetchFn = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const call = calls.getStore();
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const target = base ? new URL(base.origin + prefix + url.pathname + url.search) : url;
    const signals = [call?.timeout, call?.signal, init?.signal ?? undefined].filter((s): s is AbortSignal => s != null);
    const response = await fetch(target, { ...init, redirect: 'manual', signal: AbortSignal.any(signals) });
    // The body is read here, under the same deadline, so a stalled body times out as a stalled answer.
    const body = await response.arrayBuffer();
    return new Response((response.status >= 300 && response.status < 400) || response.status === 204 ? null : body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };

  const admin = createAdminApiClient({
    storeDomain: config.shopDomain,
    apiVersion: SHOPIFY_ADMIN_API_VERSION,
    accessToken: token,
    userAgentPrefix: 'hookline',
    retries: 0,
    customFetchApi: fetchFn,
    // The package warns on the console about a version it does not list; the pin above is one it does.
    logger: () => undefined,
  });

  /** Points the bucket holds now, projected from Shopify's last report at its restore rate. */
  const available = (): number | undefined => {
    if (!bucket) return undefined;
    const { status, at } = bucket;
    return Math.min(status.maximumAvailable, status.currentlyAvailable + ((now() - at) / 1000) * status.restoreRate);
  };
  const waitFor = (cost: number, status: ThrottleStatus, have: number) =>
    Math.max(1, Math.ceil(((Math.min(cost, status.maximumAvailable) - have) / status.restoreRate) * 1000));

  async function run<S extends z.ZodType>(
    operation: string,
    query: string,
    variables: Record<string, unknown>,
    schema: S,
    options: RequestOptions,
  ): Promise<z.output<S>> {
    const fail = (
      type: UpstreamErrorType,
      message: string,
      extra: Omit<UpstreamFailureDetails, 'system' | 'operation'> = {},
      cause?: Error,
    ) => upstreamFailure({ system: SYSTEM, operation, ...extra }, type, message, { redact, ...(cause ? { cause } : {}) });

    // Not sent before the bucket can pay for it: Shopify would refuse it as THROTTLED anyway. A short
    // wait is waited here, so an activity's second call (a refund after its order read) is not failed
    // for the points its first one just spent, retried, and made to pay for the first again (a
    // livelock at a low restore rate); a long one is failed, retried by Temporal after that time.
    const expected = lastCost.get(operation);
    const have = available();
    if (expected !== undefined && have !== undefined && bucket && have < expected) {
      const retryAfterMs = waitFor(expected, bucket.status, have);
      if (retryAfterMs > maxWaitMs) {
        throw fail('UpstreamRateLimited', `the cost bucket holds ${Math.floor(have)} of the ${expected} points this query costs`, {
          retryAfterMs,
        });
      }
      await sleep(retryAfterMs, options.signal);
    }

    const timeoutMs = options.timeoutMs ?? defaultTimeout;
    const call: CallContext = { timeout: AbortSignal.timeout(timeoutMs), timeoutMs, ...(options.signal ? { signal: options.signal } : {}) };
    const answer = await calls.run(call, () => admin.request(query, { variables }));

    const cost = Cost.safeParse(answer.extensions?.cost);
    if (cost.success) {
      bucket = { status: cost.data.throttleStatus, at: now() };
      lastCost.set(operation, cost.data.requestedQueryCost);
    }

    const errors = answer.errors;
    if (errors) {
      // The caller's cancellation is not Shopify's failure: it ends the activity cancelled.
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('cancelled');
      const status = errors.networkStatusCode;
      if (status === undefined) {
        if (call.timeout.aborted) throw fail('UpstreamTimeout', `no complete response within ${timeoutMs} ms`);
        throw fail('UpstreamUnavailable', `network error (${errors.message ?? 'no response'})`);
      }
      const response = errors.response;
      if (status >= 300 && status < 400) {
        let locationHost: string | undefined;
        try {
          const location = response?.headers.get('location');
          locationHost = location ? new URL(location, 'https://invalid.invalid').host || undefined : undefined;
        } catch {
          locationHost = undefined;
        }
        throw fail(
          'UpstreamRedirected',
          `${status} ${locationHost ? `to ${locationHost}` : 'without a usable Location'}; ` +
            'redirects are not followed (check SHOPIFY_SHOP_DOMAIN and SHOPIFY_API_BASE_URL)',
          { status, ...(locationHost ? { locationHost } : {}) },
        );
      }
      const graphQLErrors = (errors.graphQLErrors ?? []) as { message?: string; extensions?: { code?: string } }[];
      let body: unknown = graphQLErrors.length > 0 ? graphQLErrors : undefined;
      if (body === undefined && response && !response.bodyUsed) {
        const text = await response.text().catch(() => '');
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          body = text.slice(0, 2000);
        }
      }
      const said = graphQLErrors.map((e) => `${e.extensions?.code ? `${e.extensions.code}: ` : ''}${e.message ?? ''}`).join('; ');
      const fromBody =
        typeof body === 'object' && body !== null && typeof (body as { errors?: unknown }).errors === 'string'
          ? (body as { errors: string }).errors
          : '';
      const message = `${status}${said || fromBody ? ` (${(said || fromBody).slice(0, 200)})` : ''}`;
      const retryAfterMs = parseRetryAfter(response?.headers.get('retry-after'));
      const retryExtra = { status, body, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
      if (status === 429) throw fail('UpstreamRateLimited', message, retryExtra);
      if (status === 408) throw fail('UpstreamTimeout', message, retryExtra);
      if (status >= 500) throw fail('UpstreamUnavailable', message, retryExtra);
      if (status >= 200 && status < 300) {
        const codes = graphQLErrors.map((e) => e.extensions?.code);
        if (codes.includes('THROTTLED')) {
          // Retried once the bucket holds what the query asked for (actualQueryCost is null: nothing ran).
          const throttled = cost.success
            ? waitFor(cost.data.requestedQueryCost, cost.data.throttleStatus, cost.data.throttleStatus.currentlyAvailable)
            : undefined;
          throw fail('UpstreamRateLimited', message, { status, body, ...(throttled !== undefined ? { retryAfterMs: throttled } : {}) });
        }
        if (codes.length > 0 && codes.every((c) => c !== undefined && RETRYABLE_CODES.has(c)))
          throw fail('UpstreamUnavailable', message, { status, body });
        if (graphQLErrors.length === 0)
          throw fail('UpstreamInvalidResponse', `${status} with no data (${errors.message ?? ''})`, { status, body });
      }
      throw fail('UpstreamRejected', message, { status, body });
    }

    const parsed = schema.safeParse(answer.data);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
        .join('; ');
      throw fail('UpstreamInvalidResponse', `200 with an unexpected body (${issues})`, { status: 200, body: answer.data });
    }
    return parsed.data;
  }

  /** A mutation's userErrors: final unless Shopify says the same key is still being worked on. */
  const refuse = (operation: string, errors: z.infer<typeof UserErrors>) => {
    const said = errors.map((e) => `${e.field?.length ? `${e.field.join('.')}: ` : ''}${e.message}`).join('; ');
    const concurrent = errors.some((e) => e.code === 'IDEMPOTENCY_CONCURRENT_REQUEST');
    return upstreamFailure(
      { system: SYSTEM, operation, body: errors },
      concurrent ? 'UpstreamUnavailable' : 'UpstreamRejected',
      `refused: ${said.slice(0, 300)}`,
      {
        redact,
      },
    );
  };

  const returnStatus = async (returnId: string, options: RequestOptions) =>
    (await run('query return', RETURN_QUERY, { id: shopifyGid('Return', returnId) }, ReturnData, options)).return?.status;

  /** A return decision: one already in the status it asks for counts as done (a retry after a lost answer). */
  async function decide(
    operation: string,
    returnId: string,
    wanted: string,
    send: () => Promise<z.infer<typeof ReturnPayload>>,
    options: RequestOptions,
  ): Promise<{ status: string }> {
    const payload = await send();
    if (payload.userErrors.length === 0 && payload.return) return { status: payload.return.status };
    const status = await returnStatus(returnId, options);
    if (status === wanted) return { status };
    throw refuse(operation, payload.userErrors);
  }

  const client: ShopifyClient = {
    apiVersion: SHOPIFY_ADMIN_API_VERSION,
    shopDomain: config.shopDomain,

    async shop(options = {}) {
      const { shop } = await run('query shop', SHOP_QUERY, {}, ShopData, options);
      return { name: shop.name, domain: shop.myshopifyDomain, timeZone: shop.ianaTimezone };
    },

    async order(orderId, options = {}) {
      const { order } = await run('query order', ORDER_QUERY, { id: shopifyGid('Order', orderId) }, OrderData, options);
      return order ? orderOf(order) : undefined;
    },

    async findOrder(search, options = {}) {
      const query = 'name' in search ? `name:${searchValue(search.name)}` : `email:${searchValue(search.email)}`;
      const { orders } = await run('query orders', ORDERS_QUERY, { query }, FoundOrdersData, options);
      const found = orders.nodes[0];
      return found ? orderOf(found) : undefined;
    },
    async refund(input, idempotencyKey, options = {}) {
      const operation = 'mutation refundCreate';
      if (typeof idempotencyKey !== 'string' || idempotencyKey.trim() === '') {
        throw upstreamFailure({ system: SYSTEM, operation }, 'UpstreamInvalidRequest', 'an idempotency key is required for every refund');
      }
      const amount = input.amount.toFixed(2);
      const { refundCreate } = await run(
        operation,
        REFUND_MUTATION,
        {
          key: idempotencyKey,
          input: {
            orderId: shopifyGid('Order', input.orderId),
            note: input.note.slice(0, 500),
            notify: false,
            transactions: [
              {
                orderId: shopifyGid('Order', input.orderId),
                parentId: input.payment.transactionId,
                gateway: input.payment.gateway,
                kind: 'REFUND',
                amount,
              },
            ],
          },
        },
        RefundData,
        options,
      );
      if (refundCreate.userErrors.length > 0 || !refundCreate.refund) throw refuse(operation, refundCreate.userErrors);
      const refunded = refundCreate.refund.totalRefundedSet.shopMoney;
      return { refundId: digitsOf(refundCreate.refund.id), amount: refunded.amount, currency: refunded.currencyCode };
    },

    async returnLines(returnId, options = {}) {
      const found = (await run('query return lines', RETURN_LINES_QUERY, { id: shopifyGid('Return', returnId) }, ReturnLinesData, options))
        .return;
      if (!found) return undefined;
      return {
        orderId: digitsOf(found.order.id),
        status: found.status,
        lines: found.returnLineItems.nodes.map((l) => ({
          returnLineItemId: digitsOf(l.id),
          ...(l.fulfillmentLineItem ? { lineItemId: digitsOf(l.fulfillmentLineItem.lineItem.id) } : {}),
          quantity: l.quantity,
        })),
      };
    },

    approveReturn: (returnId, options = {}) =>
      decide(
        'mutation returnApproveRequest',
        returnId,
        'OPEN',
        async () =>
          (
            await run(
              'mutation returnApproveRequest',
              APPROVE_MUTATION,
              { input: { id: shopifyGid('Return', returnId) } },
              ApproveData,
              options,
            )
          ).returnApproveRequest,
        options,
      ),

    declineReturn: (returnId, note, options = {}) =>
      decide(
        'mutation returnDeclineRequest',
        returnId,
        'DECLINED',
        async () =>
          (
            await run(
              'mutation returnDeclineRequest',
              DECLINE_MUTATION,
              // The customer hears of it from hookline, not from Shopify's own e-mail as well.
              {
                input: {
                  id: shopifyGid('Return', returnId),
                  declineReason: 'OTHER',
                  declineNote: note.slice(0, 500),
                  notifyCustomer: false,
                },
              },
              DeclineData,
              options,
            )
          ).returnDeclineRequest,
        options,
      ),
    async updatedOrders(query, options = {}) {
      const { orders } = await run('query updated orders', UPDATED_ORDERS_QUERY, updatedVariables(query), UpdatedOrdersData, options);
      return pageOf(orders);
    },

    async updatedCustomers(query, options = {}) {
      const { customers } = await run('query updated customers', UPDATED_CUSTOMERS_QUERY, updatedVariables(query), CustomersData, options);
      return pageOf(customers);
    },
  };
  return client;
}
