import type { EventEnvelope, QuarantinedEvent } from '../events/envelope';
import { eventIdentity } from '../events/identity';
import { WebhookEvent } from '../events/schemas';
import type { SourceConfig } from './sources';

/** Why a genuine event was quarantined, as a closed set (the `reason` text names the sender's values). */
export type QuarantineCode = 'not-json' | 'no-event-type' | 'unknown-event-type' | 'schema-mismatch' | 'event-not-allowed';

export type Classified = { kind: 'event'; envelope: EventEnvelope } | { kind: 'quarantine'; event: QuarantinedEvent; code: QuarantineCode };

// A small body can still have tens of thousands of problems (an array of empty items). The list
// goes into the answer and into the quarantine workflow's input, which Temporal caps in size: the
// whole list made the start fail and the sender was told 503 for an event that can never succeed.
const LISTED_PROBLEMS = 20;
// A problem names the path it found, and a path is the sender's keys: one key of 200 KB would put
// the body back into the workflow's input, so each line is cut too.
const PROBLEM_CHARS = 300;
// Until it is known, event_type is the sender's free text; it becomes a search attribute (Temporal
// caps those at 2 KB, and refused the start) and part of the reason.
const EVENT_TYPE_CHARS = 100;
// An unsigned delivery-id header is a reference for people; no real one is longer than this.
const DELIVERY_REF_CHARS = 200;

/**
 * What to do with a body whose signature checked out: an event the agent can work on, or one to
 * keep for a person, with the reason. Shared by the receiver and the quarantine replay, so a
 * replay judges the kept body exactly as a fresh delivery would be judged today.
 */
export function classifyVerified(args: {
  source: Pick<SourceConfig, 'name' | 'eventTypes'>;
  rawBody: Buffer;
  /** From the verifier: the signed message id (identity) and the unsigned delivery header (reference). */
  signedId?: string;
  deliveryRef?: string;
  receivedAt: string;
}): Classified {
  const { source, rawBody, signedId, receivedAt } = args;
  // Sender-chosen text that travels in workflow inputs: kept short.
  const deliveryRef = args.deliveryRef?.slice(0, DELIVERY_REF_CHARS);
  const refs = { ...(signedId === undefined ? {} : { signedId }), ...(deliveryRef === undefined ? {} : { deliveryRef }) };
  const keep = (code: QuarantineCode, reason: string, problems: string[], body?: unknown, eventType?: string): Classified => {
    const identity = eventIdentity({ signedId, body: typeof body === 'object' && body !== null ? body : undefined, rawBody });
    return {
      kind: 'quarantine',
      code,
      event: {
        source: source.name,
        identity: identity.key,
        ...refs,
        receivedAt,
        rawBody: rawBody.toString('utf8'),
        eventType,
        reason,
        problems,
      },
    };
  };

  let body: unknown;
  try {
    body = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return keep('not-json', 'body is not valid JSON', []);
  }
  const declared = (body as { event_type?: unknown } | null)?.event_type;
  const eventType = typeof declared === 'string' ? clip(declared) : undefined;
  const parsed = WebhookEvent.safeParse(body);
  if (!parsed.success) {
    const problems = listed(parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`));
    if (eventType === undefined) return keep('no-event-type', 'event_type is missing', problems, body, eventType);
    if (parsed.error.issues.some((i) => i.path[0] === 'event_type')) {
      return keep('unknown-event-type', `unknown event type ${JSON.stringify(eventType)}`, problems, body, eventType);
    }
    return keep('schema-mismatch', `body does not match the ${eventType} schema`, problems, body, eventType);
  }
  const event = parsed.data;
  if (!source.eventTypes.has(event.event_type)) {
    return keep('event-not-allowed', `source ${source.name} may not send ${event.event_type}`, [], body, event.event_type);
  }
  const identity = eventIdentity({ signedId, event, rawBody });
  return {
    kind: 'event',
    envelope: {
      source: source.name,
      identity: identity.key,
      identityFrom: identity.from,
      ...(deliveryRef === undefined ? {} : { deliveryRef }),
      receivedAt,
      event,
    },
  };
}

function listed(problems: string[]): string[] {
  const shown = problems.slice(0, LISTED_PROBLEMS).map((p) => (p.length <= PROBLEM_CHARS ? p : `${p.slice(0, PROBLEM_CHARS)}…`));
  if (problems.length <= LISTED_PROBLEMS) return shown;
  return [...shown, `… and ${problems.length - LISTED_PROBLEMS} more problems`];
}

function clip(text: string): string {
  return text.length <= EVENT_TYPE_CHARS ? text : `${text.slice(0, EVENT_TYPE_CHARS)}…`;
}
