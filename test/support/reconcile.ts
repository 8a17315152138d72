import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { reconcile } from '../../activities/reconcile';
import { createIntake } from '../../src/intake/direct';
import { silentLogger } from '../../src/log';
import type { ReconcileConfig, ReconcileSourceConfig } from '../../src/reconcile/config';
import type { Lister } from '../../src/reconcile/listers';
import { reconcileMetrics } from '../../src/reconcile/metrics';
import { createReconciler, type Reconciler } from '../../src/reconcile/reconciler';
import type { ReconcileRequest, ReconcileSummary, ReconcileWorkflow } from '../../workflows/contracts/reconcile';
import type { Agent } from './harness';

export interface ReconcileWorker {
  reconciler: Reconciler;
  /** The reconciler's own task queue (schedules created in a test point at it). */
  taskQueue: string;
  /** One pass as the schedule starts it: `reconcileWorkflow` on the reconciler's queue, to its summary. */
  pass(request: ReconcileRequest, workflowId?: string): Promise<ReconcileSummary>;
  close(): Promise<void>;
}

/**
 * The reconciler as the worker builds it, on the agent's database, handing what it finds to the
 * receiver's intake on the agent's task queue (so the same starts get the same workflow IDs), with a
 * worker of its own on its own queue running `reconcileWorkflow` (in production one worker
 * registers both). Each test file gives its sources' config and how a source's events are listed.
 */
export async function startReconcileWorker(options: {
  env: TestWorkflowEnvironment;
  agent: Agent;
  config: ReconcileConfig;
  lister: (source: ReconcileSourceConfig) => Lister;
}): Promise<ReconcileWorker> {
  const { env, agent } = options;
  const reconciler = createReconciler({
    db: agent.db,
    intake: createIntake({ client: env.client, taskQueue: agent.taskQueue, startTimeoutMs: 5_000, quarantineKeepForMs: 60_000 }),
    config: options.config,
    retentionMs: 30 * 24 * 3600 * 1000,
    lister: options.lister,
    logger: silentLogger,
  });
  const taskQueue = `reconcile-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: { code: inject('workflowBundle') },
    activities: reconcile({ reconciler, metrics: reconcileMetrics(Runtime.instance().metricMeter), logger: silentLogger }),
  });
  const running = worker.run();
  return {
    reconciler,
    taskQueue,
    pass: (request, workflowId = `reconcile-test-${randomUUID()}`) =>
      env.client.workflow.execute<ReconcileWorkflow>('reconcileWorkflow', { taskQueue, workflowId, args: [request] }),
    async close() {
      worker.shutdown();
      await running;
    },
  };
}
