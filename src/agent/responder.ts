import type { CustomerInquiryNew } from '../events/schemas';
import { renderReply, rulesPlan, type ReplyPlan } from './reply';
import type { CustomerContext, InquiryAssessment } from './types';

/**
 * Writes the agent's reply to an inquiry from a plan (./reply.ts): the model's when it chose one,
 * else the rules'. The drafting activity (activities/drafting.ts) runs it, so a responder may read
 * from elsewhere and be retried; whatever it is, the words are hookline's, never a model's.
 */
export interface Responder {
  draft(input: {
    inquiry: CustomerInquiryNew;
    customer: CustomerContext;
    assessment: InquiryAssessment;
    plan?: ReplyPlan;
  }): Promise<string>;
}

/** The default: the templates of ./reply.ts, filled from the knowledge base's facts. */
export const templateResponder: Responder = {
  async draft({ customer, assessment, plan }) {
    return renderReply(plan ?? rulesPlan(assessment), assessment, customer.name);
  },
};
