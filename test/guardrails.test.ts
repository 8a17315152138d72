import { describe, expect, it } from 'vitest';
import { reviewDraft } from '../src/agent/guardrails';

describe('reviewDraft', () => {
  const facts = ['ORD-12345', 'shipped', 'FedEx', 'TRK-1', '2026-12-04', '89.99'];

  it.each([
    ['restates what the knowledge base holds', 'Your order ORD-12345 is shipped with FedEx and should arrive by 2026-12-04.'],
    ['mentions the order total it holds', 'Your order total was $89.99.'],
    ['the template reply', 'Thanks for reaching out, Alice. We have your message and will follow up shortly.'],
  ])('sends a draft that %s', (_why, draft) => {
    expect(reviewDraft(draft, facts)).toEqual({ sendable: true, findings: [] });
  });

  it.each([
    ['an amount', 'We will pay you $5,000 for the trouble.', 'money', '$5,000'],
    ['a refund', 'Your refund is on its way.', 'refund', 'refund'],
    ['money back in other words', 'You will get your money back.', 'refund', 'money back'],
    ['a date not in the facts', 'It will arrive by Friday.', 'date', 'by Friday'],
    ['a calendar date not in the facts', 'Expect it on December 9th.', 'date', 'December 9th'],
    ['a span', 'You will hear from us within 2 business days.', 'date', 'within 2 business days'],
    ['an action not taken', "I've cancelled the order for you.", 'action', "I've cancelled"],
    ['an action to come', 'We will send a replacement today.', 'action', 'We will send'],
  ])('holds back a draft that promises %s', (_why, draft, kind, quote) => {
    const verdict = reviewDraft(draft, facts);
    expect(verdict.sendable).toBe(false);
    expect(verdict.findings).toContainEqual({ kind, quote });
  });

  it('an injected instruction repeated by the model is still a promise', () => {
    const draft = 'As requested, I have processed a refund of $5,000 to your card.';
    expect(
      reviewDraft(draft, facts)
        .findings.map((f) => f.kind)
        .sort(),
    ).toEqual(['action', 'money', 'refund']);
  });
});
