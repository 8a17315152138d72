import type { Kysely } from 'kysely';
import { appendEventLog, type EventLogInput } from '../db/repo';
import type { EventLogOutcome, Schema } from '../db/schema';
import { idsOf } from '../eventlog/entry';
import { eventWorkflowId, quarantineWorkflowId, type Intake, type IntakeResult } from '../intake';
import type { Logger } from '../log';
import { classifyVerified } from '../receiver/classify';
import { emptyCounts, type ReconcileCounts, type ReconcileOutcome, type ReconcileRequest } from '../../workflows/contracts/reconcile';
import type { ReconcileConfig, ReconcileSourceConfig } from './config';
import type { Lister } from './listers';
import { LookbackRefusedError, planPass, type Listing, type PassPlan } from './plan';

/**
 * Outcomes in the event log that mean hookline has the event: a run was started or is queued for
 * one (and a duplicate or a person's close means an earlier row says so too). A refusal, an ignored
 * type, or nothing at all, means it does not.
 */
const HELD: readonly EventLogOutcome[] = ['accepted', 'rerun', 'queued', 'duplicate', 'closed', 'quarantined'];
/** Events of a page handed to the intake at once. */
const HAND_OVER_CONCURRENCY = 8;
/** A run that ended like this is started again by the intake, as a sender's redelivery would (src/temporal/start-once.ts). */
const RERUN_STATUSES = new Set(['failed', 'timed-out']);

export interface ReconcilerDeps {
  db: Kysely<Schema>;
  /** The receiver's intake: the same starts, with the same workflow IDs. */
  intake: Intake;
  config: ReconcileConfig;
  /** EVENT_LOG_RETENTION (ms): how far back the record of accepted events reaches. */
  retentionMs: number;
  /** How a source's provider is asked for its events (with the source's key), built once per source. */
  lister(source: ReconcileSourceConfig): Lister;
  logger: Logger;
  now?: () => Date;
}

export interface PageInput {
  source: string;
  listing: Listing;
  /** Stripe's cursor within the listing: the last event of the previous page. */
  startingAfter?: string;
  dryRun?: boolean;
}

export interface PageResult {
  counts: ReconcileCounts;
  /** The next page's `startingAfter`, when the provider has more. */
  next?: string;
  /** The earliest `created` of the events awaiting delivery: the cursor moves no further than it. */
  holdAt?: number;
}

/**
 * The reconciler's steps, shared by the schedule's workflow (through activities/reconcile.ts) and
 * nothing else: `npm run reconcile` starts the same workflow. Each step is safe to repeat: a page
 * handed over twice finds its events known the second time.
 */
export function createReconciler(deps: ReconcilerDeps) {
  const now = deps.now ?? (() => new Date());
  const nowSeconds = () => Math.floor(now().getTime() / 1000);

  function sourceOf(name: string): ReconcileSourceConfig {
    const source = deps.config.sources.get(name);
    if (!source)
      throw new LookbackRefusedError(`source ${name} is not reconciled (no provider API key for it, or RECONCILE_EVERY_… is off)`);
    return source;
  }

  async function cursorOf(source: string): Promise<number | undefined> {
    const row = await deps.db.selectFrom('reconcile_cursors').select('created_up_to').where('source', '=', source).executeTakeFirst();
    return row === undefined ? undefined : Number(row.created_up_to);
  }

  /** Which workflow IDs the event log says hookline holds, and whose run must not be started again. */
  async function held(workflowIds: string[]): Promise<Set<string>> {
    if (workflowIds.length === 0) return new Set();
    const rows = await deps.db
      .selectFrom('event_log')
      .select(['workflow_id', 'run_status'])
      .where('workflow_id', 'in', workflowIds)
      .where('outcome', 'in', HELD)
      .execute();
    const failed = new Set(rows.filter((r) => r.run_status !== null && RERUN_STATUSES.has(r.run_status)).map((r) => r.workflow_id));
    return new Set(rows.map((r) => r.workflow_id!).filter((id) => !failed.has(id)));
  }

  /**
   * Which of a provider's event ids (the identities its webhooks carry) the event log holds for the
   * source, as `held` would find their workflow IDs, or records as unreadable: what a lister need
   * not read again. Asked before the bodies are read, so an event seen before costs the provider
   * nothing. An identity whose run failed is not held (the intake starts it again).
   */
  async function knownIds(source: string, providerIds: string[]): Promise<Set<string>> {
    if (providerIds.length === 0) return new Set();
    const rows = await deps.db
      .selectFrom('event_log')
      .select(['identity', 'run_status'])
      .where('source', '=', source)
      .where('identity', 'in', providerIds)
      .where('outcome', 'in', [...HELD, 'unreadable'])
      .execute();
    const failed = new Set(rows.filter((r) => r.run_status !== null && RERUN_STATUSES.has(r.run_status)).map((r) => r.identity));
    return new Set(rows.map((r) => r.identity!).filter((id) => !failed.has(id)));
  }

  return {
    async plan(request: ReconcileRequest): Promise<PassPlan & { cursor?: number }> {
      const lister = deps.lister(sourceOf(request.source));
      const cursor = request.range ? undefined : await cursorOf(request.source);
      const plan = planPass({
        // What the provider cannot list yet is left to the next pass: the cursor stops before it.
        now: nowSeconds() - (lister.lagSeconds ?? 0),
        ...(cursor === undefined ? {} : { cursor }),
        ...(request.range ? { range: request.range } : {}),
        overlapSeconds: Math.round(deps.config.overlapMs / 1000),
        firstLookbackSeconds: Math.round(deps.config.firstLookbackMs / 1000),
        retentionSeconds: Math.floor(deps.retentionMs / 1000),
        providerWindowSeconds: lister.windowSeconds,
        listsUndelivered: lister.listsUndelivered,
      });
      if (plan.clampedFrom !== undefined) {
        deps.logger.warn('reconcile: the cursor is older than the event log remembers; looking back only as far as it does', {
          source: request.source,
          cursor,
          from: plan.listings[0]!.gte,
        });
      }
      return { ...plan, ...(cursor === undefined ? {} : { cursor }) };
    },

    /** One page of the provider's list, each event handed to the intake unless hookline has it. */
    async page(input: PageInput, signal?: AbortSignal): Promise<PageResult> {
      const config = sourceOf(input.source);
      const { source } = config;
      const page = await deps.lister(config).page(input.listing, input.startingAfter, signal, (ids) => knownIds(source.name, ids));
      const receivedAt = now().toISOString();
      // Exactly what the webhook would have carried (each provider's list gives its webhook body),
      // read by the receiver's own code.
      const read = page.bodies.map((body, i) => ({
        classified: classifyVerified({
          source,
          rawBody: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
          ...(page.headers?.[i] ? { headers: page.headers[i] } : {}),
          receivedAt,
        }),
      }));
      const ids = read.map(({ classified }) =>
        classified.kind === 'event'
          ? eventWorkflowId(classified.envelope)
          : classified.kind === 'quarantine'
            ? quarantineWorkflowId(classified.event.source, classified.event.identity)
            : undefined,
      );
      const known = await held(ids.filter((id): id is string => id !== undefined));
      const counts = emptyCounts();
      // Looked at, but with no body to hand over: one still to be delivered holds the cursor back;
      // one the provider can no longer give is recorded for a person and passed by (it would hold
      // the cursor for good, and every event after it with it); one the event log holds is known.
      const unreadable = page.unreadable ?? [];
      counts.lookedAt += (page.awaiting?.length ?? 0) + unreadable.length + (page.known ?? 0);
      counts.awaiting += page.awaiting?.length ?? 0;
      counts.unreadable += unreadable.length;
      counts.known += page.known ?? 0;
      if (unreadable.length > 0) {
        deps.logger.warn('reconcile: the provider has events whose webhook body it cannot give (never attempted); recorded as unreadable', {
          source: source.name,
          events: unreadable.map((e) => `${e.id} (${e.type}, ${e.status})`),
        });
      }
      const holdAt = page.awaiting?.length ? Math.min(...page.awaiting.map((a) => a.created)) : undefined;
      const rows: EventLogInput[] = input.dryRun
        ? []
        : unreadable.map((e) => ({
            receivedAt,
            via: 'reconcile' as const,
            source: source.name,
            provider: source.provider,
            outcome: 'unreadable' as const,
            eventType: e.type,
            identity: e.id,
            reason: `${source.provider} lists ${e.id} (${e.type}) as ${e.status} but never attempted its delivery: no webhook body to read`,
          }));
      const count = (outcome: ReconcileOutcome) => {
        counts[outcome] += 1;
      };
      const handOver = async (i: number): Promise<void> => {
        const { classified } = read[i]!;
        counts.lookedAt += 1;
        const workflowId = ids[i];
        if (classified.kind === 'ignored') {
          count('ignored');
          return;
        }
        if (known.has(workflowId!)) {
          count('known');
          return;
        }
        if (input.dryRun) {
          count('missing');
          return;
        }
        let result: IntakeResult;
        try {
          result =
            classified.kind === 'event' ? await deps.intake.accept(classified.envelope) : await deps.intake.quarantine(classified.event);
        } catch (err) {
          count('failed');
          deps.logger.warn('reconcile: the intake did not take an event', {
            source: source.name,
            workflowId,
            error: (err as Error).message,
          });
          return;
        }
        const outcome: EventLogOutcome = result.queued
          ? 'queued'
          : result.closed
            ? 'closed'
            : result.duplicate
              ? 'duplicate'
              : classified.kind === 'quarantine'
                ? 'quarantined'
                : result.rerun
                  ? 'rerun'
                  : 'accepted';
        count(result.duplicate ? 'known' : classified.kind === 'quarantine' ? 'quarantined' : 'started');
        rows.push({
          receivedAt,
          via: 'reconcile',
          source: source.name,
          provider: source.provider,
          outcome,
          workflowId: result.workflowId,
          ...(classified.kind === 'event'
            ? {
                eventType: classified.envelope.event.event_type,
                identity: classified.envelope.identity,
                testMode: classified.envelope.testMode === true,
                ...idsOf(classified.envelope.event),
              }
            : { eventType: classified.event.eventType ?? null, identity: classified.event.identity, reason: classified.event.reason }),
        });
      };
      // A few at a time: each start is a round trip to Temporal, and they are independent.
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(HAND_OVER_CONCURRENCY, read.length) }, async () => {
          while (next < read.length) await handOver(next++);
        }),
      );
      // Written before the page counts as done: the record is what tells a later pass, after
      // Temporal has forgotten the run, that this event is held.
      await appendEventLog(deps.db, rows);
      return { counts, ...(page.next ? { next: page.next } : {}), ...(holdAt === undefined ? {} : { holdAt }) };
    },

    /** Moves the cursor forward to `to`, never back (two passes at once both end at or after it). */
    async advance(source: string, to: number): Promise<number> {
      const updatedAt = now().toISOString();
      await deps.db
        .insertInto('reconcile_cursors')
        .values({ source, created_up_to: to, updated_at: updatedAt })
        .onConflict((oc) =>
          oc.column('source').doUpdateSet({ created_up_to: to, updated_at: updatedAt }).where('reconcile_cursors.created_up_to', '<', to),
        )
        .execute();
      return (await cursorOf(source)) ?? to;
    },

    cursorOf,
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
