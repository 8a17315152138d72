// Plain HMAC-SHA256 over the raw body (GitHub-style hex, Shopify-style base64). Node's crypto is
// the whole implementation; @octokit/webhooks-methods only takes string payloads and one secret
// per call, and Shopify ships no verifier, so both are test peers rather than dependencies.
import { randomBytes } from 'node:crypto';
import { WebhookVerificationError } from './errors';
import { hmacSha256, headerValue, safeEqual } from './shared';
import type { WebhookScheme } from './types';

const HEX_SIGNATURE = /^(?:sha256=)?([0-9a-f]{64})$/i;
// 32 bytes in standard base64; some senders drop the padding.
const BASE64_SIGNATURE = /^[A-Za-z0-9+/]{43}=?$/;

interface HmacEncoding {
  /** The MAC in the header, or undefined when the value is not one. */
  parse(value: string): Buffer | undefined;
  format(mac: Buffer): string;
}

const hex: HmacEncoding = {
  parse: (value) => {
    const digits = HEX_SIGNATURE.exec(value)?.[1];
    return digits === undefined ? undefined : Buffer.from(digits, 'hex');
  },
  format: (mac) => `sha256=${mac.toString('hex')}`,
};

const base64: HmacEncoding = {
  parse: (value) => (BASE64_SIGNATURE.test(value) ? Buffer.from(value, 'base64') : undefined),
  format: (mac) => mac.toString('base64'),
};

/**
 * A plain HMAC scheme: the MAC of the body alone, in one header a source may rename
 * (`WEBHOOK_HEADER_<SOURCE>`), keyed with the secret string as given (as GitHub and Shopify
 * define it). No timestamp, and the delivery-id header is not covered by the HMAC: whoever holds
 * a captured delivery can resend it under any id, so that header is kept as a reference only
 * (see VerifiedDelivery.deliveryRef).
 */
function hmacScheme(encoding: HmacEncoding, headers: { signature: string; deliveryRef: string }): WebhookScheme {
  return {
    timestamped: false,
    headers,
    verify(rawBody, received, keys, options) {
      const name = options?.signatureHeader ?? headers.signature;
      const value = headerValue(received, name);
      if (value === undefined) throw new WebhookVerificationError('missing-header', `Missing ${name.toLowerCase()} header`);
      const mac = encoding.parse(value);
      if (mac === undefined) throw new WebhookVerificationError('malformed-header');
      if (!keys.some((key) => safeEqual(hmacSha256(key, rawBody), mac))) throw new WebhookVerificationError('bad-signature');
      const ref = headerValue(received, headers.deliveryRef);
      return ref === undefined ? {} : { deliveryRef: ref };
    },
    sign(rawBody, key, options) {
      const name = (options.signatureHeader ?? headers.signature).toLowerCase();
      const signed: Record<string, string> = { [name]: encoding.format(hmacSha256(key, rawBody)) };
      if (options.id !== undefined) signed[headers.deliveryRef] = options.id;
      return signed;
    },
    secret: {
      generate: () => randomBytes(32).toString('hex'),
      key: (secret) => Buffer.from(secret, 'utf8'),
      format: 'a non-empty string',
      bytes: (secret) => Buffer.byteLength(secret, 'utf8'),
      measured: '',
    },
  };
}

/** GitHub-style: `sha256=<hex>` (the prefix optional). */
export const hmacSha256Hex = hmacScheme(hex, { signature: 'x-webhook-signature', deliveryRef: 'x-github-delivery' });

/** Shopify-style: standard base64. */
export const hmacSha256Base64 = hmacScheme(base64, { signature: 'x-shopify-hmac-sha256', deliveryRef: 'x-shopify-webhook-id' });
