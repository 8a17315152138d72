// Stripe's scheme, written out rather than calling the `stripe` SDK: the SDK is only a dev
// dependency (a whole API client, here for its test-header helper), and its verifier decodes the
// body to a UTF-8 string before hashing, takes one secret per call and reports failures only as
// message text. Its generateTestHeaderString is the peer in test/verify.test.ts.
import { WebhookVerificationError } from './errors';
import { hmacSha256, headerValue, parseUnixSeconds, safeEqual } from './shared';
import { generateWhsecSecret } from './standard-webhooks';
import type { WebhookScheme } from './types';

const HEADER = 'stripe-signature';
const SECRET_PREFIX = 'whsec_';
const HEX_SIGNATURE = /^[0-9a-f]{64}$/i;

interface ParsedHeader {
  timestamp: number;
  signatures: Buffer[];
}

/** `t=<unix>,v1=<hex>[,v1=<hex>…]`; v0 (test-mode legacy) and unknown schemes are skipped, as Stripe does. */
function parseHeader(value: string): ParsedHeader | undefined {
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const item of value.split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) return undefined;
    const key = item.slice(0, eq).trim();
    const val = item.slice(eq + 1).trim();
    if (key === 't') {
      // Two timestamps would make the signed payload ambiguous.
      if (timestamp !== undefined) return undefined;
      timestamp = parseUnixSeconds(val);
      if (timestamp === undefined) return undefined;
    } else if (key === 'v1' && HEX_SIGNATURE.test(val)) {
      signatures.push(Buffer.from(val, 'hex'));
    }
  }
  return timestamp === undefined || signatures.length === 0 ? undefined : { timestamp, signatures };
}

/**
 * Stripe: `Stripe-Signature: t=<unix>,v1=<hex>`, the HMAC of `<t>.<body>`. Its secrets look like
 * Standard Webhooks' (`whsec_…`), but Stripe keys the HMAC with the whole string, prefix included.
 */
export const stripe: WebhookScheme = {
  timestamped: true,
  headers: { signature: HEADER },
  verify(rawBody, headers, keys) {
    const value = headerValue(headers, HEADER);
    if (value === undefined) throw new WebhookVerificationError('missing-header', `Missing ${HEADER} header`);
    const parsed = parseHeader(value);
    if (parsed === undefined) throw new WebhookVerificationError('malformed-header');

    const prefix = Buffer.from(`${parsed.timestamp}.`);
    const matched = keys.some((key) => {
      const expected = hmacSha256(key, prefix, rawBody);
      return parsed.signatures.some((signature) => safeEqual(signature, expected));
    });
    if (!matched) throw new WebhookVerificationError('bad-signature');
    // Unlike Stripe's SDK, verifyWebhook also refuses timestamps beyond the tolerance in the future:
    // Stripe never sends them, and accepting them would let a captured delivery outlive the window.
    return { signedAt: new Date(parsed.timestamp * 1000) };
  },
  sign(rawBody, key, options) {
    const t = Math.floor((options.timestamp ?? new Date()).getTime() / 1000);
    const signature = hmacSha256(key, Buffer.from(`${t}.`), rawBody).toString('hex');
    return { [HEADER]: `t=${t},v1=${signature}` };
  },
  secret: {
    generate: generateWhsecSecret,
    // The whole string, whsec_ prefix included: Stripe does NOT base64-decode it.
    key: (secret) => Buffer.from(secret, 'utf8'),
    format: 'a non-empty string',
    // All of it but the prefix every Stripe secret starts with.
    bytes: (secret) => Buffer.byteLength(secret) - (secret.startsWith(SECRET_PREFIX) ? SECRET_PREFIX.length : 0),
    measured: ' after whsec_',
  },
};
