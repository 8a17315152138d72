/**
 * A child process for test/reconcile-metrics.test.ts: the Temporal runtime's Prometheus exporter
 * (installed once per process, so not in the test's own) with the reconciler's metrics recorded
 * for one pass of each kind. Prints `ready` once they are recorded.
 */
import { Runtime } from '@temporalio/worker';
import { reconcileMetrics } from '../../src/reconcile/metrics';
import { emptyCounts } from '../../workflows/contracts/reconcile';

Runtime.install({ telemetryOptions: { metrics: { prometheus: { bindAddress: process.argv[2]! } } } });
const metrics = reconcileMetrics(Runtime.instance().metricMeter);
const base = { ...emptyCounts(), from: 0, to: 1, pages: 1, dryRun: false };
metrics.pass({ ...base, source: 'stripe', lookedAt: 40, known: 31, started: 9 }, true, 1_700_000_000);
// A failed pass counts what it did, and leaves the last success where it was.
metrics.pass({ ...base, source: 'stripe', lookedAt: 1, failed: 1 }, false, 1_700_000_300);
// An EasyPost pass that passed an unreadable Event by completes: counted as unreadable, and a success.
metrics.pass({ ...base, source: 'easypost', lookedAt: 3, known: 2, unreadable: 1 }, true, 1_700_000_200);
// A dry run counts nothing.
metrics.pass({ ...base, source: 'easypost', lookedAt: 5, missing: 5, dryRun: true }, true, 1_700_000_300);
process.stdout.write('ready\n');
setInterval(() => undefined, 60_000);
