/**
 * Shopify's IDs are 64-bit integers, and many exceed JavaScript's safe integers (2^53 − 1):
 * `JSON.parse` turns `820982911946154508` into `820982911946154500`, a different order. A Shopify
 * body is therefore read with every integer literal beyond the safe range kept as the text it was
 * sent as (a string of its digits): an ID's digits are never changed, and the schemas read an ID as
 * digits whether it came as a safe number or as such a string. Everything else is `JSON.parse`'s.
 */
export function parseShopifyJson(raw: Buffer | string): unknown {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  return JSON.parse(quoteUnsafeIntegers(text));
}

const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** The JSON text with each integer literal outside a string that a double cannot hold exactly written as a string. */
export function quoteUnsafeIntegers(text: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Skip the string, escapes included: a number inside one is text, not a literal.
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const literal = NUMBER.exec(text)?.[0];
      if (literal === undefined) continue; // not a number: JSON.parse reports it
      if (/^-?\d+$/.test(literal) && !Number.isSafeInteger(Number(literal))) {
        out += `${text.slice(from, i)}"${literal}"`;
        from = i + literal.length;
      }
      i += literal.length - 1;
    }
  }
  return from === 0 ? text : out + text.slice(from);
}
