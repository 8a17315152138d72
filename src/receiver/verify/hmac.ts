// Plain HMAC-SHA256 over the raw body (GitHub-style hex, Shopify-style base64). Node's crypto is
// the whole implementation; @octokit/webhooks-methods only takes string payloads and one secret
// per call, and Shopify ships no verifier, so both are test peers rather than dependencies.
import { randomBytes } from 'node:crypto';
import { WebhookVerificationError } from './errors';
import { hmacSha256, headerValue, requireSecrets, safeEqual } from './shared';
import type { Headers, SignOptions, VerifiedDelivery, VerifyOptions } from './types';

export type HmacScheme = 'hmac-sha256-hex' | 'hmac-sha256-base64';

export const DEFAULT_SIGNATURE_HEADERS = {
  'hmac-sha256-hex': 'x-webhook-signature',
  'hmac-sha256-base64': 'x-shopify-hmac-sha256',
} as const;

// Not covered by the HMAC, and these schemes carry no timestamp: whoever holds a captured delivery
// can resend it under any id. Kept as a reference only (see VerifiedDelivery.deliveryRef).
export const DELIVERY_ID_HEADERS = {
  'hmac-sha256-hex': 'x-github-delivery',
  'hmac-sha256-base64': 'x-shopify-webhook-id',
} as const;

const HEX_SIGNATURE = /^(?:sha256=)?([0-9a-f]{64})$/i;
// 32 bytes in standard base64; some senders drop the padding.
const BASE64_SIGNATURE = /^[A-Za-z0-9+/]{43}=?$/;

function parseSignature(scheme: HmacScheme, value: string): Buffer | undefined {
  if (scheme === 'hmac-sha256-hex') {
    const hex = HEX_SIGNATURE.exec(value)?.[1];
    return hex === undefined ? undefined : Buffer.from(hex, 'hex');
  }
  return BASE64_SIGNATURE.test(value) ? Buffer.from(value, 'base64') : undefined;
}

export function verifyHmac(
  scheme: HmacScheme,
  rawBody: Buffer,
  headers: Headers,
  secrets: readonly string[],
  options: VerifyOptions | undefined,
): VerifiedDelivery {
  const keys = requireSecrets(secrets);
  const name = options?.signatureHeader ?? DEFAULT_SIGNATURE_HEADERS[scheme];
  const value = headerValue(headers, name);
  if (value === undefined) throw new WebhookVerificationError('missing-header', `Missing ${name.toLowerCase()} header`);
  const received = parseSignature(scheme, value);
  if (received === undefined) throw new WebhookVerificationError('malformed-header');
  // The key is the secret string as given, as both GitHub and Shopify define it.
  if (!keys.some((key) => safeEqual(hmacSha256(key, rawBody), received))) {
    throw new WebhookVerificationError('bad-signature');
  }
  const ref = headerValue(headers, DELIVERY_ID_HEADERS[scheme]);
  return ref === undefined ? {} : { deliveryRef: ref };
}

export function signHmac(scheme: HmacScheme, rawBody: Buffer, secret: string, options: SignOptions): Record<string, string> {
  const digest = hmacSha256(secret, rawBody);
  const name = (options.signatureHeader ?? DEFAULT_SIGNATURE_HEADERS[scheme]).toLowerCase();
  const headers: Record<string, string> = {
    [name]: scheme === 'hmac-sha256-hex' ? `sha256=${digest.toString('hex')}` : digest.toString('base64'),
  };
  if (options.id !== undefined) headers[DELIVERY_ID_HEADERS[scheme]] = options.id;
  return headers;
}

export function generateHmacSecret(): string {
  return randomBytes(32).toString('hex');
}
