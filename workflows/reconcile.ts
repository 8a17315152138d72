import { ActivityFailure, ApplicationFailure, proxyActivities, setHandler } from '@temporalio/workflow';
import type { ReconcileActivities } from '../activities/reconcile';
import {
  emptyCounts,
  reconcileProgressQuery,
  RECONCILE_OUTCOMES,
  type ReconcileRequest,
  type ReconcileSummary,
} from './contracts/reconcile';

const PROFILES = {
  /**
   * The provider's list: a page may take seconds, and a 429 names its own wait (`Retry-After`
   * becomes the next retry's delay). A budget of about ten minutes, then the pass fails with the
   * cursor where it was and the next one tries again (the stale alert fires after an hour of that).
   * The activity heartbeats every few seconds for as long as the page takes, whatever the provider
   * or the intake are doing (activities/reconcile.ts), so the heartbeat timeout is how long a pass
   * stalls after its worker died mid-page (a crash, an OOM kill, a lost host): 20 s, not the minute
   * a silent page would need, and a living worker never comes near it.
   */
  provider: {
    startToCloseTimeout: '2m',
    heartbeatTimeout: '20s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 15 },
  },
  /** Reads and writes on hookline's own database: retried briskly, and for as long as it is down. */
  bookkeeping: {
    startToCloseTimeout: '30s',
    retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' },
  },
} as const;

const { reconcilePage } = proxyActivities<Pick<ReconcileActivities, 'reconcilePage'>>(PROFILES.provider);
const { reconcilePlan, reconcileAdvance, reconcileReport } = proxyActivities<
  Pick<ReconcileActivities, 'reconcilePlan' | 'reconcileAdvance' | 'reconcileReport'>
>(PROFILES.bookkeeping);

/**
 * One reconciliation pass of a source (src/reconcile/): list what the provider has in the plan's
 * windows, page by page, each page handed to the intake before the next is asked for; then, only if
 * every event was handed over, move the cursor to the end of the window. A worker that dies
 * mid-pass leaves the page to be asked for again (its events then known), the cursor untouched.
 */
export async function reconcileWorkflow(request: ReconcileRequest): Promise<ReconcileSummary> {
  // Undefined until the plan is made; then the counts so far, for `npm run reconcile`'s progress.
  const progress: { summary?: ReconcileSummary } = {};
  setHandler(reconcileProgressQuery, () => progress.summary);
  const plan = await reconcilePlan(request);
  const current: ReconcileSummary = {
    source: request.source,
    ...emptyCounts(),
    from: Math.min(...plan.listings.map((l) => l.gte)),
    to: Math.max(...plan.listings.map((l) => l.lte)),
    pages: 0,
    dryRun: request.dryRun === true,
    ...(plan.cursor === undefined ? {} : { cursor: plan.cursor }),
  };
  progress.summary = current;
  // The earliest event whose delivery is still to come: the cursor stops there, for a later pass to see it again.
  let holdAt: number | undefined;
  try {
    for (const listing of plan.listings) {
      let startingAfter: string | undefined;
      do {
        const page = await reconcilePage({
          source: request.source,
          listing,
          ...(startingAfter ? { startingAfter } : {}),
          ...(request.dryRun ? { dryRun: true } : {}),
        });
        current.pages += 1;
        current.lookedAt += page.counts.lookedAt;
        // `?? 0`: a page answered before an outcome existed (a history replayed) lacks it.
        for (const outcome of RECONCILE_OUTCOMES) current[outcome] += page.counts[outcome] ?? 0;
        if (page.holdAt !== undefined) holdAt = Math.min(holdAt ?? page.holdAt, page.holdAt);
        startingAfter = page.next;
      } while (startingAfter !== undefined);
    }
    if (current.failed > 0) {
      throw ApplicationFailure.create({
        type: 'ReconcileIncomplete',
        message: `${current.failed} event(s) could not be read from the provider or handed to the intake; the cursor stays`,
        nonRetryable: true,
      });
    }
    if (plan.advanceTo !== undefined && !request.dryRun)
      current.cursor = await reconcileAdvance({ source: request.source, to: Math.min(plan.advanceTo, holdAt ?? plan.advanceTo) });
  } catch (err) {
    const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
    await reconcileReport({ summary: current, error: cause instanceof Error ? cause.message : String(cause) });
    throw err;
  }
  await reconcileReport({ summary: current });
  return current;
}
