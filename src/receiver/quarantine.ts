import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { quarantineResolvedSignal, quarantineStateQuery, type QuarantineState } from '../../workflows/contracts/quarantine';
import { HooklineEventType, HooklineSource } from '../../workflows/contracts/search-attributes';
import type { Intake, IntakeResult } from '../intake';
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
  show(id: string): Promise<QuarantineState>;
  replay(id: string, options: { by: string; body?: string }): Promise<IntakeResult>;
  discard(id: string, options: { by: string; note?: string }): Promise<QuarantineState>;
}

export const QUARANTINE_QUERY = 'WorkflowType = "quarantinedEventWorkflow" AND HooklineStatus = "quarantined"';

export function createQuarantineService(deps: {
  client: Client;
  intake: Intake;
  sources: ReadonlyMap<string, SourceConfig>;
}): QuarantineService {
  const { client } = deps;

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

    show: state,

    async replay(id, { by, body }) {
      const { event } = await open(id);
      const source = deps.sources.get(event.source);
      if (!source) throw new QuarantineConflictError(`Source ${event.source} is no longer configured`);
      const classified = classifyVerified({
        source,
        rawBody: Buffer.from(body ?? event.rawBody, 'utf8'),
        // An event kept before signedId existed carries its webhook-id as deliveryId; only that
        // scheme's id was ever signed, so only it may carry over.
        signedId: event.signedId ?? (source.scheme === 'standard-webhooks' ? event.deliveryId : undefined),
        deliveryRef: event.deliveryRef,
        receivedAt: new Date().toISOString(),
      });
      if (classified.kind === 'quarantine')
        throw new ReplayRejectedError(`Still not processable: ${classified.event.reason}`, classified.event.problems);
      const result = await deps.intake.accept(classified.envelope);
      await client.workflow.getHandle(id).signal(quarantineResolvedSignal, { outcome: 'replayed', workflowId: result.workflowId, by });
      return result;
    },

    async discard(id, { by, note }) {
      await open(id);
      await client.workflow.getHandle(id).signal(quarantineResolvedSignal, { outcome: 'discarded', by, note });
      return state(id);
    },
  };
}
