import express, { type Request, type Response, type Router } from 'express';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { INTAKE_OUTCOMES, type IntakeOutcome } from './acknowledgement';
import { bearerMatches } from './bearer';
import type { QuarantineCode } from './classify';
import { problem, problemName, sendProblem, type Problem } from './problem';

/**
 * How a webhook request ended; `queued` is accepted into the spool while Temporal did not answer,
 * `refused` is every problem answer (4xx and 5xx).
 */
const OUTCOMES = [...INTAKE_OUTCOMES, 'refused'] as const;
export type WebhookOutcome = (typeof OUTCOMES)[number];

/**
 * The label a path segment that names no configured source gets. Source names start with a
 * letter, so this can never be one: anyone can POST to /webhooks/<anything>, and a label per
 * made-up name would let them grow the scrape without bound.
 */
const UNKNOWN_SOURCE = '_unknown';

/** From the sender's first byte to the answer: 1 ms up to the 5 s start timeout and a bit past it. */
const ACK_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface ReceiverMetrics {
  readonly registry: Registry;
  /** A webhook answered 2xx. Cheap, as is observeRefusal: a few in-memory increments. */
  observeAnswer(o: { source: string; outcome: IntakeOutcome; seconds: number; quarantine?: QuarantineCode }): void;
  /** A genuine delivery of a type hookline does not act on: `type` is already bounded (ignoredTypeLabel). */
  observeIgnored(o: { provider: string; type: string }): void;
  /** A webhook answered with a problem document; `seconds` is undefined when the start is unknown. */
  observeRefusal(o: { source: string; problem: Problem; seconds?: number }): void;
  /** An operator credential that did not check out (or an address made to wait after too many). */
  observeAuthFailure(o: { via: AuthVia; reason: AuthFailureReason }): void;
}

/** How an operator presented a credential, and why it failed: closed sets, so the labels stay bounded. */
export type AuthVia = 'bearer' | 'login';
export type AuthFailureReason = 'malformed' | 'unknown-token' | 'throttled';

/**
 * The receiver's Prometheus metrics, on a registry of its own (never prom-client's global one),
 * so several apps in one process — the tests — each count only their own requests.
 */
export function createReceiverMetrics(options: { sources: Iterable<string>; processMetrics?: boolean }): ReceiverMetrics {
  const registry = new Registry();
  const known = new Set(options.sources);
  const registers = [registry];

  const requests = new Counter({
    name: 'hookline_webhook_requests_total',
    help: 'Webhook requests by source and outcome (accepted, rerun, queued, duplicate, closed, quarantined, ignored, refused).',
    labelNames: ['source', 'outcome'] as const,
    registers,
  });
  const refusals = new Counter({
    name: 'hookline_webhook_refusals_total',
    help: 'Refused webhook requests by source and RFC 9457 problem type (invalid-signature, rate-limited, temporal-unavailable, ...).',
    labelNames: ['source', 'problem'] as const,
    registers,
  });
  const signatureFailures = new Counter({
    name: 'hookline_webhook_signature_failures_total',
    help: 'Webhook requests whose signature could not be verified, by source and reason.',
    labelNames: ['source', 'reason'] as const,
    registers,
  });
  const quarantined = new Counter({
    name: 'hookline_webhook_quarantined_total',
    help: 'Genuine (signed) events kept in quarantine, by source and reason.',
    labelNames: ['source', 'reason'] as const,
    registers,
  });
  const ignored = new Counter({
    name: 'hookline_webhook_ignored_total',
    help: 'Signed deliveries of types hookline does not act on, by provider and type (other: not a type the provider is known to send).',
    labelNames: ['provider', 'type'] as const,
    registers,
  });
  const ack = new Histogram({
    name: 'hookline_webhook_ack_seconds',
    help: 'Time from receiving a webhook request to answering it, by source and outcome.',
    labelNames: ['source', 'outcome'] as const,
    buckets: ACK_BUCKETS,
    registers,
  });

  const authFailures = new Counter({
    name: 'hookline_operator_auth_failures_total',
    help: 'Operator credentials refused, by how they were presented (bearer, login) and why (malformed, unknown-token, throttled).',
    labelNames: ['via', 'reason'] as const,
    registers,
  });

  // Zero series from the start, so rate() and alerts see a source's first request as an increase.
  for (const source of known) for (const outcome of OUTCOMES) requests.labels(source, outcome).inc(0);
  if (options.processMetrics) collectDefaultMetrics({ register: registry });

  const label = (source: string) => (known.has(source) ? source : UNKNOWN_SOURCE);

  return {
    registry,
    observeAnswer({ source, outcome, seconds, quarantine }) {
      const s = label(source);
      requests.labels(s, outcome).inc();
      ack.labels(s, outcome).observe(seconds);
      if (quarantine) quarantined.labels(s, quarantine).inc();
    },
    observeIgnored({ provider, type }) {
      ignored.labels(provider, type).inc();
    },
    observeRefusal({ source, problem: p, seconds }) {
      const s = label(source);
      const name = problemName(p);
      requests.labels(s, 'refused').inc();
      refusals.labels(s, name).inc();
      if (seconds !== undefined) ack.labels(s, 'refused').observe(seconds);
      if (name === 'invalid-signature' && typeof p.reason === 'string') signatureFailures.labels(s, p.reason).inc();
    },
    observeAuthFailure({ via, reason }) {
      authFailures.labels(via, reason).inc();
    },
  };
}

/**
 * `GET /metrics`. The receiver faces the internet, so with a token the scrape must present it as
 * a bearer token; without one the endpoint is open (counts and latencies, never event data).
 */
export function metricsRouter(options: { metrics: ReceiverMetrics; token?: string }): Router {
  const router = express.Router();
  const token = options.token || undefined; // empty counts as unset
  router.get('/metrics', (req: Request, res: Response, next: (err?: unknown) => void) => {
    if (token && !bearerMatches(req.headers.authorization, token)) {
      const p = problem('metrics-unauthorized', 'Send the metrics token as "Authorization: Bearer <METRICS_TOKEN>".');
      return sendProblem(res, p, { 'WWW-Authenticate': 'Bearer realm="hookline-metrics"' });
    }
    options.metrics.registry
      .metrics()
      .then((text) => res.type(options.metrics.registry.contentType).send(text))
      .catch(next);
  });
  return router;
}
