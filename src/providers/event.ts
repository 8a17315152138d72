import { EVENTS, type EventOf, type EventType } from '../events/registry';
import { UnmappableError } from './types';

/** Problem lines as the receiver lists them: `path: message`. */
export function problemLines(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string[] {
  return issues.map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`);
}

/**
 * A hookline event of `type` from a provider's fields, checked against the event's own schema
 * (src/events/registry.ts), so a mapping can never hand a workflow an event its schema refuses
 * (an order key longer than an order id may be, an amount that is not one). Throws
 * {@link UnmappableError}, which quarantines the delivery with the problems.
 */
export function hooklineEvent<T extends EventType>(type: T, fields: Omit<EventOf<T>, 'event_type'>): EventOf<T> {
  const parsed = EVENTS[type].schema.safeParse({ ...fields, event_type: type });
  if (!parsed.success) throw new UnmappableError(`the payload does not make a valid ${type} event`, problemLines(parsed.error.issues));
  return parsed.data as EventOf<T>;
}
