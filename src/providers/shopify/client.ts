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

const OrderData = z.object({
  order: z
    .object({
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
        nodes: z.array(z.object({ id: z.string(), sku: z.string().nullable(), quantity: z.number(), title: z.string() })),
      }),
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
    })
    .nullable(),
});

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
const ShopData = z.object({ shop: z.object({ name: z.string(), myshopifyDomain: z.string() }) });

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
  items: { productId: string; quantity: number; title: string }[];
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
  /** `shop { name myshopifyDomain }`: whether the token is valid and the pinned version accepted (`npm run providers -- check`). */
  shop(options?: RequestOptions): Promise<{ name: string; domain: string }>;
  /** The order with its fulfillments and tracking, returns and payments; undefined when Shopify has none by that id. */
  order(orderId: string, options?: RequestOptions): Promise<ShopifyOrder | undefined>;
  /**
   * `refundCreate … @idempotent(key:)` against one of the order's payments (read it with `order`): Shopify answers a repeat of the
   * key with the first refund; the completed-effects record guards beyond Shopify's memory of it.
   */
  refund(
    input: ShopifyRefundInput,
    idempotencyKey: string,
    options?: RequestOptions,
  ): Promise<{ refundId: string; amount: string; currency: string }>;
  /** `returnApproveRequest`: the store shows the return approved (OPEN). One already approved counts as done. */
  approveReturn(returnId: string, options?: RequestOptions): Promise<{ status: string }>;
  /** `returnDeclineRequest`: the store shows the return declined, with the person's note. One already declined counts as done. */
  declineReturn(returnId: string, note: string, options?: RequestOptions): Promise<{ status: string }>;
}

/** A gid for an id hookline holds as digits (or already as a gid). */
export const shopifyGid = (resource: string, id: string): string => (id.startsWith('gid://') ? id : `gid://shopify/${resource}/${id}`);
const digitsOf = (gid: string): string => gid.slice(gid.lastIndexOf('/') + 1);

const ORDER_QUERY = `#graphql
query HooklineOrder($id: ID!) {
  order(id: $id) {
    id name createdAt processedAt test displayFinancialStatus displayFulfillmentStatus
    customer { id email }
    shippingAddress { name address1 address2 city provinceCode zip countryCodeV2 phone }
    totalPriceSet { shopMoney { amount currencyCode } }
    lineItems(first: 50) { nodes { id sku quantity title } }
    fulfillments(first: 20) { id status displayStatus deliveredAt trackingInfo(first: 5) { company number url } }
    returns(first: 20) { nodes { id name status } }
    transactions(first: 20) { id kind status gateway test amountSet { shopMoney { amount currencyCode } } }
  }
}`;

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

const RETURN_QUERY = `#graphql
query HooklineReturn($id: ID!) { return(id: $id) { id status } }`;

const SHOP_QUERY = `#graphql
query HooklineShop { shop { name myshopifyDomain } }`;

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
      return { name: shop.name, domain: shop.myshopifyDomain };
    },

    async order(orderId, options = {}) {
      const { order } = await run('query order', ORDER_QUERY, { id: shopifyGid('Order', orderId) }, OrderData, options);
      if (!order) return undefined;
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
        ...(address ? { shippingAddress: address } : {}),
        total: { amount: order.totalPriceSet.shopMoney.amount, currency: order.totalPriceSet.shopMoney.currencyCode },
        items: order.lineItems.nodes.map((l) => ({ productId: l.sku ?? digitsOf(l.id), quantity: l.quantity, title: l.title })),
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
  };
  return client;
}
