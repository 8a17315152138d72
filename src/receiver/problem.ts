import type { Response } from 'express';

/**
 * Every error the receiver returns has this RFC 9457 shape. `retryable` tells a sender (or a
 * person reading the delivery log) whether sending the same request again can succeed.
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  retryable: boolean;
  [extension: string]: unknown;
}

export const PROBLEMS = {
  'unknown-source': { status: 404, title: 'Unknown webhook source', retryable: false },
  'forbidden-address': { status: 403, title: 'Address not allowed for this source', retryable: false },
  'rate-limited': { status: 429, title: 'Too many requests for this source', retryable: true },
  'body-too-large': { status: 413, title: 'Request body too large', retryable: false },
  'unsupported-media-type': { status: 415, title: 'Webhook body must be JSON', retryable: false },
  'invalid-signature': { status: 401, title: 'Webhook signature could not be verified', retryable: false },
  unauthorized: { status: 401, title: 'Operator token required', retryable: false },
  forbidden: { status: 403, title: 'Not allowed for this operator', retryable: false },
  'auth-throttled': { status: 429, title: 'Too many wrong credentials', retryable: true },
  'metrics-unauthorized': { status: 401, title: 'Metrics token required', retryable: false },
  'not-found': { status: 404, title: 'Not found', retryable: false },
  'bad-request': { status: 400, title: 'Bad request', retryable: false },
  'request-timeout': { status: 408, title: 'Request not received in time', retryable: true },
  'headers-too-large': { status: 431, title: 'Request headers too large', retryable: false },
  conflict: { status: 409, title: 'Conflict', retryable: false },
  'temporal-unavailable': { status: 503, title: 'Event store unavailable', retryable: true },
  'quarantine-full': { status: 503, title: 'Too many events from this source in quarantine', retryable: true },
  internal: { status: 500, title: 'Internal error', retryable: true },
} as const satisfies Record<string, { status: number; title: string; retryable: boolean }>;

export type ProblemType = keyof typeof PROBLEMS;

const TYPE_PREFIX = 'urn:hookline:problem:';

export function problem(type: ProblemType, detail: string, extensions: Record<string, unknown> = {}): Problem {
  const { status, title, retryable } = PROBLEMS[type];
  return { type: `${TYPE_PREFIX}${type}`, title, status, detail, retryable, ...extensions };
}

/** The short name of a problem's type, e.g. `invalid-signature` (a metrics label). */
export function problemName(p: Problem): string {
  return p.type.startsWith(TYPE_PREFIX) ? p.type.slice(TYPE_PREFIX.length) : p.type;
}

/** An error that already knows its HTTP answer; thrown from anywhere below a route. */
export class HttpProblem extends Error {
  constructor(
    readonly problem: Problem,
    readonly headers: Record<string, string> = {},
  ) {
    super(problem.detail);
  }
}

/**
 * An Express or body-parser refusal of the request itself: an http-error with a 4xx `status`. Its
 * own (too large, aborted, a lying length, bad JSON, a path whose %-escapes do not decode) carry a
 * `type`; the decompression error of a body that is not the encoding it claims is a bare 400.
 */
export function isClientHttpError(err: unknown): err is { status: number } {
  const status = typeof err === 'object' && err !== null ? (err as { status?: unknown }).status : undefined;
  return typeof status === 'number' && status >= 400 && status < 500;
}

export function sendProblem(res: Response, p: Problem, headers: Record<string, string> = {}): void {
  res.status(p.status).set(headers).type('application/problem+json').send(JSON.stringify(p));
}
