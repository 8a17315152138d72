import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptionsAction } from '@temporalio/client';
import type { Logger } from '../log';
import { reconcileScheduleId, type ReconcileRequest, type ReconcileWorkflow } from '../../workflows/contracts/reconcile';
import type { ReconcileConfig } from './config';

/**
 * A Temporal Schedule per reconciled source (`reconcile:<source>`), created, or brought up to date
 * with the configuration, by every worker at start: idempotent, so `npm start`, `npm run cluster`
 * and a second worker all leave one schedule per source. A pass still running when the next is due
 * makes that one skip (no two scheduled passes of a source at once); a pass that a paused or down
 * Temporal missed is caught up once, and the cursor makes one pass cover the whole gap.
 */
export async function ensureReconcileSchedules(
  client: Client,
  options: { config: ReconcileConfig; taskQueue: string; logger: Logger },
): Promise<string[]> {
  const ids: string[] = [];
  for (const [name, source] of options.config.sources) {
    const scheduleId = reconcileScheduleId(name);
    const action = {
      type: 'startWorkflow',
      workflowType: 'reconcileWorkflow',
      workflowId: scheduleId,
      taskQueue: options.taskQueue,
      args: [{ source: name } satisfies ReconcileRequest] as Parameters<ReconcileWorkflow>,
    } satisfies ScheduleOptionsAction;
    const spec = { intervals: [{ every: source.everyMs }] };
    const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1h' } as const;
    try {
      await client.schedule.create({ scheduleId, spec, action, policies });
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec, action, policies }));
    }
    ids.push(scheduleId);
    options.logger.info('reconcile schedule', { source: name, scheduleId, every: `${Math.round(source.everyMs / 1000)}s` });
  }
  return ids;
}
