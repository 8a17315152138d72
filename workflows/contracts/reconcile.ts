import { defineQuery } from '@temporalio/workflow';

/**
 * The reconciler's contract (workflows/reconcile.ts runs it): what the schedules, `npm run
 * reconcile` and the tests import to start a pass by name and follow it. A pass lists the events a
 * source's provider has, newer than the source's cursor (or in a range asked for by hand), and hands
 * each one hookline does not know yet to the intake, as its webhook would have been.
 */

/** What one pass is asked to do. Times are Unix seconds. */
export interface ReconcileRequest {
  source: string;
  /** A backfill's range (`npm run reconcile -- --since/--from/--to`): the cursor is neither read nor moved. */
  range?: { from: number; to?: number };
  /** Look and count, start nothing, record nothing, move no cursor. */
  dryRun?: boolean;
}

/** What a pass did with each event it looked at. */
export const RECONCILE_OUTCOMES = ['known', 'started', 'quarantined', 'ignored', 'missing', 'awaiting', 'unreadable', 'failed'] as const;
export type ReconcileOutcome = (typeof RECONCILE_OUTCOMES)[number];

/**
 * Counts so far: `known` hookline already had (event log or Temporal), `started` it did not and now
 * runs, `quarantined` it could not map (kept for a person), `ignored` a type mapped to nothing,
 * `missing` a dry run's would-be starts, `awaiting` its delivery is still to come and the provider
 * cannot give its body yet (EasyPost's not yet attempted: the cursor stops before it),
 * `unreadable` the provider is done with and has no body for (EasyPost's finished, never attempted:
 * recorded in the event log for a person, and passed by), `failed` could not be handed over (the
 * pass then fails and the cursor stays).
 */
export type ReconcileCounts = Record<ReconcileOutcome, number> & { lookedAt: number };

export interface ReconcileSummary extends ReconcileCounts {
  source: string;
  /** The window looked at, Unix seconds. */
  from: number;
  to: number;
  /** Requests made to the provider's list endpoint. */
  pages: number;
  /** Where the cursor stands after the pass (unchanged by a backfill or a dry run). */
  cursor?: number;
  dryRun: boolean;
}

export const reconcileProgressQuery = defineQuery<ReconcileSummary | undefined>('reconcileProgress');

export type ReconcileWorkflow = (request: ReconcileRequest) => Promise<ReconcileSummary>;

/** The schedule of a source's passes, and the workflow ID each scheduled pass runs under. */
export const reconcileScheduleId = (source: string): string => `reconcile:${source}`;

export const emptyCounts = (): ReconcileCounts => ({
  lookedAt: 0,
  known: 0,
  started: 0,
  quarantined: 0,
  ignored: 0,
  missing: 0,
  awaiting: 0,
  unreadable: 0,
  failed: 0,
});
