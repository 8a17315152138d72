import { WebhookVerificationError, type VerificationFailure } from './errors';
import { DEFAULT_SIGNATURE_HEADERS, generateHmacSecret, signHmac, verifyHmac } from './hmac';
import { generateWhsecSecret, isStandardWebhooksSecret, signStandardWebhook, verifyStandardWebhook } from './standard-webhooks';
import { signStripe, verifyStripe } from './stripe';
import { SCHEMES, type SchemeName, type VerifiedDelivery, type VerifyOptions } from './types';

export { DEFAULT_SIGNATURE_HEADERS, isStandardWebhooksSecret, SCHEMES, WebhookVerificationError };
export type { SchemeName, VerificationFailure, VerifiedDelivery, VerifyOptions };

/**
 * Verify a delivery over the exact bytes received, before anything parses them. Passes when any
 * of `secrets` matches (rotation); throws {@link WebhookVerificationError} otherwise.
 *
 * @param headers Node's IncomingHttpHeaders (keys lowercase; values string | string[] | undefined).
 */
export function verifyWebhook(
  scheme: SchemeName,
  rawBody: Buffer,
  headers: Record<string, string | string[] | undefined>,
  secrets: readonly string[],
  options?: VerifyOptions,
): VerifiedDelivery {
  // A parsed body cannot be re-serialised to the signed bytes; this is a wiring bug, not a 401.
  if (!Buffer.isBuffer(rawBody)) {
    throw new TypeError('verifyWebhook needs the raw request body as a Buffer (e.g. express.raw()), not a parsed body');
  }
  switch (scheme) {
    case 'hmac-sha256-hex':
    case 'hmac-sha256-base64':
      return verifyHmac(scheme, rawBody, headers, secrets, options);
    case 'stripe':
      return verifyStripe(rawBody, headers, secrets, options);
    case 'standard-webhooks':
      return verifyStandardWebhook(rawBody, headers, secrets, options);
    default:
      return unknownScheme(scheme);
  }
}

/** Produce the headers a genuine sender would send, for our own `npm run send` command and fixtures. Uses the same key derivation. */
export function signWebhook(
  scheme: SchemeName,
  rawBody: Buffer | string,
  secret: string,
  options: { signatureHeader?: string; timestamp?: Date; id?: string } = {},
): Record<string, string> {
  if (secret.length === 0) throw new TypeError('Cannot sign with an empty secret');
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody) : rawBody;
  switch (scheme) {
    case 'hmac-sha256-hex':
    case 'hmac-sha256-base64':
      return signHmac(scheme, body, secret, options);
    case 'stripe':
      return signStripe(body, secret, options.timestamp ?? new Date());
    case 'standard-webhooks':
      return signStandardWebhook(body, secret, options);
    default:
      return unknownScheme(scheme);
  }
}

/**
 * Generate a fresh random secret in the scheme's customary format: whsec_<base64 of 32 random
 * bytes> for stripe and standard-webhooks, 32 random bytes hex for the HMAC schemes.
 */
export function generateSecret(scheme: SchemeName): string {
  switch (scheme) {
    case 'hmac-sha256-hex':
    case 'hmac-sha256-base64':
      return generateHmacSecret();
    case 'stripe':
    case 'standard-webhooks':
      return generateWhsecSecret();
    default:
      return unknownScheme(scheme);
  }
}

// Scheme names come from configuration, so the type alone does not guarantee one of ours.
function unknownScheme(scheme: never): never {
  throw new TypeError(`Unknown webhook scheme ${JSON.stringify(scheme)}; expected one of ${SCHEMES.join(', ')}`);
}
