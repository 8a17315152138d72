import type { CustomerMessage } from '../../src/agent/types';
import type { EnvelopeOf } from '../../src/events/envelope';

/** The contract of a store-run return's status workflow (workflows/store-returns.ts runs it). */

export interface ReturnStatusResult {
  notified: CustomerMessage['kind'] | null;
  /** The return's own workflow, when the agent runs the return (a Shopify shop it acts in). */
  returnWorkflowId?: string;
}

export type ReturnStatusWorkflow = (envelope: EnvelopeOf<'return.status_changed'>) => Promise<ReturnStatusResult>;
