import type { EnvelopeOf } from '../../src/events/envelope';
import type { EscalationResult } from './conversation';

/** The dispute workflow's contract (workflows/disputes.ts runs it). */

export type DisputeEnvelope = EnvelopeOf<'payment.disputed'>;

export interface DisputeResult {
  /** The order the disputed payment was for, as the knowledge base recorded it; null when nobody said. */
  orderId: string | null;
  /** When the gateway stops taking evidence (the conversation's deadline), if it gave one. */
  evidenceDueBy: string | null;
  handoff: EscalationResult<'chargeback'>;
}

export type DisputeWorkflow = (envelope: DisputeEnvelope) => Promise<DisputeResult>;
