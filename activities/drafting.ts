import type { Responder } from '../src/agent/responder';
import type { CustomerContext, InquiryAssessment } from '../src/agent/types';
import type { CustomerInquiryNew } from '../src/events/schemas';

export interface DraftingDeps {
  responder: Responder;
}

/**
 * The model seam: drafting the agent's words. The default responder fills templates; a language
 * model behind the same interface may be slow and fail now and then, so this is its own profile.
 */
export function drafting(deps: DraftingDeps) {
  return {
    async draftReply(input: { inquiry: CustomerInquiryNew; customer: CustomerContext; assessment: InquiryAssessment }): Promise<string> {
      return deps.responder.draft(input);
    },
  };
}

export type DraftingActivities = ReturnType<typeof drafting>;
