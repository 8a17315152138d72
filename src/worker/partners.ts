import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import type { PartnerRates } from '../config/partners';
import type { Logger } from '../log';
import { activitiesOf, PARTNERS, PER_SHOP_PARTNERS, partnerTaskQueue, type Partner } from '../../workflows/contracts/partners';

/** temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY (@temporalio/proto is not a direct dependency). */
const ACTIVITY_QUEUE = 2;

/**
 * One activity-only worker per partner queue (workflows/contracts/partners.ts), in the same
 * process, on the same connection and as the same Worker Deployment version as the workflows'
 * worker, so a pinned workflow's partner calls go to its own build. Each serves only its
 * partner's activities.
 *
 * `maxTaskQueueActivitiesPerSecond` is the partner's rate as well: the server enforces it for the
 * whole queue (every worker polling it), and it is what paces the queue on a server without the
 * task queue configuration API or where this worker may not call it. Where the API answers, the
 * rate set there (applyPartnerRates) takes precedence over every worker's.
 */
export async function createPartnerWorkers(options: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Record<string, (...args: never[]) => Promise<unknown>>;
  rates: PartnerRates;
  workerDeploymentOptions?: WorkerOptions['workerDeploymentOptions'];
  interceptors?: WorkerOptions['interceptors'];
}): Promise<Worker[]> {
  return Promise.all(
    PARTNERS.map((partner) => {
      const rate = options.rates[partner];
      return Worker.create({
        connection: options.connection,
        namespace: options.namespace,
        taskQueue: partnerTaskQueue(options.taskQueue, partner),
        activities: Object.fromEntries(activitiesOf(partner).map((name) => [name, options.activities[name]!])),
        ...(rate !== undefined ? { maxTaskQueueActivitiesPerSecond: rate } : {}),
        ...(options.workerDeploymentOptions ? { workerDeploymentOptions: options.workerDeploymentOptions } : {}),
        ...(options.interceptors ? { interceptors: options.interceptors } : {}),
      });
    }),
  );
}

/**
 * Sets each partner queue's rate limit in Temporal itself (UpdateTaskQueueConfig, what `temporal
 * task-queue config set --task-queue-type activity --queue-rps-limit N` does): a property of the
 * queue that the matching service enforces for every poller, whatever each worker says, and that
 * `temporal task-queue config get` shows. `off` removes it.
 *
 * A per-shop partner (Shopify: its cost bucket is per shop) gets the rate for each fairness key,
 * which is each shop's domain (`shopKey`, `--fairness-key-rps-limit-default`), and the rate times `shops` for the
 * whole queue: each shop is paced on its own, and the queue's limit (which overrides the workers'
 * own) never holds one shop back for another's sake.
 *
 * A server that refuses (older than 1.29, or a namespace where this worker may not change queues)
 * leaves the workers' own `maxTaskQueueActivitiesPerSecond` in force, the rate for the whole queue,
 * so all shops share one shop's pace there: logged, not fatal.
 */
export async function applyPartnerRates(
  client: Client,
  options: { namespace: string; taskQueue: string; rates: PartnerRates; shops: number; logger: Logger },
): Promise<Partial<Record<Partner, string>>> {
  const applied: Partial<Record<Partner, string>> = {};
  await Promise.all(
    PARTNERS.map(async (partner) => {
      const rate = options.rates[partner];
      const perShop = PER_SHOP_PARTNERS.includes(partner);
      const taskQueue = partnerTaskQueue(options.taskQueue, partner);
      const reason = `PARTNER_RATE_${partner.toUpperCase()}`;
      const limit = (requestsPerSecond: number) => ({ rateLimit: rate === undefined ? null : { requestsPerSecond }, reason });
      try {
        await client.workflowService.updateTaskQueueConfig({
          namespace: options.namespace,
          taskQueue,
          taskQueueType: ACTIVITY_QUEUE,
          identity: `hookline-worker@${process.pid}`,
          updateQueueRateLimit: limit((rate ?? 0) * (perShop ? options.shops : 1)),
          ...(perShop ? { updateFairnessKeyRateLimitDefault: limit(rate ?? 0) } : {}),
        });
        applied[partner] =
          rate === undefined ? 'off' : perShop ? `${round(rate)}/s per shop, ${round(rate * options.shops)}/s in all` : `${round(rate)}/s`;
      } catch (err) {
        options.logger.warn('could not set a partner queue’s rate limit in Temporal; the workers’ own limit applies', {
          taskQueue,
          error: (err as Error).message,
        });
      }
    }),
  );
  return applied;
}

const round = (rate: number) => Number(rate.toFixed(3));
