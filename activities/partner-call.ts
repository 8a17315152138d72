import { Context } from '@temporalio/activity';

/** Within the partners profile's heartbeat timeout (workflows/activities.ts), with room to spare. */
const HEARTBEAT_EVERY_MS = 2_000;

/**
 * A call to a partner system, heartbeating while it waits. A worker that dies mid-call stops
 * heartbeating, so Temporal retries the call after the heartbeat timeout rather than the whole
 * start-to-close timeout; and a cancellation (timeout, workflow cancelled) reaches the activity
 * through the heartbeat and aborts its HTTP request through the signal. A local activity (the
 * notifications' fast path looking up a recipient) has no heartbeat: its workflow task is its
 * liveness, and its start-to-close timeout aborts the call.
 */
export async function partnerCall<T>(call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const context = Context.current();
  if (context.info.isLocal) return call(context.cancellationSignal);
  context.heartbeat();
  const beat = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await call(context.cancellationSignal);
  } finally {
    clearInterval(beat);
  }
}

/**
 * The workflow run an activity works for, `workflowId/runId`: the owner of what it writes. Its
 * workflow ID names the event, so a later run of the same event owns the same writes (repo.sameEvent).
 */
export function runOwner(): string | undefined {
  const run = Context.current().info.workflowExecution;
  return run ? `${run.workflowId}/${run.runId}` : undefined;
}
