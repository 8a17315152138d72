export const SCHEMES = ['hmac-sha256-hex', 'hmac-sha256-base64', 'stripe', 'standard-webhooks'] as const;
export type SchemeName = (typeof SCHEMES)[number];

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
