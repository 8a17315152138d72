import { Client } from '@temporalio/client';
import { readFileSync } from 'node:fs';
import { bundleWorkflowCode, NativeConnection, Runtime, Worker, makeTelemetryFilterString, DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { loadWorkerConfig } from '../config/worker';
import { createLogger } from '../log';
import { buildActivityDeps } from './deps';
import { workflowSource } from './bundle';
import { workerBuildId } from './build-id';
import { RETRY_METRIC_BUCKETS, retryMetrics } from './retry-metrics';
import { queueWaitMetrics } from './queue-metrics';
import { createRunStatusRecorder } from '../eventlog/status';
import { buildReconcileActivities, ensureReconcileSchedules } from '../reconcile';
import { withActivityContext } from './activity-log';
import { formatVersion, makeCurrentIfNone } from '../temporal/deployments';
import { applyPartnerRates, createPartnerWorkers } from './partners';
import { shopsConfigured } from '../config/partners';

/** `npm run worker`: one process, configured by the environment. */
async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const logger = createLogger({ level: config.logLevel, bindings: { service: 'worker' } });
  try {
    Runtime.install({
      logger: new DefaultLogger(config.logLevel === 'debug' ? 'DEBUG' : 'INFO', (entry) => {
        // webpack's bundle report is a screenful at INFO; it belongs at debug.
        // The partner queues' workers (src/worker/partners.ts) run activities only, on purpose: the
        // SDK's warning that they poll no workflow tasks is expected, so it goes to debug too.
        const verbose =
          entry.level === 'DEBUG' ||
          entry.level === 'TRACE' ||
          entry.message.startsWith('asset workflow-bundle') ||
          entry.message.startsWith('No workflows registered');
        const level = entry.level === 'ERROR' ? 'error' : entry.level === 'WARN' ? 'warn' : verbose ? 'debug' : 'info';
        logger[level](entry.message, entry.meta);
      }),
      telemetryOptions: {
        logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) },
        // The SDK's default names and units (histograms in ms): what Temporal's Core-SDK Grafana dashboard expects.
        ...(config.metricsAddress
          ? { metrics: { prometheus: { bindAddress: config.metricsAddress, histogramBucketOverrides: { ...RETRY_METRIC_BUCKETS } } } }
          : {}),
      },
    });
  } catch (err) {
    // Most likely the port is taken (another worker on this host): name the variable to change.
    if (config.metricsAddress && /prometheus/i.test((err as Error).message)) {
      throw new Error(`WORKER_METRICS_ADDRESS: could not serve metrics on ${config.metricsAddress}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    throw err;
  }

  // One connection for the whole process: the activities' Client (relay, conversations) shares the worker's.
  const connection = await NativeConnection.connect(config.temporal.connectionOptions);
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const { deps, close } = await buildActivityDeps(config, logger);

  // Finding what webhooks never delivered (src/reconcile/): for the sources with a provider API key.
  const reconciling = buildReconcileActivities({
    env: process.env,
    client,
    taskQueue: config.temporal.taskQueue,
    db: deps.db,
    retentionMs: config.eventLogRetentionMs,
    logger: withActivityContext(logger),
    meter: Runtime.instance().metricMeter,
  });
  const workflows = workflowSource(config.workflowBundlePath);
  // The bundle's code itself (built here when there is no prebuilt one): the build ID hashes it.
  const code =
    'workflowBundle' in workflows
      ? readFileSync(workflows.workflowBundle.codePath, 'utf8')
      : (await bundleWorkflowCode({ workflowsPath: workflows.workflowsPath, logger: Runtime.instance().logger })).code;
  const version = { deploymentName: config.temporal.deploymentName, buildId: workerBuildId(code) };
  // Each build is a version of one Worker Deployment: Temporal keeps a pinned workflow on the
  // build it started on and moves auto-upgrade ones to the current build (workflows/contracts/
  // versioning.ts says which is which). A type that declares neither runs pinned: the safe side.
  // The partner queues' workers poll as the same version, so a pinned workflow's partner calls
  // stay on its build too.
  const workerDeploymentOptions = config.versioning
    ? { workerDeploymentOptions: { useWorkerVersioning: true as const, version, defaultVersioningBehavior: 'PINNED' as const } }
    : {};
  const activities = { ...createActivities(deps, { temporal: client }), ...reconciling?.activities };
  // Attempts and age of retrying work: retries have no finite budget, so they must show.
  // and each activity's wait to start by its priority (queue-metrics.ts).
  const interceptors = { activity: [retryMetrics(Runtime.instance().metricMeter), queueWaitMetrics(Runtime.instance().metricMeter)] };
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowBundle: { code },
    ...workerDeploymentOptions,
    // The partner activities too: a task scheduled on this queue before partners had queues of
    // their own still finds a worker.
    activities,
    interceptors,
    // New work (where priorities and fairness keys act) gets this share of the polls (src/config/worker.ts).
    nonStickyToStickyPollRatio: config.nonStickyPollRatio,
    maxConcurrentWorkflowTaskExecutions: config.slots.workflowTasks,
    maxConcurrentActivityTaskExecutions: config.slots.activities,
    maxConcurrentLocalActivityExecutions: config.slots.localActivities,
  });
  // Each partner's calls wait on a queue of their own, paced by the server (src/worker/partners.ts).
  const partnerWorkers = await createPartnerWorkers({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    activities,
    rates: config.partnerRates,
    ...workerDeploymentOptions,
    interceptors,
  });
  const partnerRates = await applyPartnerRates(client, {
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    rates: config.partnerRates,
    shops: shopsConfigured(config.providers),
    logger,
  });
  logger.info('worker started', {
    temporal: config.temporal.address,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    // The version operators promote and retire (npm run release): printed so a deploy can be matched to it.
    deployment: config.versioning ? formatVersion(version) : 'unversioned (WORKER_VERSIONING=off)',
    buildId: version.buildId,
    // Requests a second each partner's queue is handed out at, as set in Temporal (src/config/partners.ts).
    partnerRates,
    database: config.databaseUrl.split(':')[0],
    workflows:
      'workflowBundle' in workflows ? `prebuilt ${workflows.workflowBundle.codePath}` : `bundled at start from ${workflows.workflowsPath}`,
    metrics: config.metricsAddress ? `http://${config.metricsAddress}/metrics` : 'off (set WORKER_METRICS_ADDRESS to serve them)',
    // The endpoint's scheme and host only: a base URL may carry a deployment's path or key.
    model: config.model ? `${config.model.model} at ${new URL(config.model.baseUrl).origin}` : 'none (rules and templates)',
  });
  if (reconciling) await ensureReconcileSchedules(client, { config: reconciling.config, taskQueue: config.temporal.taskQueue, logger });
  // How each logged event's run ended, from Temporal's visibility, and the log's retention.
  const runStatuses = createRunStatusRecorder({ db: deps.db, client, logger, retentionMs: config.eventLogRetentionMs });
  runStatuses.start();
  // Worker.run() handles SIGINT/SIGTERM itself: it stops polling, lets running tasks finish, then resolves.
  const running = Promise.all([worker.run(), ...partnerWorkers.map((w) => w.run())]);
  if (config.versioning)
    makeCurrentIfNone(client, version).then(
      (made) => made && logger.info('build made current: the deployment had none', { deployment: formatVersion(version) }),
      (err: unknown) => logger.warn('could not check the deployment’s current build', { error: (err as Error).message }),
    );
  await running;
  await runStatuses.stop();
  await close();
  await connection.close();
  logger.info('worker stopped');
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
