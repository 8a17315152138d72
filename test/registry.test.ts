import { describe, expect, it } from 'vitest';
import * as workflows from '../workflows';
import type { Workflows } from '../workflows/contracts';
import { eventIdentity } from '../src/events/identity';
import { EVENTS, type AllTrue } from '../src/events/registry';
import { DEFAULT_SOURCE, SAMPLES } from '../src/events/samples';
import { EVENT_TYPES, isEventType, WebhookEvent } from '../src/events/schemas';
import { workflowForEvent } from '../src/intake/routes';
import { BUILTIN_SCHEMES, loadSources } from '../src/receiver/sources';

type Registered = typeof workflows;
/**
 * Compiles only when workflows/index.ts exports exactly the workflows the contracts declare
 * (workflows/contracts/index.ts), each of its declared type: what clients start by name is what the
 * worker runs. The routes are checked against the contracts where they are declared (src/intake/routes.ts).
 */
export type ExportsMatchContracts = AllTrue<{
  [N in keyof Registered | keyof Workflows]: N extends keyof Workflows
    ? N extends keyof Registered
      ? [Registered[N]] extends [Workflows[N]]
        ? true
        : N
      : N
    : N;
}>;

// The registry's types make a missing piece a compile error; these are the pieces TS cannot see:
// what the values do at run time, and what the receiver builds from them.
describe('the event registry', () => {
  const sources = loadSources({});

  it.each(EVENT_TYPES)('%s: its sample is a valid event of its own type', (type) => {
    const sample = SAMPLES[type];
    expect(sample.event_type).toBe(type);
    // Its own schema and the receiver's union both accept it, unchanged (nothing defaulted or coerced).
    expect(EVENTS[type].schema.parse(sample)).toEqual(sample);
    expect(WebhookEvent.parse(JSON.parse(JSON.stringify(sample)))).toEqual(sample);
    // No other entry's schema takes it: the key and the schema's event_type agree.
    for (const other of EVENT_TYPES.filter((t) => t !== type)) expect(EVENTS[other].schema.safeParse(sample).success).toBe(false);
  });

  it.each(EVENT_TYPES)('%s: a built-in source may send it, its default one first', (type) => {
    const allowedBy = [...sources.values()].filter((source) => source.eventTypes.has(type)).map((source) => source.name);
    expect(allowedBy).toEqual(expect.arrayContaining([...EVENTS[type].sources]));
    expect(allowedBy).toContain(DEFAULT_SOURCE[type]);
    expect(Object.keys(BUILTIN_SCHEMES)).toContain(DEFAULT_SOURCE[type]);
  });

  it.each(EVENT_TYPES)('%s: routes to a workflow the worker registers', (type) => {
    const name = workflowForEvent(type);
    expect(typeof (workflows as Record<string, unknown>)[name]).toBe('function');
    // The name Temporal registers a workflow under is its function's name.
    expect(((workflows as Record<string, unknown>)[name] as { name: string }).name).toBe(name);
  });

  it.each(EVENT_TYPES)('%s: its natural key survives re-serialisation and names this event', (type) => {
    const sample = SAMPLES[type];
    const reordered = Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(sample).reverse()), null, 2));
    const identity = eventIdentity({ event: WebhookEvent.parse(JSON.parse(reordered.toString())), rawBody: reordered });
    expect(identity.from).toBe('natural-key');
    expect(identity.key).toBe(eventIdentity({ event: sample, rawBody: Buffer.from(JSON.stringify(sample)) }).key);
    expect(identity.key.length).toBeGreaterThan(0);
    // A different event of the same type (other ids, a later time) gets a different key.
    const other = Object.fromEntries(
      Object.entries(sample).map(([k, v]) => [k, typeof v === 'string' && /^[A-Z]+-/.test(v) ? `${v}9` : v]),
    );
    const later = EVENTS[type].schema.parse({ ...other, timestamp: '2024-01-01T00:00:00Z' });
    expect(eventIdentity({ event: later, rawBody: Buffer.from(JSON.stringify(later)) }).key).not.toBe(identity.key);
  });

  it('knows exactly the registry entries as event types', () => {
    expect(EVENT_TYPES).toEqual(Object.keys(EVENTS));
    expect(EVENT_TYPES.every(isEventType)).toBe(true);
    expect(isEventType('order.deleted')).toBe(false);
    expect(isEventType('toString')).toBe(false);
    // Every allowance a built-in source has comes from an entry that names it.
    for (const source of sources.values())
      for (const type of source.eventTypes) expect(EVENTS[type].sources as readonly string[]).toContain(source.name);
  });
});
