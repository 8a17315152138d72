/**
 * Money as providers send it, turned into hookline's amounts exactly. hookline's events carry an
 * amount in the currency's major unit (`99.99`) beside its ISO 4217 code, and the knowledge base
 * stores it as decimal text (src/db/schema.ts). Providers send integers of the minor unit (Stripe:
 * `1099` is 10.99 USD, `500` is 500 JPY, `1500` is 1.500 KWD) or decimal strings (Shopify:
 * `"10.99"`). Every conversion here works on the digits as text, never by float arithmetic: the
 * amount an event carries is the JSON number a person would write for that decimal.
 */

/** Exact decimal text in the major unit, e.g. `"10.99"`, `"500"`, `"1.500"`. */
export type DecimalText = string;

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/**
 * `minor` units of a currency whose minor unit is 10^-`exponent` of the major one, as decimal text:
 * `fromMinorUnits(1099, 2)` is `"10.99"`, `fromMinorUnits(500, 0)` is `"500"`, `fromMinorUnits(1500, 3)`
 * is `"1.500"`. Refuses what is not a non-negative safe integer: a provider amount never is.
 */
export function fromMinorUnits(minor: number, exponent: number): DecimalText {
  if (!Number.isSafeInteger(minor) || minor < 0) throw new RangeError(`Not an amount in minor units: ${String(minor)}`);
  if (!Number.isInteger(exponent) || exponent < 0 || exponent > 4) throw new RangeError(`Not a currency exponent: ${String(exponent)}`);
  if (exponent === 0) return String(minor);
  const digits = String(minor).padStart(exponent + 1, '0');
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/**
 * An amount in the major unit as an integer of minor units, exactly: `toMinorUnits(10.99, 2)` is
 * `1099`, `toMinorUnits(500, 0)` is `500`. Refuses an amount with more decimals than the currency
 * has (`10.999 USD` cannot be paid), rather than rounding money.
 */
export function toMinorUnits(amount: number, exponent: number): number {
  if (!Number.isInteger(exponent) || exponent < 0 || exponent > 4) throw new RangeError(`Not a currency exponent: ${String(exponent)}`);
  const [whole, fraction] = parts(String(amount));
  if (fraction.length > exponent) throw new RangeError(`Amount ${String(amount)} has more decimals than its currency (${exponent})`);
  const minor = Number(whole + fraction.padEnd(exponent, '0'));
  if (!Number.isSafeInteger(minor)) throw new RangeError(`Amount ${String(amount)} is too large`);
  return minor;
}

/**
 * The JSON number for decimal text, refusing any the number cannot hold exactly (more significant
 * digits than a double keeps): `"10.99"` is `10.99`, `"1.500"` is `1.5`, `"12345678901234567.89"` is
 * refused rather than rounded.
 */
export function amountOf(text: DecimalText): number {
  const match = DECIMAL.exec(text.trim());
  if (!match) throw new RangeError(`Not a plain decimal amount: ${JSON.stringify(text)}`);
  const value = Number(match[0]);
  if (compareDecimal(String(value), match[0]) !== 0) throw new RangeError(`Amount ${match[0]} has more digits than an amount may hold`);
  return value;
}

/** Orders two non-negative decimal texts by value, by their digits: `"10.5"` and `"10.50"` are equal. */
export function compareDecimal(a: DecimalText, b: DecimalText): -1 | 0 | 1 {
  const [ai, af] = parts(a);
  const [bi, bf] = parts(b);
  if (ai.length !== bi.length) return ai.length < bi.length ? -1 : 1;
  const width = Math.max(af.length, bf.length);
  const x = ai + af.padEnd(width, '0');
  const y = bi + bf.padEnd(width, '0');
  return x === y ? 0 : x < y ? -1 : 1;
}

function parts(text: DecimalText): [string, string] {
  // String(number) may use an exponent for tiny or huge values; amounts never reach them.
  const match = DECIMAL.exec(text.trim());
  if (!match) throw new RangeError(`Not a plain decimal amount: ${JSON.stringify(text)}`);
  return [match[1]!.replace(/^0+(?=\d)/, ''), (match[2] ?? '').replace(/0+$/, '')];
}

/** An amount with its currency: what a threshold is, so that it is never compared with another currency's amount. */
export interface Money {
  amount: number;
  /** ISO 4217, upper case. */
  currency: string;
}

/**
 * Whether `amount` (in `currency`) is above `threshold`. Undefined when the currencies differ: an
 * amount in one currency says nothing about a threshold in another, and the caller decides what
 * that means (the refund hand-over treats it as above: a person looks).
 */
export function exceeds(amount: Money, threshold: Money): boolean | undefined {
  if (amount.currency.toUpperCase() !== threshold.currency.toUpperCase()) return undefined;
  return compareDecimal(String(amount.amount), String(threshold.amount)) > 0;
}

/** The exact sum of two non-negative decimal texts, by their digits: `addDecimal("75.00", "10.5")` is `"85.5"`. */
export function addDecimal(a: DecimalText, b: DecimalText): DecimalText {
  const [ai, af] = parts(a);
  const [bi, bf] = parts(b);
  const scale = Math.max(af.length, bf.length);
  const sum = BigInt(ai + af.padEnd(scale, '0')) + BigInt(bi + bf.padEnd(scale, '0'));
  if (scale === 0) return sum.toString();
  const digits = sum.toString().padStart(scale + 1, '0');
  return `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}
