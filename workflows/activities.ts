import { ActivityFailure, ApplicationFailure, isCancellation, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type {
  DraftingActivities,
  KnowledgeBaseActivities,
  LookupActivities,
  ModelActivities,
  NotificationActivities,
  PartnerActivities,
  RelayActivities,
  SettingsActivities,
} from '../activities';

/**
 * Timeout profiles, one proxy per group of activities, each typed with only its group. Every
 * profile bounds a single attempt and says how to retry; errors the activities classify as
 * non-retryable (a 4xx from a partner, a policy decision) stop retries early whatever it says.
 *
 * Local activities run inside the workflow task on the worker that holds the workflow: no
 * activity task, no extra workflow task to hear the result, so an event whose steps are all local
 * (an order status, a payment, a customer update) completes in one workflow task. They suit short
 * steps whose repeats are harmless: a local activity whose worker dies before the task completes
 * runs again from attempt 1, which is why the writes here know their owner (the run) rather than
 * trusting the attempt number. Partner calls and the model stay ordinary activities: they may be
 * slow, and heartbeat.
 */
const PROFILES = {
  /** Reads and writes on the knowledge base: quick, retried briskly, in the workflow task. */
  knowledgeBase: {
    startToCloseTimeout: '15s',
    // Backoff beyond the local retry threshold (1 min) would become a timer; 30 s stays below it.
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
  },
  /** Calls to partner systems: a slow partner gets time, an unavailable one gets patience. */
  partners: {
    startToCloseTimeout: '45s',
    // The activities heartbeat while they wait on a partner: a worker that died mid-call is
    // noticed after 10 s and the call retried (same idempotency key), not after the full 45 s.
    heartbeatTimeout: '10s',
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5m', maximumAttempts: 50 },
  },
  /** Nice-to-have lookups that must not hold up what comes next (context for an escalation). */
  lookups: {
    startToCloseTimeout: '15s',
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 3 },
  },
  /**
   * A message's fast path, in the workflow task: a few quick attempts. A mail server that is down
   * must not hold the workflow task (and its slot) for the long haul, so after these the message
   * goes to `notify`, the durable path, with the same idempotency key.
   */
  notifyLocal: {
    startToCloseTimeout: '10s',
    scheduleToCloseTimeout: '30s',
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '2s', maximumAttempts: 3 },
  },
  /** Messages to people: worth retrying for a long while, never worth sending twice (keys). */
  notify: {
    startToCloseTimeout: '30s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10m', maximumAttempts: 100 },
  },
  /** Signal-with-start to Temporal itself: quick, and a repeat is harmless (the return keeps the first copy). */
  relay: {
    startToCloseTimeout: '10s',
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
  },
  /** Drafting words: a model may take its time and fail now and then. */
  model: {
    startToCloseTimeout: '60s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 10 },
  },
  /**
   * The language model: one call each (understanding, a drafting turn). It heartbeats while it
   * waits; a 429 waits out the endpoint's Retry-After (the activity sets the next delay), 5xx,
   * timeouts and malformed answers are retried a few times, a 400 not at all. After that the
   * workflow falls back to the rules and templates, so the budget is small on purpose.
   */
  languageModel: {
    startToCloseTimeout: '2m',
    // All attempts together: however the endpoint stalls, the rules take over within this.
    scheduleToCloseTimeout: '3m',
    heartbeatTimeout: '10s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 },
  },
} as const;

export const knowledgeBase = proxyLocalActivities<KnowledgeBaseActivities>(PROFILES.knowledgeBase);
export const partners = proxyActivities<PartnerActivities>(PROFILES.partners);
export const lookups = proxyActivities<LookupActivities>(PROFILES.lookups);
export const relay = proxyLocalActivities<RelayActivities>(PROFILES.relay);
export const drafting = proxyActivities<DraftingActivities>(PROFILES.model);
export const languageModel = proxyActivities<ModelActivities>(PROFILES.languageModel);

/** The worker's settings, read once per run and recorded in history so replays see the same. */
export const settings = proxyLocalActivities<SettingsActivities>({
  startToCloseTimeout: '5s',
  retry: { maximumAttempts: 5 },
});

const notifyNow = proxyLocalActivities<NotificationActivities>(PROFILES.notifyLocal);
const notifyDurably = proxyActivities<NotificationActivities>(PROFILES.notify);

/**
 * Local first, then durable: almost every message goes out in the workflow task that decided it;
 * one the fast path could not deliver (mail server slow or down) is handed to an ordinary activity
 * that retries for as long as the notify profile allows. A failure classified as final (no
 * address, rejected for good) is final on either path, and a cancellation is not retried.
 */
async function localThenDurable<A, R>(fast: (input: A) => Promise<R>, durable: (input: A) => Promise<R>, input: A): Promise<R> {
  try {
    return await fast(input);
  } catch (err) {
    if (isCancellation(err)) throw err;
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable) throw err;
    return durable(input);
  }
}

export const notifications: NotificationActivities = {
  notifyCustomer: (input) => localThenDurable(notifyNow.notifyCustomer, notifyDurably.notifyCustomer, input),
  notifyAgents: (input) => localThenDurable(notifyNow.notifyAgents, notifyDurably.notifyAgents, input),
};
