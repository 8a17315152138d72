import { eventIdentity } from '../../events/identity';
import { EVENTS } from '../../events/registry';
import { SAMPLES } from '../../events/samples';
import { EVENT_TYPES, type EventType } from '../../events/schemas';
import { handler, UnmappableError, type Handler, type Provider } from '../types';

/**
 * hookline's own format (src/events/registry.ts), for in-house systems and the seed's four
 * senders: the body is the event, `event_type` names it, and its identity is the signed message
 * id, else an id field of the body, else the type's natural key (src/events/identity.ts). An
 * unknown type is a sender's mistake, kept in quarantine for a person.
 */
export const hookline: Provider<EventType> = {
  name: 'hookline',
  // Each source names its own (the seed's four have theirs: src/receiver/sources.ts).
  scheme: undefined,
  typeField: 'event_type',
  typeOf: (body) => {
    const declared = (body as { event_type?: unknown } | null)?.event_type;
    return typeof declared === 'string' ? declared : undefined;
  },
  keptHeaders: [],
  handles: Object.fromEntries(
    EVENT_TYPES.map((type) => [
      type,
      handler({
        schema: EVENTS[type].schema,
        produces: [type],
        example: { body: SAMPLES[type] },
        map: (event, { signedId, rawBody }) => {
          // A helpdesk ticket is named only by the helpdesk's own signed events (src/providers/zendesk/):
          // a sender of this format must not make the agent write on a ticket it chose.
          if ('ticket' in event && event.ticket !== undefined) {
            throw new UnmappableError('only the helpdesk names a ticket', ["ticket: not accepted in hookline's own format"]);
          }
          const identity = eventIdentity({ signedId, event, rawBody });
          return { event, identity: identity.key, identityFrom: identity.from, testMode: false };
        },
      }),
    ]),
  ) as Record<EventType, Handler>,
  knownTypes: [],
  unhandled: 'quarantine',
};
