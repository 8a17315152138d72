import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { AgentActivities } from '../activities';

/**
 * Timeout profiles, one proxy each. Every profile bounds a single attempt and says how to
 * retry; errors the activities classify as non-retryable (a 4xx from a partner, a policy
 * decision) stop retries early whatever the profile says.
 */
const PROFILES = {
  /** Reads and writes on the knowledge base: quick, retried briskly. */
  knowledgeBase: {
    startToCloseTimeout: '15s',
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 },
  },
  /** Calls to partner systems: a slow partner gets time, an unavailable one gets patience. */
  upstream: {
    startToCloseTimeout: '45s',
    // The activities heartbeat while they wait on a partner: a worker that died mid-call is
    // noticed after 10 s and the call retried (same idempotency key), not after the full 45 s.
    heartbeatTimeout: '10s',
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5m', maximumAttempts: 50 },
  },
  /** Nice-to-have lookups that must not hold up what comes next (context for an escalation). */
  bestEffort: {
    startToCloseTimeout: '15s',
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 3 },
  },
  /** Messages to people: worth retrying for a long while, never worth sending twice (keys). */
  notify: {
    startToCloseTimeout: '30s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10m', maximumAttempts: 100 },
  },
} as const;

export const kb = proxyActivities<AgentActivities>(PROFILES.knowledgeBase);
export const upstream = proxyActivities<AgentActivities>(PROFILES.upstream);
export const acts = proxyActivities<AgentActivities>(PROFILES.notify);
export const bestEffort = proxyActivities<AgentActivities>(PROFILES.bestEffort);

/** The worker's settings, read once per run and recorded in history so replays see the same. */
export const settings = proxyLocalActivities<AgentActivities>({
  startToCloseTimeout: '5s',
  retry: { maximumAttempts: 5 },
});
