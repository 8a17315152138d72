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

/** The exact product of a non-negative decimal text and a whole count, by its digits: `timesDecimal("19.99", 3)` is `"59.97"`. */
export function timesDecimal(a: DecimalText, count: number): DecimalText {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`Not a count: ${count}`);
  const [ai, af] = parts(a);
  const scale = af.length;
  const product = BigInt(ai + af) * BigInt(count);
  if (scale === 0) return product.toString();
  const digits = product.toString().padStart(scale + 1, '0');
  return `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

/**
 * ISO 4217's minor unit for the currencies whose amounts are not in hundredths (List One's "minor
 * unit" column); every other code is two-decimal. ISO's, not a payment provider's: Stripe keeps
 * some of these two-decimal in its API (src/providers/stripe/map.ts has Stripe's own list).
 */
const ISO_4217_EXPONENTS: Readonly<Record<string, 0 | 3 | 4>> = {
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  CLF: 4,
  UYW: 4,
};

/** How many decimals an amount in `currency` (ISO 4217) has: `2` for USD, `0` for JPY, `3` for KWD. */
export function currencyExponent(currency: string): number {
  return ISO_4217_EXPONENTS[currency.toUpperCase()] ?? 2;
}

/**
 * One of `count` equal shares of a non-negative decimal text, by its digits, to `exponent` decimals,
 * rounded half-up when it does not come out exact there (money shared over units must land on a
 * minor unit): `shareDecimal("1.20", 2, 2)` is `"0.60"`, `shareDecimal("1.00", 3, 2)` is `"0.33"`,
 * `shareDecimal("0.05", 2, 2)` is `"0.03"`.
 */
export function shareDecimal(a: DecimalText, count: number, exponent: number): DecimalText {
  if (!Number.isSafeInteger(count) || count <= 0) throw new RangeError(`Not a count to share by: ${count}`);
  if (!Number.isInteger(exponent) || exponent < 0 || exponent > 4) throw new RangeError(`Not a currency exponent: ${String(exponent)}`);
  const [ai, af] = parts(a);
  // a / count in units of 10^-exponent is ai.af × 10^exponent / count; half-up is floor(x + 1/2).
  const numerator = BigInt(ai + af) * 10n ** BigInt(exponent);
  const denominator = BigInt(count) * 10n ** BigInt(af.length);
  const share = (2n * numerator + denominator) / (2n * denominator);
  if (exponent === 0) return share.toString();
  const digits = share.toString().padStart(exponent + 1, '0');
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}
