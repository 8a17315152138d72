import { WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import type { EventEnvelope } from '../events/envelope';
import type { Intake, IntakeResult } from '../intake';
import { ROUTES } from '../intake/routes';
import { startOnce, type StartOutcome } from './start-once';
import { returnEventSignal, type ProcessReturnWorkflow, type ReturnEnvelope } from '../../workflows/contracts/returns';
import { HooklineEventType, HooklineSource } from '../../workflows/contracts/search-attributes';

/** A workflow whose latest run failed or timed out: what `npm run redrive -- failed` runs again. */
export interface FailedRun {
  workflowId: string;
  runId: string;
  workflowType: string;
  status: 'failed' | 'timed-out';
  closedAt?: string;
  taskQueue: string;
  source?: string;
  eventType?: string;
}

export interface FailedRunFilter {
  source?: string;
  eventType?: string;
  /** Closed at or after (ISO-8601). */
  since?: string;
  /** Only these workflows (from the event log's --order / --customer). */
  workflowIds?: ReadonlySet<string>;
}

/** The workflows an event starts (through the intake), and the return's own, which its relay starts. */
const EVENT_WORKFLOWS: ReadonlySet<string> = new Set(Object.values(ROUTES));
const RETURN_WORKFLOW = 'processReturnWorkflow';

/** Whether a redrive knows how to run this type again (anything else needs a person). */
export function redrivable(workflowType: string): boolean {
  return EVENT_WORKFLOWS.has(workflowType) || workflowType === RETURN_WORKFLOW;
}

function quoted(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * Workflows whose latest run failed or timed out, oldest first: the visibility query finds failed
 * runs, and each workflow's latest run is described, since a failed run may already have been run
 * again (by a redelivery, the drain, the relay or an earlier redrive).
 */
export async function findFailedRuns(client: Client, filter: FailedRunFilter, limit: number): Promise<FailedRun[]> {
  const query = [
    '(ExecutionStatus = "Failed" OR ExecutionStatus = "TimedOut")',
    ...(filter.source === undefined ? [] : [`HooklineSource = ${quoted(filter.source)}`]),
    ...(filter.eventType === undefined ? [] : [`HooklineEventType = ${quoted(filter.eventType)}`]),
    ...(filter.since === undefined ? [] : [`CloseTime >= ${quoted(filter.since)}`]),
  ].join(' AND ');
  const ids = new Set<string>();
  for await (const info of client.workflow.list({ query })) {
    if (filter.workflowIds && !filter.workflowIds.has(info.workflowId)) continue;
    ids.add(info.workflowId);
    if (ids.size >= limit) break;
  }
  const runs: FailedRun[] = [];
  for (const workflowId of ids) {
    const latest = await client.workflow.getHandle(workflowId).describe();
    const status = latest.status.name;
    if (status !== 'FAILED' && status !== 'TIMED_OUT') continue;
    runs.push({
      workflowId,
      runId: latest.runId,
      workflowType: latest.type,
      status: status === 'FAILED' ? 'failed' : 'timed-out',
      ...(latest.closeTime ? { closedAt: latest.closeTime.toISOString() } : {}),
      taskQueue: latest.taskQueue,
      source: latest.typedSearchAttributes.get(HooklineSource),
      eventType: latest.typedSearchAttributes.get(HooklineEventType),
    });
  }
  return runs.sort((a, b) => (a.closedAt ?? '').localeCompare(b.closedAt ?? ''));
}

async function decode(client: Client, payloads: Payload[]): Promise<unknown[]> {
  const converter = client.options.loadedDataConverter;
  let decoded = payloads;
  for (const codec of [...converter.payloadCodecs].reverse()) decoded = await codec.decode(decoded);
  return decoded.map((p) => converter.payloadConverter.fromPayload(p));
}

/** What a run was started with, and the return events it was signalled, read from its history. */
async function inputsOf(client: Client, run: FailedRun): Promise<{ args: unknown[]; returnEvents: ReturnEnvelope[] }> {
  const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
  let args: unknown[] = [];
  const returnEvents: ReturnEnvelope[] = [];
  for (const event of history.events ?? []) {
    const started = event.workflowExecutionStartedEventAttributes;
    if (started) args = await decode(client, started.input?.payloads ?? []);
    const signalled = event.workflowExecutionSignaledEventAttributes;
    if (signalled?.signalName === returnEventSignal.name) {
      returnEvents.push(...((await decode(client, signalled.input?.payloads ?? [])) as ReturnEnvelope[]));
    }
  }
  return { args, returnEvents };
}

/**
 * Runs a failed event again by the path a redelivery takes: an event's workflow through the
 * intake (`startOnce`: a run completed or closed by a person meanwhile is left alone), the
 * return's own workflow through `startOnce` with every event its failed run had, as the relay
 * does. The new run has the same workflow ID, so every idempotency key and the completed-effects
 * record make each side effect happen once.
 */
export async function runAgain(
  client: Client,
  intake: Intake,
  run: FailedRun,
): Promise<{ kind: 'event'; result: IntakeResult; envelope: EventEnvelope } | { kind: 'return'; outcome: StartOutcome }> {
  const { args, returnEvents } = await inputsOf(client, run);
  if (EVENT_WORKFLOWS.has(run.workflowType)) {
    const envelope = args[0] as EventEnvelope;
    return { kind: 'event', result: await intake.accept(envelope), envelope };
  }
  if (run.workflowType !== RETURN_WORKFLOW) throw new Error(`${run.workflowId}: a ${run.workflowType} is not an event's workflow`);
  const returnId = args[0] as string;
  const carried = [...(Array.isArray(args[1]) ? (args[1] as ReturnEnvelope[]) : []), ...returnEvents];
  // The new run keeps the failed run's priority and fairness key (the return event's, src/events/priorities.ts).
  const { priority } = await client.workflow.getHandle(run.workflowId, run.runId).describe();
  const outcome = await startOnce(client, run.workflowId, ({ reusePolicy }) =>
    client.workflow.start<ProcessReturnWorkflow>(RETURN_WORKFLOW, {
      workflowId: run.workflowId,
      taskQueue: run.taskQueue,
      args: [returnId, carried],
      workflowIdReusePolicy: reusePolicy,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      priority,
    }),
  );
  return { kind: 'return', outcome };
}
