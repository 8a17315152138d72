import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { QuarantinedEvent } from '../events/envelope';
import type { Intake, IntakeResult } from '../intake';
import { sha256Of, type QuarantineStore } from '../spool/quarantine';
import { quarantineResolvedSignal, quarantineStateQuery, type QuarantineState } from '../../workflows/contracts/quarantine';
import { HooklineEventType, HooklineSource } from '../../workflows/contracts/search-attributes';
import { classifyVerified, type Classified } from './classify';
import type { EventLogInput } from '../db/repo';
import type { EventLogOutcome } from '../db/schema';
import { idsOf } from '../eventlog/entry';
import { eventWorkflowId } from '../intake';
import type { SourceConfig } from './sources';

/**
 * What an operator does with quarantined events: list them, read one, replay it through today's
 * schemas (optionally with a corrected body), or discard it. The replay judges the body exactly as
 * the receiver would, so a still-invalid body is refused with its problems rather than re-kept.
 */
export interface QuarantineRow {
  id: string;
  source?: string;
  eventType?: string;
  startTime: string;
}

export class QuarantineNotFoundError extends Error {
  override readonly name = 'QuarantineNotFoundError';
}
export class QuarantineConflictError extends Error {
  override readonly name = 'QuarantineConflictError';
}
/** The body still fails: `problems` lists why, as the receiver would have said. */
export class ReplayRejectedError extends Error {
  override readonly name = 'ReplayRejectedError';
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(message);
  }
}

/** Which quarantined events a bulk redrive takes: every field narrows. */
export interface QuarantineFilter {
  source?: string;
  eventType?: string;
  /** Quarantined at or after (ISO-8601). */
  since?: string;
}

/** What a replay would do now, without doing it: the body passes today's schemas (and would start this workflow), or why not. */
export type ReplayPreview = { passes: true; workflowId: string } | { passes: false; reason: string };

export interface QuarantineService {
  list(limit?: number, filter?: QuarantineFilter): Promise<QuarantineRow[]>;
  /** Judges the kept body as `replay` would, and starts nothing. */
  preview(id: string): Promise<ReplayPreview>;
  /** The workflow's state, with the body read back from where the receiver keeps it (undefined once it is no longer kept). */
  show(id: string): Promise<QuarantineState>;
  replay(id: string, options: { by: string; body?: string; via?: 'replay' | 'redrive' }): Promise<IntakeResult>;
  discard(id: string, options: { by: string; note?: string }): Promise<QuarantineState>;
}

export const QUARANTINE_QUERY = 'WorkflowType = "quarantinedEventWorkflow" AND HooklineStatus = "quarantined"';

export function createQuarantineService(deps: {
  client: Client;
  intake: Intake;
  sources: ReadonlyMap<string, SourceConfig>;
  /** Where the receiver keeps quarantined bodies (its spool database, SPOOL_URL). */
  bodies: Pick<QuarantineStore, 'read' | 'forget'>;
  /** The event log: each replay is a row (the event's own workflow, who replayed it). */
  eventLog?: (entry: EventLogInput) => Promise<void>;
}): QuarantineService {
  const { client, bodies } = deps;

  /** The body as received: in the workflow's input (events kept before bodies moved out), else from the store. */
  async function bodyOf(id: string, event: QuarantinedEvent): Promise<string | undefined> {
    if (event.rawBody !== undefined || event.body === undefined) return event.rawBody;
    const kept = await bodies.read(event.body.ref);
    if (kept === undefined) return undefined;
    if (sha256Of(kept) !== event.body.sha256) throw new QuarantineConflictError(`The kept body of ${id} does not match its SHA-256`);
    return kept.toString('utf8');
  }

  /** The quarantine is over: its body need not be kept any more, nor count against its source. */
  async function release(event: QuarantinedEvent): Promise<void> {
    if (event.body) await bodies.forget(event.body.ref);
  }

  async function state(id: string): Promise<QuarantineState> {
    try {
      return await client.workflow.getHandle(id).query(quarantineStateQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new QuarantineNotFoundError(`No quarantined event ${id}`);
      throw err;
    }
  }

  async function open(id: string): Promise<QuarantineState> {
    const current = await state(id);
    if (current.status !== 'quarantined') throw new QuarantineConflictError(`Event ${id} was already ${current.status}`);
    return current;
  }

  /** The kept body judged by today's schemas, as a fresh delivery of it would be. */
  async function classified(id: string, event: QuarantinedEvent, body?: string) {
    const source = deps.sources.get(event.source);
    if (!source) throw new QuarantineConflictError(`Source ${event.source} is no longer configured`);
    const raw = body ?? (await bodyOf(id, event));
    if (raw === undefined) throw new QuarantineConflictError(`The body of ${id} is no longer kept: replay it with a body of your own`);
    return classifyVerified({
      source,
      rawBody: Buffer.from(raw, 'utf8'),
      // Read by the provider it came with (events kept before providers existed were hookline's
      // format), with the unsigned headers that chose its schema (a Shopify topic).
      provider: event.provider ?? 'hookline',
      headers: event.headers ?? {},
      // An event kept before signedId existed carries its webhook-id as deliveryId; only that
      // scheme's id was ever signed, so only it may carry over.
      signedId: event.signedId ?? (source.scheme === 'standard-webhooks' ? event.deliveryId : undefined),
      deliveryRef: event.deliveryRef,
      receivedAt: new Date().toISOString(),
    });
  }

  return {
    async list(limit = 100, filter = {}) {
      const rows: QuarantineRow[] = [];
      const query = [
        QUARANTINE_QUERY,
        ...(filter.source === undefined ? [] : [`HooklineSource = ${visibilityString(filter.source)}`]),
        ...(filter.eventType === undefined ? [] : [`HooklineEventType = ${visibilityString(filter.eventType)}`]),
        ...(filter.since === undefined ? [] : [`StartTime >= ${visibilityString(filter.since)}`]),
      ].join(' AND ');
      for await (const wf of client.workflow.list({ query })) {
        rows.push({
          id: wf.workflowId,
          source: wf.typedSearchAttributes.get(HooklineSource),
          eventType: wf.typedSearchAttributes.get(HooklineEventType),
          startTime: wf.startTime.toISOString(),
        });
        if (rows.length >= limit) break;
      }
      return rows;
    },

    async show(id) {
      const current = await state(id);
      return { ...current, event: { ...current.event, rawBody: await bodyOf(id, current.event) } };
    },

    async preview(id) {
      const { event } = await open(id);
      const judged = await classified(id, event);
      if (judged.kind === 'ignored') return { passes: false, reason: ignoredReason(judged) };
      return judged.kind === 'event'
        ? { passes: true, workflowId: eventWorkflowId(judged.envelope) }
        : { passes: false, reason: judged.event.reason };
    },

    async replay(id, { by, body, via = 'replay' }) {
      const { event } = await open(id);
      const judged = await classified(id, event, body);
      if (judged.kind === 'quarantine')
        throw new ReplayRejectedError(`Still not processable: ${judged.event.reason}`, judged.event.problems);
      if (judged.kind === 'ignored') throw new ReplayRejectedError(ignoredReason(judged), []);
      const { envelope } = judged;
      const result = await deps.intake.accept(envelope);
      await client.workflow.getHandle(id).signal(quarantineResolvedSignal, { outcome: 'replayed', workflowId: result.workflowId, by });
      await release(event);
      // After the replay took: a log that cannot be written must not undo or repeat it.
      await deps
        .eventLog?.({
          receivedAt: envelope.receivedAt,
          via,
          source: envelope.source,
          provider: envelope.provider ?? 'hookline',
          eventType: envelope.event.event_type,
          identity: envelope.identity,
          workflowId: result.workflowId,
          deliveryRef: envelope.deliveryRef,
          outcome: outcomeOf(result),
          reason: `replayed from ${id} by ${by}`,
          ...idsOf(envelope.event),
        })
        .catch(() => undefined);
      return result;
    },

    async discard(id, { by, note }) {
      const { event } = await open(id);
      await client.workflow.getHandle(id).signal(quarantineResolvedSignal, { outcome: 'discarded', by, note });
      await release(event);
      return state(id);
    },
  };
}

/** A value inside a visibility query, quoted (its own quotes and backslashes escaped). */
export function visibilityString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The event log's word for what an intake did (src/receiver/acknowledgement.ts has the same words). */
export function outcomeOf(result: IntakeResult): EventLogOutcome {
  if (result.queued) return 'queued';
  if (result.closed) return 'closed';
  if (result.duplicate) return 'duplicate';
  return result.rerun ? 'rerun' : 'accepted';
}

/** Why a kept body that now reads as a type hookline does not act on is not replayed. */
function ignoredReason(judged: Extract<Classified, { kind: 'ignored' }>): string {
  return `Nothing to replay: hookline does not act on ${judged.provider} ${judged.type} (${judged.why})`;
}
