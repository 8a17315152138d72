import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';

/**
 * The `type` of every {@link ApplicationFailure} an upstream client throws. Retry policies can
 * name them in `nonRetryableErrorTypes`; workflows can branch on them after an `ActivityFailure`.
 */
export const UpstreamErrorType = {
  /** 5xx, a refused or reset connection: retryable. */
  Unavailable: 'UpstreamUnavailable',
  /** 429: retryable, after `Retry-After` when the upstream sent one. */
  RateLimited: 'UpstreamRateLimited',
  /** No complete answer within `timeoutMs` (or a 408): retryable. */
  Timeout: 'UpstreamTimeout',
  /** Any other 4xx: retrying the same request cannot succeed. Non-retryable. */
  Rejected: 'UpstreamRejected',
  /** 404 on a lookup (GET): the thing does not exist. Non-retryable. */
  NotFound: 'UpstreamNotFound',
  /** A 2xx whose body is not JSON or not the documented shape. Non-retryable. */
  InvalidResponse: 'UpstreamInvalidResponse',
  /** The caller passed something the client refuses to send (e.g. an empty idempotency key). */
  InvalidRequest: 'UpstreamInvalidRequest',
  /**
   * A 3xx. Redirects are never followed (a 307 would carry the body, token and idempotency key
   * to wherever it points), so this is a misconfigured base URL: non-retryable.
   */
  Redirected: 'UpstreamRedirected',
} as const;
export type UpstreamErrorType = (typeof UpstreamErrorType)[keyof typeof UpstreamErrorType];

/** What a failure's first `details` entry carries when an upstream answered with a status. */
export interface UpstreamFailureDetails {
  system: string;
  operation: string;
  status?: number;
  body?: unknown;
  retryAfterMs?: number;
  /** For a redirect: the host its `Location` points at (never the path or query, which may carry tokens). */
  locationHost?: string;
}

/** Where a client talks to and how. One per outside system. */
export interface ClientConfig {
  /** Absolute base URL, e.g. `http://127.0.0.1:4010/crm`. A trailing slash is ignored. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>`. Never appears in error messages. */
  token?: string;
  /**
   * Sent as `Authorization: Basic …` instead of a bearer token (Zendesk's `email/token:api_token`).
   * The password never appears in error messages.
   */
  basicAuth?: { username: string; password: string };
  /** Per-request deadline covering connect, headers and body. Default 10 000 ms. */
  timeoutMs?: number;
}

/** Per-call options every client method accepts. */
export interface RequestOptions {
  /** Aborts the request; activities pass `Context.current().cancellationSignal`. */
  signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this call. */
  timeoutMs?: number;
}

/** Options for writes: the idempotency key is not optional. */
export interface WriteOptions extends RequestOptions {
  idempotencyKey: string;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_BODY_IN_DETAILS = 2_000;

/**
 * `Retry-After` as milliseconds: either delta-seconds or an HTTP date. `undefined` when absent,
 * unparseable or already in the past, so the retry policy's own backoff applies.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value == null) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  const delta = at - now;
  return delta > 0 ? delta : undefined;
}

/** True for an {@link ApplicationFailure} thrown by one of these clients, optionally of one type. */
export function isUpstreamFailure(err: unknown, type?: UpstreamErrorType): err is ApplicationFailure {
  if (!(err instanceof ApplicationFailure)) return false;
  const known = Object.values(UpstreamErrorType) as string[];
  return type === undefined ? known.includes(err.type ?? '') : err.type === type;
}

/** Whether a failure of this type may succeed when tried again. */
export function isRetryableUpstreamType(type: UpstreamErrorType): boolean {
  return type === 'UpstreamUnavailable' || type === 'UpstreamRateLimited' || type === 'UpstreamTimeout';
}

/**
 * The {@link ApplicationFailure} for one classified upstream failure, as every client throws it:
 * `"<system> <operation>: <message>"`, retryable by type, `Retry-After` as `nextRetryDelay`, the
 * details' body passed through `redact` (a provider's official package classifies with this too).
 */
export function upstreamFailure(
  details: UpstreamFailureDetails,
  type: UpstreamErrorType,
  message: string,
  options: { redact?: (text: string) => string; cause?: Error } = {},
): ApplicationFailure {
  const redact = options.redact ?? ((text: string) => text);
  const shown: UpstreamFailureDetails = { ...details };
  if (shown.body !== undefined) shown.body = redactDeep(shown.body, redact);
  return ApplicationFailure.create({
    type,
    message: redact(`${details.system} ${details.operation}: ${message}`),
    nonRetryable: !isRetryableUpstreamType(type),
    details: [shown],
    ...(details.retryAfterMs !== undefined ? { nextRetryDelay: details.retryAfterMs } : {}),
    ...(options.cause ? { cause: options.cause } : {}),
  });
}

/** The JSON client each system-specific client is built on. */
export interface HttpClient {
  readonly system: string;
  get<S extends z.ZodType>(path: string, schema: S, options?: RequestOptions): Promise<z.output<S>>;
  post<S extends z.ZodType>(path: string, body: unknown, schema: S, options: WriteOptions): Promise<z.output<S>>;
  put<S extends z.ZodType>(path: string, body: unknown, schema: S, options: WriteOptions): Promise<z.output<S>>;
}

/**
 * A JSON-over-HTTP client for one outside system (`system` names it in every error message).
 * Errors are classified here, where the status is known, into retryable and non-retryable
 * {@link ApplicationFailure}s; see {@link UpstreamErrorType}.
 */
export function createHttpClient(system: string, config: ClientConfig): HttpClient {
  const baseUrl = config.baseUrl.replace(/\/+$/, '');
  const token = config.token && config.token.length > 0 ? config.token : config.basicAuth?.password || undefined;
  const authorization = config.basicAuth
    ? `Basic ${Buffer.from(`${config.basicAuth.username}:${config.basicAuth.password}`).toString('base64')}`
    : token
      ? `Bearer ${token}`
      : undefined;
  const defaultTimeout = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  // Defence in depth: nothing we build includes the token, but an upstream might echo it back.
  // (Skipped for absurdly short tokens, which would shred ordinary words.)
  const redact = (text: string): string => (token && token.length >= 6 ? text.split(token).join('[redacted]') : text);

  async function request<S extends z.ZodType>(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    body: unknown,
    schema: S,
    options: RequestOptions & { idempotencyKey?: string },
  ): Promise<z.output<S>> {
    const operation = `${method} ${path}`;
    const fail = (
      type: UpstreamErrorType,
      message: string,
      extra: Omit<UpstreamFailureDetails, 'system' | 'operation'> = {},
      cause?: Error,
    ): ApplicationFailure => upstreamFailure({ system, operation, ...extra }, type, message, { redact, cause });

    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'hookline' };
    if (authorization) headers.Authorization = authorization;
    if (method !== 'GET') {
      const key = options.idempotencyKey;
      if (typeof key !== 'string' || key.trim() === '') {
        throw fail('UpstreamInvalidRequest', 'an Idempotency-Key is required for every write');
      }
      headers['Idempotency-Key'] = key;
      headers['Content-Type'] = 'application/json';
    }

    const timeoutMs = options.timeoutMs ?? defaultTimeout;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;

    let response: Response;
    let text: string;
    try {
      response = await fetch(baseUrl + path, {
        method,
        headers,
        body: method === 'GET' ? undefined : JSON.stringify(body),
        signal,
        // Followed, a redirect would resend the body, the bearer token and the Idempotency-Key to
        // a host nobody configured; a 3xx is classified below instead.
        redirect: 'manual',
      });
      // Reading the body is still covered by the same signal, so a stalled body times out too.
      text = await response.text();
    } catch (err) {
      // The caller's cancellation is not an upstream failure: let it propagate as-is so an
      // activity ends cancelled rather than retried.
      if (options.signal?.aborted) throw options.signal.reason ?? err;
      if (timeout.aborted) {
        throw fail('UpstreamTimeout', `no complete response within ${timeoutMs} ms`);
      }
      const cause = err instanceof Error ? err : undefined;
      throw fail('UpstreamUnavailable', `network error (${describeNetworkError(err)})`, {}, cause);
    }

    const { status } = response;
    const statusLine = `${status}${response.statusText ? ` ${response.statusText}` : ''}`;

    if (status >= 300 && status < 400) {
      const locationHost = hostOf(response.headers.get('location'), baseUrl + path);
      // No body in the details: a redirect page usually repeats the full target URL.
      throw fail(
        'UpstreamRedirected',
        `${statusLine} ${locationHost ? `to ${locationHost}` : 'without a usable Location'}; ` +
          'redirects are not followed (check the base URL)',
        { status, ...(locationHost ? { locationHost } : {}) },
      );
    }

    const parsedBody = parseMaybeJson(text);

    if (status >= 200 && status < 300) {
      if (parsedBody.kind !== 'json') {
        throw fail('UpstreamInvalidResponse', `${statusLine} with a body that is not JSON`, {
          status,
          body: truncate(text),
        });
      }
      const result = schema.safeParse(parsedBody.value);
      if (!result.success) {
        const issues = result.error.issues
          .slice(0, 5)
          .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
          .join('; ');
        throw fail('UpstreamInvalidResponse', `${statusLine} with an unexpected body (${issues})`, {
          status,
          body: parsedBody.value,
        });
      }
      return result.data;
    }

    const bodyForDetails = parsedBody.kind === 'json' ? parsedBody.value : truncate(text);
    const upstreamMessage = extractErrorMessage(parsedBody.kind === 'json' ? parsedBody.value : undefined);
    const message = upstreamMessage ? `${statusLine} (${upstreamMessage})` : statusLine;
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    const retryExtra = { status, body: bodyForDetails, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };

    if (status === 429) throw fail('UpstreamRateLimited', message, retryExtra);
    if (status === 408) throw fail('UpstreamTimeout', message, retryExtra);
    if (status >= 500) throw fail('UpstreamUnavailable', message, retryExtra);
    if (status === 404 && method === 'GET') throw fail('UpstreamNotFound', message, { status, body: bodyForDetails });
    // 4xx, and the odd 1xx: the same request will fail the same way.
    throw fail('UpstreamRejected', message, { status, body: bodyForDetails });
  }

  return {
    system,
    get: (path, schema, options = {}) => request('GET', path, undefined, schema, options),
    post: (path, body, schema, options) => request('POST', path, body, schema, options),
    put: (path, body, schema, options) => request('PUT', path, body, schema, options),
  };
}

/** The host (and port) a `Location` header points at, relative ones resolved against the request; undefined when unparseable. */
function hostOf(location: string | null, requestUrl: string): string | undefined {
  if (location === null || location.trim() === '') return undefined;
  try {
    return new URL(location, requestUrl).host || undefined;
  } catch {
    return undefined;
  }
}

/** Encode one path segment (ids come from webhooks; never trust them to be URL-safe). */
export const seg = (value: string): string => encodeURIComponent(value);

function parseMaybeJson(text: string): { kind: 'json'; value: unknown } | { kind: 'text' } {
  if (text.trim() === '') return { kind: 'text' };
  try {
    return { kind: 'json', value: JSON.parse(text) as unknown };
  } catch {
    return { kind: 'text' };
  }
}

function truncate(text: string): string {
  return text.length > MAX_BODY_IN_DETAILS ? `${text.slice(0, MAX_BODY_IN_DETAILS)}…` : text;
}

/** The human part of common error bodies: `{error:{message}}`, `{error:"..."}`, `{message}`, RFC 9457 `{detail}`/`{title}`. */
function extractErrorMessage(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  const error = record.error;
  const candidates = [
    typeof error === 'object' && error !== null ? (error as Record<string, unknown>).message : undefined,
    error,
    record.message,
    record.detail,
    record.title,
  ];
  const found = candidates.find((c): c is string => typeof c === 'string' && c.trim() !== '');
  return found === undefined ? undefined : found.length > 200 ? `${found.slice(0, 200)}…` : found;
}

function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${cause.message}` : cause.message;
  }
  return err.message;
}

function redactDeep(value: unknown, redact: (s: string) => string): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, redact));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, redact)]));
  }
  return value;
}
