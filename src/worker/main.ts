import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString, DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { loadWorkerConfig } from '../config/worker';
import { createLogger } from '../log';
import { buildActivityDeps } from './deps';

/** `npm run worker`: one process, configured by the environment. */
async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const logger = createLogger({ level: config.logLevel, bindings: { service: 'worker' } });
  Runtime.install({
    logger: new DefaultLogger(config.logLevel === 'debug' ? 'DEBUG' : 'INFO', (entry) => {
      // webpack's bundle report is a screenful at INFO; it belongs at debug.
      const verbose = entry.level === 'DEBUG' || entry.level === 'TRACE' || entry.message.startsWith('asset workflow-bundle');
      const level = entry.level === 'ERROR' ? 'error' : entry.level === 'WARN' ? 'warn' : verbose ? 'debug' : 'info';
      logger[level](entry.message, entry.meta);
    }),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } },
  });

  const connection = await NativeConnection.connect(config.temporal.connectionOptions);
  const clientConnection = await Connection.connect(config.temporal.connectionOptions);
  const client = new Client({ connection: clientConnection, namespace: config.temporal.namespace });
  const { deps, close } = await buildActivityDeps(config, client, logger);

  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: require.resolve('../../workflows'),
    activities: createActivities(deps),
  });
  logger.info('worker started', { temporal: config.temporal.address, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue, database: config.databaseUrl.split(':')[0] });
  // Worker.run() handles SIGINT/SIGTERM itself: it stops polling, lets running tasks finish, then resolves.
  await worker.run();
  await close();
  await clientConnection.close();
  await connection.close();
  logger.info('worker stopped');
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
