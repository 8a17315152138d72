import type { EventEnvelope, QuarantinedEvent } from '../events/envelope';
import { eventIdentity } from '../events/identity';
import { WebhookEvent } from '../events/schemas';
import type { SourceConfig } from './sources';

export type Classified = { kind: 'event'; envelope: EventEnvelope } | { kind: 'quarantine'; event: QuarantinedEvent };

/**
 * What to do with a body whose signature checked out: an event the agent can work on, or one to
 * keep for a person, with the reason. Shared by the receiver and the quarantine replay, so a
 * replay judges the kept body exactly as a fresh delivery would be judged today.
 */
export function classifyVerified(args: {
  source: Pick<SourceConfig, 'name' | 'eventTypes'>;
  rawBody: Buffer;
  deliveryId?: string;
  receivedAt: string;
}): Classified {
  const { source, rawBody, deliveryId, receivedAt } = args;
  const keep = (reason: string, problems: string[], body?: unknown, eventType?: string): Classified => {
    const identity = eventIdentity({ deliveryId, body: typeof body === 'object' && body !== null ? body : undefined, rawBody });
    return {
      kind: 'quarantine',
      event: { source: source.name, identity: identity.key, deliveryId, receivedAt, rawBody: rawBody.toString('utf8'), eventType, reason, problems },
    };
  };

  let body: unknown;
  try {
    body = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return keep('body is not valid JSON', []);
  }
  const declared = (body as { event_type?: unknown } | null)?.event_type;
  const eventType = typeof declared === 'string' ? declared : undefined;
  const parsed = WebhookEvent.safeParse(body);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
    const reason =
      eventType === undefined
        ? 'event_type is missing'
        : parsed.error.issues.some((i) => i.path[0] === 'event_type')
          ? `unknown event type ${JSON.stringify(eventType)}`
          : `body does not match the ${eventType} schema`;
    return keep(reason, problems, body, eventType);
  }
  const event = parsed.data;
  if (!source.eventTypes.has(event.event_type)) {
    return keep(`source ${source.name} may not send ${event.event_type}`, [], body, event.event_type);
  }
  const identity = eventIdentity({ deliveryId, event, rawBody });
  return { kind: 'event', envelope: { source: source.name, identity: identity.key, identityFrom: identity.from, receivedAt, event } };
}
