import { WorkflowIdReusePolicy, type Client, type WorkflowExecutionStatusName } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';

/**
 * What starting an event's workflow came to:
 * - `started`: the first run;
 * - `rerun`: the latest run had failed or timed out, and a new run was started (or, for a
 *   signal-with-start, signalled: another rerun had started it a moment before);
 * - `duplicate`: a run is open (`open`) or completed, so the event is in hand and nothing new started;
 * - `closed`: a person cancelled or terminated the latest run. Their decision stands: nothing is
 *   started, and the caller says so.
 */
export type StartOutcome =
  | { kind: 'started' }
  | { kind: 'rerun'; previousRunId: string; previousStatus: 'failed' | 'timed-out' }
  | { kind: 'duplicate'; open: boolean }
  | { kind: 'closed'; by: ClosedBy };

/** How a person closed a run on purpose. */
export type ClosedBy = 'cancelled' | 'terminated';

/** What the start function is told: the reuse policy to start with and, on a rerun, the run it replaces. */
export interface StartAttempt {
  reusePolicy: WorkflowIdReusePolicy;
  /** Set on a rerun: the failed or timed-out run, e.g. to carry what it had received into the new one. */
  replaces?: { runId: string; status: 'failed' | 'timed-out' };
}

/** How often a start refused as "already started" describes the latest run again before giving up. */
const ROUNDS = 3;

/**
 * Starts an event's workflow once, and again only after a run that failed or timed out: the one
 * place that decides whether a delivery runs an event, for every path that starts one (the
 * receiver's intake, the spool's drain, the return relay's signal-with-start, a reconciliation).
 *
 * `start` makes the call (a start or a signal-with-start, with its conflict policy, args and search
 * attributes) under the reuse policy it is given. The first call refuses any earlier run
 * (REJECT_DUPLICATE). Refused, the latest run is described: failed or timed out, it is started
 * again under ALLOW_DUPLICATE_FAILED_ONLY; open or completed, it is a duplicate; cancelled or
 * terminated, it stays closed. ALLOW_DUPLICATE_FAILED_ONLY alone would also reopen runs a person
 * closed, which is why the status is read first.
 *
 * Races: two deliveries that both find a failed run both try the rerun; Temporal starts one, the
 * other is refused (its run is open now, or already completed) and, describing again, answers
 * duplicate. A run that completes between the description and the rerun is refused the same way.
 * One race stays open: a rerun started by another delivery and cancelled by a person in the
 * moment between this call's description and its start would be started again, since Temporal's
 * policy cannot name the run it expects to replace.
 *
 * @throws whatever `start` or the description throws besides "already started" (Temporal
 * unavailable, a refusal), and an Error when the latest run stays failed after several rounds.
 */
export async function startOnce(
  client: Client,
  workflowId: string,
  start: (attempt: StartAttempt) => Promise<unknown>,
): Promise<StartOutcome> {
  try {
    await start({ reusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE });
    return { kind: 'started' };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  for (let round = 0; round < ROUNDS; round++) {
    const latest = await client.workflow.getHandle(workflowId).describe();
    const status = latest.status.name;
    const closedBy = closedByPerson(status);
    if (closedBy) return { kind: 'closed', by: closedBy };
    if (status !== 'FAILED' && status !== 'TIMED_OUT') return { kind: 'duplicate', open: status === 'RUNNING' || status === 'PAUSED' };
    const replaces = { runId: latest.runId, status: status === 'FAILED' ? 'failed' : 'timed-out' } as const;
    try {
      await start({ reusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY, replaces });
      return { kind: 'rerun', previousRunId: replaces.runId, previousStatus: replaces.status };
    } catch (err) {
      // Another delivery started the rerun first, and it is open or done by now: describe again.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  throw new Error(`workflow ${workflowId}: its latest run stays failed, yet Temporal refuses to start it again`);
}

function closedByPerson(status: WorkflowExecutionStatusName): ClosedBy | undefined {
  if (status === 'CANCELLED') return 'cancelled';
  if (status === 'TERMINATED') return 'terminated';
  return undefined;
}
