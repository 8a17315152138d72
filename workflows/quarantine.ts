import { condition, log, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { QuarantinedEvent } from '../src/events/envelope';
import { quarantineResolvedSignal, quarantineStateQuery, type QuarantineOutcome, type QuarantineState } from './contracts/quarantine';
import { HooklineStatus } from './contracts/search-attributes';

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
