import type { EventEnvelope, QuarantinedEvent } from '../events/envelope';
import { providerOf, type ProviderName } from '../providers';
import { quarantineIdentity, readDelivery, type ReadFailure } from '../providers/read';
import type { Headers } from '../signatures';
import type { SourceConfig } from './sources';

/** Why a genuine event was quarantined, as a closed set (the `reason` text names the sender's values). */
export type QuarantineCode = ReadFailure | 'event-not-allowed';

export type Classified =
  | { kind: 'event'; envelope: EventEnvelope }
  | { kind: 'quarantine'; event: QuarantinedEvent; code: QuarantineCode }
  /** A verified delivery of a type the source's provider sends but hookline does not act on: answered 200, nothing started. */
  | { kind: 'ignored'; provider: ProviderName; type: string; why: string };

// An unsigned delivery-id header is a reference for people; no real one is longer than this.
const DELIVERY_REF_CHARS = 200;

/**
 * What to do with a body whose signature checked out, as the source's provider reads it
 * (src/providers/read.ts): an event the agent can work on, a type hookline ignores, or one to keep
 * for a person, with the reason. Shared by the receiver and the quarantine replay, so a replay
 * judges the kept body exactly as a fresh delivery would be judged today.
 */
export function classifyVerified(args: {
  source: Pick<SourceConfig, 'name' | 'eventTypes' | 'provider' | 'orderKey'>;
  rawBody: Buffer;
  /** The request's headers: the provider may read its type from one (a Shopify topic). Never the identity. */
  headers?: Headers;
  /** From the verifier: the signed message id (identity) and the unsigned delivery header (reference). */
  signedId?: string;
  deliveryRef?: string;
  receivedAt: string;
  /** The provider to read with, when not the source's own (a replay reads a kept body with the provider it came with). */
  provider?: ProviderName;
}): Classified {
  const { source, rawBody, signedId, receivedAt } = args;
  const provider = providerOf(args.provider ?? source.provider);
  // Sender-chosen text that travels in workflow inputs: kept short.
  const deliveryRef = args.deliveryRef?.slice(0, DELIVERY_REF_CHARS);
  const refs = { ...(signedId === undefined ? {} : { signedId }), ...(deliveryRef === undefined ? {} : { deliveryRef }) };
  const ctx = {
    source: source.name,
    rawBody,
    receivedAt,
    ...(signedId === undefined ? {} : { signedId }),
    ...(source.orderKey === undefined ? {} : { orderKey: source.orderKey }),
  };
  const reading = readDelivery(provider, { rawBody, headers: args.headers ?? {}, ctx });
  const keep = (
    code: QuarantineCode,
    reason: string,
    problems: string[],
    identity: string,
    extra: Partial<QuarantinedEvent>,
  ): Classified => ({
    kind: 'quarantine',
    code,
    event: {
      source: source.name,
      identity,
      ...refs,
      receivedAt,
      rawBody: rawBody.toString('utf8'),
      reason,
      problems,
      provider: provider.name,
      ...extra,
    },
  });

  if (reading.kind === 'ignored') return reading;
  if (reading.kind === 'unreadable') {
    return keep(reading.code, reading.reason, reading.problems, reading.identity, {
      eventType: reading.type,
      ...(reading.headers ? { headers: reading.headers } : {}),
    });
  }
  const { event, identity, identityFrom, testMode } = reading.mapped;
  if (!source.eventTypes.has(event.event_type)) {
    const what = reading.type === event.event_type ? event.event_type : `${event.event_type} (from ${provider.name} ${reading.type})`;
    // Kept under the identity any unreadable delivery of it would have: a genuine body is JSON by now.
    const kept = quarantineIdentity(provider, JSON.parse(rawBody.toString('utf8')), ctx);
    return keep('event-not-allowed', `source ${source.name} may not send ${what}`, [], kept, { eventType: reading.type });
  }
  return {
    kind: 'event',
    envelope: {
      source: source.name,
      identity,
      identityFrom,
      ...(deliveryRef === undefined ? {} : { deliveryRef }),
      receivedAt,
      provider: provider.name,
      testMode,
      event,
    },
  };
}
