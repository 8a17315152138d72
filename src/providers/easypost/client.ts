import { AsyncLocalStorage } from 'node:async_hooks';
import EasyPostClient from '@easypost/api';
import type { IAddressCreateParameters, IShipment, ITracker } from '@easypost/api';
import {
  DEFAULT_TIMEOUT_MS,
  parseRetryAfter,
  upstreamFailure,
  type RequestOptions,
  type UpstreamErrorType,
  type UpstreamFailureDetails,
} from '../../clients/http';

/**
 * EasyPost's API version is in its path: every call goes to `/v2/`, the only version EasyPost
 * serves, through `@easypost/api` 8.9.0 (package.json), whose types the shapes here are checked against.
 */
export const EASYPOST_API_VERSION = 'v2' as const;
const SYSTEM = 'EasyPost';
const DEFAULT_BASE_URL = 'https://api.easypost.com/v2';

export interface EasyPostClientConfig {
  /** A production or test key (`EZAK…` / `EZTK…`); sent as Basic auth. Never in error messages. */
  apiKey: string;
  /** EASYPOST_API_BASE_URL, up to and including `/v2` (the sandbox: `<url>/easypost/v2`). */
  baseUrl?: string;
  /** Per-request deadline. Default 10 000 ms. */
  timeoutMs?: number;
}

/** An address as EasyPost takes it inline. */
export type EasyPostAddress = Pick<IAddressCreateParameters, 'street1' | 'city' | 'zip' | 'country'> &
  Partial<Pick<IAddressCreateParameters, 'street2' | 'state' | 'name' | 'company' | 'phone' | 'email'>>;

export interface ReturnShipmentInput {
  /** Where the parcel comes from: the customer. */
  customer: EasyPostAddress;
  /** Where it goes: the shop's return address, an EasyPost address id (`adr_…`). */
  returnAddressId: string;
  /** Ounces, as EasyPost's parcels weigh. */
  weightOz: number;
  /** Shown in EasyPost's dashboard: the return's id. */
  reference: string;
}

export interface BoughtLabel {
  shipmentId: string;
  trackingCode: string;
  labelUrl: string;
  carrier: string;
}

export interface EasyPostClient {
  readonly apiVersion: typeof EASYPOST_API_VERSION;
  /**
   * `POST /v2/shipments` with `is_return: true`: EasyPost swaps the addresses, so the label takes
   * the parcel from the customer to the shop. Nothing is bought yet: the caller records the id and
   * buys by it, so a repeat never buys a second label.
   */
  createReturnShipment(input: ReturnShipmentInput, options?: RequestOptions): Promise<{ shipmentId: string }>;
  /**
   * Buys the shipment's cheapest rate (`POST /v2/shipments/:id/buy`) unless it already has a label:
   * EasyPost takes no idempotency key, so the shipment itself is asked first, and a label bought by
   * an attempt whose answer was lost is returned instead of buying again.
   */
  buyShipment(shipmentId: string, options?: RequestOptions): Promise<BoughtLabel>;
  /**
   * `POST /v2/shipments/:id/refund`: voids the label. A label already voided (refund submitted or
   * made) counts as done: a compensation may run twice.
   */
  refundShipment(shipmentId: string, options?: RequestOptions): Promise<{ refundStatus: string }>;
  /** `POST /v2/trackers`: EasyPost then sends `tracker.updated` events for the parcel. */
  createTracker(input: { trackingCode: string; carrier: string }, options?: RequestOptions): Promise<{ trackerId: string }>;
  /** `GET /v2/users`: whether the key is valid (`npm run providers -- check`). */
  me(options?: RequestOptions): Promise<{ id: string; name?: string }>;
  /**
   * One page of `GET /v2/events`, newest first (the reconciler, src/reconcile/): each Event as its
   * webhook delivers it, `result` included. Paged with `before_id`, bounded by `start_datetime` and
   * `end_datetime`, at most 100 a page.
   */
  listEvents(params: EasyPostEventsPage, options?: RequestOptions): Promise<{ events: unknown[]; has_more: boolean }>;
  /**
   * `GET /v2/events/:id/payloads`: one Payload per attempt to deliver the Event to a webhook, each
   * with the exact body POSTed (`request_body`, a string). None for an Event not attempted yet.
   */
  listEventPayloads(eventId: string, options?: RequestOptions): Promise<EasyPostEventPayload[]>;
}

/** What the reconciler reads of a Payload (docs.easypost.com/docs/events/payloads). */
export interface EasyPostEventPayload {
  id: string;
  request_url?: string;
  request_body?: string;
  response_code?: number;
  created_at: string;
}

/** What one page of the events list asks for. */
export interface EasyPostEventsPage {
  /** ISO-8601, both ends. */
  startDatetime: string;
  endDatetime: string;
  /** The last event of the previous page. */
  beforeId?: string;
  pageSize?: number;
}

interface CallContext {
  signal?: AbortSignal;
  timeoutMs: number;
  /** Undone when the call ends: a long-lived activity signal must not keep every request it ever aborted. */
  cleanups: (() => void)[];
  response?: { status: number; headers: Record<string, string>; body: unknown };
}

/** A status-less error from superagent: its `code` says what happened on the wire. */
const isTimeout = (err: unknown) => {
  const e = err as { timeout?: unknown; code?: unknown };
  return typeof e?.timeout === 'number' || e?.code === 'ECONNABORTED' || e?.code === 'ETIMEDOUT';
};

/**
 * An EasyPost client on EasyPost's official package, keeping what src/clients/http.ts does: errors
 * classified where they arise (from the status and headers EasyPost answered, whatever the package
 * made of them), `Retry-After` honoured, no redirects followed, a deadline per request, and the
 * caller's cancellation aborting the request without being taken for EasyPost's failure.
 */
export function createEasyPostClient(config: EasyPostClientConfig): EasyPostClient {
  const key = config.apiKey;
  const defaultTimeout = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const calls = new AsyncLocalStorage<CallContext>();
  const redact = (text: string): string => (key.length >= 6 ? text.split(key).join('[redacted]') : text);

  type Request = {
    redirects(n: number): Request;
    timeout(ms: { response: number; deadline: number }): Request;
    abort(): void;
    on(event: 'response', fn: (res: { status: number; headers: Record<string, string>; body: unknown }) => void): Request;
  };
  const easypost = new EasyPostClient(key, {
    baseUrl: `${(config.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '')}/`,
    timeout: defaultTimeout,
    // The package builds each request with superagent, which follows redirects and waits a minute
    // by default: here a redirect is an answer (classified below), the deadline is ours, and the
    // caller's cancellation aborts the request.
    requestMiddleware: (request: Request) => {
      const call = calls.getStore();
      request.redirects(0);
      const timeoutMs = call?.timeoutMs ?? defaultTimeout;
      request.timeout({ response: timeoutMs, deadline: timeoutMs });
      if (call) {
        request.on('response', (res) => {
          call.response = { status: res.status, headers: res.headers, body: res.body };
        });
        const signal = call.signal;
        if (signal) {
          // superagent rethrows its own 'Aborted' from inside abort(); the caller hears of the
          // cancellation from the rejected request instead.
          const abort = () => {
            try {
              request.abort();
            } catch {
              // Already reported through the request's promise.
            }
          };
          if (signal.aborted) abort();
          else {
            signal.addEventListener('abort', abort, { once: true });
            call.cleanups.push(() => signal.removeEventListener('abort', abort));
          }
        }
      }
      return request;
    },
  });

  async function run<T>(operation: string, options: RequestOptions, act: () => Promise<T>): Promise<T> {
    const call: CallContext = {
      timeoutMs: options.timeoutMs ?? defaultTimeout,
      cleanups: [],
      ...(options.signal ? { signal: options.signal } : {}),
    };
    try {
      return await calls.run(call, act);
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason ?? err;
      throw classify(operation, call, err);
    } finally {
      for (const cleanup of call.cleanups) cleanup();
    }
  }

  function classify(operation: string, call: CallContext, err: unknown): Error {
    const fail = (type: UpstreamErrorType, message: string, extra: Omit<UpstreamFailureDetails, 'system' | 'operation'> = {}) =>
      upstreamFailure({ system: SYSTEM, operation, ...extra }, type, message, {
        redact,
        ...(err instanceof Error ? { cause: err } : {}),
      });
    const response = call.response;
    if (!response) {
      if (isTimeout(err)) return fail('UpstreamTimeout', `no complete response within ${call.timeoutMs} ms`);
      const code = (err as { code?: unknown })?.code;
      return fail('UpstreamUnavailable', `network error (${typeof code === 'string' ? `${code}: ` : ''}${(err as Error)?.message ?? err})`);
    }
    const { status, headers, body } = response;
    if (status >= 200 && status < 300) {
      return fail('UpstreamInvalidResponse', `${status} with a body the package could not read (${(err as Error)?.message ?? err})`, {
        status,
      });
    }
    if (status >= 300 && status < 400) {
      let locationHost: string | undefined;
      try {
        locationHost = headers.location ? new URL(headers.location).host || undefined : undefined;
      } catch {
        locationHost = undefined;
      }
      return fail(
        'UpstreamRedirected',
        `${status} ${locationHost ? `to ${locationHost}` : 'without a usable Location'}; ` +
          'redirects are not followed (check EASYPOST_API_BASE_URL)',
        { status, ...(locationHost ? { locationHost } : {}) },
      );
    }
    const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const said = [error?.code, error?.message].filter((part): part is string => typeof part === 'string').join(': ');
    const message = said ? `${status} (${said.slice(0, 200)})` : String(status);
    const retryAfterMs = parseRetryAfter(headers['retry-after']);
    const retryExtra = { status, body, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    if (status === 429) return fail('UpstreamRateLimited', message, retryExtra);
    if (status === 408) return fail('UpstreamTimeout', message, retryExtra);
    if (status >= 500) return fail('UpstreamUnavailable', message, retryExtra);
    if (status === 404 && operation.startsWith('GET ')) return fail('UpstreamNotFound', message, { status, body });
    return fail('UpstreamRejected', message, { status, body });
  }

  const labelOf = (shipment: IShipment): BoughtLabel | undefined =>
    shipment.postage_label?.label_url
      ? {
          shipmentId: shipment.id,
          trackingCode: shipment.tracking_code,
          labelUrl: shipment.postage_label.label_url,
          carrier: shipment.selected_rate?.carrier ?? 'unknown',
        }
      : undefined;

  return {
    apiVersion: EASYPOST_API_VERSION,

    async createReturnShipment(input, options = {}) {
      const shipment = await run('POST /v2/shipments', options, () =>
        easypost.Shipment.create({
          is_return: true,
          // Swapped by EasyPost for a return: the label runs from `to_address` back to `from_address`.
          to_address: input.customer,
          from_address: { id: input.returnAddressId },
          parcel: { weight: input.weightOz },
          reference: input.reference,
        }),
      );
      return { shipmentId: shipment.id };
    },

    async buyShipment(shipmentId, options = {}) {
      const current = await run(`GET /v2/shipments/${shipmentId}`, options, () => easypost.Shipment.retrieve(shipmentId));
      const already = labelOf(current);
      if (already) return already;
      const operation = `POST /v2/shipments/${shipmentId}/buy`;
      const rates = current.rates ?? [];
      if (rates.length === 0) throw upstreamFailure({ system: SYSTEM, operation }, 'UpstreamRejected', 'the shipment has no rates to buy');
      const cheapest = rates.reduce((low, rate) => (Number(rate.rate) < Number(low.rate) ? rate : low), rates[0]!);
      const bought = await run(operation, options, () => easypost.Shipment.buy(shipmentId, cheapest.id));
      const label = labelOf(bought);
      if (!label) throw upstreamFailure({ system: SYSTEM, operation }, 'UpstreamInvalidResponse', 'bought, but the answer has no label');
      return label;
    },

    async refundShipment(shipmentId, options = {}) {
      const current = await run(`GET /v2/shipments/${shipmentId}`, options, () => easypost.Shipment.retrieve(shipmentId));
      if (current.refund_status === 'submitted' || current.refund_status === 'refunded') return { refundStatus: current.refund_status };
      const refunded = await run(`POST /v2/shipments/${shipmentId}/refund`, options, () => easypost.Shipment.refund(shipmentId));
      return { refundStatus: refunded.refund_status ?? 'submitted' };
    },

    async createTracker(input, options = {}) {
      const tracker: ITracker = await run('POST /v2/trackers', options, () =>
        easypost.Tracker.create({ tracking_code: input.trackingCode, carrier: input.carrier }),
      );
      return { trackerId: tracker.id };
    },

    async me(options = {}) {
      const user = await run('GET /v2/users', options, () => easypost.User.retrieveMe());
      return { id: user.id, ...(user.name ? { name: user.name } : {}) };
    },

    async listEvents(params, options = {}) {
      const page = (await run('GET /v2/events', options, () =>
        easypost.Event.all({
          start_datetime: params.startDatetime,
          end_datetime: params.endDatetime,
          page_size: params.pageSize ?? 100,
          ...(params.beforeId ? { before_id: params.beforeId } : {}),
        }),
      )) as { events: unknown[]; has_more: boolean };
      return { events: page.events, has_more: page.has_more };
    },

    async listEventPayloads(eventId, options = {}) {
      // The package's EventService has `retrieveAllPayloads` (src/services/event_service.js, the
      // response's `payloads`), which its type declarations of 8.9.0 leave out.
      const events = easypost.Event as unknown as { retrieveAllPayloads(id: string): Promise<unknown> };
      const payloads = (await run('GET /v2/events/:id/payloads', options, () => events.retrieveAllPayloads(eventId))) as
        EasyPostEventPayload[] | undefined;
      return [...(payloads ?? [])];
    },
  };
}
