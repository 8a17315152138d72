import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { amountOf, compareDecimal, exceeds, fromMinorUnits } from '../src/events/money';
import { toDecimalAmount } from '../src/db/repo';

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
});
