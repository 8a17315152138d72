import { easypost } from './easypost';
import { WebhookVerificationError, type VerificationFailure } from './errors';
import { hmacSha256Base64, hmacSha256Hex } from './hmac';
import { checkTimestamp, requireSecrets } from './shared';
import { standardWebhooks } from './standard-webhooks';
import { stripe } from './stripe';
import type { Headers, SignOptions, VerifiedDelivery, VerifyOptions, WebhookScheme } from './types';
import { zendesk } from './zendesk';

export { WebhookVerificationError };
export type { Headers, SignOptions, VerificationFailure, VerifiedDelivery, VerifyOptions, WebhookScheme };

/**
 * The scheme table: every signature scheme a source may use (`WEBHOOK_SCHEME_<SOURCE>`), each one
 * entry holding all of it (see {@link WebhookScheme}). A new scheme is a new entry here.
 */
export const SCHEME_TABLE = {
  'hmac-sha256-hex': hmacSha256Hex,
  'hmac-sha256-base64': hmacSha256Base64,
  stripe,
  'standard-webhooks': standardWebhooks,
  easypost,
  zendesk,
} as const satisfies Record<string, WebhookScheme>;

export type SchemeName = keyof typeof SCHEME_TABLE;
export const SCHEMES = Object.keys(SCHEME_TABLE) as SchemeName[];

export function isSchemeName(value: string): value is SchemeName {
  return Object.hasOwn(SCHEME_TABLE, value);
}

// Scheme names come from configuration, so the type alone does not guarantee one of ours.
function schemeOf(name: SchemeName): WebhookScheme {
  if (!isSchemeName(name)) throw new TypeError(`Unknown webhook scheme ${JSON.stringify(name)}; expected one of ${SCHEMES.join(', ')}`);
  return SCHEME_TABLE[name];
}

/** The HMAC key a secret stands for; a secret that has none is a configuration mistake, not the sender's. */
function keyOf(name: SchemeName, secret: string): Buffer {
  const { secret: format } = schemeOf(name);
  const key = format.key(secret);
  // Surfaced as a server error, without the secret (the receiver's configuration refuses it at start-up).
  if (key.length === 0) throw new TypeError(`A ${name} secret must be ${format.format}`);
  return key;
}

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
  const entry = schemeOf(scheme);
  const keys = requireSecrets(secrets).map((secret) => keyOf(scheme, secret));
  if (!entry.timestamped) return entry.verify(rawBody, headers, keys, options);
  const delivery = entry.verify(rawBody, headers, keys, options);
  // After the signature, so only a genuine delivery ever learns it was too old or too new.
  checkTimestamp(delivery.signedAt.getTime() / 1000, options);
  return delivery;
}

/** Produce the headers a genuine sender would send, for our own `npm run send` command and fixtures. Uses the same key derivation. */
export function signWebhook(
  scheme: SchemeName,
  rawBody: Buffer | string,
  secret: string,
  options: SignOptions = {},
): Record<string, string> {
  if (secret.length === 0) throw new TypeError('Cannot sign with an empty secret');
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody) : rawBody;
  return schemeOf(scheme).sign(body, keyOf(scheme, secret), options);
}

/**
 * Generate a fresh random secret in the scheme's customary format: whsec_<base64 of 32 random
 * bytes> for stripe and standard-webhooks, 32 random bytes hex for the HMAC schemes and easypost.
 */
export function generateSecret(scheme: SchemeName): string {
  return schemeOf(scheme).secret.generate();
}
