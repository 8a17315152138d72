import { describe, expect, it } from 'vitest';
import {
  assessInquiry,
  inquiryOrderId,
  repeatContactSince,
  returnPolicy,
  type InquiryFacts,
  type OrderFacts,
  type ReturnRequest,
} from '../src/agent/policy';

/** The agent's decisions on their own: pure functions of the facts, no database, no Temporal. */

const shipped: OrderFacts = {
  status: 'shipped',
  statusEventAt: '2026-03-01T00:00:00.000Z',
  carrier: 'FedEx',
  trackingNumber: 'TRK-1',
  eta: '2026-03-04',
  totalAmount: '49.90',
  currency: 'EUR',
};
const facts = (over: Partial<InquiryFacts> & { summary?: string; message?: string; orderId?: string }): InquiryFacts => ({
  inquiry: { summary: over.summary ?? 'Where is my order?', message: over.message, order_id: over.orderId ?? 'ORD-1' },
  customer: over.customer ?? { lastOrders: [{ order_id: 'ORD-0', status: 'delivered', date: '2026-01-01' }], previousTickets: [] },
  recentInquiries: over.recentInquiries ?? 0,
  order: 'order' in over ? over.order : shipped,
  refundHandoffThreshold: over.refundHandoffThreshold ?? 200,
});

describe('assessInquiry', () => {
  const cases: { name: string; facts: InquiryFacts; decision: 'answer' | 'handoff'; reason: RegExp; facts_?: Record<string, string> }[] = [
    {
      name: 'an order-status question about a known order is answered with its facts',
      facts: facts({}),
      decision: 'answer',
      reason: /order-status question/,
      facts_: { orderId: 'ORD-1', orderStatus: 'shipped', carrier: 'FedEx', trackingNumber: 'TRK-1', eta: '2026-03-04' },
    },
    {
      name: 'a complaint goes to a person, even about a known order',
      facts: facts({ summary: 'My parcel arrived broken' }),
      decision: 'handoff',
      reason: /complaining/,
      facts_: {},
    },
    {
      name: 'the complaint may be in the message, not the summary',
      facts: facts({ message: 'This is unacceptable.' }),
      decision: 'handoff',
      reason: /complaining/,
    },
    {
      name: 'an open ticket makes it a repeat contact',
      facts: facts({
        customer: { lastOrders: [], previousTickets: [{ ticket_id: 'T-1', subject: 'late', status: 'open' }] },
      }),
      decision: 'handoff',
      reason: /repeat contact/,
    },
    {
      name: 'closed tickets do not',
      facts: facts({ customer: { lastOrders: [], previousTickets: [{ ticket_id: 'T-1', subject: 'late', status: 'closed' }] } }),
      decision: 'answer',
      reason: /order-status/,
    },
    { name: 'two recent inquiries make a repeat contact', facts: facts({ recentInquiries: 2 }), decision: 'handoff', reason: /repeat/ },
    { name: 'one does not', facts: facts({ recentInquiries: 1 }), decision: 'answer', reason: /order-status/ },
    {
      name: 'a refund above the threshold goes to a person, naming the amount',
      facts: facts({ summary: 'I want a refund', order: { ...shipped, totalAmount: '250' } }),
      decision: 'handoff',
      reason: /^refund request of 250 above the 200 threshold/,
      facts_: { orderId: 'ORD-1' },
    },
    {
      name: 'a refund of unknown amount too',
      facts: facts({ summary: 'money back please', order: undefined }),
      decision: 'handoff',
      reason: /^refund request above the 200 threshold or of unknown amount/,
    },
    {
      name: 'a refund under the threshold is still confirmed by a person',
      facts: facts({ summary: 'refund?', order: { ...shipped, totalAmount: '20' } }),
      decision: 'handoff',
      reason: /confirmed by a person/,
    },
    {
      name: 'without the order in the knowledge base, the CRM’s status of that order answers',
      facts: facts({
        orderId: 'ORD-0',
        order: undefined,
        customer: { lastOrders: [{ order_id: 'ORD-0', status: 'delivered', date: '2026-01-01' }], previousTickets: [] },
      }),
      decision: 'answer',
      reason: /order-status/,
      facts_: { orderId: 'ORD-0', orderStatus: 'delivered' },
    },
    {
      name: 'an order nobody knows the status of goes to a person',
      facts: facts({ orderId: 'ORD-9', order: undefined }),
      decision: 'handoff',
      reason: /cannot answer/,
      facts_: { orderId: 'ORD-9' },
    },
    {
      name: 'a question that is not about an order goes to a person, with what is known of the order for a model to use',
      facts: facts({ summary: 'Do you sell gift cards?' }),
      decision: 'handoff',
      reason: /cannot answer/,
      facts_: { orderId: 'ORD-1', orderStatus: 'shipped', carrier: 'FedEx', trackingNumber: 'TRK-1', eta: '2026-03-04' },
    },
  ];
  it.each(cases)('$name', ({ facts: f, decision, reason, facts_ }) => {
    const assessment = assessInquiry(f);
    expect(assessment.decision).toBe(decision);
    expect(assessment.reason).toMatch(reason);
    if (facts_) expect(assessment.facts).toEqual(facts_);
  });

  it('the order asked about is the one named, else the latest', () => {
    const customer = { lastOrders: [{ order_id: 'ORD-LATEST', status: 'shipped', date: '2026-01-01' }] };
    expect(inquiryOrderId({ order_id: 'ORD-NAMED' }, customer)).toBe('ORD-NAMED');
    expect(inquiryOrderId({}, customer)).toBe('ORD-LATEST');
    expect(inquiryOrderId({}, { lastOrders: [] })).toBeUndefined();
  });

  it('repeat contacts count from seven days before the inquiry', () => {
    expect(repeatContactSince('2026-03-08T12:00:00Z')).toBe('2026-03-01T12:00:00.000Z');
  });
});

describe('returnPolicy', () => {
  const delivered: OrderFacts = { ...shipped, status: 'delivered', statusEventAt: '2026-03-01T00:00:00.000Z', totalAmount: '49.90' };
  const request: ReturnRequest = {
    orderId: 'ORD-1',
    items: [{ product_id: 'P-1', quantity: 1 }],
    policyDays: 30,
    requestedAt: '2026-03-20T00:00:00Z',
  };
  const lines = [{ productId: 'P-1', quantity: 2 }];
  const payment = { amount: '30.00', currency: 'USD' };
  const cases: {
    name: string;
    args: Parameters<typeof returnPolicy>;
    eligible: boolean;
    reason: RegExp;
    refund?: [number, string];
  }[] = [
    {
      name: 'delivered, within the window, items ordered: eligible, refunding the order total',
      args: [request, delivered, lines, payment],
      eligible: true,
      reason: /within the 30-day window/,
      refund: [49.9, 'EUR'],
    },
    {
      name: 'exactly on the last day is still within',
      args: [{ ...request, requestedAt: '2026-03-31T00:00:00Z' }, delivered, lines, undefined],
      eligible: true,
      reason: /within/,
    },
    {
      name: 'after the window',
      args: [{ ...request, requestedAt: '2026-04-01T00:00:01Z' }, delivered, lines, undefined],
      eligible: false,
      reason: /requested 31 days after delivery; the window is 30 days/,
    },
    {
      name: 'an order the knowledge base does not know, refund from the payment',
      args: [request, undefined, [], payment],
      eligible: false,
      reason: /ORD-1 is not in the knowledge base/,
      refund: [30, 'USD'],
    },
    { name: 'not delivered', args: [request, shipped, lines, undefined], eligible: false, reason: /not been delivered \(status shipped\)/ },
    {
      name: 'an item not in the order',
      args: [{ ...request, items: [{ product_id: 'P-2', quantity: 1 }] }, delivered, lines, undefined],
      eligible: false,
      reason: /P-2 is not part of order ORD-1/,
    },
    {
      name: 'more returned than ordered',
      args: [{ ...request, items: [{ product_id: 'P-1', quantity: 3 }] }, delivered, lines, undefined],
      eligible: false,
      reason: /3 × P-1 returned but 2 ordered/,
    },
    {
      name: 'order lines unknown: the items are not checked',
      args: [{ ...request, items: [{ product_id: 'P-2', quantity: 9 }] }, delivered, [], undefined],
      eligible: true,
      reason: /within/,
    },
    {
      name: 'nothing to refund',
      args: [request, { ...delivered, totalAmount: null, currency: null }, lines, undefined],
      eligible: false,
      reason: /no payment on record for order ORD-1/,
      refund: [0, 'USD'],
    },
    {
      name: 'no order total: the payment is refunded',
      args: [request, { ...delivered, totalAmount: null, currency: null }, lines, payment],
      eligible: true,
      reason: /within/,
      refund: [30, 'USD'],
    },
    {
      name: 'lines priced by the store: only the returned items are refunded, at what a unit was paid',
      args: [
        { ...request, items: [{ product_id: 'P-2', quantity: 2 }] },
        delivered,
        [
          { productId: 'P-1', quantity: 1, unitPrice: '25.00' },
          { productId: 'P-2', quantity: 3, unitPrice: '8.30' },
        ],
        payment,
      ],
      eligible: true,
      reason: /within/,
      refund: [16.6, 'EUR'],
    },
    {
      name: 'priced lines never refund more than the order total',
      args: [
        { ...request, items: [{ product_id: 'P-1', quantity: 2 }] },
        delivered,
        [{ productId: 'P-1', quantity: 2, unitPrice: '30.00' }],
        payment,
      ],
      eligible: true,
      reason: /within/,
      refund: [49.9, 'EUR'],
    },
    {
      name: 'a returned item without a price beside priced ones: a person decides',
      args: [
        { ...request, items: [{ product_id: 'P-1', quantity: 1 }] },
        delivered,
        [
          { productId: 'P-1', quantity: 1, unitPrice: null },
          { productId: 'P-2', quantity: 1, unitPrice: '8.30' },
        ],
        payment,
      ],
      eligible: false,
      reason: /the price of P-1 in order ORD-1 is not known/,
    },
  ];
  it.each(cases)('$name', ({ args, eligible, reason, refund }) => {
    const check = returnPolicy(...args);
    expect(check.eligible).toBe(eligible);
    expect(check.reason).toMatch(reason);
    if (refund) expect([check.refundAmount, check.currency]).toEqual(refund);
  });
});
