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
import { checkTimestamp, hmacSha256, headerValue, parseUnixSeconds, requireSecrets, safeEqual } from './shared';
import type { Headers, SignOptions, VerifiedDelivery, VerifyOptions } from './types';

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The HMAC key is the base64 payload after the whsec_ prefix (the prefix is optional); empty if there is none. */
function keyOf(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  return BASE64.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
}

/** What the receiver's configuration checks at start-up, so that decodeKey never throws on a delivery. */
export function isStandardWebhooksSecret(secret: string): boolean {
  return keyOf(secret).length > 0;
}

/** The HMAC key a secret stands for (empty when it does not decode), for the configuration's length and reuse checks. */
export function standardWebhooksKey(secret: string): Buffer {
  return keyOf(secret);
}

function decodeKey(secret: string): Buffer {
  const key = keyOf(secret);
  // A configuration mistake, not the sender's: surface it as a server error, without the secret.
  if (key.length === 0) throw new TypeError('A standard-webhooks secret must be whsec_ followed by base64');
  return key;
}

/** Svix, which the standard grew out of, sends the same headers with a svix- prefix. */
function header(headers: Headers, field: 'id' | 'timestamp' | 'signature'): string | undefined {
  return headerValue(headers, `webhook-${field}`) ?? headerValue(headers, `svix-${field}`);
}

export function verifyStandardWebhook(
  rawBody: Buffer,
  headers: Headers,
  secrets: readonly string[],
  options: VerifyOptions | undefined,
): VerifiedDelivery {
  const keys = requireSecrets(secrets).map(decodeKey);
  const id = header(headers, 'id');
  const timestampText = header(headers, 'timestamp');
  const signatureText = header(headers, 'signature');
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

  // After the signature, so only a genuine delivery ever learns it was too old or too new.
  checkTimestamp(timestamp, options);
  return { signedId: id, signedAt: new Date(timestamp * 1000) };
}

export function signStandardWebhook(rawBody: Buffer, secret: string, options: SignOptions): Record<string, string> {
  const id = options.id ?? `msg_${randomUUID()}`;
  const timestamp = Math.floor((options.timestamp ?? new Date()).getTime() / 1000);
  const signature = hmacSha256(decodeKey(secret), Buffer.from(`${id}.${timestamp}.`), rawBody).toString('base64');
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` };
}

export function generateWhsecSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}
