// Zendesk's scheme, written out: Zendesk publishes no package that verifies its webhooks (it has no
// official Node SDK at all), only the formula and a Node example on "Verifying webhook
// authenticity" (https://developer.zendesk.com/documentation/webhooks/verifying/).
import { randomBytes } from 'node:crypto';
import { WebhookVerificationError } from './errors';
import { hmacSha256, headerValue, safeEqual } from './shared';
import type { WebhookScheme } from './types';

const SIGNATURE = 'x-zendesk-webhook-signature';
const TIMESTAMP = 'x-zendesk-webhook-signature-timestamp';
// 32 bytes in standard base64, as Zendesk's example sends it.
const BASE64_SIGNATURE = /^[A-Za-z0-9+/]{43}=$/;
// Zendesk's timestamps are ISO-8601 in UTC to the second (`2021-07-25T10:00:00Z`). Nothing looser:
// the timestamp is the start of the signed message, so what it may look like must be exact.
const ISO_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?Z$/;

function parseTimestamp(text: string): Date | undefined {
  if (!ISO_UTC.test(text)) return undefined;
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/**
 * Zendesk: `X-Zendesk-Webhook-Signature` is base64 of the HMAC-SHA256 of
 * `X-Zendesk-Webhook-Signature-Timestamp` followed directly by the raw body, keyed with the
 * webhook's signing secret as the string it is (Zendesk's Node example passes it to createHmac
 * unchanged). The order is the documented one, `base64(HMACSHA256(TIMESTAMP + BODY))`; the one
 * worked example Zendesk published with a signature reproduces only over body then timestamp
 * (src/providers/zendesk/examples/README.md), and this scheme refuses it: see that README for why
 * the formula, not the example, is followed. The timestamp is checked against the tolerance like
 * every timestamped scheme's; the body's event id stops a replay within it.
 */
export const zendesk: WebhookScheme = {
  timestamped: true,
  headers: { signature: SIGNATURE, timestamp: TIMESTAMP },
  verify(rawBody, headers, keys) {
    const signature = headerValue(headers, SIGNATURE);
    const stamp = headerValue(headers, TIMESTAMP);
    if (signature === undefined) throw new WebhookVerificationError('missing-header', `Missing ${SIGNATURE} header`);
    if (stamp === undefined) throw new WebhookVerificationError('missing-header', `Missing ${TIMESTAMP} header`);
    if (!BASE64_SIGNATURE.test(signature)) throw new WebhookVerificationError('malformed-header');
    const signedAt = parseTimestamp(stamp);
    if (signedAt === undefined) throw new WebhookVerificationError('malformed-header');
    const mac = Buffer.from(signature, 'base64');
    const prefix = Buffer.from(stamp, 'utf8');
    if (!keys.some((key) => safeEqual(hmacSha256(key, prefix, rawBody), mac))) throw new WebhookVerificationError('bad-signature');
    return { signedAt };
  },
  sign(rawBody, key, options) {
    // To the second, as Zendesk sends it.
    const stamp = (options.timestamp ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return { [SIGNATURE]: hmacSha256(key, Buffer.from(stamp, 'utf8'), rawBody).toString('base64'), [TIMESTAMP]: stamp };
  },
  secret: {
    // Zendesk generates the secret (the webhook's "Reveal secret"); this has the same shape (URL-safe base64 of 32 bytes).
    generate: () => `${randomBytes(32).toString('base64url')}=`,
    key: (secret) => Buffer.from(secret, 'utf8'),
    format: 'a non-empty string',
    bytes: (secret) => Buffer.byteLength(secret, 'utf8'),
    measured: '',
  },
};
