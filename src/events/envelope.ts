import type { EventOf, EventType, WebhookEvent } from './schemas';
import type { IdentitySource } from './identity';

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
  /** The verified body exactly as received (UTF-8). */
  rawBody: string;
  /** The body's event_type, if it had a readable one. */
  eventType?: string;
  reason: string;
  /** One line per schema problem, e.g. `amount: Too small: expected number to be >=0`. */
  problems: string[];
}
