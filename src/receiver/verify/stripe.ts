// Stripe's scheme, written out rather than calling the `stripe` SDK: the SDK is only a dev
// dependency (a whole API client, here for its test-header helper), and its verifier decodes the
// body to a UTF-8 string before hashing, takes one secret per call and reports failures only as
// message text. Its generateTestHeaderString is the peer in test/verify.test.ts.
import { WebhookVerificationError } from './errors';
import { checkTimestamp, hmacSha256, headerValue, parseUnixSeconds, requireSecrets, safeEqual } from './shared';
import type { Headers, VerifiedDelivery, VerifyOptions } from './types';

const HEADER = 'stripe-signature';
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

export function verifyStripe(
  rawBody: Buffer,
  headers: Headers,
  secrets: readonly string[],
  options: VerifyOptions | undefined,
): VerifiedDelivery {
  const keys = requireSecrets(secrets);
  const value = headerValue(headers, HEADER);
  if (value === undefined) throw new WebhookVerificationError('missing-header', `Missing ${HEADER} header`);
  const parsed = parseHeader(value);
  if (parsed === undefined) throw new WebhookVerificationError('malformed-header');

  // Stripe keys the HMAC with the whole secret string, whsec_ prefix included; it does NOT
  // base64-decode it the way Standard Webhooks does, although the secrets look alike.
  const prefix = Buffer.from(`${parsed.timestamp}.`);
  const matched = keys.some((key) => {
    const expected = hmacSha256(key, prefix, rawBody);
    return parsed.signatures.some((signature) => safeEqual(signature, expected));
  });
  if (!matched) throw new WebhookVerificationError('bad-signature');

  // Checked after the signature so a timestamp reason is only ever reported for a genuine
  // delivery. Unlike Stripe's SDK we also refuse timestamps beyond the tolerance in the future:
  // Stripe never sends them, and accepting them would let a captured delivery outlive the window.
  checkTimestamp(parsed.timestamp, options);
  return { signedAt: new Date(parsed.timestamp * 1000) };
}

export function signStripe(rawBody: Buffer, secret: string, timestamp: Date): Record<string, string> {
  const t = Math.floor(timestamp.getTime() / 1000);
  const signature = hmacSha256(secret, Buffer.from(`${t}.`), rawBody).toString('hex');
  return { [HEADER]: `t=${t},v1=${signature}` };
}
