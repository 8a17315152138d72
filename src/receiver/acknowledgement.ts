import type { IntakeResult } from '../intake';

/**
 * How the receiver answered a delivery it took, one word per way (the `outcome` of its log line
 * and metrics label): started, started again because its last run failed or timed out, spooled
 * while Temporal did not answer, already known (open or completed), known and closed by a person
 * (cancelled or terminated: not run again), kept for an operator because the verified body was
 * not a valid event, or a type its provider sends that hookline does not act on (nothing started).
 */
export const INTAKE_OUTCOMES = ['accepted', 'rerun', 'queued', 'duplicate', 'closed', 'quarantined', 'ignored'] as const;
export type IntakeOutcome = (typeof INTAKE_OUTCOMES)[number];

/**
 * The receiver's 2xx body (`POST /webhooks:source`), one shape with two forms: an event's, sent
 * only once Temporal (or the durable spool) holds it; or, for a verified delivery of a type the
 * source's provider sends but hookline does not act on, `{accepted, ignored, type}`, with no
 * workflow (nothing was started, so nothing needed to be durable). Senders and the tests read it.
 */
export type Acknowledgement = EventAcknowledgement | IgnoredAcknowledgement;

export interface EventAcknowledgement extends IntakeResult {
  accepted: true;
  /** Set when the body was verified but not a valid event: it was kept for an operator instead. */
  quarantined?: true;
  reason?: string;
  /** One line per schema problem, e.g. `amount: Too small: expected number to be >=0`. */
  problems?: string[];
  ignored?: never;
  type?: never;
}

/** `200`: a genuine delivery of a type hookline does not act on (Stripe `customer.created`). A 2xx, so the provider does not retry it. */
export interface IgnoredAcknowledgement {
  accepted: true;
  ignored: true;
  /** The type as the provider named it (cut to 100 characters). */
  type: string;
  workflowId?: never;
  duplicate?: never;
  queued?: never;
  rerun?: never;
  closed?: never;
  quarantined?: never;
  reason?: never;
  problems?: never;
}
