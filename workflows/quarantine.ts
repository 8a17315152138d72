import { condition, defineQuery, defineSignal, log, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { QuarantinedEvent } from '../src/events/envelope';
import { HooklineStatus } from './search-attributes';

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

/**
 * Holds a verified event that could not be processed until a person replays or discards it.
 * The event lives in this workflow's input and is found with `HooklineStatus="quarantined"`.
 * After `keepForMs` it completes as expired rather than living forever.
 */
export async function quarantinedEventWorkflow(event: QuarantinedEvent, keepForMs: number): Promise<QuarantineState> {
  const state: QuarantineState = { event, status: 'quarantined' };
  setHandler(quarantineStateQuery, () => state);
  setHandler(quarantineResolvedSignal, (resolution) => {
    if (state.status === 'quarantined') state.resolution = resolution;
  });
  log.warn('event quarantined', { source: event.source, eventType: event.eventType, reason: event.reason });

  const resolved = await condition(() => state.resolution !== undefined, keepForMs);
  const resolution: QuarantineOutcome = resolved && state.resolution ? state.resolution : { outcome: 'expired' };
  state.resolution = resolution;
  state.status = resolution.outcome;
  upsertSearchAttributes([{ key: HooklineStatus, value: resolution.outcome }]);
  return state;
}
