import type { ClosedBy } from '../temporal/start-once';

/**
 * How the receiver answered a delivery it took, one word per way (the `outcome` of its log line
 * and metrics label): started, started again because its last run failed or timed out, spooled
 * while Temporal did not answer, already known (open or completed), known and closed by a person
 * (cancelled or terminated: not run again), or kept for an operator because the verified body was
 * not a valid event.
 */
export const INTAKE_OUTCOMES = ['accepted', 'rerun', 'queued', 'duplicate', 'closed', 'quarantined'] as const;
export type IntakeOutcome = (typeof INTAKE_OUTCOMES)[number];

/**
 * The receiver's 2xx body (`POST /webhooks/:source`), sent only once Temporal (or the durable
 * spool) holds the event. Senders and the tests read this one shape.
 */
export interface Acknowledgement {
  accepted: true;
  /** True when Temporal already had this event (open, completed, or closed by a person): nothing new was started. */
  duplicate: boolean;
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
  /** True when Temporal did not answer in time and the event was spooled durably instead (src/spool/). */
  queued?: true;
  /** The workflow that owns the event (or the quarantined delivery), known before it starts. */
  workflowId: string;
  /** Set when the body was verified but not a valid event: it was kept for an operator instead. */
  quarantined?: true;
  reason?: string;
  /** One line per schema problem, e.g. `amount: Too small: expected number to be >=0`. */
  problems?: string[];
}

/** What an intake (direct or spooling) reports back: the acknowledgement's facts about the start. */
export type IntakeResult = Pick<Acknowledgement, 'workflowId' | 'duplicate' | 'queued' | 'rerun' | 'closed'>;
