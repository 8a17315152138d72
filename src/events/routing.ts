import type * as workflows from '../../workflows';
import type { EnvelopeOf } from './envelope';
import { EVENTS, type AllTrue, type EventType, type WorkflowName } from './registry';

/**
 * Which workflow does the agent's work for each event type, by the name the worker registers it
 * under. Only the name: the receiver starts workflows without importing workflow code.
 */
export function workflowForEvent(eventType: EventType): WorkflowName {
  return EVENTS[eventType].workflow;
}

// A route to a workflow that does not take its event's envelope is a compile error here.
export type RoutesTakeTheirEvents = AllTrue<{
  [T in EventType]: EnvelopeOf<T> extends Parameters<(typeof workflows)[(typeof EVENTS)[T]['workflow']]>[0] ? true : T;
}>;
