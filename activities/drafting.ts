import type { ReplyPlan } from '../src/agent/reply';
import type { Responder } from '../src/agent/responder';
import type { CustomerContext, InquiryAssessment } from '../src/agent/types';
import type { CustomerInquiryNew } from '../src/events/schemas';

export interface DraftingDeps {
  responder: Responder;
}

/**
 * The agent's words to a customer, from templates: the rules' plan, or the one the model chose
 * (the model never writes them). An ordinary activity, so a responder may be slow and retried.
 */
export function drafting(deps: DraftingDeps) {
  return {
    async draftReply(input: {
      inquiry: CustomerInquiryNew;
      customer: CustomerContext;
      assessment: InquiryAssessment;
      plan?: ReplyPlan;
    }): Promise<string> {
      return deps.responder.draft(input);
    },
  };
}

export type DraftingActivities = ReturnType<typeof drafting>;
