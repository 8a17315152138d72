import type { EventLogInput } from '../db/repo';

/** What the log knows of a delivery before its outcome: filled in as the receiver learns it. */
export type DeliveryFacts = Omit<EventLogInput, 'outcome' | 'reason'>;

/**
 * The order and customer an event names, when it names them (`order_id`, `customer_id`): the
 * columns `npm run events -- find --order/--customer` searches. IDs only; anything else in the
 * event stays out of the log.
 */
export function idsOf(event: unknown): { orderId?: string; customerId?: string } {
  if (typeof event !== 'object' || event === null) return {};
  const { order_id: orderId, customer_id: customerId } = event as { order_id?: unknown; customer_id?: unknown };
  return {
    ...(typeof orderId === 'string' ? { orderId } : {}),
    ...(typeof customerId === 'string' ? { customerId } : {}),
  };
}
