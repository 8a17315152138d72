import type { EventOf, EventType, WebhookEvent } from './schemas';
import type { IdentitySource } from './identity';
import type { ProviderName } from './providers';

/** What the receiver hands every event workflow: the validated event plus where it came from. */
export interface EventEnvelope<E extends WebhookEvent = WebhookEvent> {
  source: string;
  /** The event's identity (sender id, natural key or body hash), also the tail of the workflow ID. */
  identity: string;
  identityFrom: IdentitySource;
  /** The unsigned delivery-id header the sender sent (X-GitHub-Delivery, …): a reference for people, never the identity. */
  deliveryRef?: string;
  /** When the receiver accepted it (ISO-8601). */
  receivedAt: string;
  /**
   * Whose payload the event was read from (src/providers/): `hookline` for hookline's own format.
   * Absent on envelopes made before providers existed (spooled rows, recorded histories): `hookline`.
   */
  provider?: ProviderName;
  /**
   * The provider said this is a test (Stripe `livemode: false`, a Shopify test order). Carried to
   * every record the event writes, and its customer messages stay in the outbox: never sent.
   * Absent means live.
   */
  testMode?: boolean;
  event: E;
}

export type EnvelopeOf<T extends EventType> = EventEnvelope<EventOf<T>>;

/** A verified delivery that could not be processed, kept for an operator to inspect and replay. */
export interface QuarantinedEvent {
  source: string;
  identity: string;
  /** The scheme's signed message id (standard-webhooks), kept so a replay keeps the same identity. */
  signedId?: string;
  /** The unsigned delivery-id header, a reference for people only. */
  deliveryRef?: string;
  /**
   * Before identities came from signed data only, the id header of any scheme was kept here. Read
   * only to replay such an event under the identity it had (a Standard Webhooks `webhook-id`).
   * @deprecated
   */
  deliveryId?: string;
  receivedAt: string;
  /**
   * The verified body exactly as received (UTF-8), while the receiver classifies it. The receiver
   * keeps it in its own database and starts the quarantine workflow with {@link body} instead;
   * events quarantined before that carry it here, in the workflow's input.
   */
  rawBody?: string;
  /** Where the receiver keeps the body (`ref`, the quarantine workflow's ID), with its SHA-256 and size. */
  body?: QuarantinedBodyRef;
  /**
   * The type the provider named, if it had a readable one: a hookline body's event_type, a
   * provider's own type (Stripe `payment_intent.succeeded`, a Shopify topic).
   */
  eventType?: string;
  /** Whose payload it is (src/providers/), so a replay reads it the same way. Absent on older events: `hookline`. */
  provider?: ProviderName;
  /**
   * The unsigned headers the provider read the type from (a Shopify `X-Shopify-Topic`), kept so a
   * replay chooses the same schema. They only choose how the signed body is read: never its identity.
   */
  headers?: Record<string, string>;
  reason: string;
  /** One line per schema problem, e.g. `amount: Too small: expected number to be >=0`. */
  problems: string[];
}

/** A quarantined body kept outside the workflow (src/spool/quarantine.ts): small enough for any history. */
export interface QuarantinedBodyRef {
  ref: string;
  /** Hex SHA-256 of the kept bytes: what a replay checks the body it reads against. */
  sha256: string;
  bytes: number;
}
