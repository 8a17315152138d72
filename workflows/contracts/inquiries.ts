import type { ReplyPlan } from '../../src/agent/reply';
import type { Understanding } from '../../src/agent/understanding';
import type { InquiryDecidedBy, InquiryDecision } from '../../src/db/schema';
import type { EnvelopeOf } from '../../src/events/envelope';
import type { EscalationResult } from './conversation';

/** The inquiry workflow's contract (workflows/inquiries.ts runs it). */

/**
 * The label on every suggestion in the model's own words (the inbox shows it; the CLI's
 * `--suggested` refuses to send it unedited). Nothing checks what free text claims, so a person
 * reads and rewrites it: the model's words reach a customer only as a person's own.
 */
export const MODEL_SUGGESTION_WARNING = 'the language model wrote it and nothing in it is checked against the records';

/** How the decision was reached, for the Temporal UI (the run's result), the inquiry's record and its log line. */
export interface InquiryPath {
  decidedBy: InquiryDecidedBy;
  model?: string;
  tokensIn?: number;
  tokensOut?: number;
  /** What the model made of the inquiry, when it was asked and answered. */
  understanding?: Understanding;
  /** The reply the model chose, when it chose one: hookline's templates said it. */
  plan?: ReplyPlan;
  /** Why the rules or a person took over from the model (it failed, was too slow, or chose what cannot be said). */
  fallbackReason?: string;
}

export interface InquiryResult extends InquiryPath {
  decision: InquiryDecision;
  reason: string;
  reply?: string;
  handoff?: EscalationResult<'inquiry'>;
}

export type CustomerInquiryWorkflow = (envelope: EnvelopeOf<'customer.inquiry.new'>) => Promise<InquiryResult>;

/** What became of a customer's follow-up: delivered to the open conversation of its inquiry, or why not. */
export interface FollowUpResult {
  delivered: boolean;
  conversationId: string;
  reason: string;
}

export type InquiryFollowUpWorkflow = (envelope: EnvelopeOf<'customer.inquiry.followup'>) => Promise<FollowUpResult>;
