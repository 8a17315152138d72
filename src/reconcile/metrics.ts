import type { MetricMeter } from '@temporalio/common';
import type { ReconcileSummary } from '../../workflows/contracts/reconcile';
import { RECONCILE_OUTCOMES } from '../../workflows/contracts/reconcile';

/** What a pass reports, for the worker's Prometheus endpoint (WORKER_METRICS_ADDRESS). */
export interface ReconcileMetrics {
  pass(summary: ReconcileSummary, ok: boolean, atSeconds: number): void;
}

/**
 * On the Temporal runtime's meter, served with the SDK's own metrics: `hookline_reconciled_total
 * {source,outcome}` (named with its `_total`: Core's Prometheus exporter adds none unless
 * `countersTotalSuffix` is set, which the worker does not; temporalio/sdk-rust#1526) and
 * `hookline_reconcile_last_success_timestamp_seconds{source}`, which HooklineReconcilerStale
 * (deploy/prometheus/alerts.yml) watches. A dry run counts nothing.
 */
export function reconcileMetrics(meter: MetricMeter): ReconcileMetrics {
  const reconciled = meter.createCounter(
    'hookline_reconciled_total',
    'events',
    'Events a reconciliation pass looked at, by what it did with them',
  );
  const lastSuccess = meter.createGauge(
    'hookline_reconcile_last_success_timestamp_seconds',
    'float',
    '',
    'Unix time of the last reconciliation pass of the source that completed',
  );
  return {
    pass(summary, ok, atSeconds) {
      if (summary.dryRun) return;
      for (const outcome of RECONCILE_OUTCOMES) {
        if (summary[outcome] > 0) reconciled.add(summary[outcome], { source: summary.source, outcome });
      }
      if (ok) lastSuccess.set(atSeconds, { source: summary.source });
    },
  };
}
