import type { z } from 'zod';
import { amountOf, fromMinorUnits, toMinorUnits } from '../../events/money';
import { hooklineEvent } from '../event';
import type { MapContext, Mapped } from '../types';
import type { ChargeDisputeCreated, ChargeRefunded, PaymentIntentPaymentFailed, PaymentIntentSucceeded } from './schemas';

/**
 * Stripe's payloads as hookline's payment events. The identity is the signed `evt_…` id: Stripe
 * redelivers an event with the same id, so a redelivery is a duplicate; the event's own `created`
 * is its timestamp (the knowledge base orders a payment's events by it); `livemode: false` is a
 * test event.
 */

/**
 * Currencies whose Stripe amounts are not in hundredths (Stripe's "zero-decimal" and
 * "three-decimal" lists, docs.stripe.com/currencies). Everything else is two-decimal in Stripe's
 * API, including ISK, HUF and TWD, whose amounts Stripe keeps two-decimal for compatibility.
 */
const EXPONENTS: Readonly<Record<string, 0 | 3>> = {
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  MGA: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  JOD: 3,
  KWD: 3,
  OMR: 3,
  TND: 3,
};

const exponentOf = (currency: string) => EXPONENTS[currency.toUpperCase()] ?? 2;

/** A Stripe amount (minor units of `currency`) as hookline's amount, exactly: `1099 usd` is 10.99, `500 jpy` is 500. */
export function stripeAmount(minor: number, currency: string): number {
  return amountOf(fromMinorUnits(minor, exponentOf(currency)));
}

/** hookline's amount as Stripe's (minor units of `currency`), exactly: 10.99 USD is `1099`, 500 JPY is `500`. */
export function stripeMinorUnits(amount: number, currency: string): number {
  return toMinorUnits(amount, exponentOf(currency));
}

const idOf = (ref: string | { id: string }) => (typeof ref === 'string' ? ref : ref.id);
const isoOf = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

function mapped(event: Mapped['event'], stripeEvent: { id: string; livemode: boolean }): Mapped {
  return { event, identity: stripeEvent.id, identityFrom: 'sender', testMode: !stripeEvent.livemode };
}

/** The order a payment intent names through the source's metadata key, if it names one. */
function orderOf(metadata: Record<string, string>, ctx: MapContext): { order_id?: string } {
  const value = ctx.orderKey === undefined ? undefined : metadata[ctx.orderKey]?.trim();
  return value ? { order_id: value } : {};
}

export function paymentSucceeded(e: z.output<typeof PaymentIntentSucceeded>, ctx: MapContext): Mapped {
  const intent = e.data.object;
  // What was received; a succeeded intent has it (Stripe's published example object does not, so
  // the intent's amount stands in rather than a payment of nothing).
  const received = intent.amount_received > 0 ? intent.amount_received : intent.amount;
  const event = hooklineEvent('payment.succeeded', {
    timestamp: isoOf(e.created),
    payment_id: intent.id,
    ...orderOf(intent.metadata, ctx),
    amount: stripeAmount(received, intent.currency),
    currency: intent.currency,
  });
  return mapped(event, e);
}

export function paymentFailed(e: z.output<typeof PaymentIntentPaymentFailed>, ctx: MapContext): Mapped {
  const intent = e.data.object;
  const error = intent.last_payment_error;
  const reason = error ? (error.decline_code ?? error.code ?? error.type) : undefined;
  const event = hooklineEvent('payment.failed', {
    timestamp: isoOf(e.created),
    payment_id: intent.id,
    ...orderOf(intent.metadata, ctx),
    amount: stripeAmount(intent.amount, intent.currency),
    currency: intent.currency,
    ...(reason ? { failure_reason: reason.slice(0, 500) } : {}),
  });
  return mapped(event, e);
}

/**
 * A charge refunded (in whole or in part). The payment is the charge's payment intent (the id the
 * other payment events use), else the charge itself. Stripe's charge says how much is refunded in
 * all (`amount_refunded`); it lists its refunds only on API versions before 2022-11-15, and then
 * the newest one is this event's refund, with its own amount and id.
 */
export function paymentRefunded(e: z.output<typeof ChargeRefunded>, ctx: MapContext): Mapped {
  const charge = e.data.object;
  const newest = charge.refunds?.data.reduce<(typeof charge.refunds.data)[number] | undefined>(
    (latest, refund) => (latest === undefined || refund.created > latest.created ? refund : latest),
    undefined,
  );
  const refunded = newest?.amount ?? (charge.amount_refunded > 0 ? charge.amount_refunded : charge.amount);
  const event = hooklineEvent('payment.refunded', {
    timestamp: isoOf(e.created),
    payment_id: charge.payment_intent === null ? charge.id : idOf(charge.payment_intent),
    ...orderOf(charge.metadata, ctx),
    amount: stripeAmount(refunded, charge.currency),
    currency: charge.currency,
    ...(newest ? { refund_id: newest.id } : {}),
  });
  return mapped(event, e);
}

/** A chargeback. The payment is the dispute's payment intent, else its charge; the order is found by the workflow. */
export function paymentDisputed(e: z.output<typeof ChargeDisputeCreated>): Mapped {
  const dispute = e.data.object;
  const dueBy = dispute.evidence_details.due_by;
  const event = hooklineEvent('payment.disputed', {
    timestamp: isoOf(e.created),
    dispute_id: dispute.id,
    payment_id: dispute.payment_intent === null ? idOf(dispute.charge) : idOf(dispute.payment_intent),
    amount: stripeAmount(dispute.amount, dispute.currency),
    currency: dispute.currency,
    reason: dispute.reason,
    status: dispute.status,
    ...(dueBy === null ? {} : { evidence_due_by: isoOf(dueBy) }),
  });
  return mapped(event, e);
}
