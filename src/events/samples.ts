import { EVENTS, type EventOf, type EventType } from './registry';
import type { BuiltinSource } from './sources';

/** Every registry entry's sample as a whole event; `npm run send` posts them, tests start from them. */
export const SAMPLES = Object.fromEntries(Object.entries(EVENTS).map(([type, spec]) => [type, { event_type: type, ...spec.sample }])) as {
  [T in EventType]: EventOf<T>;
};

/** Which built-in source sends each event type by default (the send command's choice): the first it lists. */
export const DEFAULT_SOURCE = Object.fromEntries(Object.entries(EVENTS).map(([type, spec]) => [type, spec.sources[0]])) as Record<
  EventType,
  BuiltinSource
>;
