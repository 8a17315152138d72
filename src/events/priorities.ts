import type { EventType } from './registry';

/**
 * How soon each event type's work runs when the task queue has a backlog: Temporal's priority key,
 * 1 first, 5 last (the server's default range; a task without one counts as 3). The agent exists
 * for the customer, so a flood of bookkeeping waits and a customer does not:
 *
 *   1  someone is waiting or money is at stake now: an inquiry, a failed payment, a dispute, a parcel in trouble
 *   2  returns and payments: a customer's money moves, minutes matter less
 *   3  routine order and shipment updates (Temporal's own default)
 *   4  bookkeeping: customer details, stock, privacy requests (Shopify allows 30 days)
 *   5  quarantined deliveries: kept for a person, nothing runs on them
 *
 * The key travels with the workflow start (receiver, spool drain, redrive: src/intake/direct.ts) and
 * Temporal hands it on to the workflow's activities and child workflows (a conversation with a person
 * runs at its raiser's priority). Each type's default can be changed with `PRIORITY_<EVENT_TYPE>`
 * (src/config/temporal.ts), e.g. `PRIORITY_ORDER_STATUS_UPDATED=2`.
 */
export const DEFAULT_PRIORITIES = {
  'customer.inquiry.new': 1,
  'customer.inquiry.followup': 1,
  'payment.failed': 1,
  'payment.disputed': 1,
  'shipment.exception': 1,
  'return.initiated': 2,
  'return.received': 2,
  'payment.succeeded': 2,
  'payment.refunded': 2,
  'return.status_changed': 2,
  'order.status_updated': 3,
  'shipment.in_transit': 3,
  'shipment.delivered': 3,
  'shipment.delayed': 3,
  'customer.updated': 4,
  'inventory.stock_shortage': 4,
  'privacy.requested': 4,
} as const satisfies Record<EventType, PriorityKey>;

/** Temporal's priority keys with the server's default `matching.priorityLevels` (5). */
export const PRIORITY_KEYS = [1, 2, 3, 4, 5] as const;
export type PriorityKey = (typeof PRIORITY_KEYS)[number];

/** Quarantined deliveries: a workflow that only keeps the event for a person. */
export const QUARANTINE_PRIORITY: PriorityKey = 5;

/** The weight a source has unless `WEBHOOK_WEIGHT_<SOURCE>` says otherwise (Temporal's own default). */
export const DEFAULT_FAIRNESS_WEIGHT = 1;

/** Temporal clamps weights to this range; a configured weight outside it is refused at start-up instead. */
export const FAIRNESS_WEIGHT_RANGE = { min: 0.001, max: 1000 } as const;

/** What decides a start's priority and fairness: the key per event type, the weight per source. */
export interface PriorityPolicy {
  byEventType: Readonly<Record<EventType, PriorityKey>>;
  /** Per source name; a source not listed has {@link DEFAULT_FAIRNESS_WEIGHT}. */
  weights: ReadonlyMap<string, number>;
}

export const DEFAULT_PRIORITY_POLICY: PriorityPolicy = { byEventType: DEFAULT_PRIORITIES, weights: new Map() };

/** Temporal's `Priority`, spelled out here so this bottom layer needs no SDK. */
export interface StartPriority {
  priorityKey: PriorityKey;
  /** The verified source the event came in on: one shop's flood shares the queue fairly with another's. */
  fairnessKey: string;
  fairnessWeight: number;
}

/**
 * The priority of an event's workflow. The fairness key is the source, which the receiver took from
 * the webhook's path and verified with that source's secret: never a header a sender could set.
 */
export function priorityOf(policy: PriorityPolicy, eventType: EventType | undefined, source: string): StartPriority {
  return {
    priorityKey: eventType === undefined ? QUARANTINE_PRIORITY : policy.byEventType[eventType],
    fairnessKey: source,
    fairnessWeight: policy.weights.get(source) ?? DEFAULT_FAIRNESS_WEIGHT,
  };
}
