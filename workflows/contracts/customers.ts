import type { EnvelopeOf } from '../../src/events/envelope';

/** The contracts of the customer and stock workflows (workflows/customers.ts runs them). */

export type CustomerUpdatedWorkflow = (envelope: EnvelopeOf<'customer.updated'>) => Promise<{ applied: boolean }>;

export type StockShortageWorkflow = (envelope: EnvelopeOf<'inventory.stock_shortage'>) => Promise<{ notifiedOrders: string[] }>;
