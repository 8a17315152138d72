import {
  GraphQLError,
  Kind,
  parse,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { z } from 'zod';

/**
 * SANDBOX: a stand-in for the part of Shopify's Admin GraphQL API the agent uses, at
 * `<sandbox>/shopify/admin/api/<version>/graphql.json`: `shop`, `order` (fulfillments, tracking,
 * returns, transactions), `orders` (the agent's search by the `name:` and `email:` terms, newest
 * first), `return`, `refundCreate` with its `@idempotent(key:)` directive (required
 * from 2026-04, as Shopify requires it), `returnApproveRequest` and `returnDeclineRequest`. The
 * query is parsed with the `graphql` package and the answer carries only the fields asked for, in
 * Shopify's shapes (modelled on the examples in Shopify's Admin GraphQL reference for each field
 * and mutation), with Shopify's `extensions.cost` and a cost bucket that answers `THROTTLED` when
 * it is empty, as Shopify does. Errors: `userErrors` for a refused mutation, top-level `errors` for
 * a query Shopify cannot run, a 401 `{"errors": "[API] Invalid API key or access token …"}` without
 * a token. State: orders, their refunds and returns, customers. The reconciler's connections,
 * `orders(query:)` and `customers(query:)`, filter by `updated_at` ranges in Shopify's search syntax
 * (`updated_at:>='…' AND updated_at:<='…'`; no other search term), sort by `UPDATED_AT` (or `ID`)
 * and page with opaque cursors (`first`/`after`, `pageInfo`), as Shopify's connections do. A change
 * made through the stand-in (a refund, a return decided) moves its order's `updatedAt`, as Shopify's do.
 */

/** The stand-in shop's `ianaTimezone`: its REST-shaped times read as Shopify's published examples do (-05:00 in winter). */
export const SANDBOX_SHOP_TIME_ZONE = 'America/New_York';

export const SHOPIFY_SANDBOX_VERSIONS = ['2026-01', '2026-04', '2026-07', '2026-10', '2027-01', 'unstable'] as const;

interface Money {
  amount: string;
  currencyCode: string;
}
const moneySet = (amount: string, currencyCode: string) => ({
  shopMoney: { amount, currencyCode },
  presentmentMoney: { amount, currencyCode },
});

/** A tax on a line as Shopify's `TaxLine` answers it (the rate is a Float in Shopify's schema too, for show). */
const taxLine = (amount: string, lineTotal: number, currencyCode: string) => {
  const rate = lineTotal > 0 ? Math.round((Number(amount) / lineTotal) * 10_000) / 10_000 : 0;
  return { title: 'State Tax', rate, ratePercentage: rate * 100, channelLiable: false, priceSet: moneySet(amount, currencyCode) };
};

export interface SandboxShopifyTransaction {
  id: string;
  kind: 'SALE' | 'CAPTURE' | 'AUTHORIZATION' | 'REFUND';
  status: 'SUCCESS' | 'FAILURE' | 'PENDING';
  gateway: string;
  test: boolean;
  parentTransaction: { id: string } | null;
  amountSet: { shopMoney: Money; presentmentMoney: Money };
  createdAt: string;
}

/** A line of an order as the Admin API answers it, with the fulfillment line item it shipped on (one per line here). */
export interface SandboxShopifyLineItem {
  id: string;
  sku: string | null;
  quantity: number;
  title: string;
  discountedUnitPriceAfterAllDiscountsSet: { shopMoney: Money; presentmentMoney: Money };
  /** Shopify's `TaxLine`s: each tax's amount for the whole line, after discounts and before returns. */
  taxLines: {
    title: string;
    rate: number;
    ratePercentage: number;
    channelLiable: boolean | null;
    priceSet: { shopMoney: Money; presentmentMoney: Money };
  }[];
  product: { id: string } | null;
  /** The FulfillmentLineItem a return's line names (not a field of LineItem: kept here for `returnLineItems`). */
  fulfillmentLineItemId: string;
}

export interface SandboxShopifyReturn {
  id: string;
  name: string;
  status: 'REQUESTED' | 'OPEN' | 'DECLINED' | 'CLOSED' | 'CANCELED';
  order: { id: string };
  decline: { reason: string; note: string | null } | null;
  /** What the customer sends back: order lines (by LineItem gid) and how many of each. */
  lines: { id: string; lineItemId: string; quantity: number }[];
}

export interface SandboxShopifyRefund {
  id: string;
  orderId: string;
  note: string | null;
  createdAt: string;
  totalRefundedSet: { shopMoney: Money; presentmentMoney: Money };
  /** The REFUND transactions it made. */
  transactions: SandboxShopifyTransaction[];
  /** The `@idempotent` key it was made with. */
  idempotencyKey: string;
}

export interface SandboxShopifyOrder {
  id: string;
  name: string;
  createdAt: string;
  /** Moved by every change, as Shopify's is: what `orders(query: "updated_at:…")` finds it by. */
  updatedAt: string;
  processedAt: string;
  cancelledAt: string | null;
  cancelReason: string | null;
  test: boolean;
  currencyCode: string;
  /** Whether its prices include its taxes; false: the taxes were charged on top of them. */
  taxesIncluded: boolean;
  displayFinancialStatus: string;
  displayFulfillmentStatus: string;
  customer: { id: string; email: string | null } | null;
  shippingAddress: {
    name: string | null;
    address1: string | null;
    address2: string | null;
    city: string | null;
    provinceCode: string | null;
    zip: string | null;
    countryCodeV2: string | null;
    phone: string | null;
  } | null;
  totalPriceSet: { shopMoney: Money; presentmentMoney: Money };
  lineItems: SandboxShopifyLineItem[];
  fulfillments: {
    id: string;
    name: string;
    status: string;
    displayStatus: string | null;
    deliveredAt: string | null;
    createdAt: string;
    updatedAt: string;
    trackingInfo: { company: string | null; number: string | null; url: string | null }[];
    /** The carrier's reports, oldest first (`FulfillmentEventStatus`: IN_TRANSIT, DELIVERED, …). */
    events: { id: string; status: string; happenedAt: string }[];
  }[];
  transactions: SandboxShopifyTransaction[];
}

/** A customer as `customers(query:)` answers it. */
export interface SandboxShopifyCustomer {
  id: string;
  createdAt: string;
  updatedAt: string;
  firstName: string | null;
  lastName: string | null;
  defaultEmailAddress: { emailAddress: string | null } | null;
  defaultPhoneNumber: { phoneNumber: string } | null;
}

export interface ShopifySandboxState {
  orders: SandboxShopifyOrder[];
  customers: SandboxShopifyCustomer[];
  returns: SandboxShopifyReturn[];
  refunds: SandboxShopifyRefund[];
  /** The cost bucket as Shopify reports it (`throttleStatus`), as of `at` (ms). */
  bucket: { maximumAvailable: number; currentlyAvailable: number; restoreRate: number; at: number };
  /** How many requests were answered THROTTLED. */
  throttled: number;
}

/** An order the flows refer to, in hookline's terms (digits for ids, the major unit for amounts). */
export const ShopifyOrderSeed = z.object({
  orderId: z.string().regex(/^\d{1,20}$/),
  customerId: z
    .string()
    .regex(/^\d{1,20}$/)
    .optional(),
  email: z.string().optional(),
  amount: z.string().regex(/^\d+(\.\d{1,2})?$/),
  currency: z.string().regex(/^[A-Z]{3}$/),
  /** The gateway the payment was taken by: `shopify_payments`, or `bogus` for a test order. */
  gateway: z.string().default('shopify_payments'),
  test: z.boolean().default(false),
  /** Whether the shop's prices include tax (Shopify's `taxesIncluded`); by default they do not, as in the US. */
  taxesIncluded: z.boolean().default(false),
  /**
   * `price`: one unit after discounts; by default the order's amount shared evenly over its units.
   * `tax`: the line's tax for all its units, one tax line (by default none); `amount` includes it.
   */
  items: z
    .array(
      z.object({
        sku: z.string(),
        quantity: z.number().int().positive(),
        title: z.string().default('Item'),
        price: z
          .string()
          .regex(/^\d+(\.\d{1,2})?$/)
          .optional(),
        tax: z
          .string()
          .regex(/^\d+(\.\d{1,2})?$/)
          .optional(),
        productId: z
          .string()
          .regex(/^\d{1,20}$/)
          .optional(),
      }),
    )
    .default([]),
  fulfillments: z
    .array(
      z.object({
        fulfillmentId: z
          .string()
          .regex(/^\d{1,20}$/)
          .optional(),
        status: z.string().default('SUCCESS'),
        deliveredAt: z.string().optional(),
        /** Shopify's `FulfillmentDisplayStatus` (`IN_TRANSIT`…); by default DELIVERED with `deliveredAt`, else FULFILLED. */
        displayStatus: z.string().optional(),
        company: z.string().optional(),
        number: z.string().optional(),
        /** The carrier's reports so far (FulfillmentEventStatus), oldest first; DELIVERED is added for a `deliveredAt`. */
        events: z.array(z.string()).default([]),
      }),
    )
    .default([]),
  returns: z
    .array(
      z.object({
        returnId: z.string().regex(/^\d{1,20}$/),
        status: z.enum(['REQUESTED', 'OPEN', 'DECLINED', 'CLOSED']).default('REQUESTED'),
        /** What is sent back, by the line's sku; by default every line, whole. */
        items: z.array(z.object({ sku: z.string(), quantity: z.number().int().positive() })).optional(),
      }),
    )
    .default([]),
  createdAt: z.string().optional(),
  /** When it last changed (default: when it was created). */
  updatedAt: z.string().optional(),
  cancelledAt: z.string().optional(),
});
export type ShopifyOrderSeed = z.input<typeof ShopifyOrderSeed>;

export interface ShopifyReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const Request = z.object({
  query: z.string().min(1),
  variables: z.record(z.string(), z.unknown()).nullable().optional(),
  operationName: z.string().nullable().optional(),
});

type UserError = { field: string[] | null; message: string; code?: string };
const THROTTLED_DOC = 'https://shopify.dev/api/usage/rate-limits';
/** The most points one query may ask for. */
const MAX_QUERY_COST = 1000;

/** The first root field a GraphQL request asks for (`order`, `refundCreate`), or undefined when it does not parse. */
export function shopifyRootField(body: unknown): string | undefined {
  const query = (body as { query?: unknown } | undefined)?.query;
  if (typeof query !== 'string') return undefined;
  try {
    const op = parse(query).definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
    const field = op?.selectionSet.selections.find((s): s is FieldNode => s.kind === Kind.FIELD);
    return field?.name.value;
  } catch {
    return undefined;
  }
}

/** `@idempotent` became mandatory for refundCreate in 2026-04 (Shopify's changelog). */
const idempotencyRequired = (version: string) => version === 'unstable' || version >= '2026-04';

/**
 * `generate`: a well-formed order id the stand-in was not told of is taken for a delivered order of
 * one item paid 40.00 USD through Shopify Payments (as the CRM makes up customers), and an unknown
 * return on it for a requested one, so a return sent with `npm run send -- shopify returns/request`
 * can be run end to end; off, Shopify's `null` and "Return does not exist.".
 */
export function createShopifySandbox(now: () => Date, generate = true) {
  const fresh = (): ShopifySandboxState => ({
    orders: [],
    customers: [],
    returns: [],
    refunds: [],
    bucket: { maximumAvailable: 2000, currentlyAvailable: 2000, restoreRate: 100, at: now().getTime() },
    throttled: 0,
  });
  const state: ShopifySandboxState = fresh();
  const idempotency = new Map<string, { fingerprint: string; result: unknown }>();
  let counter = 0;
  const nextId = () => String(9_000_000_000 + ++counter);

  function addOrder(seed: ShopifyOrderSeed): SandboxShopifyOrder {
    const s = ShopifyOrderSeed.parse(seed);
    const id = `gid://shopify/Order/${s.orderId}`;
    const existing = state.orders.find((o) => o.id === id);
    if (existing) return existing;
    const at = s.createdAt ?? now().toISOString();
    const units = s.items.reduce((n, i) => n + i.quantity, 0);
    // In whole cents first: 19.99 × 100 is 1998.999… as a float, which floored a cent short.
    const evenShare = units > 0 ? (Math.floor(Math.round(Number(s.amount) * 100) / units) / 100).toFixed(2) : '0.00';
    const updatedAt = s.updatedAt ?? at;
    const order: SandboxShopifyOrder = {
      id,
      name: `#${1000 + state.orders.length + 1}`,
      createdAt: at,
      updatedAt,
      processedAt: at,
      cancelledAt: s.cancelledAt ?? null,
      cancelReason: s.cancelledAt ? 'CUSTOMER' : null,
      test: s.test,
      currencyCode: s.currency,
      taxesIncluded: s.taxesIncluded,
      displayFinancialStatus: 'PAID',
      displayFulfillmentStatus: s.fulfillments.length > 0 ? 'FULFILLED' : 'UNFULFILLED',
      customer: s.customerId ? { id: `gid://shopify/Customer/${s.customerId}`, email: s.email ?? null } : null,
      // Shopify's own example address (the Admin API reference's Order examples).
      shippingAddress: {
        name: 'Bob Norman',
        address1: 'Chestnut Street 92',
        address2: '',
        city: 'Louisville',
        provinceCode: 'KY',
        zip: '40202',
        countryCodeV2: 'US',
        phone: '+1(502)-459-2181',
      },
      totalPriceSet: moneySet(Number(s.amount).toFixed(2), s.currency),
      lineItems: s.items.map((i) => ({
        id: `gid://shopify/LineItem/${nextId()}`,
        sku: i.sku,
        quantity: i.quantity,
        title: i.title,
        discountedUnitPriceAfterAllDiscountsSet: moneySet(i.price ?? evenShare, s.currency),
        taxLines: i.tax ? [taxLine(i.tax, Number(i.price ?? evenShare) * i.quantity, s.currency)] : [],
        fulfillmentLineItemId: `gid://shopify/FulfillmentLineItem/${nextId()}`,
        product: i.productId ? { id: `gid://shopify/Product/${i.productId}` } : null,
      })),
      fulfillments: s.fulfillments.map((f, i) => {
        const events = [...f.events, ...(f.deliveredAt && !f.events.includes('DELIVERED') ? ['DELIVERED'] : [])];
        return {
          id: `gid://shopify/Fulfillment/${f.fulfillmentId ?? nextId()}`,
          name: `#${1000 + state.orders.length + 1}.${i + 1}`,
          status: f.status,
          displayStatus: f.displayStatus ?? (f.deliveredAt ? 'DELIVERED' : (events.at(-1) ?? 'FULFILLED')),
          deliveredAt: f.deliveredAt ?? null,
          createdAt: at,
          updatedAt: f.deliveredAt ?? updatedAt,
          trackingInfo: f.number ? [{ company: f.company ?? null, number: f.number, url: null }] : [],
          events: events.map((status) => ({ id: `gid://shopify/FulfillmentEvent/${nextId()}`, status, happenedAt: updatedAt })),
        };
      }),
      transactions: [
        {
          id: `gid://shopify/OrderTransaction/${nextId()}`,
          kind: 'SALE',
          status: 'SUCCESS',
          gateway: s.gateway,
          test: s.test,
          parentTransaction: null,
          amountSet: moneySet(Number(s.amount).toFixed(2), s.currency),
          createdAt: at,
        },
      ],
    };
    state.orders.push(order);
    for (const r of s.returns)
      addReturn({ returnId: r.returnId, orderId: s.orderId, status: r.status, ...(r.items ? { items: r.items } : {}) });
    return order;
  }

  /** A customer, `updatedAt` defaulting to when it was created. */
  function addCustomer(seed: {
    customerId: string;
    firstName?: string;
    lastName?: string;
    email?: string;
    phone?: string;
    createdAt?: string;
    updatedAt?: string;
  }): SandboxShopifyCustomer {
    const id = `gid://shopify/Customer/${seed.customerId}`;
    const existing = state.customers.find((c) => c.id === id);
    if (existing) return existing;
    const createdAt = seed.createdAt ?? now().toISOString();
    const customer: SandboxShopifyCustomer = {
      id,
      createdAt,
      updatedAt: seed.updatedAt ?? createdAt,
      firstName: seed.firstName ?? null,
      lastName: seed.lastName ?? null,
      defaultEmailAddress: seed.email ? { emailAddress: seed.email } : null,
      defaultPhoneNumber: seed.phone ? { phoneNumber: seed.phone } : null,
    };
    state.customers.push(customer);
    return customer;
  }

  /** A change to an order, as Shopify records it: its `updatedAt` moves. */
  const touch = (order: SandboxShopifyOrder | undefined) => {
    if (order) order.updatedAt = now().toISOString();
  };

  function addReturn(seed: {
    returnId: string;
    orderId: string;
    status?: SandboxShopifyReturn['status'];
    items?: { sku: string; quantity: number }[];
  }): SandboxShopifyReturn {
    const id = `gid://shopify/Return/${seed.returnId}`;
    const existing = state.returns.find((r) => r.id === id);
    if (existing) return existing;
    const lineItems = state.orders.find((o) => o.id === `gid://shopify/Order/${seed.orderId}`)?.lineItems ?? [];
    const sent = seed.items ?? lineItems.map((l) => ({ sku: l.sku ?? '', quantity: l.quantity }));
    const ret: SandboxShopifyReturn = {
      id,
      name: `#R${state.returns.length + 1}`,
      status: seed.status ?? 'REQUESTED',
      order: { id: `gid://shopify/Order/${seed.orderId}` },
      decline: null,
      lines: sent.flatMap((item) => {
        const line = lineItems.find((l) => l.sku === item.sku);
        return line ? [{ id: `gid://shopify/ReturnLineItem/${nextId()}`, lineItemId: line.id, quantity: item.quantity }] : [];
      }),
    };
    state.returns.push(ret);
    return ret;
  }

  const digits = (gid: unknown, resource: string) =>
    typeof gid === 'string' ? new RegExp(`^gid://shopify/${resource}/(\\d{1,20})$`).exec(gid)?.[1] : undefined;

  /** The order the last `order(id:)` query found: whose a made-up return is. */
  let lastAskedFor: SandboxShopifyOrder | undefined;

  function findOrder(gid: unknown): SandboxShopifyOrder | undefined {
    const known = state.orders.find((o) => o.id === gid);
    const id = digits(gid, 'Order');
    if (known || !generate || id === undefined) return known;
    const delivered = new Date(now().getTime() - 2 * 86_400_000).toISOString();
    return addOrder({
      orderId: id,
      customerId: String(BigInt(id) % 1_000_000_000n),
      amount: '40.00',
      currency: 'USD',
      items: [{ sku: 'PROD-A', quantity: 1, title: 'Sandbox item' }],
      fulfillments: [{ deliveredAt: delivered, company: 'USPS', number: `9400${id.padStart(18, '0').slice(-18)}` }],
      createdAt: new Date(now().getTime() - 5 * 86_400_000).toISOString(),
    });
  }

  /**
   * `orders(query:)`: the `name:` and `email:` terms of Shopify's search syntax (a value quoted or
   * bare, matched whole and case-insensitively), every term to match, newest first (the order the
   * agent asks for: `sortKey: PROCESSED_AT, reverse: true`). Other terms match nothing here.
   */
  function searchOrders(query: unknown, first: unknown): SandboxShopifyOrder[] {
    const terms = [...String(query ?? '').matchAll(/(\w+):(?:"((?:[^"\\]|\\.)*)"|(\S+))/g)].map((m) => ({
      field: m[1]!.toLowerCase(),
      value: (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1').toLowerCase(),
    }));
    const matches = (o: SandboxShopifyOrder) =>
      terms.length > 0 &&
      terms.every((t) =>
        t.field === 'name'
          ? o.name.toLowerCase() === t.value || o.name.toLowerCase() === `#${t.value}`
          : t.field === 'email'
            ? (o.customer?.email ?? '').toLowerCase() === t.value
            : false,
      );
    const found = state.orders.filter(matches).sort((a, b) => b.processedAt.localeCompare(a.processedAt));
    return found.slice(0, typeof first === 'number' && first > 0 ? first : 50);
  }

  function findReturn(gid: unknown): SandboxShopifyReturn | undefined {
    const known = state.returns.find((r) => r.id === gid);
    const id = digits(gid, 'Return');
    if (known || !generate || id === undefined) return known;
    // A made-up return needs an order: the one last asked for (the agent reads a return's order
    // before its lines), else the first one the stand-in holds, or a made-up one.
    const order = lastAskedFor ?? state.orders[0] ?? findOrder(`gid://shopify/Order/${id}`);
    return order ? addReturn({ returnId: id, orderId: order.id.slice(order.id.lastIndexOf('/') + 1) }) : undefined;
  }

  /** The bucket refilled at its restore rate since it was last read. */
  function refill(): ShopifySandboxState['bucket'] {
    const b = state.bucket;
    const t = now().getTime();
    b.currentlyAvailable = Math.min(b.maximumAvailable, b.currentlyAvailable + ((t - b.at) / 1000) * b.restoreRate);
    b.at = t;
    return b;
  }

  /** Shopify's cost: a mutation 10, each object field 1, a connection's `first` multiplying what it holds. */
  function costOf(op: OperationDefinitionNode, variables: Record<string, unknown>): number {
    const walk = (set: SelectionSetNode | undefined): number =>
      (set?.selections ?? []).reduce((sum, s) => {
        if (s.kind !== Kind.FIELD || !s.selectionSet) return sum;
        const first = s.arguments?.find((a) => a.name.value === 'first');
        const times = first ? Number(valueFromASTUntyped(first.value, variables)) || 1 : 1;
        return sum + 1 + times * walk(s.selectionSet);
      }, 0);
    return op.operation === 'mutation' ? 10 : Math.max(1, walk(op.selectionSet));
  }

  /**
   * What an answer actually cost, as Shopify charges it once the query has run: the same points for
   * the objects it holds, not for every one `first` allowed. Shopify refunds the bucket the difference
   * (https://shopify.dev/docs/api/usage/rate-limits), so an order read that asks room for 30 lines of
   * 5 tax lines each costs what its few lines do. A mutation costs what it asked.
   */
  function actualCostOf(op: OperationDefinitionNode, data: Record<string, unknown>, requested: number): number {
    if (op.operation === 'mutation') return requested;
    const walk = (set: SelectionSetNode | undefined, value: unknown): number => {
      if (value === null || typeof value !== 'object') return 0;
      if (Array.isArray(value)) return value.reduce((n: number, v) => n + walk(set, v), 0);
      return (set?.selections ?? []).reduce((sum, s) => {
        if (s.kind !== Kind.FIELD || !s.selectionSet) return sum;
        const field = (value as Record<string, unknown>)[s.alias?.value ?? s.name.value];
        if (field === null || field === undefined) return sum;
        const objects = Array.isArray(field) ? field : [field];
        return sum + 1 + objects.reduce((n: number, v) => n + walk(s.selectionSet, v), 0);
      }, 0);
    };
    return Math.min(requested, Math.max(1, walk(op.selectionSet, data)));
  }

  const costExtension = (requested: number, actual: number | null) => {
    const b = state.bucket;
    return {
      cost: {
        requestedQueryCost: requested,
        actualQueryCost: actual,
        throttleStatus: {
          maximumAvailable: b.maximumAvailable,
          currentlyAvailable: Math.floor(b.currentlyAvailable),
          restoreRate: b.restoreRate,
        },
      },
    };
  };

  /**
   * The answer as GraphQL gives it: only the fields asked for, under their aliases. A field whose
   * value is a function is resolved with the field's arguments (a connection's `first`, `sortKey`).
   */
  function project(value: unknown, set: SelectionSetNode | undefined, variables: Record<string, unknown> = {}): unknown {
    if (value === null || value === undefined || !set) return value ?? null;
    if (Array.isArray(value)) return value.map((v) => project(v, set, variables));
    if (typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    const typename = (value as { __typename?: string }).__typename;
    for (const s of set.selections) {
      if (s.kind === Kind.INLINE_FRAGMENT) {
        // `... on ReturnLineItem { … }`: its fields when the value is of that type.
        if (!s.typeCondition || s.typeCondition.name.value === typename) Object.assign(out, project(value, s.selectionSet, variables));
        continue;
      }
      if (s.kind !== Kind.FIELD) continue;
      const name = s.name.value;
      const key = s.alias?.value ?? name;
      if (name === '__typename') {
        out[key] = (value as { __typename?: string }).__typename ?? null;
        continue;
      }
      let field = (value as Record<string, unknown>)[name];
      if (typeof field === 'function') {
        const args = Object.fromEntries((s.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value, variables)]));
        field = (field as (args: Record<string, unknown>) => unknown)(args);
      }
      out[key] = project(field, s.selectionSet, variables);
    }
    return out;
  }

  const argOf = (field: FieldNode, name: string, variables: Record<string, unknown>): unknown => {
    const arg = field.arguments?.find((a) => a.name.value === name);
    return arg ? valueFromASTUntyped(arg.value, variables) : undefined;
  };

  const connection = <T>(items: T[]) => ({ nodes: items, edges: items.map((node) => ({ node })) });

  /** A list argument's `first` (Shopify's lists of fulfillments and refunds take one, as connections do). */
  const firstOf = <T>(items: T[], args: Record<string, unknown>) => (typeof args.first === 'number' ? items.slice(0, args.first) : items);

  function orderView(order: SandboxShopifyOrder) {
    return {
      ...order,
      lineItems: (args: Record<string, unknown>) =>
        connection(firstOf(order.lineItems, args).map((l) => ({ ...l, taxLines: (a: Record<string, unknown>) => firstOf(l.taxLines, a) }))),
      fulfillments: (args: Record<string, unknown>) =>
        firstOf(order.fulfillments, args).map((f) => ({
          ...f,
          trackingInfo: (a: Record<string, unknown>) => firstOf(f.trackingInfo, a),
          // Oldest first, as HAPPENED_AT sorts; `reverse` for the newest first.
          events: (a: Record<string, unknown>) => connection(firstOf(a.reverse === true ? [...f.events].reverse() : f.events, a)),
        })),
      returns: (args: Record<string, unknown>) =>
        connection(
          firstOf(
            state.returns.filter((r) => r.order.id === order.id),
            args,
          ),
        ),
      refunds: (args: Record<string, unknown>) =>
        firstOf(
          state.refunds.filter((r) => r.orderId === order.id),
          args,
        ).map((r) => ({ ...r, transactions: (a: Record<string, unknown>) => connection(firstOf(r.transactions, a)) })),
    };
  }

  /** An `updated_at` range in Shopify's search syntax: `updated_at:>='…' AND updated_at:<='…'` (either bound may be left out). */
  function updatedAtFilter(query: unknown): (updatedAt: string) => boolean {
    if (query === undefined || query === null || query === '') return () => true;
    const terms = String(query)
      .split(/\s+AND\s+|\s+/)
      .filter((t) => t !== '');
    const tests = terms.map((term) => {
      const m = /^updated_at:(>=|<=|>|<)?(?:'([^']*)'|"([^"]*)"|(\S+))$/.exec(term);
      const at = m ? Date.parse(m[2] ?? m[3] ?? m[4] ?? '') : NaN;
      if (!m || Number.isNaN(at)) {
        throw new GraphQLError(`The stand-in searches by an updated_at range only (got '${term}')`, {
          extensions: { code: 'BAD_REQUEST' },
        });
      }
      const op = m[1] ?? '=';
      return (t: number) => (op === '>=' ? t >= at : op === '<=' ? t <= at : op === '>' ? t > at : op === '<' ? t < at : t === at);
    });
    return (updatedAt) => tests.every((test) => test(Date.parse(updatedAt)));
  }

  /**
   * `orders(…)`/`customers(…)`: Shopify's connection over the records, filtered by `query`, sorted by
   * `sortKey` (UPDATED_AT, else ID) and `reverse`, `first` of them after the opaque cursor `after`.
   */
  function searchConnection<T extends { id: string; updatedAt: string }>(
    records: T[],
    field: FieldNode,
    variables: Record<string, unknown>,
    view: (record: T) => unknown,
  ) {
    const matches = updatedAtFilter(argOf(field, 'query', variables));
    const byUpdated = argOf(field, 'sortKey', variables) === 'UPDATED_AT';
    const keyOf = (r: T): [number, bigint] => [byUpdated ? Date.parse(r.updatedAt) : 0, BigInt(r.id.slice(r.id.lastIndexOf('/') + 1))];
    const compare = (a: [number, bigint], b: [number, bigint]) => (a[0] !== b[0] ? a[0] - b[0] : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
    const reverse = argOf(field, 'reverse', variables) === true;
    const sorted = records.filter((r) => matches(r.updatedAt)).sort((a, b) => (reverse ? -1 : 1) * compare(keyOf(a), keyOf(b)));
    const cursorOf = (r: T) => Buffer.from(JSON.stringify([keyOf(r)[0], String(keyOf(r)[1])])).toString('base64url');
    const after = argOf(field, 'after', variables);
    let from = 0;
    if (typeof after === 'string' && after !== '') {
      let key: [number, bigint];
      try {
        const [at, id] = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as [number, string];
        key = [at, BigInt(id)];
      } catch {
        throw new GraphQLError('Invalid cursor for current pagination sort.', { extensions: { code: 'BAD_REQUEST' } });
      }
      from = sorted.findIndex((r) => (reverse ? -1 : 1) * compare(keyOf(r), key) > 0);
      if (from === -1) from = sorted.length;
    }
    const first = argOf(field, 'first', variables);
    if (typeof first !== 'number' || first < 1 || first > 250)
      throw new GraphQLError('You must provide a `first` between 1 and 250.', { extensions: { code: 'BAD_REQUEST' } });
    const page = sorted.slice(from, from + first);
    return {
      nodes: page.map(view),
      edges: page.map((r) => ({ cursor: cursorOf(r), node: view(r) })),
      pageInfo: {
        hasNextPage: from + first < sorted.length,
        hasPreviousPage: from > 0,
        startCursor: page[0] ? cursorOf(page[0]) : null,
        endCursor: page.at(-1) ? cursorOf(page.at(-1)!) : null,
      },
    };
  }

  /** A return as the Admin API answers it: its lines as ReturnLineItems, each through its fulfillment line item to the order's line. */
  function returnView(ret: SandboxShopifyReturn) {
    const lineItems = state.orders.find((o) => o.id === ret.order.id)?.lineItems ?? [];
    return {
      ...ret,
      returnLineItems: connection(
        ret.lines.map((l) => {
          const line = lineItems.find((li) => li.id === l.lineItemId);
          return {
            __typename: 'ReturnLineItem',
            id: l.id,
            quantity: l.quantity,
            fulfillmentLineItem: { id: line?.fulfillmentLineItemId ?? null, lineItem: line ?? null },
          };
        }),
      ),
    };
  }

  const MoneyText = z
    .union([z.string(), z.number()])
    .transform(String)
    .pipe(z.string().regex(/^\d+(\.\d+)?$/));
  const RefundInput = z.object({
    orderId: z.string(),
    note: z.string().nullable().optional(),
    notify: z.boolean().optional(),
    transactions: z
      .array(z.object({ orderId: z.string(), parentId: z.string(), gateway: z.string(), kind: z.literal('REFUND'), amount: MoneyText }))
      .optional(),
  });

  function refundCreate(
    field: FieldNode,
    variables: Record<string, unknown>,
    key: string | undefined,
  ): { refund: unknown; order: unknown; userErrors: UserError[] } {
    const parsed = RefundInput.safeParse(argOf(field, 'input', variables));
    if (!parsed.success) {
      return {
        refund: null,
        order: null,
        userErrors: parsed.error.issues.map((i) => ({ field: ['input', ...i.path.map(String)], message: i.message })),
      };
    }
    const input = parsed.data;
    const fingerprint = JSON.stringify(input);
    if (key !== undefined) {
      const seen = idempotency.get(key);
      if (seen) {
        if (seen.fingerprint !== fingerprint) {
          return {
            refund: null,
            order: null,
            userErrors: [
              {
                field: null,
                message: 'The same idempotency key cannot be used with different operation parameters.',
                code: 'IDEMPOTENCY_KEY_PARAMETER_MISMATCH',
              },
            ],
          };
        }
        return seen.result as { refund: unknown; order: unknown; userErrors: UserError[] };
      }
    }
    const order = state.orders.find((o) => o.id === input.orderId);
    if (!order) return { refund: null, order: null, userErrors: [{ field: ['input', 'orderId'], message: 'Order does not exist' }] };
    const created: SandboxShopifyTransaction[] = [];
    let total = 0;
    for (const [i, t] of (input.transactions ?? []).entries()) {
      const parent = order.transactions.find(
        (p) => p.id === t.parentId && (p.kind === 'SALE' || p.kind === 'CAPTURE') && p.status === 'SUCCESS',
      );
      if (!parent)
        return {
          refund: null,
          order: null,
          userErrors: [{ field: ['input', 'transactions', String(i), 'parentId'], message: 'Parent transaction does not exist' }],
        };
      const refunded = order.transactions
        .filter((r) => r.kind === 'REFUND' && r.parentTransaction?.id === parent.id)
        .reduce((sum, r) => sum + Number(r.amountSet.shopMoney.amount), 0);
      const amount = Number(t.amount);
      if (amount <= 0 || refunded + amount > Number(parent.amountSet.shopMoney.amount) + 1e-9) {
        return {
          refund: null,
          order: null,
          userErrors: [
            {
              field: ['input', 'transactions', String(i), 'amount'],
              message: `Amount cannot exceed the refundable amount of ${(Number(parent.amountSet.shopMoney.amount) - refunded).toFixed(2)}`,
            },
          ],
        };
      }
      total += amount;
      created.push({
        id: `gid://shopify/OrderTransaction/${nextId()}`,
        kind: 'REFUND',
        status: 'SUCCESS',
        gateway: parent.gateway,
        test: parent.test,
        parentTransaction: { id: parent.id },
        amountSet: moneySet(amount.toFixed(2), parent.amountSet.shopMoney.currencyCode),
        createdAt: now().toISOString(),
      });
    }
    order.transactions.push(...created);
    const currency = order.totalPriceSet.shopMoney.currencyCode;
    const refund: SandboxShopifyRefund = {
      id: `gid://shopify/Refund/${nextId()}`,
      orderId: order.id,
      note: input.note ?? null,
      createdAt: now().toISOString(),
      totalRefundedSet: moneySet(total.toFixed(2), currency),
      idempotencyKey: key ?? '',
      transactions: created,
    };
    state.refunds.push(refund);
    touch(order);
    const refundedAll = order.transactions.filter((t) => t.kind === 'REFUND').reduce((s, t) => s + Number(t.amountSet.shopMoney.amount), 0);
    order.displayFinancialStatus = refundedAll + 1e-9 >= Number(order.totalPriceSet.shopMoney.amount) ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
    const result = { refund, order: orderView(order), userErrors: [] as UserError[] };
    if (key !== undefined) idempotency.set(key, { fingerprint, result });
    return result;
  }

  function decide(field: FieldNode, variables: Record<string, unknown>, to: 'OPEN' | 'DECLINED') {
    const input = (argOf(field, 'input', variables) ?? {}) as { id?: unknown; declineReason?: unknown; declineNote?: unknown };
    const ret = findReturn(input.id);
    if (!ret) return { return: null, userErrors: [{ field: ['input', 'id'], message: 'Return does not exist.', code: 'NOT_FOUND' }] };
    if (ret.status !== 'REQUESTED') {
      const verb = to === 'OPEN' ? 'approved' : 'declined';
      return {
        return: null,
        userErrors: [
          {
            field: ['input', 'id'],
            message:
              `Return is not ${to === 'OPEN' ? 'approvable' : 'declinable'}. ` + `Only returns with status REQUESTED can be ${verb}.`,
            code: 'INVALID_STATE',
          },
        ],
      };
    }
    ret.status = to;
    touch(state.orders.find((o) => o.id === ret.order.id));
    if (to === 'DECLINED') {
      ret.decline = {
        reason: typeof input.declineReason === 'string' ? input.declineReason : 'OTHER',
        note: typeof input.declineNote === 'string' ? input.declineNote : null,
      };
    }
    return { return: ret, userErrors: [] };
  }

  /** One root field's value, or a GraphQL error Shopify would answer for it. */
  function resolve(op: OperationDefinitionNode, field: FieldNode, variables: Record<string, unknown>, version: string): unknown {
    const name = field.name.value;
    if (op.operation === 'query') {
      switch (name) {
        case 'shop':
          // Five hours west of UTC in winter, as the shop in Shopify's published webhook examples.
          return {
            name: 'hookline sandbox',
            myshopifyDomain: 'hookline-dev.myshopify.com',
            currencyCode: 'USD',
            ianaTimezone: SANDBOX_SHOP_TIME_ZONE,
          };
        case 'order': {
          const order = findOrder(argOf(field, 'id', variables));
          if (order) lastAskedFor = order;
          return order ? orderView(order) : null;
        }
        case 'orders': {
          // The reconciler lists by an updated_at range; the agent looks an order up by name or email.
          const query = argOf(field, 'query', variables);
          return /\bupdated_at:/.test(String(query ?? ''))
            ? searchConnection(state.orders, field, variables, orderView)
            : connection(searchOrders(query, argOf(field, 'first', variables)).map(orderView));
        }
        case 'return': {
          const ret = findReturn(argOf(field, 'id', variables));
          return ret ? returnView(ret) : null;
        }
        case 'customers':
          return searchConnection(state.customers, field, variables, (c) => c);
        default:
          throw new GraphQLError(`Field '${name}' doesn't exist on type 'QueryRoot'`, {
            extensions: { code: 'undefinedField', typeName: 'QueryRoot', fieldName: name },
          });
      }
    }
    if (op.operation === 'mutation') {
      switch (name) {
        case 'refundCreate': {
          const directive = field.directives?.find((d) => d.name.value === 'idempotent');
          const keyArg = directive?.arguments?.find((a) => a.name.value === 'key');
          const key = keyArg ? valueFromASTUntyped(keyArg.value, variables) : undefined;
          if (idempotencyRequired(version) && (typeof key !== 'string' || key.trim() === '')) {
            throw new GraphQLError('The @idempotent directive is required for this mutation.', { extensions: { code: 'BAD_REQUEST' } });
          }
          return refundCreate(field, variables, typeof key === 'string' ? key : undefined);
        }
        case 'returnApproveRequest':
          return decide(field, variables, 'OPEN');
        case 'returnDeclineRequest':
          return decide(field, variables, 'DECLINED');
        default:
          throw new GraphQLError(`Field '${name}' doesn't exist on type 'Mutation'`, {
            extensions: { code: 'undefinedField', typeName: 'Mutation', fieldName: name },
          });
      }
    }
    throw new GraphQLError('Subscriptions are not supported', { extensions: { code: 'BAD_REQUEST' } });
  }

  /** `POST /admin/api/:version/graphql.json`. */
  function graphql(version: string, body: unknown, accessToken: string | null): ShopifyReply {
    const headers = { 'X-Shopify-API-Version': version };
    if (!accessToken)
      return { status: 401, body: { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' }, headers };
    if (!(SHOPIFY_SANDBOX_VERSIONS as readonly string[]).includes(version)) {
      return { status: 404, body: { errors: 'Not Found' }, headers };
    }
    const request = Request.safeParse(body);
    if (!request.success) return { status: 400, body: { errors: { query: 'Required parameter missing or invalid' } }, headers };
    let document: DocumentNode;
    try {
      document = parse(request.data.query);
    } catch (err) {
      const e = err as GraphQLError;
      return {
        status: 200,
        body: { errors: [{ message: e.message, locations: e.locations, extensions: { code: 'parseError' } }] },
        headers,
      };
    }
    const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
    const op = request.data.operationName ? operations.find((o) => o.name?.value === request.data.operationName) : operations[0];
    if (!op) return { status: 200, body: { errors: [{ message: 'No operation to run', extensions: { code: 'BAD_REQUEST' } }] }, headers };
    const variables = request.data.variables ?? {};

    const requested = costOf(op, variables);
    // Shopify refuses a query asking for more than 1000 points before it runs, whatever the bucket holds
    // (shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits: the single query limit).
    if (requested > MAX_QUERY_COST) {
      return {
        status: 200,
        body: {
          errors: [
            {
              message: `Query cost is ${requested}, which exceeds the single query max cost limit (${MAX_QUERY_COST}).`,
              extensions: { code: 'MAX_COST_EXCEEDED', cost: requested, maxCost: MAX_QUERY_COST },
            },
          ],
        },
        headers,
      };
    }
    const bucket = refill();
    if (bucket.currentlyAvailable < requested) {
      state.throttled++;
      return {
        status: 200,
        body: {
          errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: THROTTLED_DOC } }],
          extensions: costExtension(requested, null),
        },
        headers,
      };
    }
    bucket.currentlyAvailable -= requested;

    const data: Record<string, unknown> = {};
    const errors: unknown[] = [];
    for (const selection of op.selectionSet.selections) {
      if (selection.kind !== Kind.FIELD) continue;
      const key = selection.alias?.value ?? selection.name.value;
      try {
        data[key] = project(resolve(op, selection, variables, version), selection.selectionSet, variables);
      } catch (err) {
        if (!(err instanceof GraphQLError)) throw err;
        data[key] = null;
        errors.push({ message: err.message, path: [key], extensions: err.extensions });
      }
    }
    const actual = actualCostOf(op, data, requested);
    bucket.currentlyAvailable += requested - actual;
    return {
      status: 200,
      body: { ...(errors.length > 0 ? { errors } : {}), data, extensions: costExtension(requested, actual) },
      headers,
    };
  }

  return {
    state,
    addOrder,
    addReturn,
    addCustomer,
    graphql,
    /** Sets the bucket (a test draining it to see THROTTLED). */
    setBucket(b: Partial<Omit<ShopifySandboxState['bucket'], 'at'>>) {
      Object.assign(state.bucket, b, { at: now().getTime() });
    },
    reset() {
      Object.assign(state, fresh());
      idempotency.clear();
      counter = 0;
      lastAskedFor = undefined;
    },
  };
}
