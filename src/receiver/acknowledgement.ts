import type { IntakeResult } from '../intake';

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
export interface Acknowledgement extends IntakeResult {
  accepted: true;
  /** Set when the body was verified but not a valid event: it was kept for an operator instead. */
  quarantined?: true;
  reason?: string;
  /** One line per schema problem, e.g. `amount: Too small: expected number to be >=0`. */
  problems?: string[];
}
