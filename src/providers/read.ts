import { eventIdentity } from '../events/identity';
import type { ProviderName } from '../events/providers';
import type { Headers } from '../signatures';
import { headerValue } from '../signatures/shared';
import { problemLines } from './event';
import { UnmappableError, type MapContext, type Mapped, type Provider } from './types';

/** Why a verified delivery could not be read as an event, as a closed set (the reason text names the sender's values). */
export type ReadFailure = 'not-json' | 'no-event-type' | 'unknown-event-type' | 'schema-mismatch';

/**
 * What a provider made of a verified delivery: an event to run, a type hookline has no use for
 * (answered as ignored), or a body a person must look at (quarantined, with the reason).
 */
export type Reading =
  | { kind: 'event'; provider: ProviderName; type: string; mapped: Mapped }
  | { kind: 'ignored'; provider: ProviderName; type: string; why: string }
  | {
      kind: 'unreadable';
      provider: ProviderName;
      code: ReadFailure;
      reason: string;
      problems: string[];
      /** The type the provider named, if any (clipped). */
      type?: string;
      /** The identity the delivery is kept under, from signed data only. */
      identity: string;
      /** The unsigned headers the provider read (its keptHeaders that were present), for a replay. */
      headers?: Record<string, string>;
    };

// A small body can still have tens of thousands of problems (an array of empty items). The list
// goes into the answer and into the quarantine workflow's input, which Temporal caps in size: the
// whole list made the start fail and the sender was told 503 for an event that can never succeed.
const LISTED_PROBLEMS = 20;
// A problem names the path it found, and a path is the sender's keys: one key of 200 KB would put
// the body back into the workflow's input, so each line is cut too.
const PROBLEM_CHARS = 300;
// Until it is known, the type is the sender's free text; it becomes a search attribute (Temporal
// caps those at 2 KB, and refused the start), part of the reason and of the answer.
const TYPE_CHARS = 100;
// An unsigned header kept for a replay; no real topic is longer.
const HEADER_CHARS = 200;

/**
 * Reads a verified body the way its provider defines: its type, that type's schema, the mapping to
 * a hookline event. Shared by the receiver and the quarantine replay, so a replay judges a kept
 * body exactly as a fresh delivery would be judged today.
 */
export function readDelivery(provider: Provider, args: { rawBody: Buffer; headers: Headers; ctx: MapContext }): Reading {
  const { rawBody, headers, ctx } = args;
  const kept = keptHeaders(provider, headers);
  const unreadable = (code: ReadFailure, reason: string, problems: string[], body?: unknown, type?: string): Reading => ({
    kind: 'unreadable',
    provider: provider.name,
    code,
    reason,
    problems: listed(problems),
    ...(type === undefined ? {} : { type }),
    identity: quarantineIdentity(provider, body, ctx),
    ...(kept ? { headers: kept } : {}),
  });

  let body: unknown;
  try {
    body = provider.parse ? provider.parse(rawBody) : JSON.parse(rawBody.toString('utf8'));
  } catch {
    return unreadable('not-json', 'body is not valid JSON', []);
  }
  const declared = provider.typeOf(body, headers);
  if (declared === undefined) return unreadable('no-event-type', `${provider.typeField} is missing`, [], body);
  const type = clip(declared);
  if (!Object.hasOwn(provider.handles, declared)) {
    if (provider.unhandled === 'quarantine') {
      const expected = `${provider.typeField}: expected one of ${Object.keys(provider.handles).join(', ')}`;
      return unreadable('unknown-event-type', `unknown event type ${JSON.stringify(type)}`, [expected], body, type);
    }
    return { kind: 'ignored', provider: provider.name, type, why: `${provider.name} type not handled` };
  }
  const handler = provider.handles[declared]!;
  const parsed = handler.schema.safeParse(body);
  if (!parsed.success) {
    return unreadable('schema-mismatch', `body does not match the ${type} schema`, problemLines(parsed.error.issues), body, type);
  }
  try {
    const mapped = handler.map(parsed.data, ctx);
    if ('ignore' in mapped) return { kind: 'ignored', provider: provider.name, type, why: mapped.ignore };
    return { kind: 'event', provider: provider.name, type, mapped };
  } catch (err) {
    if (!(err instanceof UnmappableError)) throw err;
    return unreadable('schema-mismatch', `body does not match the ${type} schema: ${err.message}`, err.problems, body, type);
  }
}

/**
 * The label an ignored type is counted under: its name when the provider handles it or is known to
 * send it, else `other`. The type may come from an unsigned header, so anything else would let a
 * replayed body under made-up types grow the metric without bound.
 */
export function ignoredTypeLabel(provider: Provider, type: string): string {
  return Object.hasOwn(provider.handles, type) || provider.knownTypes.includes(type) ? type : 'other';
}

/** The identity a delivery is kept under in quarantine, from signed data only ({@link Provider.quarantineIdentity}). */
export function quarantineIdentity(provider: Provider, body: unknown, ctx: MapContext): string {
  if (provider.quarantineIdentity && body !== undefined) return provider.quarantineIdentity(body, ctx.rawBody);
  const fields = typeof body === 'object' && body !== null ? body : undefined;
  return eventIdentity({ signedId: ctx.signedId, body: fields, rawBody: ctx.rawBody }).key;
}

function keptHeaders(provider: Provider, headers: Headers): Record<string, string> | undefined {
  const entries = provider.keptHeaders.flatMap((name) => {
    const value = headerValue(headers, name);
    return value === undefined ? [] : [[name, value.slice(0, HEADER_CHARS)] as const];
  });
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

function listed(problems: string[]): string[] {
  const shown = problems.slice(0, LISTED_PROBLEMS).map((p) => (p.length <= PROBLEM_CHARS ? p : `${p.slice(0, PROBLEM_CHARS)}…`));
  if (problems.length <= LISTED_PROBLEMS) return shown;
  return [...shown, `… and ${problems.length - LISTED_PROBLEMS} more problems`];
}

function clip(text: string): string {
  return text.length <= TYPE_CHARS ? text : `${text.slice(0, TYPE_CHARS)}…`;
}
