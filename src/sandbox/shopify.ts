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
 * returns, transactions), `return`, `refundCreate` with its `@idempotent(key:)` directive (required
 * from 2026-04, as Shopify requires it), `returnApproveRequest` and `returnDeclineRequest`. The
 * query is parsed with the `graphql` package and the answer carries only the fields asked for, in
 * Shopify's shapes (modelled on the examples in Shopify's Admin GraphQL reference for each field
 * and mutation), with Shopify's `extensions.cost` and a cost bucket that answers `THROTTLED` when
 * it is empty, as Shopify does. Errors: `userErrors` for a refused mutation, top-level `errors` for
 * a query Shopify cannot run, a 401 `{"errors": "[API] Invalid API key or access token …"}` without
 * a token. State: orders, their refunds and returns.
 */

export const SHOPIFY_SANDBOX_VERSIONS = ['2026-01', '2026-04', '2026-07', '2026-10', '2027-01', 'unstable'] as const;

interface Money {
  amount: string;
  currencyCode: string;
}
const moneySet = (amount: string, currencyCode: string) => ({
  shopMoney: { amount, currencyCode },
  presentmentMoney: { amount, currencyCode },
});

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

export interface SandboxShopifyReturn {
  id: string;
  name: string;
  status: 'REQUESTED' | 'OPEN' | 'DECLINED' | 'CLOSED' | 'CANCELED';
  order: { id: string };
  decline: { reason: string; note: string | null } | null;
}

export interface SandboxShopifyRefund {
  id: string;
  orderId: string;
  note: string | null;
  createdAt: string;
  totalRefundedSet: { shopMoney: Money; presentmentMoney: Money };
  /** The `@idempotent` key it was made with. */
  idempotencyKey: string;
}

export interface SandboxShopifyOrder {
  id: string;
  name: string;
  createdAt: string;
  processedAt: string;
  test: boolean;
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
  lineItems: { id: string; sku: string | null; quantity: number; title: string }[];
  fulfillments: {
    id: string;
    status: string;
    displayStatus: string | null;
    deliveredAt: string | null;
    trackingInfo: { company: string | null; number: string | null; url: string | null }[];
  }[];
  transactions: SandboxShopifyTransaction[];
}

export interface ShopifySandboxState {
  orders: SandboxShopifyOrder[];
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
  items: z.array(z.object({ sku: z.string(), quantity: z.number().int().positive(), title: z.string().default('Item') })).default([]),
  fulfillments: z
    .array(
      z.object({
        status: z.string().default('SUCCESS'),
        deliveredAt: z.string().optional(),
        company: z.string().optional(),
        number: z.string().optional(),
      }),
    )
    .default([]),
  returns: z
    .array(
      z.object({
        returnId: z.string().regex(/^\d{1,20}$/),
        status: z.enum(['REQUESTED', 'OPEN', 'DECLINED', 'CLOSED']).default('REQUESTED'),
      }),
    )
    .default([]),
  createdAt: z.string().optional(),
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
    const order: SandboxShopifyOrder = {
      id,
      name: `#${1000 + state.orders.length + 1}`,
      createdAt: at,
      processedAt: at,
      test: s.test,
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
      lineItems: s.items.map((i) => ({ id: `gid://shopify/LineItem/${nextId()}`, sku: i.sku, quantity: i.quantity, title: i.title })),
      fulfillments: s.fulfillments.map((f) => ({
        id: `gid://shopify/Fulfillment/${nextId()}`,
        status: f.status,
        displayStatus: f.deliveredAt ? 'DELIVERED' : 'FULFILLED',
        deliveredAt: f.deliveredAt ?? null,
        trackingInfo: f.number ? [{ company: f.company ?? null, number: f.number, url: null }] : [],
      })),
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
    for (const r of s.returns) addReturn({ returnId: r.returnId, orderId: s.orderId, status: r.status });
    return order;
  }

  function addReturn(seed: { returnId: string; orderId: string; status?: SandboxShopifyReturn['status'] }): SandboxShopifyReturn {
    const id = `gid://shopify/Return/${seed.returnId}`;
    const existing = state.returns.find((r) => r.id === id);
    if (existing) return existing;
    const ret: SandboxShopifyReturn = {
      id,
      name: `#R${state.returns.length + 1}`,
      status: seed.status ?? 'REQUESTED',
      order: { id: `gid://shopify/Order/${seed.orderId}` },
      decline: null,
    };
    state.returns.push(ret);
    return ret;
  }

  const digits = (gid: unknown, resource: string) =>
    typeof gid === 'string' ? new RegExp(`^gid://shopify/${resource}/(\\d{1,20})$`).exec(gid)?.[1] : undefined;

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

  function findReturn(gid: unknown): SandboxShopifyReturn | undefined {
    const known = state.returns.find((r) => r.id === gid);
    const id = digits(gid, 'Return');
    if (known || !generate || id === undefined) return known;
    // A made-up return needs an order: the first one the stand-in holds, or a made-up one.
    const order = state.orders[0] ?? findOrder(`gid://shopify/Order/${id}`);
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

  /** The answer as GraphQL gives it: only the fields asked for, under their aliases. */
  function project(value: unknown, set: SelectionSetNode | undefined): unknown {
    if (value === null || value === undefined || !set) return value ?? null;
    if (Array.isArray(value)) return value.map((v) => project(v, set));
    if (typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const s of set.selections) {
      if (s.kind !== Kind.FIELD) continue;
      const name = s.name.value;
      const key = s.alias?.value ?? name;
      if (name === '__typename') {
        out[key] = (value as { __typename?: string }).__typename ?? null;
        continue;
      }
      out[key] = project((value as Record<string, unknown>)[name], s.selectionSet);
    }
    return out;
  }

  const argOf = (field: FieldNode, name: string, variables: Record<string, unknown>): unknown => {
    const arg = field.arguments?.find((a) => a.name.value === name);
    return arg ? valueFromASTUntyped(arg.value, variables) : undefined;
  };

  const connection = <T>(items: T[]) => ({ nodes: items, edges: items.map((node) => ({ node })) });

  function orderView(order: SandboxShopifyOrder) {
    return {
      ...order,
      lineItems: connection(order.lineItems),
      returns: connection(state.returns.filter((r) => r.order.id === order.id)),
      refunds: state.refunds.filter((r) => r.orderId === order.id),
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
    };
    state.refunds.push(refund);
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
          return { name: 'hookline sandbox', myshopifyDomain: 'hookline-dev.myshopify.com', currencyCode: 'USD' };
        case 'order': {
          const order = findOrder(argOf(field, 'id', variables));
          return order ? orderView(order) : null;
        }
        case 'return':
          return findReturn(argOf(field, 'id', variables)) ?? null;
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
        data[key] = project(resolve(op, selection, variables, version), selection.selectionSet);
      } catch (err) {
        if (!(err instanceof GraphQLError)) throw err;
        data[key] = null;
        errors.push({ message: err.message, path: [key], extensions: err.extensions });
      }
    }
    return {
      status: 200,
      body: { ...(errors.length > 0 ? { errors } : {}), data, extensions: costExtension(requested, requested) },
      headers,
    };
  }

  return {
    state,
    addOrder,
    addReturn,
    graphql,
    /** Sets the bucket (a test draining it to see THROTTLED). */
    setBucket(b: Partial<Omit<ShopifySandboxState['bucket'], 'at'>>) {
      Object.assign(state.bucket, b, { at: now().getTime() });
    },
    reset() {
      Object.assign(state, fresh());
      idempotency.clear();
      counter = 0;
    },
  };
}
