import { describe, expect, it } from 'vitest';
import { planProblem, renderReply, ReplyPlan, REPLY_PLAN_JSON_SCHEMA, rulesPlan } from '../src/agent/reply';

/** The automatic reply's words: a plan from closed sets, rendered from the facts hookline holds. */
describe('reply plans', () => {
  const shipped = { facts: { orderId: 'ORD-1', orderStatus: 'in_transit', carrier: 'FedEx', trackingNumber: 'TRK-1', eta: '2026-12-04' } };
  const bare = { facts: { orderId: 'ORD-2', orderStatus: 'processing' } };
  const none = { facts: {} };

  it('the rules’ answer states every fact held, as the template always has', () => {
    const plan = rulesPlan({ decision: 'answer', ...shipped });
    expect(plan).toEqual({ intent: 'order_status', facts: ['status', 'carrier', 'tracking_number', 'eta'], opening: 'thanks' });
    expect(renderReply(plan, shipped, 'Alice Smith')).toBe(
      'Thanks for reaching out, Alice. Your order ORD-1 is currently in transit. It is travelling with FedEx, tracking TRK-1. ' +
        'Estimated delivery: 2026-12-04. Reply to this message if there is anything else we can do.',
    );
    expect(renderReply(rulesPlan({ decision: 'handoff', ...shipped }), shipped, 'Alice Smith')).toBe(
      'Thanks for reaching out, Alice. We have your message and will follow up shortly.',
    );
  });

  it.each([
    [
      { intent: 'order_status', facts: ['eta'], opening: 'thanks_for_patience' },
      'Thank you for your patience, Bo. Estimated delivery of your order ORD-1: 2026-12-04.',
    ],
    [
      { intent: 'order_status', facts: ['tracking_number'], opening: 'sorry' },
      'We are sorry for the trouble, Bo. Your order ORD-1 is travelling with our carrier, tracking TRK-1.',
    ],
    [
      { intent: 'order_status', facts: ['status', 'carrier'], opening: 'thanks' },
      'Thanks for reaching out, Bo. Your order ORD-1 is currently in transit. It is travelling with FedEx.',
    ],
  ] as const)('a model’s plan says only the facts it names: %j', (plan, start) => {
    const text = renderReply({ ...plan, facts: [...plan.facts] }, shipped, 'Bo');
    expect(text).toBe(`${start} Reply to this message if there is anything else we can do.`);
  });

  it('asks for the order number without stating anything', () => {
    expect(renderReply({ intent: 'ask_for_order_number', facts: [], opening: 'thanks' }, none, 'Bo')).toBe(
      'Thanks for reaching out, Bo. Which order is your question about? Reply with its order number and we can look it up.',
    );
  });

  it.each([
    ['a fact hookline does not hold', { intent: 'order_status', facts: ['eta'] }, bare, /holds no eta/],
    ['any fact when no order is held', { intent: 'order_status', facts: ['status'] }, none, /holds no status/],
    ['nothing to state', { intent: 'order_status', facts: [] }, shipped, /names no fact/],
    ['a fact twice', { intent: 'order_status', facts: ['eta', 'eta'] }, shipped, /twice/],
    ['facts with another intent', { intent: 'ask_for_order_number', facts: ['status'] }, shipped, /states no facts/],
  ] as const)('refuses a plan naming %s', (_what, plan, held, problem) => {
    const full = { ...plan, facts: [...plan.facts], opening: 'thanks' } as ReplyPlan;
    expect(planProblem(full, held)).toMatch(problem);
    expect(() => renderReply(full, held, 'Bo')).toThrow(problem);
  });

  it('the schema takes names from closed sets only, and nothing else', () => {
    const ok = { intent: 'order_status', facts: ['status'], opening: 'thanks' };
    expect(ReplyPlan.safeParse(ok).success).toBe(true);
    for (const bad of [
      { ...ok, intent: 'refund' },
      { ...ok, facts: ['status', 'a refund of $50'] },
      { ...ok, opening: 'Good news: your refund is on its way!' },
      { ...ok, message: 'We have cancelled your order.' },
    ]) {
      expect(ReplyPlan.safeParse(bad).success).toBe(false);
    }
    // What the endpoint is told, strict: enums and no other properties.
    expect(REPLY_PLAN_JSON_SCHEMA).toMatchObject({
      type: 'object',
      additionalProperties: false,
      required: ['intent', 'facts', 'opening'],
      properties: { intent: { enum: ['order_status', 'ask_for_order_number', 'hand_to_person'] } },
    });
  });
});
