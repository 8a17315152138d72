import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUpstreamFailure, type UpstreamFailureDetails } from '../src/clients';
import { createStripeClient, STRIPE_API_VERSION, stripePaymentRef, type StripeClient } from '../src/providers/stripe/client';
import { startStripeMock } from './support/stripe-mock';

/** The failure a call ended with, for asserting its classification. */
async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${String(err)}`);
  return err;
}

describe('Stripe client against stripe-mock (every request checked against Stripe’s OpenAPI specification)', () => {
  let mock: Awaited<ReturnType<typeof startStripeMock>>;
  let stripe: StripeClient;

  beforeAll(async () => {
    mock = await startStripeMock();
    stripe = createStripeClient({ apiKey: 'sk_test_hookline', baseUrl: mock.url });
  });
  afterAll(async () => mock?.close());

  it('refunds a payment intent in minor units with the idempotency key, and reads the amount back in major units', async () => {
    const refund = await stripe.refund(
      { payment: { payment_intent: 'pi_3MtwBwLkdIwHu7ix28a3tqPa' }, amount: 10.99, currency: 'USD', metadata: { return_id: 'RET-1' } },
      'wf-return:RET-1:refund',
    );
    expect(refund.refundId).toMatch(/^re_/);
    // stripe-mock echoes the amount sent: 1099 cents are 10.99.
    expect(refund.amount).toBe(10.99);
    expect(refund.status).toBe('succeeded');
  });

  it('refunds a charge', async () => {
    const refund = await stripe.refund({ payment: { charge: 'ch_3MtwBwLkdIwHu7ix28a3tqPa' }, amount: 5, currency: 'USD' }, 'k-charge');
    expect(refund.refundId).toMatch(/^re_/);
  });

  it('looks up a payment intent and a charge', async () => {
    const intent = await stripe.paymentIntent('pi_3MtwBwLkdIwHu7ix28a3tqPa');
    expect(intent.object).toBe('payment_intent');
    const charge = await stripe.charge('ch_3MtwBwLkdIwHu7ix28a3tqPa');
    expect(charge.object).toBe('charge');
    expect((await stripe.account()).object).toBe('account');
  });

  it('refuses an amount its currency cannot hold, and a write without a key, before any request', async () => {
    const cents = await failureOf(stripe.refund({ payment: { payment_intent: 'pi_1' }, amount: 10.999, currency: 'USD' }, 'k'));
    expect(cents.type).toBe('UpstreamInvalidRequest');
    expect(cents.nonRetryable).toBe(true);
    const keyless = await failureOf(stripe.refund({ payment: { payment_intent: 'pi_1' }, amount: 1, currency: 'USD' }, ' '));
    expect(keyless.type).toBe('UpstreamInvalidRequest');
  });
});

describe('stripePaymentRef', () => {
  it('names Stripe objects by their documented prefixes and nothing else', () => {
    expect(stripePaymentRef('pi_3MtwBw')).toEqual({ payment_intent: 'pi_3MtwBw' });
    expect(stripePaymentRef('ch_3MtwBw')).toEqual({ charge: 'ch_3MtwBw' });
    expect(stripePaymentRef('PMT-1001')).toBeUndefined();
    expect(stripePaymentRef('pi_')).toBeUndefined();
  });
});

describe('Stripe client classifies what the API answers', () => {
  type Handler = (req: IncomingMessage, res: ServerResponse) => void;
  let handler: Handler = (_req, res) => res.end();
  const seen: IncomingMessage[] = [];
  const bodies: string[] = [];
  let server: Server;
  let stripe: StripeClient;
  const error = (res: ServerResponse, status: number, headers: Record<string, string> = {}, type = 'api_error') => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ error: { type, message: `answered ${status} sk_test_classify_secret` } }));
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req);
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        bodies.push(body);
        handler(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    // A path prefix, as the sandbox mounts Stripe at /stripe: kept in front of /v1.
    stripe = createStripeClient({ apiKey: 'sk_test_classify_secret', baseUrl: `http://127.0.0.1:${port}/stripe`, timeoutMs: 500 });
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const refund = () => stripe.refund({ payment: { payment_intent: 'pi_1' }, amount: 1, currency: 'USD' }, 'the-key');

  it('sends the pinned API version, the idempotency key and the path under the base URL', async () => {
    handler = (_req, res) => error(res, 400, {}, 'invalid_request_error');
    await failureOf(refund());
    const req = seen.at(-1)!;
    expect(req.url).toBe('/stripe/v1/refunds');
    expect(req.headers['stripe-version']).toBe(STRIPE_API_VERSION);
    expect(req.headers['idempotency-key']).toBe('the-key');
    expect(new URLSearchParams(bodies.at(-1)).get('amount')).toBe('100');
  });

  it('a zero-decimal currency is sent in whole units, a three-decimal one in thousandths', async () => {
    handler = (_req, res) => error(res, 400, {}, 'invalid_request_error');
    await failureOf(stripe.refund({ payment: { charge: 'ch_1' }, amount: 500, currency: 'JPY' }, 'k-jpy'));
    expect(Object.fromEntries(new URLSearchParams(bodies.at(-1)))).toMatchObject({ charge: 'ch_1', amount: '500' });
    await failureOf(stripe.refund({ payment: { charge: 'ch_1' }, amount: 1.5, currency: 'KWD' }, 'k-kwd'));
    expect(new URLSearchParams(bodies.at(-1)).get('amount')).toBe('1500');
  });

  it('429 with Retry-After: retryable after that delay', async () => {
    handler = (_req, res) => error(res, 429, { 'retry-after': '7' }, 'invalid_request_error');
    const failure = await failureOf(refund());
    expect(failure.type).toBe('UpstreamRateLimited');
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBe(7000);
  });

  it('5xx: retryable, unless Stripe says not to retry', async () => {
    handler = (_req, res) => error(res, 503);
    expect((await failureOf(refund())).type).toBe('UpstreamUnavailable');
    handler = (_req, res) => error(res, 500, { 'stripe-should-retry': 'false' });
    const final = await failureOf(refund());
    expect(final.type).toBe('UpstreamRejected');
    expect(final.nonRetryable).toBe(true);
  });

  it('a 409 Stripe marks retryable (a lock conflict) is retried; another 4xx is final, without the key in the message', async () => {
    handler = (_req, res) => error(res, 409, { 'stripe-should-retry': 'true' }, 'api_error');
    expect((await failureOf(refund())).nonRetryable).toBe(false);
    handler = (_req, res) => error(res, 400, {}, 'invalid_request_error');
    const rejected = await failureOf(refund());
    expect(rejected.type).toBe('UpstreamRejected');
    expect(rejected.nonRetryable).toBe(true);
    expect(rejected.message).not.toContain('sk_test_classify_secret');
    expect(JSON.stringify(rejected.details)).not.toContain('sk_test_classify_secret');
  });

  it('404 on a lookup: not found', async () => {
    handler = (_req, res) => error(res, 404, {}, 'invalid_request_error');
    expect((await failureOf(stripe.paymentIntent('pi_missing'))).type).toBe('UpstreamNotFound');
  });

  it('a redirect is not followed', async () => {
    handler = (_req, res) => {
      res.writeHead(307, { location: 'https://elsewhere.example/v1/refunds' });
      res.end();
    };
    const before = seen.length;
    const failure = await failureOf(refund());
    expect(failure.type).toBe('UpstreamRedirected');
    expect((failure.details?.[0] as UpstreamFailureDetails).locationHost).toBe('elsewhere.example');
    expect(seen.length).toBe(before + 1);
  });

  it('no answer within the deadline: a retryable timeout; the caller’s cancellation is passed through as is', async () => {
    handler = () => undefined;
    const timeout = await failureOf(refund());
    expect(timeout.type).toBe('UpstreamTimeout');
    expect(timeout.nonRetryable).toBe(false);
    const controller = new AbortController();
    const cancelled = stripe.refund({ payment: { payment_intent: 'pi_1' }, amount: 1, currency: 'USD' }, 'k2', {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error('cancelled by the caller')), 50);
    const err = await cancelled.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUpstreamFailure(err)).toBe(false);
    expect((err as Error).message).toBe('cancelled by the caller');
  });

  it('a refused connection: retryable', async () => {
    const closed = createStripeClient({ apiKey: 'sk_test_x', baseUrl: 'http://127.0.0.1:1', timeoutMs: 500 });
    expect((await failureOf(closed.account())).type).toBe('UpstreamUnavailable');
  });
});
