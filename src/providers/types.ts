import type { z } from 'zod';
import type { IdentitySource } from '../events/identity';
import type { ProviderName } from '../events/providers';
import type { EventType, WebhookEvent } from '../events/schemas';
import type { Headers, SchemeName } from '../signatures';

/**
 * A provider: a system whose webhooks hookline reads (Shopify, Stripe, EasyPost, or hookline's own
 * format), one folder under src/providers/ with everything about it, listed once in the registry
 * (index.ts). The receiver verifies a delivery with the source's scheme, then hands the verified
 * body to the source's provider (read.ts): the provider names the type, picks the schema of its own
 * payload for that type, and maps the payload to the hookline event it means, with an identity
 * taken from what the provider signed.
 */
export interface Provider<T extends string = string> {
  name: ProviderName;
  /**
   * The signature scheme its deliveries use (src/signatures/): a source of this provider verifies
   * with it unless WEBHOOK_SCHEME_<SOURCE> says otherwise. Undefined for hookline's own format,
   * whose sources each name theirs (the seed's four have one each).
   */
  scheme: SchemeName | undefined;
  /** Where the type lives, as messages name it: `event_type`, `type`, `the X-Shopify-Topic header`. */
  typeField: string;
  /**
   * The delivery's type in the provider's own words (Stripe `payment_intent.succeeded`, a Shopify
   * topic), or undefined when it names none. Read from the signed body where the provider puts it
   * there; Shopify puts it in an unsigned header, which then only chooses the schema that reads the
   * signed body: nothing about the event (its identity, what it says) may come from it.
   */
  typeOf(body: unknown, headers: Headers): string | undefined;
  /** Unsigned headers `typeOf` reads, kept on a quarantined delivery so its replay reads it the same way (lower case). */
  keptHeaders: readonly string[];
  /** The types hookline acts on: each a schema of the provider's payload and its mapping to a hookline event. */
  handles: { readonly [K in T]: Handler };
  /**
   * Types the provider is known to send that hookline does not act on: counted by name in
   * `hookline_webhook_ignored_total`. Any other unhandled type is counted as `other`, since the type
   * may come from an unsigned header and must not grow the metric without bound.
   */
  knownTypes: readonly string[];
  /**
   * What a verified delivery of a type it does not handle gets: `ignore` (200, `"ignored": true`,
   * nothing started) for a provider that sends many types hookline has no use for; `quarantine` for
   * hookline's own format, where an unknown type is a sender's mistake a person should see.
   */
  unhandled: 'ignore' | 'quarantine';
  /**
   * When the provider's payload names hookline's order through a configurable key (Stripe's
   * metadata), the key's default and what it is; a source sets its own with WEBHOOK_ORDER_KEY_<SOURCE>.
   */
  orderKey?: { default: string; means: string };
  /**
   * The identity of a verified delivery that cannot be mapped (it is quarantined), from signed data
   * only. Default: the sender id fields of the body (`id`, `event_id`, `idempotency_key`), else a hash
   * of the body. A provider whose body `id` names the resource rather than the delivery (Shopify's
   * order id) must say otherwise, or two broken deliveries about one order would share a quarantine.
   */
  quarantineIdentity?(body: unknown, rawBody: Buffer): string;
  /** `npm run send`: the headers a genuine delivery of `type` carries besides the signature (a Shopify topic). */
  delivery?(type: T, body: Buffer): Record<string, string>;
  /**
   * How the verified bytes are read as JSON, when `JSON.parse` would change them (Shopify's 64-bit
   * IDs): the receiver, the quarantine and its replay all read with it.
   */
  parse?(rawBody: Buffer): unknown;
  /** `npm run send --fresh`: the example with new ids, so it counts as a new event (the body is re-serialised). */
  fresh?(body: unknown): unknown;
}

/** One type a provider handles: its payload's schema, and what it means in hookline's events. */
export interface Handler<P = unknown> {
  /** The provider's payload for this type, as much of it as the mapping reads (typed from the provider's package where it has one). */
  schema: z.ZodType<P>;
  /** The hookline event types `map` can produce: a source of this provider may send these by default (WEBHOOK_EVENTS_<SOURCE>). */
  produces: readonly [EventType, ...EventType[]];
  /** The provider's own published example of this type, for `npm run send` and the tests. */
  example: Example;
  /**
   * The hookline event the payload means, with its identity and test mode; or `{ ignore }` when
   * this delivery means nothing hookline acts on (answered as an ignored type, with the reason
   * logged). Throws {@link UnmappableError} when the payload cannot make a valid hookline event.
   */
  map(payload: P, ctx: MapContext): Mapped | Ignore;
}

/** A published example: a file in the provider's `examples/` folder, or (hookline's own format) the registry's sample. */
export type Example = { file: string } | { body: unknown };

/** What a mapping knows besides the payload. */
export interface MapContext {
  /** The source the delivery came to. */
  source: string;
  /** The scheme's signed message id (Standard Webhooks' webhook-id), when it signs one. */
  signedId?: string;
  /** The verified bytes. */
  rawBody: Buffer;
  /** The source's order key, for a provider that has one ({@link Provider.orderKey}). */
  orderKey?: string;
  /** When the receiver accepted the delivery: the time of an event whose payload states none (a Shopify return). */
  receivedAt?: string;
}

/** A provider payload read as a hookline event. */
export interface Mapped {
  event: WebhookEvent;
  /** From what the provider signed only (a Stripe `evt_…` id, a key of the change it reports). */
  identity: string;
  identityFrom: IdentitySource;
  testMode: boolean;
}

/** A delivery of a handled type that means nothing for hookline (a Shopify order edit that changes no status). */
export interface Ignore {
  ignore: string;
}

/** A payload of a handled type that matched its schema but makes no valid hookline event: quarantined with these problems. */
export class UnmappableError extends Error {
  override readonly name = 'UnmappableError';
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(message);
  }
}

/** Checks a handler's mapping against its schema: `payload` is what the schema produces. */
export function handler<S extends z.ZodType>(spec: {
  schema: S;
  produces: readonly [EventType, ...EventType[]];
  example: Example;
  map(payload: z.output<S>, ctx: MapContext): Mapped | Ignore;
}): Handler {
  return spec as Handler;
}
