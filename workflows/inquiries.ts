import { condition, allHandlersFinished, workflowInfo } from '@temporalio/workflow';
import type { EnvelopeOf } from '../src/events/envelope';
import { acts, kb, settings, upstream } from './activities';
import { escalate, type EscalationResult } from './handoff';

export interface InquiryResult {
  decision: 'answered' | 'handoff';
  reason: string;
  reply?: string;
  handoff?: EscalationResult;
}

/**
 * Pattern 2, enrichment. The webhook is deliberately thin, so the agent asks the CRM for the
 * customer's history, then either answers from what it knows or hands the conversation to a person.
 */
export async function customerInquiryWorkflow(envelope: EnvelopeOf<'customer.inquiry.new'>): Promise<InquiryResult> {
  const { event } = envelope;
  const { workflowId } = workflowInfo();
  const config = await settings.agentSettings();
  const customer = await upstream.enrichCustomer(event.customer_id);
  const assessment = await kb.assessInquiry({ inquiry: event, customer });

  if (assessment.decision === 'answer') {
    const reply = await kb.draftReply({ inquiry: event, customer, assessment });
    await kb.recordInquiry({ inquiry: event, decision: 'answered', reason: assessment.reason, reply });
    await acts.notifyCustomer({
      idempotencyKey: `${workflowId}:reply`,
      customerId: event.customer_id,
      message: { kind: 'inquiry-reply', inquiryId: event.inquiry_id, text: reply },
    });
    return { decision: 'answered', reason: assessment.reason, reply };
  }

  await kb.recordInquiry({ inquiry: event, decision: 'handoff', reason: assessment.reason });
  const handoff = await escalate({
    kind: 'inquiry',
    queue: 'support',
    reason: assessment.reason,
    customerId: event.customer_id,
    customer,
    facts: { inquiryId: event.inquiry_id, summary: event.summary, channel: event.source, ...assessment.facts },
    customerMessage: event.message ?? event.summary,
    unclaimedSlaMs: config.handoffUnclaimedSlaMs,
    unansweredSlaMs: config.handoffUnansweredSlaMs,
  });
  await condition(allHandlersFinished);
  return { decision: 'handoff', reason: assessment.reason, handoff };
}
