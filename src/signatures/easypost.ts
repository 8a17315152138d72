// EasyPost's scheme, written out rather than calling `@easypost/api`'s Utils.validateWebhook: the
// package is a whole API client (a dev dependency here, the peer in test/easypost.test.ts), it
// takes one secret per call, reports failures only as message text, and it does not hash the bytes
// it is given: it rewrites every integer `"weight": N` to `N.0` first (easypost-node issue 467), a
// patch for callers who re-serialised the body. hookline always has the raw bytes, which is what
// EasyPost's published test vector signs.
import { randomBytes } from 'node:crypto';
import { WebhookVerificationError } from './errors';
import { hmacSha256, headerValue, safeEqual } from './shared';
import type { WebhookScheme } from './types';

const HEADER = 'x-hmac-signature';
const PREFIX = 'hmac-sha256-hex=';
const HEX_SIGNATURE = /^hmac-sha256-hex=([0-9a-f]{64})$/i;

/** The HMAC key EasyPost derives from a webhook secret: the secret normalised to NFKD, in UTF-8. */
function keyOf(secret: string): Buffer {
  return Buffer.from(secret.normalize('NFKD'), 'utf8');
}

/**
 * EasyPost: `X-Hmac-Signature: hmac-sha256-hex=<hex>`, the HMAC-SHA256 of the raw body keyed with
 * the webhook's secret normalised to NFKD (so `sécret` typed composed or decomposed is one key).
 * No timestamp and no signed delivery id: the body's `evt_…` id is what stops a replay running
 * twice. The header's name may be changed per source (`WEBHOOK_HEADER_<SOURCE>`), as for the
 * plain HMAC schemes.
 */
export const easypost: WebhookScheme = {
  timestamped: false,
  headers: { signature: HEADER },
  verify(rawBody, received, keys, options) {
    const name = options?.signatureHeader ?? HEADER;
    const value = headerValue(received, name);
    if (value === undefined) throw new WebhookVerificationError('missing-header', `Missing ${name.toLowerCase()} header`);
    const digits = HEX_SIGNATURE.exec(value)?.[1];
    if (digits === undefined) {
      throw new WebhookVerificationError('malformed-header', `Malformed ${name.toLowerCase()} header: expected ${PREFIX}<64 hex digits>`);
    }
    const mac = Buffer.from(digits, 'hex');
    if (!keys.some((key) => safeEqual(hmacSha256(key, rawBody), mac))) throw new WebhookVerificationError('bad-signature');
    return {};
  },
  sign(rawBody, key, options) {
    const name = (options.signatureHeader ?? HEADER).toLowerCase();
    return { [name]: `${PREFIX}${hmacSha256(key, rawBody).toString('hex')}` };
  },
  secret: {
    // EasyPost lets the user choose the secret (the webhook's `webhook_secret`); this is one such.
    generate: () => randomBytes(32).toString('hex'),
    key: keyOf,
    format: 'a non-empty string',
    bytes: (secret) => keyOf(secret).length,
    measured: ' (UTF-8, after NFKD normalisation)',
  },
};
