import type { Understanding } from '../../src/agent/understanding';
import type { InquiryDecidedBy, InquiryDecision } from '../../src/db/schema';
import type { EnvelopeOf } from '../../src/events/envelope';
import type { EscalationResult } from './conversation';

/** The inquiry workflow's contract (workflows/inquiries.ts runs it). */

/** How the decision was reached, for the Temporal UI (the run's result), the inquiry's record and its log line. */
export interface InquiryPath {
  decidedBy: InquiryDecidedBy;
  model?: string;
  tokensIn?: number;
  tokensOut?: number;
  /** What the model made of the inquiry, when it was asked and answered. */
  understanding?: Understanding;
  /** Why the rules or a person took over from the model (it failed, or its draft promised too much). */
  fallbackReason?: string;
}

export interface InquiryResult extends InquiryPath {
  decision: InquiryDecision;
  reason: string;
  reply?: string;
  handoff?: EscalationResult<'inquiry'>;
}

export type CustomerInquiryWorkflow = (envelope: EnvelopeOf<'customer.inquiry.new'>) => Promise<InquiryResult>;
