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
   * The sender's delivery/event id from headers when the scheme/headers carry one: webhook-id
   * (standard-webhooks), X-GitHub-Delivery, X-Shopify-Webhook-Id. undefined otherwise.
   */
  deliveryId?: string;
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
