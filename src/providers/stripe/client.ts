import { AsyncLocalStorage } from 'node:async_hooks';
import Stripe from 'stripe';
import {
  DEFAULT_TIMEOUT_MS,
  parseRetryAfter,
  upstreamFailure,
  type RequestOptions,
  type UpstreamErrorType,
  type UpstreamFailureDetails,
} from '../../clients/http';
import { stripeAmount, stripeMinorUnits } from './map';

/**
 * The Stripe API version every request names (`Stripe-Version`): the one the `stripe` package in
 * package.json (23.1.0) is typed for, so the shapes the compiler checks are the shapes Stripe sends.
 * Raising it is a deliberate change: bump the package, read Stripe's changelog, run the tests.
 */
export const STRIPE_API_VERSION = '2026-10-28.endive' as const satisfies Stripe.LatestApiVersion;

const SYSTEM = 'Stripe';
const DEFAULT_BASE_URL = 'https://api.stripe.com';

export interface StripeClientConfig {
  /** A secret (`sk_…`) or restricted (`rk_…`) key. Never appears in error messages. */
  apiKey: string;
  /** STRIPE_API_BASE_URL: stripe-mock or the sandbox in tests, else Stripe itself. A path prefix is kept. */
  baseUrl?: string;
  /** Per-request deadline covering connect, headers and body. Default 10 000 ms. */
  timeoutMs?: number;
}

/** What a payment's refund is made against: Stripe refunds a payment intent or a charge. */
export type StripePaymentRef = { payment_intent: string } | { charge: string };

/**
 * The Stripe object a hookline payment id names, if it is one of Stripe's: the Stripe provider
 * records a payment intent's id (`pi_…`), or a charge's (`ch_…`, `py_…`) when the charge had no
 * intent (src/providers/stripe/map.ts). Any other id came through another system.
 */
export function stripePaymentRef(paymentId: string): StripePaymentRef | undefined {
  if (/^pi_[A-Za-z0-9]+$/.test(paymentId)) return { payment_intent: paymentId };
  if (/^(ch|py)_[A-Za-z0-9]+$/.test(paymentId)) return { charge: paymentId };
  return undefined;
}

export interface StripeRefundInput {
  payment: StripePaymentRef;
  /** In the major unit, as hookline's events carry it (`10.99`); sent in minor units. */
  amount: number;
  currency: string;
  /** Kept on the refund as metadata, so a person reading Stripe's dashboard sees why. */
  metadata?: Record<string, string>;
}

export interface StripeRefund {
  refundId: string;
  status: string;
  /** Back in the major unit. */
  amount: number;
  currency: string;
}

export interface StripeClient {
  readonly apiVersion: typeof STRIPE_API_VERSION;
  /**
   * `POST /v1/refunds`. The Idempotency-Key is required: Stripe answers a repeat within 24 hours
   * with the first refund; the completed-effects record guards for longer (activities/partners.ts).
   */
  refund(input: StripeRefundInput, idempotencyKey: string, options?: RequestOptions): Promise<StripeRefund>;
  /** `GET /v1/payment_intents/:id`. */
  paymentIntent(id: string, options?: RequestOptions): Promise<Stripe.PaymentIntent>;
  /** `GET /v1/charges/:id`. */
  charge(id: string, options?: RequestOptions): Promise<Stripe.Charge>;
  /**
   * The order a payment was for, from Stripe: the payment intent's metadata under `orderKey`, else
   * the charge's, a charge leading to its payment intent (how a dispute, which names a charge, finds
   * its order). Undefined when neither names one.
   */
  orderOfPayment(ref: StripePaymentRef, orderKey: string, options?: RequestOptions): Promise<string | undefined>;
  /** `GET /v1/account`: whether the key is valid and the pinned version accepted (`npm run providers -- check`). */
  account(options?: RequestOptions): Promise<Stripe.Account>;
  /**
   * One page of `GET /v1/events`, newest first (the reconciler, src/reconcile/): Stripe keeps 30
   * days of events. Each event is the object its webhook delivers, byte for byte the same fields.
   */
  listEvents(params: StripeEventsPage, options?: RequestOptions): Promise<{ data: Stripe.Event[]; has_more: boolean }>;
}

/** What one page of the events list asks for. */
export interface StripeEventsPage {
  types: readonly string[];
  /** Unix seconds, both ends included. */
  created: { gte: number; lte: number };
  /** False: only events Stripe has not (yet) delivered to every endpoint. */
  deliverySuccess?: false;
  /** The last event of the previous page: Stripe's cursor, towards older events. */
  startingAfter?: string;
  limit?: number;
}

/** What one call's fetch saw, for classifying what the `stripe` package then throws. */
interface CallContext {
  signal?: AbortSignal;
  timeout: AbortSignal;
  timeoutMs: number;
  redirect?: { status: number; locationHost?: string };
}

/**
 * A Stripe client on Stripe's official package, keeping what src/clients/http.ts does: errors
 * classified where they arise (429 and 5xx retryable, `Retry-After` as the next retry's delay,
 * `Stripe-Should-Retry` believed when Stripe sends it, other 4xx final), no redirects followed, a
 * deadline per request and the caller's cancellation kept apart from it. The package's own retries
 * are off: Temporal's retry policy is the one that retries.
 */
export function createStripeClient(config: StripeClientConfig): StripeClient {
  const base = new URL(config.baseUrl ?? DEFAULT_BASE_URL);
  const prefix = base.pathname.replace(/\/+$/, '');
  const defaultTimeout = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const calls = new AsyncLocalStorage<CallContext>();
  const key = config.apiKey;
  const redact = (text: string): string => (key.length >= 6 ? text.split(key).join('[redacted]') : text);

  // Every request goes through here: the base URL (with its path prefix) replaces Stripe's host,
  // redirects are returned rather than followed (a 307 would carry the key and the idempotency key
  // to wherever it points), and the call's deadline and cancellation abort it.
  const fetchFn: typeof fetch = async (input, init) => {
    const call = calls.getStore();
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const target = new URL(base.origin + prefix + url.pathname + url.search);
    const signals = [call?.timeout, call?.signal, init?.signal ?? undefined].filter((s): s is AbortSignal => s !== undefined);
    const response = await fetch(target, { ...init, redirect: 'manual', signal: AbortSignal.any(signals) });
    if (call && response.status >= 300 && response.status < 400) {
      const location = response.headers.get('location');
      let locationHost: string | undefined;
      try {
        locationHost = location ? new URL(location, target).host || undefined : undefined;
      } catch {
        locationHost = undefined;
      }
      call.redirect = { status: response.status, ...(locationHost ? { locationHost } : {}) };
    }
    return response;
  };

  const stripe = new Stripe(key, {
    apiVersion: STRIPE_API_VERSION,
    httpClient: Stripe.createFetchHttpClient(fetchFn),
    maxNetworkRetries: 0,
    // Ours (the AbortSignal above, per call) fires first; the package's is only a backstop.
    timeout: 10 * 60_000,
    telemetry: false,
    appInfo: { name: 'hookline' },
  });

  async function run<T>(operation: string, options: RequestOptions, act: () => Promise<T>): Promise<T> {
    const timeoutMs = options.timeoutMs ?? defaultTimeout;
    const call: CallContext = { timeout: AbortSignal.timeout(timeoutMs), timeoutMs, ...(options.signal ? { signal: options.signal } : {}) };
    try {
      return await calls.run(call, act);
    } catch (err) {
      // The caller's cancellation is not Stripe's failure: it ends the activity cancelled.
      if (options.signal?.aborted) throw options.signal.reason ?? err;
      throw classify(operation, call, err);
    }
  }

  function classify(operation: string, call: CallContext, err: unknown): Error {
    const fail = (type: UpstreamErrorType, message: string, extra: Omit<UpstreamFailureDetails, 'system' | 'operation'> = {}) =>
      upstreamFailure({ system: SYSTEM, operation, ...extra }, type, message, {
        redact,
        ...(err instanceof Error ? { cause: err } : {}),
      });
    if (call.redirect) {
      const { status, locationHost } = call.redirect;
      return fail(
        'UpstreamRedirected',
        `${status} ${locationHost ? `to ${locationHost}` : 'without a usable Location'}; ` +
          'redirects are not followed (check STRIPE_API_BASE_URL)',
        { status, ...(locationHost ? { locationHost } : {}) },
      );
    }
    if (call.timeout.aborted) return fail('UpstreamTimeout', `no complete response within ${call.timeoutMs} ms`);
    if (!(err instanceof Stripe.errors.StripeError)) {
      return fail('UpstreamUnavailable', `network error (${err instanceof Error ? err.message : String(err)})`);
    }
    const status = err.statusCode;
    if (status === undefined || err instanceof Stripe.errors.StripeConnectionError) {
      return fail('UpstreamUnavailable', `network error (${err.message})`);
    }
    const body = err.raw;
    const message = `${status} (${err.rawType ?? err.type}${err.code ? ` ${err.code}` : ''}: ${err.message.slice(0, 200)})`;
    const header = (name: string) => err.headers?.[name] ?? err.headers?.[name.toLowerCase()];
    const retryAfterMs = parseRetryAfter(header('retry-after'));
    const retryExtra = { status, body, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    if (status === 429) return fail('UpstreamRateLimited', message, retryExtra);
    if (status === 408) return fail('UpstreamTimeout', message, retryExtra);
    // Stripe says when a request may be retried (a 409 lock conflict may, a 500 for a bad request may not).
    const shouldRetry = header('stripe-should-retry');
    if (shouldRetry === 'true') return fail('UpstreamUnavailable', message, retryExtra);
    if (status >= 500 && shouldRetry !== 'false') return fail('UpstreamUnavailable', message, retryExtra);
    if (status === 404 && operation.startsWith('GET ')) return fail('UpstreamNotFound', message, { status, body });
    return fail('UpstreamRejected', message, { status, body });
  }

  const requireKey = (idempotencyKey: string, operation: string) => {
    if (typeof idempotencyKey !== 'string' || idempotencyKey.trim() === '') {
      throw upstreamFailure({ system: SYSTEM, operation }, 'UpstreamInvalidRequest', 'an Idempotency-Key is required for every write');
    }
  };

  const client: StripeClient = {
    apiVersion: STRIPE_API_VERSION,

    async refund(input, idempotencyKey, options = {}) {
      const operation = 'POST /v1/refunds';
      requireKey(idempotencyKey, operation);
      let amount: number;
      try {
        amount = stripeMinorUnits(input.amount, input.currency);
      } catch (err) {
        throw upstreamFailure({ system: SYSTEM, operation }, 'UpstreamInvalidRequest', err instanceof Error ? err.message : String(err));
      }
      const refund = await run(operation, options, () =>
        stripe.refunds.create(
          { ...input.payment, amount, reason: 'requested_by_customer', ...(input.metadata ? { metadata: input.metadata } : {}) },
          { idempotencyKey },
        ),
      );
      return {
        refundId: refund.id,
        status: refund.status ?? 'pending',
        amount: stripeAmount(refund.amount, refund.currency),
        currency: refund.currency.toUpperCase(),
      };
    },

    paymentIntent: (id, options = {}) =>
      run(`GET /v1/payment_intents/${id}`, options, async () => stripe.paymentIntents.retrieve(id) as Promise<Stripe.PaymentIntent>),

    charge: (id, options = {}) => run(`GET /v1/charges/${id}`, options, async () => stripe.charges.retrieve(id) as Promise<Stripe.Charge>),

    async orderOfPayment(ref, orderKey, options = {}) {
      const named = (metadata: Stripe.Metadata | null | undefined) => metadata?.[orderKey]?.trim() || undefined;
      let intentId: string | undefined;
      if ('charge' in ref) {
        const charge = await client.charge(ref.charge, options);
        const fromCharge = named(charge.metadata);
        if (fromCharge) return fromCharge;
        intentId =
          charge.payment_intent === null
            ? undefined
            : typeof charge.payment_intent === 'string'
              ? charge.payment_intent
              : charge.payment_intent.id;
      } else {
        intentId = ref.payment_intent;
      }
      if (intentId === undefined) return undefined;
      return named((await client.paymentIntent(intentId, options)).metadata);
    },

    account: (options = {}) => run('GET /v1/account', options, async () => stripe.accounts.retrieveCurrent() as Promise<Stripe.Account>),

    listEvents: (params, options = {}) =>
      run('GET /v1/events', options, async () => {
        const page = await stripe.events.list({
          types: [...params.types],
          created: params.created,
          limit: params.limit ?? 100,
          ...(params.deliverySuccess === false ? { delivery_success: false } : {}),
          ...(params.startingAfter ? { starting_after: params.startingAfter } : {}),
        });
        return { data: page.data, has_more: page.has_more };
      }),
  };
  return client;
}
