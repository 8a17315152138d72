import type { UntypedActivities } from '@temporalio/common';
import {
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type {
  ConversationActivities,
  DraftingActivities,
  KnowledgeBaseActivities,
  LookupActivities,
  ModelActivities,
  NotificationActivities,
  PartnerActivities,
  PrivacyActivities,
  RelayActivities,
  SettingsActivities,
} from '../activities';
import { PARTNER_OF, PER_SHOP_PARTNERS, partnerTaskQueue } from './contracts/partners';

/**
 * Timeout profiles, one proxy per group of activities, each typed with only its group. Every
 * profile bounds a single attempt and says how to retry; errors the activities classify as
 * non-retryable (a 4xx from a partner, a policy decision) stop retries at once whatever it says.
 *
 * **No finite budget for our own infrastructure.** The knowledge base (its database, its disk),
 * the partners, the mail server and Temporal itself being down is retried with capped backoff for
 * as long as it lasts, never until an attempt count runs out: a run fails only on a definite
 * refusal, so an outage never turns an acknowledged event into a failed run. Work retrying for
 * long is visible, so a bug cannot hide as endless retries: the worker's
 * `hookline_activity_retry_attempt` and `hookline_activity_retry_age` metrics (src/worker/retry-metrics.ts),
 * and each retrying activity's attempt and last failure in the Temporal UI. Three profiles keep a
 * budget on purpose, since what follows copes without them: the lookups (context for an
 * escalation, best effort), the agents' channel (best effort; the outbox has the message) and the
 * language model (the rules and templates take over; a model that is down is not our infrastructure).
 *
 * Local activities run inside the workflow task on the worker that holds the workflow: no
 * activity task, no extra workflow task to hear the result, so an event whose steps are all local
 * (an order status, a payment, a customer update) completes in one workflow task. They suit short
 * steps whose repeats are harmless: a local activity whose worker dies before the task completes
 * runs again from attempt 1, which is why the writes here know their owner rather than trusting the
 * attempt number. Partner calls and the model stay ordinary activities: they may be slow, and
 * heartbeat.
 *
 * A local activity must not retry without end, though: while it retries, the worker keeps its
 * workflow task alive by completing it and taking a new one every 8 s (80% of the 10 s task
 * timeout), three history events each time, about 32,000 a day, and Temporal terminates a run at
 * 51,200. Backoffs past `localRetryThreshold` (1 min) become timers instead, five events a retry,
 * and a timer is all the UI shows. So each local group has a short budget in the workflow task
 * (`…Local`), then hands the same call to an ordinary activity of the same name (`localThenDurable`),
 * whose retries cost no history at all, show their attempt count and last failure in the UI, and
 * last as long as the outage does.
 */
const PROFILES = {
  /**
   * Reads and writes on the knowledge base, in the workflow task: quick, retried briskly for a few
   * seconds (about 8 s when each attempt fails at once). Bounded by attempts: in SDK 1.24 a local
   * activity retrying inside the worker went on past its schedule-to-close timeout
   * (test/faults-disk.test.ts saw attempt 21 after 90 s), so that timeout alone does not end this phase.
   */
  knowledgeBaseLocal: {
    startToCloseTimeout: '10s',
    scheduleToCloseTimeout: '30s',
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '4s', maximumAttempts: 5 },
  },
  /** The same, once the fast path gave up (database or disk down): until the knowledge base answers. */
  knowledgeBase: {
    startToCloseTimeout: '15s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
  },
  /** Calls to partner systems: a slow partner gets time, an unavailable one gets patience, for as long as it takes. */
  partners: {
    startToCloseTimeout: '45s',
    // The activities heartbeat while they wait on a partner: a worker that died mid-call is
    // noticed after 10 s and the call retried (same idempotency key), not after the full 45 s.
    heartbeatTimeout: '10s',
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5m' },
  },
  /**
   * A helpdesk ticket's status following the case (open when handed to a person, solved when
   * resolved): best effort, so a budget, about ten minutes; a helpdesk that is down must not hold
   * up the person the case goes to. The customer's answer itself goes through `partners`.
   */
  ticketStatus: {
    startToCloseTimeout: '45s',
    heartbeatTimeout: '10s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 10 },
  },
  /**
   * Lookups that must not hold up what comes next, a small budget on purpose: context for an
   * escalation (nice to have), and an inquiry's order from the shop's store (Shopify), which, when it
   * cannot be read within this budget, hands the inquiry to a person rather than keep the customer waiting.
   * The budget counts from scheduling: the store's queue is paced (2 a second per shop), and a backlog
   * there must not hold an inquiry for as long as the backlog lasts. A minute leaves all three attempts.
   */
  lookups: {
    startToCloseTimeout: '15s',
    scheduleToCloseTimeout: '1m',
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
  /** Messages to customers: retried until the mail server answers, never sent twice (keys). */
  notify: {
    startToCloseTimeout: '30s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10m' },
  },
  /**
   * Messages to the agents' channel: best effort by design (workflows/agents-channel.ts), so a
   * budget, about 16 hours: the message is in the outbox either way, and a chat that stays down
   * longer is recorded where people look rather than holding a workflow open.
   */
  notifyAgents: {
    startToCloseTimeout: '30s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10m', maximumAttempts: 100 },
  },
  /** Signal-with-start to Temporal itself, in the workflow task: quick, and a repeat is harmless (the return keeps the first copy). */
  relayLocal: {
    startToCloseTimeout: '10s',
    scheduleToCloseTimeout: '30s',
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '4s', maximumAttempts: 5 },
  },
  /** The same, once the fast path gave up: until Temporal answers. */
  relay: {
    startToCloseTimeout: '10s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
  },
  /**
   * Reading an earlier run's conversation from Temporal (a rerun's escalation, workflows/handoff.ts):
   * until Temporal answers, and while that conversation is still being withdrawn.
   */
  /**
   * A privacy erasure beyond the knowledge base (the receiver's spool and quarantined bodies, open
   * conversations): until they answer, and until the spooled events about the person have drained.
   */
  privacy: {
    startToCloseTimeout: '2m',
    retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' },
  },
  conversations: {
    startToCloseTimeout: '30s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
  },
  /** Drafting words (the responder, templates by default): our own code, retried until it answers. */
  model: {
    startToCloseTimeout: '60s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
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

/**
 * A group whose every activity waits on its partner's own task queue (workflows/contracts/
 * partners.ts), where the server paces it to the partner's rate limit across every worker. The
 * queue is derived from the workflow's own at call time, so the proxy is made per call (a proxy is
 * only an object; nothing is scheduled until the call). The activity keeps the workflow's priority
 * and fairness key, as on the workflows' queue, and the partner's backlog is handed out in that
 * order. A per-shop partner's call is scheduled with fairness weight 1: the server paces each key
 * at its rate scaled by the key's weight, and a shop's Shopify bucket does not grow with the weight
 * its source has among the workflows (WEBHOOK_WEIGHT_<SOURCE>), and under the shop's own key when
 * the run knows it ({@link atShop}). Only the command's priority changes, which replay does not
 * compare, so runs recorded before replay as they ran.
 */
function onPartnerQueues<T extends UntypedActivities>(options: ActivityOptions, shop?: string): T {
  return new Proxy({} as T, {
    get(_, name) {
      if (typeof name !== 'string' || !(name in PARTNER_OF)) return undefined;
      const partner = PARTNER_OF[name as keyof typeof PARTNER_OF];
      return (...args: unknown[]) => {
        const info = workflowInfo();
        const perShop = PER_SHOP_PARTNERS.includes(partner)
          ? { priority: { ...info.priority, ...(shop !== undefined ? { fairnessKey: shop } : {}), fairnessWeight: 1 } }
          : {};
        return proxyActivities<UntypedActivities>({ ...options, taskQueue: partnerTaskQueue(info.taskQueue, partner), ...perShop })[name]!(
          ...args,
        );
      };
    },
  });
}

export const partners = onPartnerQueues<PartnerActivities>(PROFILES.partners);
export const lookups = onPartnerQueues<LookupActivities>(PROFILES.lookups);

/**
 * The partner groups with a per-shop partner's calls paced under `shop`'s key
 * (workflows/contracts/partners.ts `shopKey`), not the run's source: two sources that read one shop
 * share its rate. Undefined: the run's source, as {@link partners} and {@link lookups} do.
 */
export function atShop(shop: string | undefined): { partners: typeof partners; lookups: typeof lookups } {
  return {
    partners: onPartnerQueues<PartnerActivities>(PROFILES.partners, shop),
    lookups: onPartnerQueues<LookupActivities>(PROFILES.lookups, shop),
  };
}

export const ticketStatus = onPartnerQueues<Pick<PartnerActivities, 'updateTicket'>>(PROFILES.ticketStatus);
export const conversations = proxyActivities<ConversationActivities>(PROFILES.conversations);
export const privacy = proxyActivities<PrivacyActivities>(PROFILES.privacy);
export const drafting = proxyActivities<DraftingActivities>(PROFILES.model);
export const languageModel = proxyActivities<ModelActivities>(PROFILES.languageModel);

/** The worker's settings, read once per run and recorded in history so replays see the same. */
export const settings = proxyLocalActivities<SettingsActivities>({
  startToCloseTimeout: '5s',
  retry: { maximumAttempts: 5 },
});

/**
 * Local first, then durable: almost every call completes in the workflow task that made it; one
 * the fast path could not complete (the database, the mail server or Temporal slow or down) is
 * handed to an ordinary activity of the same name that retries for as long as its profile allows.
 * A failure classified as final (a constraint, no address, rejected for good) is final on either
 * path, and a cancellation is not retried.
 */
async function localThenDurable<R>(fast: () => Promise<R>, durable: () => Promise<R>): Promise<R> {
  try {
    return await fast();
  } catch (err) {
    if (isCancellation(err)) throw err;
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable) throw err;
    return durable();
  }
}

/** A group whose every activity goes {@link localThenDurable}: same names, same types, two profiles. */
function localThenDurableGroup<T extends UntypedActivities>(fast: T, durable: T): T {
  return new Proxy({} as T, {
    get(_, name) {
      if (typeof name !== 'string') return undefined;
      return (...args: unknown[]) =>
        localThenDurable(
          () => fast[name]!(...args),
          () => durable[name]!(...args),
        );
    },
  });
}

export const knowledgeBase = localThenDurableGroup(
  proxyLocalActivities<KnowledgeBaseActivities>(PROFILES.knowledgeBaseLocal),
  proxyActivities<KnowledgeBaseActivities>(PROFILES.knowledgeBase),
);
export const relay = localThenDurableGroup(
  proxyLocalActivities<RelayActivities>(PROFILES.relayLocal),
  proxyActivities<RelayActivities>(PROFILES.relay),
);
const notifyNow = proxyLocalActivities<NotificationActivities>(PROFILES.notifyLocal);
const toCustomers = localThenDurableGroup(notifyNow, proxyActivities<NotificationActivities>(PROFILES.notify));
const toAgents = localThenDurableGroup(notifyNow, proxyActivities<NotificationActivities>(PROFILES.notifyAgents));
export const notifications: NotificationActivities = {
  notifyCustomer: (input) => toCustomers.notifyCustomer(input),
  notifyAgents: (input) => toAgents.notifyAgents(input),
};
