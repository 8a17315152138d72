import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addDecimal, amountOf, compareDecimal, exceeds, fromMinorUnits } from '../src/events/money';
import { toDecimalAmount } from '../src/db/repo';
import { assessInquiry } from '../src/agent/policy';
import { renderCustomerMessage } from '../src/agent/templates';
import { loadWorkerConfig } from '../src/config/worker';
import { sandboxWorkerEnv } from '../src/sandbox';

describe('money', () => {
  it('turns minor units into the decimal amount, by the currency exponent', () => {
    expect(fromMinorUnits(1099, 2)).toBe('10.99');
    expect(fromMinorUnits(5, 2)).toBe('0.05');
    expect(fromMinorUnits(0, 2)).toBe('0.00');
    expect(fromMinorUnits(500, 0)).toBe('500');
    expect(fromMinorUnits(1500, 3)).toBe('1.500');
    expect(fromMinorUnits(7, 3)).toBe('0.007');
    expect(fromMinorUnits(99_999_999, 2)).toBe('999999.99');
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => fromMinorUnits(bad, 2)).toThrow(RangeError);
  });

  it('gives the number a person would write for the decimal, and refuses one it cannot hold', () => {
    expect(amountOf('10.99')).toBe(10.99);
    expect(amountOf('1.500')).toBe(1.5);
    expect(amountOf('0.00')).toBe(0);
    expect(() => amountOf('12345678901234567.89')).toThrow(/more digits/);
    expect(() => amountOf('1e3')).toThrow(RangeError);
    expect(() => amountOf('-1')).toThrow(RangeError);
  });

  it('is exact for every amount a provider can send: the stored text is the decimal, digit for digit', () => {
    // Stripe's largest amount is 8 digits (99,999,999); a wider range costs nothing here.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999_999_999 }), fc.constantFrom(0, 2, 3), (minor, exponent) => {
        const text = fromMinorUnits(minor, exponent);
        const amount = amountOf(text);
        // What the knowledge base stores for the event's amount is the same decimal.
        expect(compareDecimal(toDecimalAmount(amount), text)).toBe(0);
        // Float division happens to agree for these; multiplication back does not always, hence text.
        expect(amount).toBe(Number(text));
      }),
    );
  });

  it('compares decimals by value and never across currencies', () => {
    expect(compareDecimal('10.5', '10.50')).toBe(0);
    expect(compareDecimal('9.99', '10')).toBe(-1);
    expect(compareDecimal('100.001', '100')).toBe(1);
    expect(compareDecimal('007', '7.0')).toBe(0);
    expect(exceeds({ amount: 250, currency: 'USD' }, { amount: 200, currency: 'usd' })).toBe(true);
    expect(exceeds({ amount: 200, currency: 'USD' }, { amount: 200, currency: 'USD' })).toBe(false);
    expect(exceeds({ amount: 30000, currency: 'JPY' }, { amount: 200, currency: 'USD' })).toBeUndefined();
  });

  it("adds Shopify's decimal strings exactly, where floats would not: 0.1 + 0.2 is 0.3", () => {
    expect(addDecimal('75.00', '10.00')).toBe('85');
    expect(addDecimal('0.1', '0.2')).toBe('0.3');
    expect(addDecimal('19.99', '0.015')).toBe('20.005');
    expect(addDecimal('0', '0.00')).toBe('0');
    expect(addDecimal('9007199254740993.01', '1')).toBe('9007199254740994.01');
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.nat({ max: 4 }), (a, b, scale) => {
        const text = (n: bigint) =>
          scale === 0 ? n.toString() : `${n / 10n ** BigInt(scale)}.${(n % 10n ** BigInt(scale)).toString().padStart(scale, '0')}`;
        expect(compareDecimal(addDecimal(text(a), text(b)), text(a + b))).toBe(0);
      }),
    );
  });
});

describe('the refund hand-over threshold carries a currency', () => {
  const order = (totalAmount: string, currency: string | null) => ({
    status: 'delivered' as const,
    statusEventAt: null,
    carrier: null,
    trackingNumber: null,
    eta: null,
    totalAmount,
    currency,
  });
  const assess = (o: ReturnType<typeof order>) =>
    assessInquiry({
      inquiry: { summary: 'I would like a refund for my order', order_id: 'ORD-1' },
      customer: { lastOrders: [], previousTickets: [] },
      recentInquiries: 0,
      order: o,
      refundHandoffThreshold: 200,
      refundHandoffCurrency: 'USD',
    });

  it('measures an order in its own currency against it, and never one in another currency', () => {
    expect(assess(order('250', 'USD')).reason).toBe('refund request of 250 above the 200 threshold or of unknown amount');
    expect(assess(order('150', 'usd')).reason).toBe('refund requests are confirmed by a person');
    // 150 JPY is not "under 200 USD": it is not measured against it at all.
    expect(assess(order('150', 'JPY')).reason).toBe('refund request of 150 JPY, not comparable with the 200 USD threshold');
  });

  it('reads REFUND_HANDOFF_THRESHOLD as an amount and its currency', () => {
    const systems = sandboxWorkerEnv('http://127.0.0.1:4010');
    expect(loadWorkerConfig({ ...systems }).agent).toMatchObject({ refundHandoffThreshold: 200, refundHandoffCurrency: 'USD' });
    expect(loadWorkerConfig({ ...systems, REFUND_HANDOFF_THRESHOLD: '30000 jpy' }).agent).toMatchObject({
      refundHandoffThreshold: 30000,
      refundHandoffCurrency: 'JPY',
    });
    expect(() => loadWorkerConfig({ ...systems, REFUND_HANDOFF_THRESHOLD: 'lots' })).toThrow(
      /REFUND_HANDOFF_THRESHOLD: expected an amount and its currency/,
    );
  });
});

describe("a customer message shows an amount with its currency's ISO 4217 decimals", () => {
  const refunded = (amount: number, currency: string) =>
    renderCustomerMessage({ kind: 'payment-refunded', orderId: 'ORD-1', amount, currency }).body;

  it('two for USD and HUF (CLDR shows HUF whole), none for JPY, three for KWD', () => {
    expect(refunded(10.5, 'USD')).toContain('We refunded 10.50 USD for order ORD-1.');
    expect(refunded(1234.5, 'HUF')).toContain('We refunded 1234.50 HUF');
    expect(refunded(500, 'JPY')).toContain('We refunded 500 JPY');
    expect(refunded(1.25, 'KWD')).toContain('We refunded 1.250 KWD');
  });
});
