import { isCancellation, workflowInfo } from '@temporalio/workflow';
import type { CustomerContext } from '../src/agent/types';
import type { EnvelopeOf } from '../src/events/envelope';
import type { InquiryDecision } from '../src/db/schema';
import { drafting, knowledgeBase, notifications, partners, settings } from './activities';
import { escalate, failureCause, type EscalationResult, type InquiryFacts } from './handoff';

export interface InquiryResult {
  decision: InquiryDecision;
  reason: string;
  reply?: string;
  handoff?: EscalationResult<'inquiry'>;
}

/**
 * Pattern 2, enrichment. The webhook is deliberately thin, so the agent asks the CRM for the
 * customer's history, then either answers from what it knows or hands the conversation to a person.
 * When the CRM cannot answer for good (an unknown customer, a request it rejects), the agent
 * cannot judge the question, so a person gets it: a customer's question never ends in a failed run.
 */
export async function customerInquiryWorkflow(envelope: EnvelopeOf<'customer.inquiry.new'>): Promise<InquiryResult> {
  const { event } = envelope;
  const { workflowId } = workflowInfo();

  async function handOver(
    reason: string,
    facts: Pick<InquiryFacts, 'orderId' | 'crm'>,
    customer?: CustomerContext,
  ): Promise<InquiryResult> {
    await knowledgeBase.recordInquiry({ inquiry: event, decision: 'handoff', reason });
    // Read only here: an inquiry the agent answers itself needs no settings.
    const config = await settings.agentSettings();
    const handoff = await escalate({
      kind: 'inquiry',
      queue: 'support',
      reason,
      customerId: event.customer_id,
      customer,
      facts: { inquiryId: event.inquiry_id, summary: event.summary, channel: event.source, ...facts },
      customerMessage: event.message ?? event.summary,
      unclaimedSlaMs: config.handoffUnclaimedSlaMs,
      unansweredSlaMs: config.handoffUnansweredSlaMs,
    });
    return { decision: 'handoff', reason, handoff };
  }

  let customer: CustomerContext;
  try {
    customer = await partners.enrichCustomer(event.customer_id);
  } catch (err) {
    if (isCancellation(err)) throw err;
    const cause = failureCause(err);
    return handOver(`the CRM could not tell who customer ${event.customer_id} is: ${cause}`, { crm: cause });
  }
  const assessment = await knowledgeBase.assessInquiry({ inquiry: event, customer });

  if (assessment.decision === 'answer') {
    const reply = await drafting.draftReply({ inquiry: event, customer, assessment });
    await knowledgeBase.recordInquiry({ inquiry: event, decision: 'answered', reason: assessment.reason, reply });
    await notifications.notifyCustomer({
      idempotencyKey: `${workflowId}:reply`,
      customerId: event.customer_id,
      message: { kind: 'inquiry-reply', inquiryId: event.inquiry_id, text: reply },
    });
    return { decision: 'answered', reason: assessment.reason, reply };
  }
  const { orderId } = assessment.facts;
  return handOver(assessment.reason, orderId ? { orderId } : {}, customer);
}
