import type { CustomerInquiryNew } from '../events/schemas';
import type { CustomerContext, InquiryAssessment } from './types';

/**
 * Drafts the agent's reply to an inquiry it decided to answer. The seam for a language model:
 * implement this interface and pass it as the worker's `responder` (src/worker/deps.ts). The
 * drafting activity (activities/drafting.ts) runs it as an ordinary activity with the model
 * profile, never a local one, so it may be slow, call out, and be retried.
 */
export interface Responder {
  draft(input: { inquiry: CustomerInquiryNew; customer: CustomerContext; assessment: InquiryAssessment }): Promise<string>;
}

/** The default: deterministic templates filled from the knowledge base's facts. */
export const templateResponder: Responder = {
  async draft({ customer, assessment }) {
    const f = assessment.facts;
    const first = customer.name.split(' ')[0] ?? customer.name;
    if (f.orderId && f.orderStatus) {
      const lines = [`Thanks for reaching out, ${first}. Your order ${f.orderId} is currently ${f.orderStatus.replace(/_/g, ' ')}.`];
      if (f.carrier || f.trackingNumber)
        lines.push(`It is travelling with ${f.carrier ?? 'our carrier'}${f.trackingNumber ? `, tracking ${f.trackingNumber}` : ''}.`);
      if (f.eta) lines.push(`Estimated delivery: ${f.eta}.`);
      lines.push('Reply to this message if there is anything else we can do.');
      return lines.join(' ');
    }
    return `Thanks for reaching out, ${first}. We have your message and will follow up shortly.`;
  },
};
