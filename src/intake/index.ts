import type { EventEnvelope, QuarantinedEvent } from '../events/envelope';
import { workflowIdFor } from '../events/identity';
import type { ClosedBy } from '../temporal/start-once';

/**
 * How a verified event becomes a workflow start, as the receiver and the spool both see it. Two
 * intakes implement it: the direct one (direct.ts: a start Temporal acknowledges) and the spooling
 * one (src/spool/), which falls back to a durable spool; the receiver wires them together.
 */
export interface Intake {
  accept(envelope: EventEnvelope): Promise<IntakeResult>;
  quarantine(event: QuarantinedEvent): Promise<IntakeResult>;
}

/** What an intake reports back: the facts about the start that the receiver's 2xx body carries. */
export interface IntakeResult {
  /** The workflow that owns the event (or the quarantined delivery), known before it starts. */
  workflowId: string;
  /** True when Temporal already had this event (open, completed, or closed by a person): nothing new was started. */
  duplicate: boolean;
  /** True when Temporal did not answer in time and the event was spooled durably instead (src/spool/). */
  queued?: true;
  /**
   * True when the event's last run had failed or timed out and this delivery started it again
   * (`202`). Effects the failed run completed are not repeated (the completed-effects record).
   */
  rerun?: true;
  /**
   * Set with `duplicate` when a person cancelled or terminated the event's run: it stays closed,
   * and this delivery changed nothing (`200`, so the sender does not retry).
   */
  closed?: ClosedBy;
}

/** Temporal did not durably accept the event: the sender must retry. */
export class TemporalUnavailableError extends Error {
  override readonly name = 'TemporalUnavailableError';

  constructor(
    /** The workflow the event would have started, so the failure can be logged against it. */
    readonly workflowId: string,
    message: string,
    options?: ErrorOptions & {
      /**
       * False when Temporal answered and refused (a search attribute not registered, a namespace
       * that does not exist, no permission): waiting does not fix that, so the event is not spooled.
       */
      transient?: boolean;
    },
  ) {
    super(message, options);
    this.transient = options?.transient ?? true;
  }

  readonly transient: boolean;
}

/** The workflow an event starts, known before the start (the spool keys its rows by it). */
export function eventWorkflowId(envelope: EventEnvelope): string {
  return workflowIdFor(envelope.source, envelope.event.event_type, envelope.identity);
}

/** The quarantine workflow (workflows/contracts/quarantine.ts) that keeps one delivery. */
export function quarantineWorkflowId(source: string, identity: string): string {
  return workflowIdFor('quarantine', source, identity);
}
