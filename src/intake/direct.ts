import { isGrpcServiceError, ServiceError, WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import { NamespaceNotFoundError } from '@temporalio/common';
import type { EventEnvelope } from '../events/envelope';
import { DEFAULT_PRIORITY_POLICY, priorityOf, type PriorityPolicy } from '../events/priorities';
import { startOnce, type StartAttempt, type StartOutcome } from '../temporal/start-once';
import type { QuarantinedEventWorkflow } from '../../workflows/contracts/quarantine';
import { HooklineEventType, HooklineSource, HooklineStatus } from '../../workflows/contracts/search-attributes';
import { eventWorkflowId, quarantineWorkflowId, TemporalUnavailableError, type Intake, type IntakeResult } from '.';
import { workflowForEvent } from './routes';

/** gRPC codes with which Temporal refuses a start for a reason that retrying the same start cannot fix. */
const PERMANENT_GRPC_CODES: ReadonlySet<number> = new Set([
  3, // INVALID_ARGUMENT
  5, // NOT_FOUND (the namespace)
  7, // PERMISSION_DENIED
  9, // FAILED_PRECONDITION
  11, // OUT_OF_RANGE
  12, // UNIMPLEMENTED
  16, // UNAUTHENTICATED
]);

/** Whether a failed start may succeed later: anything but a definite refusal (timeouts, unreachable, overloaded). */
export function isTransientStartFailure(err: unknown): boolean {
  // The SDK turns a NOT_FOUND for the namespace into an error of its own.
  if (err instanceof NamespaceNotFoundError) return false;
  const grpc = err instanceof ServiceError && isGrpcServiceError(err.cause) ? err.cause : isGrpcServiceError(err) ? err : undefined;
  return grpc === undefined || !PERMANENT_GRPC_CODES.has(grpc.code);
}

export interface IntakeOptions {
  client: Client;
  taskQueue: string;
  /** How long a start may take before we give up and answer 503 (the sender will retry). */
  startTimeoutMs: number;
  quarantineKeepForMs: number;
  /**
   * Each start's priority key (by event type) and fairness key and weight (by source): config's
   * `temporal.priorities`. Unset: the documented defaults, every source weighing the same.
   */
  priorities?: PriorityPolicy;
}

/** The acknowledgement's facts for a start's outcome (src/temporal/start-once.ts). */
export function intakeResultOf(workflowId: string, outcome: StartOutcome): IntakeResult {
  switch (outcome.kind) {
    case 'started':
      return { workflowId, duplicate: false };
    case 'rerun':
      return { workflowId, duplicate: false, rerun: true };
    case 'duplicate':
      return { workflowId, duplicate: true };
    case 'closed':
      return { workflowId, duplicate: true, closed: outcome.by };
  }
}

/**
 * Starts exactly one workflow per event, and starts it again only when its run failed or timed
 * out. The ID is derived from the event, and Temporal itself is the dedup store: a closed event is
 * run again only after a failure (src/temporal/start-once.ts), never after it completed or a person
 * cancelled or terminated it, and FAIL never runs an open one twice. Only a start Temporal
 * acknowledged counts as accepted.
 */
export function createIntake(options: IntakeOptions): Intake {
  const { client, taskQueue } = options;
  const priorities = options.priorities ?? DEFAULT_PRIORITY_POLICY;

  async function start(workflowId: string, begin: (attempt: StartAttempt) => Promise<unknown>): Promise<IntakeResult> {
    try {
      // The gRPC deadline alone can overrun by a retry backoff; the timer makes the bound exact, so
      // a sender with its own short timeout sees our 503 rather than its timeout. A start that
      // lands after we gave up is harmless: the sender's retry is then answered as a duplicate.
      // The bound covers the whole decision: the start, the description of an earlier run, the rerun.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${options.startTimeoutMs} ms`)), options.startTimeoutMs);
      });
      try {
        const outcome = await Promise.race([
          client.withDeadline(Date.now() + options.startTimeoutMs, () => startOnce(client, workflowId, begin)),
          timeout,
        ]);
        return intakeResultOf(workflowId, outcome);
      } finally {
        clearTimeout(timer);
      }
    } catch (err) {
      throw new TemporalUnavailableError(workflowId, `Temporal did not accept workflow ${workflowId}: ${(err as Error).message}`, {
        cause: err,
        transient: isTransientStartFailure(err),
      });
    }
  }

  const policies = (attempt: StartAttempt) =>
    ({ workflowIdReusePolicy: attempt.reusePolicy, workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL }) as const;

  return {
    accept(envelope) {
      const { event } = envelope;
      const workflowId = eventWorkflowId(envelope);
      return start(workflowId, (attempt) =>
        // By name: the route is checked against the workflow's contract at compile time (routes.ts).
        client.workflow.start<(envelope: EventEnvelope) => Promise<unknown>>(workflowForEvent(event.event_type), {
          workflowId,
          taskQueue,
          args: [envelope],
          ...policies(attempt),
          // Temporal hands it on to the run's activities and child workflows (a conversation with a person).
          priority: priorityOf(priorities, event.event_type, envelope.source),
          typedSearchAttributes: [
            { key: HooklineSource, value: envelope.source },
            { key: HooklineEventType, value: event.event_type },
          ],
        }),
      );
    },

    quarantine(event) {
      const workflowId = quarantineWorkflowId(event.source, event.identity);
      return start(workflowId, (attempt) =>
        client.workflow.start<QuarantinedEventWorkflow>('quarantinedEventWorkflow', {
          workflowId,
          taskQueue,
          args: [event, options.quarantineKeepForMs],
          ...policies(attempt),
          // Last: nothing runs on a quarantined delivery but keeping it for a person.
          priority: priorityOf(priorities, undefined, event.source),
          typedSearchAttributes: [
            { key: HooklineSource, value: event.source },
            { key: HooklineEventType, value: event.eventType ?? 'unknown' },
            { key: HooklineStatus, value: 'quarantined' },
          ],
        }),
      );
    },
  };
}
