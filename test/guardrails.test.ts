import { describe, expect, it } from 'vitest';
import { reviewDraft } from '../src/agent/guardrails';

describe('reviewDraft', () => {
  const facts = ['ORD-12345', 'shipped', 'FedEx', 'TRK-1', '2026-12-04', '89.99'];

  it.each([
    ['restates what the knowledge base holds', 'Your order ORD-12345 is shipped with FedEx and should arrive by 2026-12-04.'],
    ['mentions the order total it holds', 'Your order total was $89.99.'],
    ['restates the ETA exactly, with its amount written differently', 'Your order of $89.99 arrives 2026-12-04.'],
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
    ['a small amount whose digits appear in a tracking number', 'We will pay you $1 for the trouble.', 'money', '$1'],
    ['an amount in a currency code first', 'You will receive USD 50 shortly.', 'money', 'USD 50'],
    ['an amount in words', 'Please accept fifty dollars for the delay.', 'money', 'fifty dollars'],
    ['a percentage off', 'Enjoy 20% off your next order.', 'money', '20%'],
    ['a gift card', 'We are adding a gift card to your account.', 'refund', 'gift card'],
    ['free shipping', 'Your next order ships free shipping', 'refund', 'free shipping'],
    ['money back without the word refund', 'The $89.99 will be back on your card soon.', 'refund', 'back on your card'],
    ['a typographic apostrophe', 'I\u2019ve cancelled your order.', 'action', "I've cancelled"],
    ['an action in progress', "We're sending a new one.", 'action', "We're sending"],
    ['an offer to act', 'Let me cancel that for you.', 'action', 'Let me cancel'],
    ['a passive action', 'Your order has been cancelled.', 'action', 'has been cancelled'],
    ['a replacement on its way', 'A replacement is on its way.', 'action', 'replacement is on its way'],
    ['a bare weekday', 'It arrives Friday.', 'date', 'Friday'],
    ['a span in words', 'Expect it within three days.', 'date', 'within three days'],
    ['a day of the month', 'It ships on the 5th.', 'date', 'on the 5th'],
  ])('holds back a draft that promises %s', (_why, draft, kind, quote) => {
    const verdict = reviewDraft(draft, facts);
    expect(verdict.sendable).toBe(false);
    expect(verdict.findings).toContainEqual({ kind, quote });
  });

  it('a fact containing the digits is not the same amount or date', () => {
    // The order ID and tracking number hold "12" and "1"; only an exact amount or day is a restated fact.
    expect(reviewDraft('We will pay you $12.', ['ORD-12345', 'TRK-1']).sendable).toBe(false);
    expect(reviewDraft('It arrives 2026-12-05.', ['2026-12-04T10:00:00Z']).sendable).toBe(false);
    expect(reviewDraft('It arrives 2026-12-04.', ['2026-12-04T10:00:00Z']).sendable).toBe(true);
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
