// Types only: the package is a dev dependency (its test-header helper is the signature peer), and
// these checks cost nothing at run time.
import type Stripe from 'stripe';
import { z } from 'zod';
import type { AllTrue } from '../../events/registry';

/**
 * Stripe's own payloads, as much of each as the mapping reads: an Event (`evt_…`) whose
 * `data.object` is the type's resource. Each schema is checked against the `stripe` package's
 * types below, so it accepts every object Stripe's types describe: a field it reads is never
 * stricter than Stripe's.
 */

const eventId = z.string().regex(/^evt_\w{1,250}$/, 'expected a Stripe event id (evt_…)');
const objectId = (prefix: string) => z.string().min(1).max(255).describe(`${prefix}_…`);
/** Minor units of the currency (Stripe's amounts); at most 8 digits in practice. */
const minor = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const currency = z.string().regex(/^[A-Za-z]{3}$/, 'expected a three-letter ISO currency code');
const unixSeconds = z.number().int().nonnegative();
const metadata = z.record(z.string(), z.string());
/** An expandable reference: the id, or the object with its id when the endpoint expands it. */
const ref = z.union([z.string().min(1).max(255), z.object({ id: z.string().min(1).max(255) })]);

export const PaymentIntent = z.object({
  id: objectId('pi'),
  object: z.literal('payment_intent'),
  amount: minor,
  amount_received: minor,
  currency,
  metadata,
  created: unixSeconds,
  livemode: z.boolean(),
  status: z.string(),
  customer: ref.nullable(),
  last_payment_error: z
    .object({
      code: z.string().optional(),
      decline_code: z.string().optional(),
      message: z.string().optional(),
      type: z.string(),
    })
    .nullable(),
});

export const Charge = z.object({
  id: objectId('ch'),
  object: z.literal('charge'),
  amount: minor,
  amount_refunded: minor,
  currency,
  metadata,
  created: unixSeconds,
  livemode: z.boolean(),
  refunded: z.boolean(),
  payment_intent: ref.nullable(),
  // Listed by API versions before 2022-11-15 only (newer ones leave it out unless expanded).
  refunds: z
    .object({ data: z.array(z.object({ id: objectId('re'), amount: minor, created: unixSeconds })) })
    .nullable()
    .optional(),
});

export const Dispute = z.object({
  id: objectId('dp'),
  object: z.literal('dispute'),
  amount: minor,
  currency,
  created: unixSeconds,
  livemode: z.boolean(),
  charge: ref,
  payment_intent: ref.nullable(),
  reason: z.string().min(1).max(100),
  status: z.string().min(1).max(100),
  evidence_details: z.object({ due_by: unixSeconds.nullable() }),
});

/** A Stripe Event around one resource: `type` names what happened to `data.object`. */
function event<S extends z.ZodType>(type: string, object: S) {
  return z.object({
    id: eventId,
    object: z.literal('event'),
    type: z.literal(type),
    created: unixSeconds,
    livemode: z.boolean(),
    data: z.object({ object }),
  });
}

export const PaymentIntentSucceeded = event('payment_intent.succeeded', PaymentIntent);
export const PaymentIntentPaymentFailed = event('payment_intent.payment_failed', PaymentIntent);
export const ChargeRefunded = event('charge.refunded', Charge);
export const ChargeDisputeCreated = event('charge.dispute.created', Dispute);

/** True when every value of `Official` (Stripe's type) is a value of `Ours`, field by field as we read them. */
type Accepts<Ours, Official> = [Official] extends [Ours] ? true : false;
type Read<S extends z.ZodType, Official> = Pick<Official, Extract<keyof z.output<S>, keyof Official>>;

export type SchemasAcceptStripesObjects = AllTrue<{
  payment_intent: Accepts<z.output<typeof PaymentIntent>, Read<typeof PaymentIntent, Stripe.PaymentIntent>>;
  charge: Accepts<z.output<typeof Charge>, Read<typeof Charge, Stripe.Charge>>;
  dispute: Accepts<z.output<typeof Dispute>, Read<typeof Dispute, Stripe.Dispute>>;
  event: Accepts<
    Omit<z.output<typeof PaymentIntentSucceeded>, 'type' | 'data'>,
    Pick<Stripe.Event, 'id' | 'object' | 'created' | 'livemode'>
  >;
}>;
