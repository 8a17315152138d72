import { DEFAULT_SOURCE, SAMPLES } from '../../src/events/samples';
import { EVENT_TYPES, type EventType } from '../../src/events/schemas';
import { BUILTIN_SCHEMES } from '../../src/receiver/sources';
import { signWebhook } from '../../src/signatures';

/**
 * `order`: the seed's order.status_updated from the order system (hmac-sha256-hex), as the bare
 * endpoint also verifies it, so hookline and the ceiling get the same requests.
 * `mixed`: every event type of the registry in turn, each from its default sender with that sender's scheme.
 */
export type Stream = 'order' | 'mixed' | 'four';

export const MIXED_TYPES: readonly EventType[] = EVENT_TYPES;

/**
 * `four`: the comparison's stream (issue 12), one customer's everyday story in turn: the order
 * shipped (order.status_updated, new_status shipped), the payment succeeded, the customer updated,
 * the order delivered. None of them hands off to a person, so every workflow completes.
 */
export const FOUR_TYPES: readonly EventType[] = ['order.status_updated', 'payment.succeeded', 'customer.updated', 'shipment.delivered'];

const typesOf = (stream: Stream): readonly EventType[] =>
  stream === 'order' ? ['order.status_updated'] : stream === 'four' ? FOUR_TYPES : MIXED_TYPES;

export interface SignedDelivery {
  source: string;
  body: Buffer;
  headers: Record<string, string>;
}

// The fields that make an event a different event to the knowledge base and the partner systems,
// and their prefixes. Customer ids must stay `CUST-[A-Z0-9]+` for the sandbox CRM to know them.
const IDS: Record<string, (tag: string, group: number) => string> = {
  order_id: (tag, g) => `ORD-${tag}-${g}`,
  customer_id: (tag, g) => `CUST-${tag}X${g}`,
  payment_id: (tag, g) => `PMT-${tag}-${g}`,
  return_id: (tag, g) => `RET-${tag}-${g}`,
  inquiry_id: (tag, g) => `INQ-${tag}-${g}`,
  tracking_number: (tag, g) => `TRK-${tag}-${g}`,
  refund_id: (tag, g) => `RFD-${tag}-${g}`,
};

/**
 * Event `i` of a stream, unique to this run (`runTag`: upper-case letters and digits) and phase.
 * In a mixed stream each group of one event per type (of four in `four`) shares its customer, order, payment and return, so a
 * group reads like one customer's story (its return.received finds its return.initiated).
 */
export function delivery(stream: Stream, runTag: string, phase: string, i: number, secrets: Record<string, string>): SignedDelivery {
  const types = typesOf(stream);
  const type: EventType = types[i % types.length]!;
  const group = Math.floor(i / types.length);
  const eventId = `bench-${runTag}-${phase}-${i}`;
  const event: Record<string, unknown> = { ...SAMPLES[type], event_id: eventId, timestamp: new Date().toISOString() };
  for (const [field, make] of Object.entries(IDS)) if (field in event) event[field] = make(runTag, group);
  if (type === 'inventory.stock_shortage') event.product_id = `PROD-${runTag}-${group}`;
  const source = DEFAULT_SOURCE[type];
  const secret = secrets[source];
  if (!secret) throw new Error(`no secret for source ${source}`);
  const body = Buffer.from(JSON.stringify(event));
  return { source, body, headers: signWebhook(BUILTIN_SCHEMES[source], body, secret, { id: eventId }) };
}
