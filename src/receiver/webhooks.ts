import express, { type Request, type Response, type Router } from 'express';
import type { Logger } from '../log';
import type { EventLogWriter } from '../eventlog/writer';
import { idsOf, type DeliveryFacts } from '../eventlog/entry';
import type { Acknowledgement, IntakeOutcome } from './acknowledgement';
import { classifyVerified, type QuarantineCode } from './classify';
import { providerOf } from '../providers';
import { ignoredTypeLabel } from '../providers/read';
import { HttpProblem, isClientHttpError, problem, problemName, sendProblem } from './problem';
import { eventWorkflowId, quarantineWorkflowId, TemporalUnavailableError, type Intake, type IntakeResult } from '../intake';
import type { ReceiverMetrics } from './metrics';
import { QuarantineRefusal, QuarantineRefusedError } from '../spool/quarantine';
import { SpoolRefusedError } from '../spool/store';
import { addressKey, TokenBuckets } from './rate-limit';
import { serverRefusal } from './server';
import type { RateLimit, SourceConfig } from './sources';
import { verifyWebhook, WebhookVerificationError } from '../signatures';

export interface WebhookRouteOptions {
  sources: ReadonlyMap<string, SourceConfig>;
  intake: Intake;
  logger: Logger;
  maxBodyBytes: number;
  /** Seconds a sender should wait before retrying when Temporal is unavailable. */
  retryAfterSeconds: number;
  now?: () => Date;
  /** Where the router counts what it answers, shared with `GET /metrics`; createApp makes one when unset. */
  metrics?: ReceiverMetrics;
  /** Per sender address, for every name that is not a configured source together. Default {@link DEFAULT_UNKNOWN_SOURCE_RATE_LIMIT}. */
  unknownSourceRateLimit?: RateLimit;
  /** Where each delivery to a configured source is recorded, once, off the request path (src/eventlog/). */
  eventLog?: Pick<EventLogWriter, 'record'>;
}

/** 60 per minute: a misconfigured sender still sees its 404s; probing for source names is slowed down. */
export const DEFAULT_UNKNOWN_SOURCE_RATE_LIMIT: RateLimit = { requests: 60, perSeconds: 60 };

/** The most of a requested source name the answer and the log line repeat (the path can be kilobytes). */
const SHOWN_NAME_CHARS = 64;

/** `name` cut to {@link SHOWN_NAME_CHARS} characters, with `…` when something was cut. */
export function shownSourceName(name: string): string {
  if (name.length <= SHOWN_NAME_CHARS) return name;
  // By code point, so a cut never splits a surrogate pair into invalid UTF-16 (and two units
  // per code point at most, so this slice holds more than enough of them when there is more).
  const chars = Array.from(name.slice(0, SHOWN_NAME_CHARS * 2 + 2));
  return chars.length > SHOWN_NAME_CHARS ? `${chars.slice(0, SHOWN_NAME_CHARS).join('')}…` : name;
}

// Not a valid source name (see SOURCE_NAME in sources.ts), so it never shares a bucket with one.
const UNKNOWN_SOURCE_KEY = '*';

interface Outcome {
  status: number;
  body: Acknowledgement;
  log: Record<string, unknown> & { outcome: IntakeOutcome };
  quarantine?: QuarantineCode;
  /** For the event log: why, when the outcome has a reason (a quarantine's). */
  reason?: string;
}

const JSON_TYPES = /^application\/([a-z0-9.+-]*\+)?json$/i;

/**
 * `POST /webhooks/:source`. The order of checks is the order of cost and of trust: cheap
 * refusals first, the signature over the raw bytes before anything reads them, and a 2xx only
 * after Temporal has durably accepted the event.
 */
export function webhookRouter(options: WebhookRouteOptions & { metrics: ReceiverMetrics }): Router {
  const router = express.Router();
  const buckets = new TokenBuckets();
  const now = options.now ?? (() => new Date());
  const { metrics } = options;
  const unknownSourceRateLimit = options.unknownSourceRateLimit ?? DEFAULT_UNKNOWN_SOURCE_RATE_LIMIT;

  const gate = (req: Request, res: Response, next: (err?: unknown) => void) => {
    res.locals.started = process.hrtime.bigint();
    const name = String(req.params.source);
    const source = options.sources.get(name);
    const ip = req.ip ?? '';
    // IPv6 senders by /64: an address per request from one's own block is no way around the limit.
    const sender = addressKey(ip);
    if (!source) {
      // One bucket per address for all unknown names together, or each new name would be a new allowance.
      const taken = buckets.take(`${UNKNOWN_SOURCE_KEY}|${sender}`, unknownSourceRateLimit);
      if (!taken.ok) {
        return next(
          new HttpProblem(
            problem('rate-limited', `Too many requests for sources that are not configured; retry after ${taken.retryAfterSeconds}s.`),
            {
              'Retry-After': String(taken.retryAfterSeconds),
            },
          ),
        );
      }
      return next(
        new HttpProblem(problem('unknown-source', `No webhook source named ${JSON.stringify(shownSourceName(name))} is configured.`)),
      );
    }
    res.locals.delivery = {
      receivedAt: now().toISOString(),
      via: 'webhook',
      source: source.name,
      provider: source.provider,
    } satisfies DeliveryFacts;
    if (source.allowlist && !source.allowlist.contains(ip)) {
      return next(new HttpProblem(problem('forbidden-address', `Deliveries for ${source.name} are not accepted from ${ip}.`)));
    }
    // Per sender address: the limit is checked before the signature (that is what protects the
    // verifier), so a shared per-source bucket would let anyone starve the genuine sender.
    const taken = buckets.take(`${source.name}|${sender}`, source.rateLimit);
    if (!taken.ok) {
      return next(
        new HttpProblem(problem('rate-limited', `Source ${source.name} is over its rate limit; retry after ${taken.retryAfterSeconds}s.`), {
          'Retry-After': String(taken.retryAfterSeconds),
        }),
      );
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > options.maxBodyBytes) {
      return next(new HttpProblem(problem('body-too-large', `Bodies are limited to ${options.maxBodyBytes} bytes.`)));
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (!JSON_TYPES.test(type)) {
      return next(
        new HttpProblem(
          problem('unsupported-media-type', `Content-Type must be application/json (got ${JSON.stringify(type || 'none')}).`),
        ),
      );
    }
    res.locals.source = source;
    next();
  };

  router.post(
    '/webhooks/:source',
    gate,
    express.raw({ type: () => true, limit: options.maxBodyBytes }),
    async (req: Request, res: Response, next: (err?: unknown) => void) => {
      const source = res.locals.source as SourceConfig;
      try {
        const outcome = await handle(source, req, res.locals.delivery as DeliveryFacts);
        res.status(outcome.status).json(outcome.body);
        options.eventLog?.record({ ...(res.locals.delivery as DeliveryFacts), outcome: outcome.log.outcome, reason: outcome.reason });
        const latencyMs = elapsedMs(res.locals.started as bigint);
        metrics.observeAnswer({
          source: source.name,
          outcome: outcome.log.outcome,
          seconds: latencyMs / 1000,
          quarantine: outcome.quarantine,
        });
        options.logger.info('webhook', { source: source.name, ...outcome.log, status: outcome.status, latencyMs });
      } catch (err) {
        next(err);
      }
    },
  );

  async function handle(source: SourceConfig, req: Request, delivery: DeliveryFacts): Promise<Outcome> {
    const rawBody: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let verified;
    try {
      verified = verifyWebhook(source.scheme, rawBody, req.headers, source.secrets, {
        signatureHeader: source.signatureHeader,
        toleranceSeconds: source.toleranceSeconds,
        now,
      });
    } catch (err) {
      if (err instanceof WebhookVerificationError) {
        throw new HttpProblem(problem('invalid-signature', err.message, { reason: err.reason }));
      }
      throw err;
    }

    // From here on the sender is genuine: whatever is wrong with the body, we keep it.
    // The identity comes from signed data only; an unsigned delivery header is logged as a reference.
    const { signedId, deliveryRef } = verified;
    const classified = classifyVerified({ source, rawBody, headers: req.headers, signedId, deliveryRef, receivedAt: now().toISOString() });
    const ref = deliveryRef === undefined ? {} : { deliveryRef: deliveryRef.slice(0, 100) };
    Object.assign(delivery, ref);
    if (classified.kind === 'ignored') {
      // Nothing to keep and nothing started: a 2xx at once, so the provider does not retry it.
      const label = ignoredTypeLabel(providerOf(classified.provider), classified.type);
      metrics.observeIgnored({ provider: classified.provider, type: label });
      Object.assign(delivery, { eventType: classified.type } satisfies Partial<DeliveryFacts>);
      return {
        status: 200,
        body: { accepted: true, ignored: true, type: classified.type },
        log: { outcome: 'ignored', provider: classified.provider, type: label, why: classified.why, ...ref },
        reason: classified.why,
      };
    }
    if (classified.kind === 'event') {
      const { envelope } = classified;
      Object.assign(delivery, {
        eventType: envelope.event.event_type,
        identity: envelope.identity,
        workflowId: eventWorkflowId(envelope),
        ...idsOf(envelope.event),
        // hookline's own format says nothing about test mode: left unknown in the log.
        ...(envelope.provider === 'hookline' ? {} : { testMode: envelope.testMode === true }),
      } satisfies Partial<DeliveryFacts>);
      const result = await options.intake.accept(envelope);
      return answer(result, {
        eventType: envelope.event.event_type,
        identityFrom: envelope.identityFrom,
        ...(envelope.provider === 'hookline' ? {} : { provider: envelope.provider }),
        ...(envelope.testMode ? { testMode: true } : {}),
        ...ref,
      });
    }
    const kept = classified.event;
    Object.assign(delivery, {
      eventType: kept.eventType ?? null,
      identity: kept.identity,
      workflowId: quarantineWorkflowId(kept.source, kept.identity),
      // A kept body that still names its order or customer is found by them too (rare: parsed again).
      ...idsOf(parsedOrUndefined(rawBody)),
    } satisfies Partial<DeliveryFacts>);
    const result = await options.intake.quarantine(kept);
    const outcome = answer(result, { eventType: kept.eventType ?? null, quarantined: true, reason: kept.reason, ...ref });
    Object.assign(outcome.body, { quarantined: true, reason: kept.reason, problems: kept.problems } satisfies Partial<Acknowledgement>);
    // A redelivery of a kept event is a duplicate like any other; only the first one is kept.
    if (!result.duplicate) {
      if (result.queued) outcome.log.queued = true;
      outcome.log.outcome = 'quarantined';
      outcome.quarantine = classified.code;
      outcome.reason = kept.reason;
    }
    return outcome;
  }

  function answer(result: IntakeResult, log: Record<string, unknown>): Outcome {
    // Spooled, durably: the same 202 and final workflow ID, flagged so sender and logs can tell.
    // Started again after a failed run: 202 as for a first delivery. Already in hand, or closed by
    // a person: 200, which no sender retries.
    const outcome: IntakeOutcome = intakeOutcome(result);
    return {
      status: result.duplicate ? 200 : 202,
      // Field by field: the body is the sender's contract, not whatever else an intake reports.
      body: {
        accepted: true,
        duplicate: result.duplicate,
        ...(result.queued ? { queued: true } : {}),
        ...(result.rerun ? { rerun: true } : {}),
        ...(result.closed ? { closed: result.closed } : {}),
        workflowId: result.workflowId,
      },
      log: { ...log, workflowId: result.workflowId, outcome },
    };
  }

  // Errors from this router become problem documents here, so every refusal is logged once.
  router.use('/webhooks/:source', (err: unknown, req: Request, res: Response, next: (err?: unknown) => void) => {
    // Configured names are at most 32 characters; only an unknown one is ever cut.
    const source = shownSourceName(String(req.params.source));
    if (res.headersSent) return next(err);
    let p;
    let headers: Record<string, string> = {};
    // Known once the event was verified and named: the refusal is then a line about that event.
    let workflowId: string | undefined;
    const early = serverRefusal(res);
    if (early) {
      // The server already answered on the socket (see server.ts); this is the body's abort.
      p = early;
    } else if (err instanceof HttpProblem) {
      p = err.problem;
      headers = err.headers;
    } else if (err instanceof TemporalUnavailableError) {
      p = problem(
        'temporal-unavailable',
        'The event could not be stored durably; nothing was accepted. Retry later.',
        err instanceof SpoolRefusedError ? { reason: err.reason } : {},
      );
      headers = { 'Retry-After': String(options.retryAfterSeconds) };
      workflowId = err.workflowId;
      options.logger.error('temporal unavailable', { source, workflowId, error: err.message });
    } else if (err instanceof QuarantineRefusedError) {
      // As for a full spool: nothing was kept, and the sender may try again once people have
      // replayed or discarded what this source has in quarantine.
      p =
        err.reason === QuarantineRefusal.full
          ? problem('quarantine-full', `Source ${source} has as many events in quarantine as it may; nothing was accepted. Retry later.`, {
              reason: err.reason,
            })
          : problem('temporal-unavailable', 'The event could not be stored durably; nothing was accepted. Retry later.', {
              reason: err.reason,
            });
      headers = { 'Retry-After': String(options.retryAfterSeconds) };
      workflowId = err.workflowId;
      if (err.reason === QuarantineRefusal.full) options.logger.warn('quarantine full', { source, workflowId, error: err.message });
      else options.logger.error('quarantine unavailable', { source, workflowId, error: err.message });
    } else if (isClientHttpError(err)) {
      // express.raw's refusals of the body (see isClientHttpError).
      p =
        err.status === 413
          ? problem('body-too-large', `Bodies are limited to ${options.maxBodyBytes} bytes.`)
          : problem('bad-request', 'The request body could not be read.');
    } else {
      p = problem('internal', 'Unexpected error; nothing was accepted. Retry later.');
      options.logger.error('unexpected error', { source, error: (err as Error)?.stack ?? String(err) });
    }
    if (!early) sendProblem(res, p, headers);
    const started = res.locals.started as bigint | undefined;
    const latencyMs = started ? elapsedMs(started) : undefined;
    metrics.observeRefusal({ source, problem: p, seconds: latencyMs === undefined ? undefined : latencyMs / 1000 });
    // A refusal of a configured source's delivery is a row too; a rate-limited one is not: those come
    // in floods, and the limit exists so that they cost nothing (the metrics count them).
    const delivery = res.locals.delivery as DeliveryFacts | undefined;
    if (delivery && problemName(p) !== 'rate-limited') {
      const name = problemName(p);
      options.eventLog?.record({
        ...delivery,
        ...(workflowId ? { workflowId } : {}),
        outcome: 'refused',
        reason: typeof p.reason === 'string' ? `${name}: ${p.reason}` : name,
      });
    }
    options.logger.info('webhook', {
      source,
      ...(workflowId ? { workflowId } : {}),
      outcome: 'refused',
      status: p.status,
      problem: p.type,
      reason: p.reason,
      ...(latencyMs === undefined ? {} : { latencyMs }),
    });
  });

  return router;
}

function intakeOutcome(result: IntakeResult): IntakeOutcome {
  if (result.queued) return 'queued';
  if (result.closed) return 'closed';
  if (result.duplicate) return 'duplicate';
  return result.rerun ? 'rerun' : 'accepted';
}

function parsedOrUndefined(rawBody: Buffer): unknown {
  try {
    return JSON.parse(rawBody.toString('utf8'));
  } catch {
    return undefined;
  }
}

function elapsedMs(started: bigint): number {
  return Number((process.hrtime.bigint() - started) / 1000n) / 1000;
}
