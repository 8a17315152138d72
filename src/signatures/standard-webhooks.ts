// Standard Webhooks (https://www.standardwebhooks.com), written out here instead of calling the
// `standardwebhooks` package's Webhook.verify, which does not fit exactly:
// - it reads Date.now() with a fixed 5-minute tolerance: no injected clock, no configurable skew;
// - failures are one error class told apart only by message text; we need typed reasons;
// - it turns a Buffer body into a string before signing, so a body that is not valid UTF-8 is
//   hashed over different bytes than were received; we hash the raw bytes;
// - it knows only the webhook-* header names, not svix-*.
// The package stays the peer our tests check against (its Webhook.sign, and the spec's vector).
import { randomBytes, randomUUID } from 'node:crypto';
import { WebhookVerificationError } from './errors';
import { hmacSha256, headerValue, parseUnixSeconds, safeEqual } from './shared';
import type { Headers, WebhookScheme } from './types';

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const HEADERS = { signature: 'webhook-signature', timestamp: 'webhook-timestamp', signedId: 'webhook-id' } as const;

/** Svix, which the standard grew out of, sends the same headers with a svix- prefix. */
function header(headers: Headers, name: string): string | undefined {
  return headerValue(headers, name) ?? headerValue(headers, name.replace(/^webhook-/, 'svix-'));
}

/** `whsec_` followed by the base64 of 32 random bytes: Standard Webhooks' format, and Stripe's. */
export function generateWhsecSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/**
 * Standard Webhooks: `webhook-signature: v1,<base64>` over `<webhook-id>.<webhook-timestamp>.<body>`,
 * so the message id is signed and may name the event. The HMAC key is the base64 payload after the
 * `whsec_` prefix (the prefix is optional).
 */
export const standardWebhooks: WebhookScheme = {
  timestamped: true,
  headers: HEADERS,
  verify(rawBody, headers, keys) {
    const id = header(headers, HEADERS.signedId);
    const timestampText = header(headers, HEADERS.timestamp);
    const signatureText = header(headers, HEADERS.signature);
    if (id === undefined || timestampText === undefined || signatureText === undefined) {
      throw new WebhookVerificationError('missing-header', 'Missing webhook-id, webhook-timestamp or webhook-signature header');
    }
    const timestamp = parseUnixSeconds(timestampText);
    // Space-separated `version,signature` pairs; v1a (asymmetric) and future versions are skipped.
    const signatures = signatureText
      .split(' ')
      .filter((entry) => entry.startsWith('v1,'))
      .map((entry) => Buffer.from(entry.slice('v1,'.length)));
    if (timestamp === undefined || signatures.length === 0) throw new WebhookVerificationError('malformed-header');

    const prefix = Buffer.from(`${id}.${timestamp}.`);
    const matched = keys.some((key) => {
      const expected = Buffer.from(hmacSha256(key, prefix, rawBody).toString('base64'));
      return signatures.some((signature) => safeEqual(signature, expected));
    });
    if (!matched) throw new WebhookVerificationError('bad-signature');
    return { signedId: id, signedAt: new Date(timestamp * 1000) };
  },
  sign(rawBody, key, options) {
    const id = options.id ?? `msg_${randomUUID()}`;
    const timestamp = Math.floor((options.timestamp ?? new Date()).getTime() / 1000);
    const signature = hmacSha256(key, Buffer.from(`${id}.${timestamp}.`), rawBody).toString('base64');
    return { [HEADERS.signedId]: id, [HEADERS.timestamp]: String(timestamp), [HEADERS.signature]: `v1,${signature}` };
  },
  secret: {
    generate: generateWhsecSecret,
    key(secret) {
      const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
      return BASE64.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
    },
    format: 'whsec_ followed by base64',
    bytes: (secret) => standardWebhooks.secret.key(secret).length,
    measured: ' of key (base64-decoded, after whsec_)',
  },
};
