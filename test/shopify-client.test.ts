import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createShopifyClient,
  paidUnitPrice,
  refundablePayment,
  SHOPIFY_ADMIN_API_VERSION,
  type ShopifyClient,
} from '../src/providers/shopify/client';
import { isCustomersOrder, shopifyOrderFacts, storeOrderRef } from '../src/providers/shopify/order-facts';
import { startSandbox, type RunningSandbox } from '../src/sandbox';

/**
 * The Shopify Admin GraphQL client (on `@shopify/admin-api-client`) against the sandbox's stand-in,
 * over real HTTP: what it reads and writes, each write once however often it is asked, and every way
 * an answer can fail classified as the other clients classify it.
 */

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${String(err)}`);
  return err;
}

const TOKEN = 'shpat_sandbox_token_123';
const ORDER = '4783296544821';
const RETURN = '123134564567890';

describe('Shopify client against the sandbox stand-in', () => {
  let sandbox: RunningSandbox;
  let shopify: ShopifyClient;
  let clock = 1_000_000;

  beforeAll(async () => {
    sandbox = await startSandbox({ token: TOKEN, generatePayments: false });
    shopify = createShopifyClient({
      shopDomain: 'hookline-dev.myshopify.com',
      accessToken: TOKEN,
      baseUrl: `${sandbox.url}/shopify`,
      timeoutMs: 500,
      now: () => clock,
    });
  });
  afterAll(async () => sandbox?.close());
  beforeEach(() => {
    sandbox.sandbox.reset();
    clock += 60_000; // a minute later: whatever bucket a test left is full again
    sandbox.sandbox.addShopifyOrder({
      orderId: ORDER,
      customerId: '115310627314723954',
      amount: '40.00',
      currency: 'USD',
      items: [{ sku: 'PROD-A', quantity: 2, title: 'Mug' }],
      fulfillments: [{ deliveredAt: '2026-11-20T10:00:00Z', company: 'USPS', number: '9400100000000000000000' }],
      returns: [{ returnId: RETURN }],
    });
  });

  /** A refund of `amount` USD against the order's payment, as the activity builds it from the order read. */
  const refundInput = async (amount: number) => {
    const order = await shopify.order(ORDER);
    const payment = order && refundablePayment(order, 'USD');
    if (!payment) throw new Error('the seeded order has no USD payment');
    return { orderId: ORDER, amount, currency: 'USD', note: `return of ${amount}`, payment };
  };
  const shopifyCalls = () => sandbox.sandbox.calls().filter((c) => c.system === 'shopify');

  it('names the pinned version in its path and reads the shop', async () => {
    expect(await shopify.shop()).toEqual({ name: 'hookline sandbox', domain: 'hookline-dev.myshopify.com', timeZone: 'America/New_York' });
    expect(shopifyCalls()[0]?.path).toBe(`/admin/api/${SHOPIFY_ADMIN_API_VERSION}/graphql.json`);
  });

  it('reads an order with its fulfillments, tracking, returns and payment; an unknown one is undefined', async () => {
    const order = await shopify.order(ORDER);
    expect(order).toMatchObject({
      orderId: ORDER,
      test: false,
      financialStatus: 'PAID',
      customerId: '115310627314723954',
      total: { amount: '40.00', currency: 'USD' },
      items: [{ productId: 'PROD-A', quantity: 2, title: 'Mug' }],
      fulfillments: [{ deliveredAt: '2026-11-20T10:00:00Z', tracking: [{ carrier: 'USPS', number: '9400100000000000000000' }] }],
      returns: [{ returnId: RETURN, status: 'REQUESTED' }],
      payments: [{ kind: 'SALE', gateway: 'shopify_payments', amount: '40.00', currency: 'USD' }],
    });
    expect(await shopify.order('1')).toBeUndefined();
  });

  it('reads what one unit was paid: with its share of the taxes charged on top, none added where prices include them', async () => {
    const line = (taxesIncluded: boolean) => ({
      customerId: '115310627314723954',
      amount: taxesIncluded ? '40.00' : '41.20',
      currency: 'USD',
      taxesIncluded,
      items: [
        { sku: 'MUG-1', quantity: 1, title: 'Mug', price: '25.00' },
        { sku: 'PLATE-2', quantity: 2, title: 'Plate', price: '7.50', tax: '1.20' },
      ],
    });
    sandbox.sandbox.addShopifyOrder({ orderId: '4783296544822', ...line(false) });
    sandbox.sandbox.addShopifyOrder({ orderId: '4783296544823', ...line(true) });
    const unitPrices = async (orderId: string) => (await shopify.order(orderId))?.items.map((i) => [i.productId, i.unitPrice]);
    expect(await unitPrices('4783296544822')).toEqual([
      ['MUG-1', '25.00'],
      ['PLATE-2', '8.10'],
    ]);
    expect(await unitPrices('4783296544823')).toEqual([
      ['MUG-1', '25.00'],
      ['PLATE-2', '7.50'],
    ]);
  });

  it("finds the newest order by its name or by its customer's email", async () => {
    const name = sandbox.state.shopify.orders[0]!.name;
    expect(await shopify.findOrder({ name })).toMatchObject({ orderId: ORDER, name });
    expect(await shopify.findOrder({ name: '#999999' })).toBeUndefined();
    sandbox.sandbox.addShopifyOrder({
      orderId: '4783296544822',
      customerId: '115310627314723954',
      email: 'Bob.Norman@example.com',
      amount: '12.00',
      currency: 'USD',
      createdAt: '2026-11-01T10:00:00Z',
    });
    sandbox.sandbox.addShopifyOrder({
      orderId: '4783296544823',
      customerId: '115310627314723954',
      email: 'bob.norman@example.com',
      amount: '15.00',
      currency: 'USD',
      createdAt: '2026-11-25T10:00:00Z',
      fulfillments: [{ displayStatus: 'OUT_FOR_DELIVERY', company: 'UPS', number: '1Z999AA10123456784' }],
    });
    const newest = await shopify.findOrder({ email: 'bob.norman@example.com' });
    expect(newest).toMatchObject({ orderId: '4783296544823', customerEmail: 'bob.norman@example.com' });
    expect(shopifyCalls().at(-1)?.operation).toBe('orders');

    // As the agent's decisions read an order: the parcel's status, the newest tracking, the total.
    expect(shopifyOrderFacts(newest!)).toMatchObject({
      status: 'out_for_delivery',
      carrier: 'UPS',
      trackingNumber: '1Z999AA10123456784',
      totalAmount: '15.00',
      currency: 'USD',
    });
    // The seeded order is delivered, but its return is requested: that is what the customer is told.
    expect(shopifyOrderFacts((await shopify.order(ORDER))!).status).toBe('return_requested');
  });

  it('refunds once per key, however often asked, and a different refund under the same key is refused', async () => {
    const input = await refundInput(25);
    const first = await shopify.refund(input, 'wf-1:refund');
    expect(first).toMatchObject({ amount: '25.00', currency: 'USD' });
    expect(await shopify.refund(input, 'wf-1:refund')).toEqual(first);
    expect(sandbox.state.shopify.refunds).toHaveLength(1);
    expect(sandbox.state.shopify.refunds[0]).toMatchObject({ idempotencyKey: 'wf-1:refund', note: 'return of 25' });
    expect(sandbox.state.shopify.orders[0]?.displayFinancialStatus).toBe('PARTIALLY_REFUNDED');

    const reused = await failureOf(shopify.refund({ ...input, amount: 5 }, 'wf-1:refund'));
    expect(reused.type).toBe('UpstreamRejected');
    expect(reused.nonRetryable).toBe(true);
    expect(reused.message).toContain('same idempotency key');
    // More than is left to refund: Shopify's userError, final.
    const over = await failureOf(shopify.refund({ ...input, amount: 20 }, 'wf-2:refund'));
    expect(over.type).toBe('UpstreamRejected');
    expect(over.message).toContain('refundable amount of 15.00');
    expect(sandbox.state.shopify.refunds).toHaveLength(1);
  });

  it('a refund whose answer was lost is made once: the retry is answered from the key', async () => {
    const input = await refundInput(10);
    sandbox.sandbox.addFault({ system: 'shopify', kind: 'reset', phase: 'after', times: 1 });
    const lost = await failureOf(shopify.refund(input, 'wf-3:refund'));
    expect(lost).toMatchObject({ type: 'UpstreamUnavailable', nonRetryable: false });
    expect(sandbox.state.shopify.refunds).toHaveLength(1);
    expect(await shopify.refund(input, 'wf-3:refund')).toMatchObject({ amount: '10.00' });
    expect(sandbox.state.shopify.refunds).toHaveLength(1);
  });

  it('refuses to refund without a key, before asking Shopify', async () => {
    const err = await failureOf(
      shopify.refund(
        {
          orderId: ORDER,
          amount: 1,
          currency: 'USD',
          note: 'x',
          payment: { transactionId: 'gid://shopify/OrderTransaction/1', gateway: null },
        },
        ' ',
      ),
    );
    expect(err.type).toBe('UpstreamInvalidRequest');
    expect(shopifyCalls()).toHaveLength(0);
  });

  it('approves and declines a return so the store shows it; a repeat counts as done, the opposite decision is refused', async () => {
    expect(await shopify.approveReturn(RETURN)).toEqual({ status: 'OPEN' });
    expect(await shopify.approveReturn(RETURN)).toEqual({ status: 'OPEN' });
    expect(sandbox.state.shopify.returns[0]?.status).toBe('OPEN');
    const declined = await failureOf(shopify.declineReturn(RETURN, 'too late'));
    expect(declined.type).toBe('UpstreamRejected');
    expect(declined.message).toContain('Only returns with status REQUESTED can be declined');

    sandbox.sandbox.addShopifyReturn({ returnId: '2', orderId: ORDER });
    expect(await shopify.declineReturn('2', 'outside the 30 days')).toEqual({ status: 'DECLINED' });
    expect(sandbox.state.shopify.returns[1]?.decline).toEqual({ reason: 'OTHER', note: 'outside the 30 days' });
  });

  it('THROTTLED is retryable after the time the bucket needs, and a query the bucket cannot pay for is not sent', async () => {
    await shopify.order(ORDER); // learns what an order read costs
    expect(shopifyCalls()).toHaveLength(1);
    // The bucket drained by someone else: Shopify answers THROTTLED with its throttleStatus.
    sandbox.sandbox.setShopifyBucket({ currentlyAvailable: 0, restoreRate: 1 });
    const throttled = await failureOf(shopify.shop());
    expect(throttled.type).toBe('UpstreamRateLimited');
    expect(throttled.nonRetryable).toBe(false);
    // `shop` asks 1 point, restored at 1 a second.
    expect(throttled.nextRetryDelay).toBe(1000);

    // The client now knows the bucket is empty: an order read (which costs more) is not sent.
    const before = shopifyCalls().length;
    const held = await failureOf(shopify.order(ORDER));
    expect(held.type).toBe('UpstreamRateLimited');
    expect(Number(held.nextRetryDelay)).toBeGreaterThan(1000);
    expect(shopifyCalls()).toHaveLength(before);
    // Once the bucket has had that time, it goes.
    clock += Number(held.nextRetryDelay);
    sandbox.sandbox.setShopifyBucket({ currentlyAvailable: 2000, restoreRate: 100 });
    await expect(shopify.order(ORDER)).resolves.toMatchObject({ orderId: ORDER });
  });

  it('429 honours Retry-After; 5xx retryable; a timeout retryable; 401 final', async () => {
    sandbox.sandbox.addFault({ system: 'shopify', kind: 'status', status: 429, retryAfterSeconds: 2, times: 1 });
    const limited = await failureOf(shopify.shop());
    expect(limited).toMatchObject({ type: 'UpstreamRateLimited', nonRetryable: false, nextRetryDelay: 2000 });

    sandbox.sandbox.addFault({ system: 'shopify', kind: 'status', status: 503, times: 1 });
    expect(await failureOf(shopify.shop())).toMatchObject({ type: 'UpstreamUnavailable', nonRetryable: false });

    sandbox.sandbox.addFault({ system: 'shopify', kind: 'hang', times: 1 });
    const slow = await failureOf(shopify.shop());
    expect(slow).toMatchObject({ type: 'UpstreamTimeout', nonRetryable: false });
    expect(slow.message).toContain('500 ms');

    const wrong = createShopifyClient({
      shopDomain: 'hookline-dev.myshopify.com',
      accessToken: 'shpat_wrong',
      baseUrl: `${sandbox.url}/shopify`,
    });
    const refused = await failureOf(wrong.shop());
    expect(refused).toMatchObject({ type: 'UpstreamRejected', nonRetryable: true });
    expect(refused.message).not.toContain('shpat_wrong');
  });

  describe('a redirect', () => {
    let server: Server;
    let hits = 0;
    beforeAll(async () => {
      server = createServer((req, res) => {
        hits++;
        res.writeHead(301, { location: `https://elsewhere.example${req.url}` }).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('is not followed (the token would go with it), and is final', async () => {
      const port = (server.address() as AddressInfo).port;
      const client = createShopifyClient({
        shopDomain: 'hookline-dev.myshopify.com',
        accessToken: TOKEN,
        baseUrl: `http://127.0.0.1:${port}`,
      });
      const err = await failureOf(client.shop());
      expect(err).toMatchObject({ type: 'UpstreamRedirected', nonRetryable: true });
      expect(err.message).toContain('to elsewhere.example');
      expect(hits).toBe(1);
    });
  });
});

describe('what one unit of a Shopify order line was paid', () => {
  const usd = (amount: string) => ({ amount, currencyCode: 'USD' });

  it('is the price after discounts where the shop charges no tax, or its prices include it', () => {
    expect(paidUnitPrice({ unitPrice: usd('7.50'), quantity: 2, taxes: [], taxesIncluded: false })).toBe('7.50');
    expect(paidUnitPrice({ unitPrice: usd('7.50'), quantity: 2, taxes: ['1.20'], taxesIncluded: true })).toBe('7.50');
  });

  it("adds the unit's share of every tax on the line where the shop charges tax on top", () => {
    expect(paidUnitPrice({ unitPrice: usd('7.50'), quantity: 2, taxes: ['1.20'], taxesIncluded: false })).toBe('8.10');
    // State and county taxes on one line, as Shopify lists them for a US address.
    expect(paidUnitPrice({ unitPrice: usd('10.00'), quantity: 3, taxes: ['1.80', '0.45'], taxesIncluded: false })).toBe('10.75');
    // Shopify's amounts as its Decimal scalar may write them, without trailing zeros.
    expect(paidUnitPrice({ unitPrice: usd('7.5'), quantity: 2, taxes: ['1.2'], taxesIncluded: false })).toBe('8.10');
  });

  it("rounds a share that does not come out exact half-up to the currency's minor unit", () => {
    expect(paidUnitPrice({ unitPrice: usd('10.00'), quantity: 3, taxes: ['1.00'], taxesIncluded: false })).toBe('10.33');
    expect(paidUnitPrice({ unitPrice: usd('10.00'), quantity: 3, taxes: ['2.00'], taxesIncluded: false })).toBe('10.67');
    expect(paidUnitPrice({ unitPrice: usd('0.99'), quantity: 2, taxes: ['0.05'], taxesIncluded: false })).toBe('1.02');
    // Yen have no minor unit, dinars three decimals (ISO 4217).
    const jpy = { amount: '1000', currencyCode: 'JPY' };
    expect(paidUnitPrice({ unitPrice: jpy, quantity: 3, taxes: ['100'], taxesIncluded: false })).toBe('1033');
    expect(paidUnitPrice({ unitPrice: jpy, quantity: 2, taxes: ['101'], taxesIncluded: false })).toBe('1051');
    const kwd = { amount: '1.500', currencyCode: 'KWD' };
    expect(paidUnitPrice({ unitPrice: kwd, quantity: 2, taxes: ['0.075'], taxesIncluded: false })).toBe('1.538');
  });
});

describe("which Shopify order an inquiry is about, and whether it is the customer's", () => {
  const customer = { email: 'alice@example.com', lastOrders: [] };
  const inquiry = { summary: 'Where is my order?' };

  it('takes the order the inquiry names, by id or by number, else its words, else the latest listed', () => {
    expect(storeOrderRef({ ...inquiry, order_id: '4783296544821' }, customer)).toEqual({ id: '4783296544821' });
    expect(storeOrderRef({ ...inquiry, order_id: '#1001' }, customer)).toEqual({ name: '#1001' });
    expect(storeOrderRef({ ...inquiry, order_id: '1001' }, customer)).toEqual({ name: '#1001' });
    // Another system's order: not Shopify's to answer.
    expect(storeOrderRef({ ...inquiry, order_id: 'ORD-12345' }, customer)).toBeUndefined();
    expect(storeOrderRef({ summary: 'Has #1002 shipped?' }, customer)).toEqual({ name: '#1002' });
    const listed = { ...customer, lastOrders: [{ order_id: '4783296544821', status: 'shipped', date: '2026-11-20' }] };
    expect(storeOrderRef(inquiry, listed)).toEqual({ id: '4783296544821' });
  });

  it('searches by email only for an address the helpdesk verified', () => {
    expect(storeOrderRef(inquiry, customer)).toBeUndefined();
    expect(storeOrderRef(inquiry, { ...customer, emailVerified: false })).toBeUndefined();
    expect(storeOrderRef(inquiry, { ...customer, emailVerified: true })).toEqual({ email: 'alice@example.com' });
  });

  it("is the customer's when Shopify's customer is the inquiry's, or the trusted address matches", () => {
    const order = { customerId: '115310627314723954', customerEmail: 'Alice@Example.com' };
    expect(isCustomersOrder(order, '115310627314723954', { email: 'someone@example.net', emailVerified: false })).toBe(true);
    expect(isCustomersOrder(order, 'CUST-67890', { email: 'alice@example.com' })).toBe(true);
    expect(isCustomersOrder(order, 'zendesk:1', { email: 'alice@example.com', emailVerified: false })).toBe(false);
    expect(isCustomersOrder(order, 'CUST-67890', { email: 'bob@example.com' })).toBe(false);
    expect(isCustomersOrder({ customerId: '1' }, 'CUST-67890', { email: 'alice@example.com' })).toBe(false);
  });
});
