import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { QuarantinedEvent } from '../../src/events/envelope';

/**
 * The quarantine workflow's contract (workflows/quarantine.ts runs it): what the receiver, the
 * `quarantine` CLI and tests import to start it by name, read it and resolve it. Its workflow ID is
 * quarantineWorkflowId (src/intake), the search attribute it keeps is HooklineStatus.
 */

export type QuarantineOutcome =
  { outcome: 'replayed'; workflowId: string; by: string } | { outcome: 'discarded'; by: string; note?: string } | { outcome: 'expired' };

export interface QuarantineState {
  event: QuarantinedEvent;
  status: 'quarantined' | QuarantineOutcome['outcome'];
  resolution?: QuarantineOutcome;
}

export const quarantineStateQuery = defineQuery<QuarantineState>('quarantineState');
/** An operator replayed the event through the current schemas (it started `workflowId`) or dropped it. */
export const quarantineResolvedSignal = defineSignal<[Exclude<QuarantineOutcome, { outcome: 'expired' }>]>('quarantineResolved');

/** Holds `event` until a person replays or discards it, or `keepForMs` passes. */
export type QuarantinedEventWorkflow = (event: QuarantinedEvent, keepForMs: number) => Promise<QuarantineState>;
