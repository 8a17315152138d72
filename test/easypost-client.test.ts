import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isUpstreamFailure } from '../src/clients';
import { createEasyPostClient, type EasyPostClient } from '../src/providers/easypost/client';
import { createStripeClient } from '../src/providers/stripe/client';
import { SANDBOX_RETURN_ADDRESS_ID } from '../src/sandbox/easypost';
import { startSandbox, type RunningSandbox } from '../src/sandbox';

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${String(err)}`);
  return err;
}

const customer = { name: 'Alice Smith', street1: '417 Montgomery St', city: 'San Francisco', state: 'CA', zip: '94104', country: 'US' };

describe('EasyPost client against the sandbox stand-in', () => {
  let sandbox: RunningSandbox;
  let easypost: EasyPostClient;

  beforeAll(async () => {
    sandbox = await startSandbox({ token: 'sandbox-token-123' });
    easypost = createEasyPostClient({ apiKey: 'sandbox-token-123', baseUrl: `${sandbox.url}/easypost/v2`, timeoutMs: 500 });
  });
  afterAll(async () => sandbox?.close());
  beforeEach(() => sandbox.sandbox.reset());

  const newShipment = () =>
    easypost.createReturnShipment({ customer, returnAddressId: SANDBOX_RETURN_ADDRESS_ID, weightOz: 16, reference: 'RET-1' });

  it('creates a return shipment, buys it once however often asked, voids it once however often asked', async () => {
    const { shipmentId } = await newShipment();
    expect(shipmentId).toMatch(/^shp_/);
    const shipment = sandbox.state.easypost.shipments[0]!;
    // A return: the label runs from the customer to the shop.
    expect(shipment.is_return).toBe(true);
    expect(shipment.from_address.street1).toBe(customer.street1);
    expect(shipment.to_address.id).toBe(SANDBOX_RETURN_ADDRESS_ID);

    const label = await easypost.buyShipment(shipmentId);
    expect(label).toMatchObject({ shipmentId, carrier: 'USPS' });
    expect(label.labelUrl).toContain(shipmentId);
    // The cheapest rate.
    expect(shipment.selected_rate?.service).toBe('GroundAdvantage');
    // A repeat (an answer lost) gets the same label, not a second purchase.
    expect(await easypost.buyShipment(shipmentId)).toEqual(label);
    expect(sandbox.state.easypost.purchases).toHaveLength(1);

    expect(await easypost.refundShipment(shipmentId)).toEqual({ refundStatus: 'submitted' });
    expect(await easypost.refundShipment(shipmentId)).toEqual({ refundStatus: 'submitted' });
    const refunds = sandbox.sandbox.calls().filter((c) => c.system === 'easypost' && c.path.endsWith('/refund'));
    expect(refunds).toHaveLength(1);
  });

  it('creates a tracker and reads the account', async () => {
    const { trackerId } = await easypost.createTracker({ trackingCode: 'EZ1000000001', carrier: 'USPS' });
    expect(trackerId).toMatch(/^trk_/);
    expect(sandbox.state.easypost.trackers[0]).toMatchObject({ tracking_code: 'EZ1000000001' });
    expect((await easypost.me()).id).toBe('user_sandbox');
  });

  it('classifies: 429 with Retry-After, 5xx, 422, 404, a redirect, a hang, a reset, a bad key', async () => {
    const fault = (spec: object) => sandbox.sandbox.addFault({ system: 'easypost', times: 1, ...spec });
    fault({ kind: 'status', status: 429, retryAfterSeconds: 3 });
    const limited = await failureOf(newShipment());
    expect(limited.type).toBe('UpstreamRateLimited');
    expect(limited.nextRetryDelay).toBe(3000);
    fault({ kind: 'status', status: 503 });
    expect((await failureOf(newShipment())).type).toBe('UpstreamUnavailable');
    const invalid = await failureOf(
      easypost.createReturnShipment({ customer, returnAddressId: 'adr_unknown', weightOz: 16, reference: 'x' }),
    );
    expect(invalid.type).toBe('UpstreamRejected');
    expect(invalid.nonRetryable).toBe(true);
    expect((await failureOf(easypost.buyShipment('shp_missing'))).type).toBe('UpstreamNotFound');
    fault({ kind: 'status', status: 302 });
    expect((await failureOf(newShipment())).type).toBe('UpstreamRedirected');
    fault({ kind: 'hang' });
    const hung = await failureOf(newShipment());
    expect(hung.type).toBe('UpstreamTimeout');
    expect(hung.nonRetryable).toBe(false);
    fault({ kind: 'reset' });
    expect((await failureOf(newShipment())).type).toBe('UpstreamUnavailable');
    const wrongKey = createEasyPostClient({ apiKey: 'not-the-token', baseUrl: `${sandbox.url}/easypost/v2` });
    const unauthorized = await failureOf(wrongKey.me());
    expect(unauthorized.type).toBe('UpstreamRejected');
    expect(unauthorized.message).not.toContain('not-the-token');
  });

  it('a caller’s cancellation aborts the request and is passed through as is', async () => {
    sandbox.sandbox.addFault({ system: 'easypost', kind: 'hang', times: 1 });
    const controller = new AbortController();
    const pending = easypost.me({ signal: controller.signal, timeoutMs: 5_000 });
    setTimeout(() => controller.abort(new Error('cancelled by the caller')), 50);
    const err = await pending.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUpstreamFailure(err)).toBe(false);
    expect((err as Error).message).toBe('cancelled by the caller');
  });
});

describe('Stripe client against the sandbox stand-in (state: refunds add up, a dispute finds its order)', () => {
  let sandbox: RunningSandbox;
  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(async () => sandbox?.close());

  it('refunds once per key, refuses more than was paid, and links a charge to its order', async () => {
    sandbox.sandbox.addStripePaymentIntent({ id: 'pi_sandbox1', amount: 2000, currency: 'usd', metadata: { order_id: 'ORD-9' } });
    const stripe = createStripeClient({ apiKey: 'sk_test_sandbox', baseUrl: `${sandbox.url}/stripe` });
    const input = { payment: { payment_intent: 'pi_sandbox1' }, amount: 15, currency: 'USD' };
    const first = await stripe.refund(input, 'key-1');
    expect(await stripe.refund(input, 'key-1')).toEqual(first);
    expect(sandbox.state.stripe.refunds).toHaveLength(1);
    expect(sandbox.state.stripe.refunds[0]).toMatchObject({ amount: 1500, payment_intent: 'pi_sandbox1' });
    const tooMuch = await failureOf(stripe.refund(input, 'key-2'));
    expect(tooMuch.type).toBe('UpstreamRejected');
    expect(tooMuch.message).toContain('amount_too_large');
    const reused = await failureOf(stripe.refund({ ...input, amount: 1 }, 'key-1'));
    expect(reused.message).toContain('idempotency_error');
    expect(reused.nonRetryable).toBe(true);

    expect(await stripe.orderOfPayment({ charge: 'ch_sandbox1' }, 'order_id')).toBe('ORD-9');
    expect(await stripe.orderOfPayment({ payment_intent: 'pi_sandbox1' }, 'shop_order')).toBeUndefined();
    expect((await failureOf(stripe.charge('ch_nope'))).type).toBe('UpstreamNotFound');
  });
});
