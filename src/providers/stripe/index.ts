import { randomBytes } from 'node:crypto';
import { handler, type Provider } from '../types';
import { paymentDisputed, paymentFailed, paymentRefunded, paymentSucceeded } from './map';
import { ChargeDisputeCreated, ChargeRefunded, PaymentIntentPaymentFailed, PaymentIntentSucceeded } from './schemas';

/** The Stripe event types hookline acts on. */
export type StripeType = 'payment_intent.succeeded' | 'payment_intent.payment_failed' | 'charge.refunded' | 'charge.dispute.created';

/**
 * Stripe (payments). Scheme `stripe` (`Stripe-Signature: t=…,v1=…`, keyed with the endpoint's
 * `whsec_…` secret). The type is the signed body's `type`, the identity its signed `evt_…` id, the
 * order the payment intent's metadata key (`WEBHOOK_ORDER_KEY_<SOURCE>`, default `order_id`).
 * Everything here reads `src/providers/stripe/examples/` (Stripe's own published objects).
 */
export const stripe: Provider<StripeType> = {
  name: 'stripe',
  scheme: 'stripe',
  typeField: 'type',
  typeOf: (body) => {
    const declared = (body as { type?: unknown } | null)?.type;
    return typeof declared === 'string' ? declared : undefined;
  },
  keptHeaders: [],
  handles: {
    'payment_intent.succeeded': handler({
      schema: PaymentIntentSucceeded,
      produces: ['payment.succeeded'],
      example: { file: 'payment_intent.succeeded.json' },
      map: paymentSucceeded,
    }),
    'payment_intent.payment_failed': handler({
      schema: PaymentIntentPaymentFailed,
      produces: ['payment.failed'],
      example: { file: 'payment_intent.payment_failed.json' },
      map: paymentFailed,
    }),
    'charge.refunded': handler({
      schema: ChargeRefunded,
      produces: ['payment.refunded'],
      example: { file: 'charge.refunded.json' },
      map: paymentRefunded,
    }),
    'charge.dispute.created': handler({
      schema: ChargeDisputeCreated,
      produces: ['payment.disputed'],
      example: { file: 'charge.dispute.created.json' },
      map: paymentDisputed,
    }),
  },
  // What an account commonly sends besides: counted by name when ignored (anything else is `other`).
  knownTypes: [
    'payment_intent.created',
    'payment_intent.processing',
    'payment_intent.requires_action',
    'payment_intent.canceled',
    'payment_intent.amount_capturable_updated',
    'payment_intent.partially_funded',
    'charge.succeeded',
    'charge.failed',
    'charge.captured',
    'charge.pending',
    'charge.updated',
    'charge.expired',
    'charge.refund.updated',
    'charge.dispute.updated',
    'charge.dispute.closed',
    'charge.dispute.funds_withdrawn',
    'charge.dispute.funds_reinstated',
    'refund.created',
    'refund.updated',
    'refund.failed',
    'customer.created',
    'customer.updated',
    'customer.deleted',
    'payment_method.attached',
    'payment_method.detached',
    'checkout.session.completed',
    'checkout.session.expired',
    'invoice.created',
    'invoice.finalized',
    'invoice.paid',
    'invoice.payment_succeeded',
    'invoice.payment_failed',
    'balance.available',
    'payout.created',
    'payout.paid',
    'payout.failed',
  ],
  unhandled: 'ignore',
  orderKey: { default: 'order_id', means: "the payment intent's (or charge's) metadata key that holds hookline's order id" },
  // New ids for the event and its object (`pi_…`, `ch_…`, `dp_…` keep their prefix): a new payment, not
  // a second event about the example's (which the payment ledger would take as already processed).
  fresh: (body) => {
    const event = body as { data?: { object?: { id?: unknown } } } & Record<string, unknown>;
    const object = event.data?.object;
    const renewed = (id: unknown) => (typeof id === 'string' ? `${id.split('_')[0]}_${randomBytes(12).toString('hex')}` : id);
    return {
      ...event,
      id: `evt_${randomBytes(12).toString('hex')}`,
      ...(object ? { data: { ...event.data, object: { ...object, id: renewed(object.id) } } } : {}),
    };
  },
};
