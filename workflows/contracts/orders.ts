import type { CustomerMessage } from '../../src/agent/types';
import type { EnvelopeOf } from '../../src/events/envelope';

/** The order status workflow's contract (workflows/orders.ts runs it). */

export interface OrderStatusResult {
  applied: boolean;
  notified: CustomerMessage['kind'] | null;
}

export type OrderStatusWorkflow = (envelope: EnvelopeOf<'order.status_updated'>) => Promise<OrderStatusResult>;
