import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { QuarantinedEvent } from '../events/envelope';
import type { Intake, IntakeResult } from '../intake';
import { sha256Of, type QuarantineStore } from '../spool/quarantine';
import { quarantineResolvedSignal, quarantineStateQuery, type QuarantineState } from '../../workflows/contracts/quarantine';
import { HooklineEventType, HooklineSource } from '../../workflows/contracts/search-attributes';
import { classifyVerified } from './classify';
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

export interface QuarantineService {
  list(limit?: number): Promise<QuarantineRow[]>;
  /** The workflow's state, with the body read back from where the receiver keeps it (undefined once it is no longer kept). */
  show(id: string): Promise<QuarantineState>;
  replay(id: string, options: { by: string; body?: string }): Promise<IntakeResult>;
  discard(id: string, options: { by: string; note?: string }): Promise<QuarantineState>;
}

export const QUARANTINE_QUERY = 'WorkflowType = "quarantinedEventWorkflow" AND HooklineStatus = "quarantined"';

export function createQuarantineService(deps: {
  client: Client;
  intake: Intake;
  sources: ReadonlyMap<string, SourceConfig>;
  /** Where the receiver keeps quarantined bodies (its spool database, SPOOL_URL). */
  bodies: Pick<QuarantineStore, 'read' | 'forget'>;
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

  return {
    async list(limit = 100) {
      const rows: QuarantineRow[] = [];
      for await (const wf of client.workflow.list({ query: QUARANTINE_QUERY })) {
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

    async replay(id, { by, body }) {
      const { event } = await open(id);
      const source = deps.sources.get(event.source);
      if (!source) throw new QuarantineConflictError(`Source ${event.source} is no longer configured`);
      const raw = body ?? (await bodyOf(id, event));
      if (raw === undefined) throw new QuarantineConflictError(`The body of ${id} is no longer kept: replay it with a body of your own`);
      const classified = classifyVerified({
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
      if (classified.kind === 'quarantine')
        throw new ReplayRejectedError(`Still not processable: ${classified.event.reason}`, classified.event.problems);
      if (classified.kind === 'ignored')
        throw new ReplayRejectedError(
          `Nothing to replay: hookline does not act on ${classified.provider} ${classified.type} (${classified.why})`,
          [],
        );
      const result = await deps.intake.accept(classified.envelope);
      await client.workflow.getHandle(id).signal(quarantineResolvedSignal, { outcome: 'replayed', workflowId: result.workflowId, by });
      await release(event);
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
