import { z } from 'zod';
import type { InquiryAssessment } from './types';

/**
 * The agent's automatic replies: a plan says what to tell the customer, hookline's templates say
 * it. A plan is a choice from closed sets (an intent, which of the facts hookline looked up, an
 * opening line), never text, so nothing a model writes reaches a customer: whatever it is talked
 * into, the most it can do is pick a true sentence hookline already knows how to say, or a
 * person. The rules make a plan too (rulesPlan), so both paths render the same way.
 */

export const REPLY_INTENTS = [
  /** Tell the customer about their order, stating the chosen facts. */
  'order_status',
  /** Ask which order it is about (hookline holds none, or the customer means another). */
  'ask_for_order_number',
  /** Say nothing automatically: a person answers. */
  'hand_to_person',
] as const;
/** The facts of the inquiry's order a reply may state, as the knowledge base recorded them. */
export const ORDER_FACTS = ['status', 'carrier', 'tracking_number', 'eta'] as const;
export const OPENINGS = ['thanks', 'thanks_for_patience', 'sorry'] as const;

export type OrderFact = (typeof ORDER_FACTS)[number];

export const ReplyPlan = z.strictObject({
  intent: z.enum(REPLY_INTENTS),
  /** Names of facts, not values: the values are the ones hookline holds for this customer's order. */
  facts: z.array(z.enum(ORDER_FACTS)),
  opening: z.enum(OPENINGS),
});
export type ReplyPlan = z.infer<typeof ReplyPlan>;

/** The JSON Schema sent as `response_format` (strict: every field required, nothing else allowed). */
export const REPLY_PLAN_JSON_SCHEMA: Record<string, unknown> = (() => {
  const { $schema: _, ...schema } = z.toJSONSchema(ReplyPlan, { target: 'draft-7' }) as Record<string, unknown>;
  return schema;
})();

/**
 * What hookline holds about the inquiry's order, by the names a plan uses: the assessment's facts
 * (src/agent/policy.ts), which the knowledge base or the CRM recorded for this customer's order.
 */
export function heldFacts(assessment: Pick<InquiryAssessment, 'facts'>): Partial<Record<OrderFact, string>> {
  const f = assessment.facts;
  if (!f.orderId || !f.orderStatus) return {};
  return {
    status: f.orderStatus,
    ...(f.carrier ? { carrier: f.carrier } : {}),
    ...(f.trackingNumber ? { tracking_number: f.trackingNumber } : {}),
    ...(f.eta ? { eta: f.eta } : {}),
  };
}

/**
 * Why a plan cannot be said, or undefined when it can: it names a fact hookline does not hold for
 * this order (a model reaching for a date or a status nobody recorded), names one twice, or answers
 * about an order with nothing to state.
 */
export function planProblem(plan: ReplyPlan, assessment: Pick<InquiryAssessment, 'facts'>): string | undefined {
  const held = heldFacts(assessment);
  if (plan.intent !== 'order_status') return plan.facts.length > 0 ? `${plan.intent} states no facts` : undefined;
  if (plan.facts.length === 0) return 'order_status names no fact to state';
  if (new Set(plan.facts).size !== plan.facts.length) return 'a fact is named twice';
  const missing = plan.facts.filter((name) => held[name] === undefined);
  if (missing.length > 0) return `hookline holds no ${missing.join(', ')} for this order`;
  return undefined;
}

/** The rules' plan: the order's every fact when they answer, the holding reply when they hand over. */
export function rulesPlan(assessment: Pick<InquiryAssessment, 'decision' | 'facts'>): ReplyPlan {
  if (assessment.decision !== 'answer') return { intent: 'hand_to_person', facts: [], opening: 'thanks' };
  return { intent: 'order_status', facts: ORDER_FACTS.filter((name) => heldFacts(assessment)[name] !== undefined), opening: 'thanks' };
}

/**
 * The reply's words, from the plan and the facts hookline holds; the customer's first name comes
 * from the CRM. For `hand_to_person`, the holding reply a person may send while they look into it.
 * Throws on a plan planProblem rejects: the workflow never gets that far with one.
 */
export function renderReply(plan: ReplyPlan, assessment: Pick<InquiryAssessment, 'facts'>, customerName: string): string {
  const problem = planProblem(plan, assessment);
  if (problem) throw new Error(`reply plan cannot be rendered: ${problem}`);
  const first = customerName.split(' ')[0] || customerName;
  const opening = {
    thanks: `Thanks for reaching out, ${first}.`,
    thanks_for_patience: `Thank you for your patience, ${first}.`,
    sorry: `We are sorry for the trouble, ${first}.`,
  }[plan.opening];
  switch (plan.intent) {
    case 'hand_to_person':
      return `${opening} We have your message and will follow up shortly.`;
    case 'ask_for_order_number':
      return `${opening} Which order is your question about? Reply with its order number and we can look it up.`;
    case 'order_status': {
      const held = heldFacts(assessment);
      const chosen = new Set(plan.facts);
      const orderId = assessment.facts.orderId!;
      const lines = [opening];
      if (chosen.has('status')) lines.push(`Your order ${orderId} is currently ${held.status!.replace(/_/g, ' ')}.`);
      if (chosen.has('carrier') || chosen.has('tracking_number')) {
        const subject = chosen.has('status') ? 'It' : `Your order ${orderId}`;
        const carrier = chosen.has('carrier') ? held.carrier! : 'our carrier';
        const tracking = chosen.has('tracking_number') ? `, tracking ${held.tracking_number!}` : '';
        lines.push(`${subject} is travelling with ${carrier}${tracking}.`);
      }
      if (chosen.has('eta')) {
        lines.push(lines.length > 1 ? `Estimated delivery: ${held.eta!}.` : `Estimated delivery of your order ${orderId}: ${held.eta!}.`);
      }
      lines.push('Reply to this message if there is anything else we can do.');
      return lines.join(' ');
    }
  }
}
