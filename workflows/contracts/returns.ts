import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ReturnLabel } from '../../src/agent/types';
import type { EnvelopeOf } from '../../src/events/envelope';
import type { EscalationResult, ReturnStep } from './conversation';

/**
 * The contracts of the return's two workflows (workflows/returns.ts runs them): the relay each
 * return event starts, and the return's own long-lived workflow, whose ID is returnWorkflowId
 * (src/events/identity.ts). The relay activity signals-with-start it by name with these messages.
 */

export type { ReturnStep };

export type ReturnEnvelope = EnvelopeOf<'return.initiated'> | EnvelopeOf<'return.received'>;

export type ReturnStatus =
  | 'awaiting-details'
  | 'checking-policy'
  | 'awaiting-approval'
  | 'denied'
  | 'awaiting-arrival'
  | 'expired'
  | 'refunded'
  | 'failed'
  | 'orphaned'
  | 'cancelled';

export interface ReturnState {
  returnId: string;
  status: ReturnStatus;
  label?: ReturnLabel;
  approval?: EscalationResult<'return-approval'>;
  refundId?: string;
  /** The step that failed for good, and why. */
  failure?: { step: ReturnStep; cause: string };
  /** The person a failed return was handed to, and how they resolved it. */
  handoff?: EscalationResult<'return-failed'>;
}

/** Each return event, whichever arrives first, is delivered here by signal-with-start. */
export const returnEventSignal = defineSignal<[ReturnEnvelope]>('returnEvent');
export const returnStateQuery = defineQuery<ReturnState>('returnState');

/**
 * The return's own workflow, one per return: policy, label, warehouse, the parcel, restock, refund.
 * `carried` is given only to a run that replaces a failed or timed-out one: the events that run had.
 */
export type ProcessReturnWorkflow = (returnId: string, carried?: ReturnEnvelope[]) => Promise<ReturnState>;

/** Where the relay handed a return event: the return's workflow, and whether it was still open to take it. */
export interface ReturnDelivery {
  /** Null when no return is known for the parcel's label (a carrier's return tracker): nothing to hand it to. */
  returnWorkflowId: string | null;
  delivered: boolean;
  /** True when the return's last run had failed or timed out and this event started it again. */
  rerun?: true;
  /** Set when a person cancelled or terminated the return's run: it stays closed. */
  closed?: 'cancelled' | 'terminated';
}

/** The workflow each return event starts: hands the event to the return's own workflow. */
export type ReturnEventRelayWorkflow = (envelope: ReturnEnvelope) => Promise<ReturnDelivery>;
