/**
 * The agent's decisions as pure functions of the facts an activity gathered: no database, no clock,
 * no Temporal. The activities in activities/ fetch the facts and record the verdict in history,
 * so a change here changes what new runs decide, never what a replay sees.
 */
import { addDecimal, amountOf, compareDecimal, timesDecimal, type DecimalText } from '../events/money';
import type { CustomerInquiryNew, LineItem } from '../events/schemas';
import type { CustomerContext, InquiryAssessment, ReturnPolicyCheck } from './types';

const DAY_MS = 86_400_000;
const COMPLAINT = /\b(complain\w*|angry|furious|terrible|awful|unacceptable|worst|lawyer|legal|scam|broken|damaged|disappointed)\b/i;
const REFUND = /\b(refund\w*|money back|chargeback)\b/i;
const ORDER_STATUS = /\b(where|status|track\w*|ship\w*|deliver\w*|arriv\w*|eta|order)\b/i;
/** Two other inquiries within this many days make a repeat contact, which a person handles. */
export const REPEAT_CONTACT_DAYS = 7;
export const REPEAT_CONTACT_LIMIT = 2;

/** What the knowledge base knows of an order, as the decisions need it. */
export interface OrderFacts {
  status: string | null;
  /** When the current status took effect (ISO); for a delivered order, when it was delivered. */
  statusEventAt: string | null;
  carrier?: string | null;
  trackingNumber?: string | null;
  eta?: string | null;
  /** Decimal text as stored, e.g. "99.99". */
  totalAmount: string | null;
  currency: string | null;
}

export interface InquiryFacts {
  inquiry: Pick<CustomerInquiryNew, 'summary' | 'message' | 'order_id'>;
  customer: Pick<CustomerContext, 'lastOrders' | 'previousTickets'>;
  /** The customer's other inquiries since {@link repeatContactSince}. */
  recentInquiries: number;
  /** The order the inquiry is about ({@link inquiryOrderId}), if the knowledge base has it. */
  order?: OrderFacts;
  refundHandoffThreshold: number;
  /** The threshold's currency; an order in another one is never compared with it. */
  refundHandoffCurrency?: string;
}

/** The order an inquiry is about: the one it names, else the customer's latest. */
export function inquiryOrderId(
  inquiry: Pick<CustomerInquiryNew, 'order_id'>,
  customer: Pick<CustomerContext, 'lastOrders'>,
): string | undefined {
  return inquiry.order_id ?? customer.lastOrders[0]?.order_id;
}

/** From when earlier inquiries count as a repeat contact. */
export function repeatContactSince(inquiryTimestamp: string): string {
  return new Date(Date.parse(inquiryTimestamp) - REPEAT_CONTACT_DAYS * DAY_MS).toISOString();
}

/**
 * Whether the agent answers an inquiry itself or hands it to a person. It answers only what the
 * knowledge base can say for sure (where an order is); anything that needs judgement or money
 * (complaints, repeat contacts, refunds) goes to a person.
 */
export function assessInquiry(facts: InquiryFacts): InquiryAssessment {
  const { inquiry, customer, order } = facts;
  const text = `${inquiry.summary}\n${inquiry.message ?? ''}`;
  if (COMPLAINT.test(text)) return { decision: 'handoff', firm: true, reason: 'the customer is complaining', facts: {} };

  const openTickets = customer.previousTickets.filter((t) => t.status !== 'closed').length;
  if (openTickets > 0 || facts.recentInquiries >= REPEAT_CONTACT_LIMIT) {
    return { decision: 'handoff', firm: true, reason: 'repeat contact: the customer has written before about an open matter', facts: {} };
  }

  const orderId = inquiryOrderId(inquiry, customer);
  if (REFUND.test(text)) {
    const amount = Number(order?.totalAmount ?? NaN);
    const threshold = facts.refundHandoffThreshold;
    const unit = facts.refundHandoffCurrency;
    // Amounts of two currencies say nothing about each other: such a refund is not measured at all.
    if (unit !== undefined && Number.isFinite(amount) && order?.currency?.toUpperCase() !== unit.toUpperCase()) {
      return {
        decision: 'handoff',
        firm: true,
        reason: `refund request of ${amount} ${order?.currency ?? '(no currency)'}, not comparable with the ${threshold} ${unit} threshold`,
        facts: orderId ? { orderId } : {},
      };
    }
    if (!Number.isFinite(amount) || amount > threshold) {
      const of = Number.isFinite(amount) ? `of ${amount} ` : '';
      return {
        decision: 'handoff',
        firm: true,
        reason: `refund request ${of}above the ${threshold} threshold or of unknown amount`,
        facts: orderId ? { orderId } : {},
      };
    }
    return { decision: 'handoff', firm: true, reason: 'refund requests are confirmed by a person', facts: { orderId: orderId ?? '' } };
  }
  // What is known of the inquiry's order, if it is this customer's: a reply states these or nothing.
  const known: Record<string, string> = orderId ? { orderId } : {};
  const status = order?.status ?? customer.lastOrders.find((o) => o.order_id === orderId)?.status;
  if (orderId && status) {
    known.orderStatus = status;
    if (order?.carrier) known.carrier = order.carrier;
    if (order?.trackingNumber) known.trackingNumber = order.trackingNumber;
    if (order?.eta) known.eta = order.eta;
  }
  if (ORDER_STATUS.test(text) && known.orderStatus) {
    return { decision: 'answer', firm: false, reason: 'order-status question answered from the knowledge base', facts: known };
  }
  // Not firm: a model that reads an order-status question here may still answer it from these facts.
  return { decision: 'handoff', firm: false, reason: 'the agent cannot answer this on its own', facts: known };
}

export interface ReturnRequest {
  orderId: string;
  items: LineItem[];
  policyDays: number;
  /** When the customer asked (the return.initiated event's time). */
  requestedAt: string;
}

/** An order's line as the knowledge base holds it: one unit's price after discounts when the store said. */
export interface OrderedLine {
  productId: string;
  quantity: number;
  unitPrice?: DecimalText | null;
}

/**
 * What a return is refunded: the returned items at what one unit of each was paid, when the store
 * said what each line cost (a Shopify order: a return of one of three items is refunded for that
 * one), never more than the order's total; the order's total (or its payment) when no line has a
 * price, as for an order system that sends none. A return naming an item whose price is unknown
 * while others' are known is priced by nobody: `undefined`, for a person to decide.
 */
export function refundFor(
  items: readonly LineItem[],
  ordered: readonly OrderedLine[],
  whole: DecimalText | undefined,
): { amount: number } | { unpriced: string } {
  const priced = ordered.some((o) => o.unitPrice != null);
  if (!priced) return { amount: Number(whole ?? 0) };
  let sum: DecimalText = '0';
  for (const item of items) {
    const price = ordered.find((o) => o.productId === item.product_id)?.unitPrice;
    if (price == null) return { unpriced: item.product_id };
    sum = addDecimal(sum, timesDecimal(price, item.quantity));
  }
  // Discounts spread over the order never make its lines worth more than was paid for it.
  return { amount: amountOf(whole !== undefined && compareDecimal(sum, whole) > 0 ? whole : sum) };
}

/**
 * Whether a return is within policy: a delivered order, asked within the window, for items and
 * quantities that were ordered (when the knowledge base has the order's lines), with a payment to
 * refund. `ordered` empty means the lines are unknown, not that nothing was ordered. The refund is
 * {@link refundFor}'s.
 */
export function returnPolicy(
  request: ReturnRequest,
  order: OrderFacts | undefined,
  ordered: readonly OrderedLine[],
  payment: { amount: string; currency: string } | undefined,
): ReturnPolicyCheck {
  const { orderId, policyDays } = request;
  const refund = refundFor(request.items, ordered, order?.totalAmount ?? payment?.amount ?? undefined);
  const refundAmount = 'amount' in refund ? refund.amount : Number(order?.totalAmount ?? payment?.amount ?? 0);
  const currency = order?.currency ?? payment?.currency ?? 'USD';
  const no = (reason: string): ReturnPolicyCheck => ({ eligible: false, reason, refundAmount, currency });
  if (!order) return no(`order ${orderId} is not in the knowledge base`);
  if (order.status !== 'delivered' || !order.statusEventAt) {
    return no(`order ${orderId} has not been delivered (status ${order.status ?? 'unknown'})`);
  }
  const days = (Date.parse(request.requestedAt) - Date.parse(order.statusEventAt)) / DAY_MS;
  if (days > policyDays) return no(`requested ${Math.floor(days)} days after delivery; the window is ${policyDays} days`);
  if (ordered.length > 0) {
    for (const item of request.items) {
      const line = ordered.find((o) => o.productId === item.product_id);
      if (!line) return no(`${item.product_id} is not part of order ${orderId}`);
      if (item.quantity > line.quantity) return no(`${item.quantity} × ${item.product_id} returned but ${line.quantity} ordered`);
    }
  }
  if ('unpriced' in refund) return no(`the price of ${refund.unpriced} in order ${orderId} is not known`);
  if (!(refundAmount > 0)) return no(`no payment on record for order ${orderId}`);
  return { eligible: true, reason: `within the ${policyDays}-day window`, refundAmount, currency };
}
