import type { MetricMeter } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/** Histogram names, also the keys of their bucket overrides. */
export const RETRY_ATTEMPT_METRIC = 'hookline_activity_retry_attempt';
export const RETRY_AGE_METRIC = 'hookline_activity_retry_age';

/**
 * Buckets for the Prometheus exporter (`histogramBucketOverrides`): the SDK's defaults are for
 * latencies of milliseconds to seconds, while a retry's attempt runs to the thousands and its
 * age to days.
 */
export const RETRY_METRIC_BUCKETS: Readonly<Record<string, number[]>> = {
  [RETRY_ATTEMPT_METRIC]: [2, 3, 5, 10, 20, 50, 100, 200, 500, 1_000, 5_000],
  // 1 s, 10 s, 30 s, 1 min, 5 min, 15 min, 30 min, 1 h, 2 h, 6 h, 12 h, 1 day, 2 days (ms, as the SDK's histograms).
  [RETRY_AGE_METRIC]: [1e3, 1e4, 3e4, 6e4, 3e5, 9e5, 1.8e6, 3.6e6, 7.2e6, 2.16e7, 4.32e7, 8.64e7, 1.728e8],
};

/**
 * Retrying work, measured. Activities retry without a finite budget while our own infrastructure
 * is down (workflows/activities.ts), so a bug that fails every attempt must not hide as endless
 * retries: every attempt after the first records its attempt number and how long ago the activity
 * was first scheduled, by activity and workflow type. `rate(…_count)` is how much is retrying; the
 * age buckets say for how long. Both are served on the worker's Prometheus endpoint
 * (WORKER_METRICS_ADDRESS); the README has the queries.
 *
 * The age is from the SDK's `scheduledTimestampMs`, the first attempt's schedule time. A
 * knowledge-base call that its local fast path gave up on continues as an ordinary activity
 * (`localThenDurable`), whose count and age start again from its own schedule.
 */
export function retryMetrics(meter: MetricMeter): ActivityInterceptorsFactory {
  const attempts = meter.createHistogram(RETRY_ATTEMPT_METRIC, 'int', 'attempts', 'Attempt number of activity attempts after the first');
  const age = meter.createHistogram(
    RETRY_AGE_METRIC,
    'int',
    'ms',
    'Time since the activity was first scheduled, at each attempt after the first',
  );
  return (ctx) => ({
    inbound: {
      execute(input, next) {
        const { info } = ctx;
        if (info.attempt > 1) {
          const tags = {
            namespace: info.namespace,
            task_queue: info.taskQueue,
            activity_type: info.activityType,
            workflow_type: info.workflowType ?? 'none',
            local: String(info.isLocal),
          };
          attempts.record(info.attempt, tags);
          age.record(Math.max(0, Date.now() - info.scheduledTimestampMs), tags);
        }
        return next(input);
      },
    },
  });
}
