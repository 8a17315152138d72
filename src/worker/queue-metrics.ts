import type { MetricMeter } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

export const QUEUE_WAIT_METRIC = 'hookline_activity_schedule_to_start';

/**
 * How long each activity attempt waited to start, by its priority key (src/events/priorities.ts):
 * what a flood costs the work behind it. An ordinary activity waits in Temporal's task queue,
 * where the priority orders it; a local activity (`local="true"`) waits in the worker's own
 * first-in-first-out queue for a local-activity slot, where no priority reaches. The SDK's
 * `temporal_activity_schedule_to_start_latency` has the same wait without the priority.
 */
export function queueWaitMetrics(meter: MetricMeter): ActivityInterceptorsFactory {
  const wait = meter.createHistogram(QUEUE_WAIT_METRIC, 'int', 'ms', 'Activity attempt schedule-to-start latency, by priority key');
  return (ctx) => ({
    inbound: {
      execute(input, next) {
        const { info } = ctx;
        wait.record(Math.max(0, Date.now() - info.currentAttemptScheduledTimestampMs), {
          task_queue: info.taskQueue,
          activity_type: info.activityType,
          local: String(info.isLocal),
          // Inherited from the workflow when the activity sets none; Temporal's default (3) when neither does.
          priority: String(info.priority?.priorityKey || 3),
        });
        return next(input);
      },
    },
  });
}
