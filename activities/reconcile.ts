import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ReconcileRequest, ReconcileSummary } from '../workflows/contracts/reconcile';
import type { Logger } from '../src/log';
import type { ReconcileMetrics } from '../src/reconcile/metrics';
import { LookbackRefusedError } from '../src/reconcile/plan';
import type { PageInput, Reconciler } from '../src/reconcile/reconciler';

/** How often a page heartbeats: well within the provider profile's 20 s heartbeat timeout. */
const PAGE_HEARTBEAT_MS = 5_000;

export interface ReconcileDeps {
  reconciler: Reconciler;
  metrics: ReconcileMetrics;
  logger: Logger;
  now?: () => Date;
}

/**
 * The reconciler's activities (src/reconcile/), in two timeout profiles (workflows/reconcile.ts):
 * the provider's list, which may be slow and rate limited, and the bookkeeping on hookline's own
 * database. Registered by a worker that has a source to reconcile.
 */
export function reconcile(deps: ReconcileDeps) {
  const { reconciler, logger } = deps;
  const now = deps.now ?? (() => new Date());
  return {
    async reconcilePlan(request: ReconcileRequest) {
      try {
        return await reconciler.plan(request);
      } catch (err) {
        // Retrying cannot make the event log remember further back.
        if (err instanceof LookbackRefusedError)
          throw ApplicationFailure.create({ type: 'LookbackRefused', message: err.message, nonRetryable: true });
        throw err;
      }
    },

    /** One page listed, and every event hookline lacks handed to the intake. Provider errors come classified (429: its Retry-After). */
    async reconcilePage(input: PageInput) {
      const context = Context.current();
      // Alive while the provider or the intake take their time: the profile's heartbeat timeout
      // (workflows/reconcile.ts) then only ever expires for a worker that is gone.
      context.heartbeat(input.startingAfter);
      const alive = setInterval(() => context.heartbeat(input.startingAfter), PAGE_HEARTBEAT_MS);
      try {
        return await reconciler.page(input, context.cancellationSignal);
      } finally {
        clearInterval(alive);
      }
    },

    async reconcileAdvance(input: { source: string; to: number }) {
      return reconciler.advance(input.source, input.to);
    },

    /** The pass's log line and metrics. */
    async reconcileReport(input: { summary: ReconcileSummary; error?: string }) {
      const { summary, error } = input;
      deps.metrics.pass(summary, error === undefined, Math.floor(now().getTime() / 1000));
      const line = {
        source: summary.source,
        from: new Date(summary.from * 1000).toISOString(),
        to: new Date(summary.to * 1000).toISOString(),
        lookedAt: summary.lookedAt,
        known: summary.known,
        started: summary.started,
        quarantined: summary.quarantined,
        ignored: summary.ignored,
        awaiting: summary.awaiting,
        unreadable: summary.unreadable ?? 0,
        failed: summary.failed,
        pages: summary.pages,
        ...(summary.dryRun ? { dryRun: true, missing: summary.missing } : {}),
        ...(summary.cursor === undefined ? {} : { cursor: new Date(summary.cursor * 1000).toISOString() }),
      };
      if (error === undefined) logger.info('reconcile pass', line);
      else logger.warn('reconcile pass failed', { ...line, error });
    },
  };
}

export type ReconcileActivities = ReturnType<typeof reconcile>;
