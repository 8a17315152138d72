import type { Client } from '@temporalio/client';
import type { MetricMeter } from '@temporalio/common';
import type { Kysely } from 'kysely';
import { reconcile } from '../../activities/reconcile';
import { duration, parseEnv, type Env } from '../config/env';
import { loadPriorityPolicy } from '../config/temporal';
import type { Schema } from '../db/schema';
import { createIntake } from '../intake/direct';
import type { Logger } from '../log';
import { listerFor, type Lister } from './listers';
import { loadSources } from '../receiver/sources';
import { z } from 'zod';
import { loadReconcileConfig, type ReconcileConfig } from './config';
import { reconcileMetrics } from './metrics';
import { createReconciler } from './reconciler';

export { ensureReconcileSchedules } from './schedules';
export { loadReconcileConfig, type ReconcileConfig } from './config';

const IntakeEnv = z.object({ TEMPORAL_START_TIMEOUT: duration('5s'), QUARANTINE_KEEP_FOR: duration('30d') });

/**
 * The reconciler's activities as a worker registers them, built once from the environment: the
 * receiver's sources (the same WEBHOOK_* variables, so an event is read exactly as its webhook
 * would be), a lister per reconciled source (on a client with its provider credentials), and an
 * intake on the worker's Temporal client with the receiver's start timeout, quarantine lifetime and
 * priorities (PRIORITY_*, WEBHOOK_WEIGHT_*). Undefined when no source is reconciled.
 */
export function buildReconcileActivities(options: {
  env: Env;
  client: Client;
  taskQueue: string;
  db: Kysely<Schema>;
  retentionMs: number;
  logger: Logger;
  meter: MetricMeter;
}): { activities: ReturnType<typeof reconcile>; config: ReconcileConfig } | undefined {
  const config = loadReconcileConfig(options.env, loadSources(options.env).values());
  if (config.sources.size === 0) return undefined;
  const intakeEnv = parseEnv(IntakeEnv, options.env);
  const listers = new Map<string, Lister>();
  const reconciler = createReconciler({
    db: options.db,
    intake: createIntake({
      client: options.client,
      taskQueue: options.taskQueue,
      startTimeoutMs: intakeEnv.TEMPORAL_START_TIMEOUT,
      quarantineKeepForMs: intakeEnv.QUARANTINE_KEEP_FOR,
      // A reconciled event starts at the priority and fairness its webhook would have had.
      priorities: loadPriorityPolicy(options.env),
    }),
    config,
    retentionMs: options.retentionMs,
    lister: (source) => {
      let lister = listers.get(source.source.name);
      if (!lister) {
        lister = listerFor(source);
        listers.set(source.source.name, lister);
      }
      return lister;
    },
    logger: options.logger,
  });
  return { activities: reconcile({ reconciler, metrics: reconcileMetrics(options.meter), logger: options.logger }), config };
}
