import { createHash } from 'node:crypto';
import { EVENTS } from './registry';
import type { WebhookEvent } from './schemas';

/**
 * Where an event's identity came from, most trustworthy first. Every source is signed data: the
 * sender's own id (a signed message id or an id inside the body) survives redelivery
 * byte-for-byte; a natural key survives a sender that re-serialises the body; the body hash is
 * the last resort for senders that give us neither.
 */
export type IdentitySource = 'sender' | 'natural-key' | 'body-hash';

export interface EventIdentity {
  key: string;
  from: IdentitySource;
}

/** The identity an event has when it carries no sender id: its registry entry's natural key. */
export function naturalKey(event: WebhookEvent): string {
  // The entry is the one for this event's type, so it takes this event; TS cannot pair the two itself.
  const key = EVENTS[event.event_type].naturalKey as (e: WebhookEvent) => string;
  return key(event);
}

export function bodyHash(rawBody: Buffer): string {
  return createHash('sha256').update(rawBody).digest('hex').slice(0, 32);
}

/**
 * The sender's id for this event, from signed data only: the scheme's signed message id, else an
 * id field inside the (signed) body. An unsigned delivery header is never a candidate: anyone
 * replaying a captured body could set it, and so run the event again or claim a genuine event's
 * workflow ID before it arrives.
 */
export function senderEventId(
  signedId: string | undefined,
  body: { event_id?: unknown; idempotency_key?: unknown; id?: unknown } | undefined,
): string | undefined {
  const candidates = [signedId, body?.event_id, body?.idempotency_key, body?.id];
  return candidates.find((c): c is string => typeof c === 'string' && c.trim() !== '')?.trim();
}

/**
 * An event's identity, from what its signature covers: the same signed bytes give the same
 * identity whatever else the request carries.
 */
export function eventIdentity(args: {
  /** The scheme's signed message id (VerifiedDelivery.signedId), if it has one. */
  signedId?: string;
  event?: WebhookEvent;
  body?: { event_id?: unknown; idempotency_key?: unknown; id?: unknown };
  rawBody: Buffer;
}): EventIdentity {
  const sender = senderEventId(args.signedId, args.event ?? args.body);
  if (sender) return { key: sender, from: 'sender' };
  if (args.event) return { key: naturalKey(args.event), from: 'natural-key' };
  return { key: bodyHash(args.rawBody), from: 'body-hash' };
}

// No `@`: an email address is personal data and has no business in a workflow ID.
const SAFE_ID = /^[A-Za-z0-9._:+=-]{1,120}$/;

/**
 * A workflow ID is visible to every operator and kept in Temporal's history, so it must carry no
 * personal data. Keys that look like an ID are kept readable (they are what an operator searches
 * for in the UI); anything else — an email-shaped key, free text, something long — is hashed.
 */
export function workflowIdFor(source: string, eventType: string, key: string): string {
  const part = SAFE_ID.test(key) ? key : `h-${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
  return `${source}:${eventType}:${part}`;
}

/** The long-lived workflow that owns one return, whichever of its events arrives first. */
export function returnWorkflowId(returnId: string): string {
  return workflowIdFor('return', 'process', returnId);
}
