import type Stripe from 'stripe';
import { z } from 'zod';

/**
 * SANDBOX: a stand-in for the part of Stripe's API the agent uses (refunds, and the payment intent
 * and charge lookups that link a dispute to its order), at `<sandbox>/stripe/v1/…`. Requests are
 * form-encoded and answers shaped as Stripe's (the fields typed with the `stripe` package's own
 * types); errors are Stripe's `{error: {type, code, message, param}}`. It keeps state, which
 * stripe-mock does not: a payment intent's refunds add up, and more than was paid is refused as
 * Stripe refuses it. stripe-mock checks the requests against Stripe's specification in the
 * Stripe client's own tests; this is what the flows run against.
 */

export type SandboxPaymentIntent = Pick<
  Stripe.PaymentIntent,
  'id' | 'object' | 'amount' | 'amount_received' | 'currency' | 'metadata' | 'status' | 'livemode' | 'created'
> & { latest_charge: string };
export type SandboxCharge = Pick<
  Stripe.Charge,
  'id' | 'object' | 'amount' | 'amount_refunded' | 'currency' | 'metadata' | 'paid' | 'refunded' | 'livemode' | 'created'
> & { payment_intent: string };
export type SandboxStripeRefund = Pick<
  Stripe.Refund,
  'id' | 'object' | 'amount' | 'currency' | 'metadata' | 'reason' | 'status' | 'created'
> & { payment_intent: string; charge: string; idempotency_key: string | null };

export interface StripeSandboxState {
  paymentIntents: SandboxPaymentIntent[];
  charges: SandboxCharge[];
  refunds: SandboxStripeRefund[];
}

export interface StripeReply {
  status: number;
  body: unknown;
}

/** A payment intent the flows refer to: its id, what was paid (minor units) and its metadata. */
export const StripePaymentSeed = z.object({
  id: z.string().regex(/^pi_[A-Za-z0-9]+$/),
  amount: z.number().int().positive(),
  currency: z.string().regex(/^[a-z]{3}$/),
  metadata: z.record(z.string(), z.string()).default({}),
  livemode: z.boolean().default(false),
});
export type StripePaymentSeed = z.input<typeof StripePaymentSeed>;

const RefundParams = z.object({
  payment_intent: z.string().min(1).optional(),
  charge: z.string().min(1).optional(),
  // Form-encoded: every value is text.
  amount: z.string().regex(/^\d+$/, 'expected an integer').transform(Number).optional(),
  reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer']).optional(),
  metadata: z.record(z.string(), z.string()).optional(),
});

const stripeError = (status: number, type: string, message: string, extra: { code?: string; param?: string } = {}): StripeReply => ({
  status,
  body: { error: { type, message, ...extra } },
});

const missing = (kind: string, id: string, param = 'id') =>
  stripeError(404, 'invalid_request_error', `No such ${kind}: '${id}'`, { code: 'resource_missing', param });

/**
 * `generate`: a well-formed payment intent id the stand-in was not told of is taken for a paid
 * intent of 10 000.00 in USD with no metadata (as the CRM makes up customers), so a payment sent
 * with `npm run send -- stripe …` can be refunded; off, it is Stripe's 404.
 */
export function createStripeSandbox(now: () => Date, generate = true) {
  const state: StripeSandboxState = { paymentIntents: [], charges: [], refunds: [] };
  let refundCounter = 0;
  const created = () => Math.floor(now().getTime() / 1000);

  function addPaymentIntent(seed: StripePaymentSeed): SandboxPaymentIntent {
    const s = StripePaymentSeed.parse(seed);
    const existing = state.paymentIntents.find((p) => p.id === s.id);
    if (existing) return existing;
    const chargeId = `ch_${s.id.slice(3)}`;
    const intent: SandboxPaymentIntent = {
      id: s.id,
      object: 'payment_intent',
      amount: s.amount,
      amount_received: s.amount,
      currency: s.currency,
      metadata: s.metadata,
      status: 'succeeded',
      livemode: s.livemode,
      created: created(),
      latest_charge: chargeId,
    };
    state.paymentIntents.push(intent);
    state.charges.push({
      id: chargeId,
      object: 'charge',
      amount: s.amount,
      amount_refunded: 0,
      currency: s.currency,
      metadata: {},
      paid: true,
      refunded: false,
      livemode: s.livemode,
      created: created(),
      payment_intent: s.id,
    });
    return intent;
  }

  const known = (id: string | undefined): SandboxPaymentIntent | undefined =>
    state.paymentIntents.find((i) => i.id === id) ??
    (generate && id !== undefined && /^pi_[A-Za-z0-9]+$/.test(id)
      ? addPaymentIntent({ id, amount: 1_000_000, currency: 'usd' })
      : undefined);

  function createRefund(body: unknown, idempotencyKey: string | null): StripeReply {
    const parsed = RefundParams.safeParse(body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return stripeError(400, 'invalid_request_error', `Invalid ${issue.path.join('.')}: ${issue.message}`, {
        param: issue.path.join('.'),
      });
    }
    const p = parsed.data;
    if ((p.payment_intent === undefined) === (p.charge === undefined)) {
      return stripeError(
        400,
        'invalid_request_error',
        'One of the following params should be provided for this request: payment_intent or charge.',
      );
    }
    const charge = p.charge !== undefined ? state.charges.find((c) => c.id === p.charge) : undefined;
    const intent = charge ? state.paymentIntents.find((i) => i.id === charge.payment_intent) : known(p.payment_intent);
    if (!intent)
      return p.charge !== undefined
        ? missing('charge', p.charge, 'charge')
        : missing('payment_intent', p.payment_intent!, 'payment_intent');
    const theCharge = charge ?? state.charges.find((c) => c.id === intent.latest_charge)!;
    const remaining = theCharge.amount - theCharge.amount_refunded;
    const amount = p.amount ?? remaining;
    if (amount <= 0 || amount > remaining) {
      return stripeError(
        400,
        'invalid_request_error',
        `Refund amount (${amount}) is greater than unrefunded amount on charge (${remaining})`,
        { code: 'amount_too_large', param: 'amount' },
      );
    }
    theCharge.amount_refunded += amount;
    theCharge.refunded = theCharge.amount_refunded === theCharge.amount;
    const refund: SandboxStripeRefund = {
      id: `re_sandbox${String(++refundCounter).padStart(6, '0')}`,
      object: 'refund',
      amount,
      currency: intent.currency,
      metadata: p.metadata ?? {},
      reason: p.reason ?? null,
      status: 'succeeded',
      created: created(),
      payment_intent: intent.id,
      charge: theCharge.id,
      idempotency_key: idempotencyKey,
    };
    state.refunds.push(refund);
    return { status: 200, body: view(refund) };
  }

  const view = ({ idempotency_key: _key, ...refund }: SandboxStripeRefund) => refund;

  return {
    state,
    addPaymentIntent,
    createRefund,
    paymentIntent: (id: string): StripeReply => {
      const intent = known(id);
      return intent ? { status: 200, body: intent } : missing('payment_intent', id);
    },
    charge: (id: string): StripeReply => {
      const charge = state.charges.find((c) => c.id === id);
      return charge ? { status: 200, body: charge } : missing('charge', id);
    },
    account: (): StripeReply => ({
      status: 200,
      body: { id: 'acct_sandbox', object: 'account', country: 'US', default_currency: 'usd', charges_enabled: true } satisfies Pick<
        Stripe.Account,
        'id' | 'object' | 'country' | 'default_currency' | 'charges_enabled'
      >,
    }),
    /** Stripe's answer to a key reused with other parameters. */
    idempotencyMismatch: (): StripeReply =>
      stripeError(
        400,
        'idempotency_error',
        'Keys for idempotent requests can only be used with the same parameters they were first used with.',
      ),
    reset: () => {
      state.paymentIntents.length = 0;
      state.charges.length = 0;
      state.refunds.length = 0;
      refundCounter = 0;
    },
  };
}

export type StripeSandbox = ReturnType<typeof createStripeSandbox>;
