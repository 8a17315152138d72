export interface VerifyOptions {
  /** Header carrying the signature, for the two plain-HMAC schemes. Case-insensitive. Default per scheme. */
  signatureHeader?: string;
  /** Allowed clock skew for timestamped schemes, seconds. Default 300. */
  toleranceSeconds?: number;
  /** Injected clock for tests; default () => new Date(). */
  now?: () => Date;
}

export interface VerifiedDelivery {
  /**
   * The sender's message id when the signature covers it (standard-webhooks' `webhook-id`, signed
   * as `<id>.<timestamp>.<body>`). Only this may name an event: changing it breaks the signature.
   */
  signedId?: string;
  /**
   * A delivery id the scheme sends beside the signature but does not sign (`X-GitHub-Delivery`,
   * `X-Shopify-Webhook-Id`). Anyone holding a captured delivery can set it to anything, so it is
   * a reference for logs and support tickets, never an identity.
   */
  deliveryRef?: string;
  /** The timestamp the sender signed, when the scheme has one. */
  signedAt?: Date;
}

export interface SignOptions {
  signatureHeader?: string;
  timestamp?: Date;
  id?: string;
}

/** Node's IncomingHttpHeaders: keys lowercase, values string | string[] | undefined. */
export type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Everything about one signature scheme, whole: how it verifies and signs, what its secrets look
 * like and which key bytes they stand for, the headers it uses, and whether it signs a timestamp.
 * The scheme table (index.ts) holds one entry per scheme, so a new scheme is one entry, and a piece
 * left out is a compile error.
 */
export type WebhookScheme = SchemeParts & (Timestamped | NotTimestamped);

interface SchemeParts {
  /** The headers a genuine sender would send, for `npm run send` and tests; keyed as `secret.key` derives them. */
  sign(rawBody: Buffer, key: Buffer, options: SignOptions): Record<string, string>;
  headers: {
    /** Carries the signature; for a scheme that lets a source rename it (`signatureHeader`), the default. */
    signature: string;
    /** Carries the signed timestamp, when the scheme gives it a header of its own. */
    timestamp?: string;
    /** Carries the signed message id, when the scheme signs one (it becomes the event's identity). */
    signedId?: string;
    /** A delivery id sent beside the signature but not signed: logged as deliveryRef, never an identity. */
    deliveryRef?: string;
  };
  secret: {
    /** A fresh random secret in the scheme's customary format. */
    generate(): string;
    /** The bytes that key the HMAC, as the scheme derives them from a configured secret; empty when it cannot. */
    key(secret: string): Buffer;
    /** What a usable secret looks like, for the error when `key` finds none (the value is never shown). */
    format: string;
    /** How many bytes of a secret are secret (a fixed prefix every secret starts with is not), for the minimum length. */
    bytes(secret: string): number;
    /** What `bytes` measures, as the configuration error words it; empty when it is the whole secret. */
    measured: string;
  };
}

type Verify<R extends VerifiedDelivery> = (
  rawBody: Buffer,
  headers: Headers,
  /** Every configured secret's key (rotation): the delivery passes when any of them signed it. */
  keys: readonly Buffer[],
  options: VerifyOptions | undefined,
) => R;

/**
 * A scheme that signs a timestamp returns it, and verifyWebhook checks it against the tolerance,
 * after the signature: only a genuine delivery ever learns it was too old or too new.
 */
interface Timestamped {
  timestamped: true;
  /** Checks the signature over the raw bytes; throws WebhookVerificationError. */
  verify: Verify<VerifiedDelivery & { signedAt: Date }>;
}

/** A scheme without a timestamp: a captured delivery verifies for ever, so only its identity stops a replay. */
interface NotTimestamped {
  timestamped: false;
  /** Checks the signature over the raw bytes; throws WebhookVerificationError. */
  verify: Verify<VerifiedDelivery>;
}
