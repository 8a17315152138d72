import { ActivityFailure, isCancellation, log, metricMeter } from '@temporalio/workflow';
import { notifications } from './activities';

/** What a message to the agents' channel is about: the `notice` label of the failure counter. */
export type AgentNotice =
  'opened' | 'unclaimed' | 'reminder' | 'withdrawn' | 'abandoned' | 'orphaned' | 'late' | 'return-cancelled' | 'store-decision';

export interface AgentMessage {
  idempotencyKey: string;
  subject: string;
  body: string;
}

/**
 * Tells the human agents' channel, best effort. The message is in the outbox either way (the
 * notifier records it before it delivers); a channel that refuses it (a revoked chat webhook
 * answering 404) or stays down past the notify retries must never fail the workflow that speaks,
 * so the failure is logged, counted (`hookline_agents_channel_failures{notice}` on the worker's
 * metrics) and answered as a reason for the caller to record where people look. Resolves to
 * undefined when delivered. A cancellation is the caller's, and propagates.
 */
export async function tellAgents(notice: AgentNotice, message: AgentMessage): Promise<string | undefined> {
  // Every notice, told or not: `unclaimed` and `reminder` are escalations past their SLA, which the
  // alert rules watch (deploy/prometheus/alerts.yml). A metric, not a command: histories are unchanged.
  metricMeter.createCounter('hookline_agents_channel_notices', 'messages', 'Notices for the agents’ channel, by kind').add(1, { notice });
  try {
    await notifications.notifyAgents(message);
    return undefined;
  } catch (err) {
    if (isCancellation(err)) throw err;
    const reason = err instanceof ActivityFailure && err.cause ? err.cause.message : err instanceof Error ? err.message : String(err);
    log.warn('agents channel not told', { notice, idempotencyKey: message.idempotencyKey, reason });
    // Metrics from workflow code are not emitted again when a history is replayed.
    metricMeter
      .createCounter('hookline_agents_channel_failures', 'messages', 'Messages the agents’ channel did not take (each is in the outbox)')
      .add(1, { notice });
    return reason;
  }
}
