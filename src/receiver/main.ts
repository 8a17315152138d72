import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadReceiverConfig } from '../config/receiver';
import { createLogger } from '../log';
import { createTemporalClient, isReachable } from '../temporal/client';
import { createApp } from './app';
import { createHandoffService } from '../handoff/service';
import { handoffRouter } from './handoffs';
import { createIntake } from '../intake/direct';
import { createReceiverMetrics } from './metrics';
import { createReceiverServer } from './server';
import { appendEventLog, migrateToLatest, openDatabase } from '../db';
import { createEventLogWriter } from '../eventlog/writer';
import { createOperatorDirectory } from '../operators/directory';
import { startSpool } from '../spool';
import { DEFAULT_QUARANTINE_LIMITS } from '../spool/config';
import { createQuarantineKeeper, openQuarantineStore, registerQuarantineGauges } from '../spool/quarantine';

/** `npm run receiver`: one process, configured by the environment. */
async function main(): Promise<void> {
  const config = loadReceiverConfig();
  const logger = createLogger({ level: config.logLevel, bindings: { service: 'receiver' } });
  // Operators and inbox sessions live in the shared database, so every receiver sees the same ones.
  const database = await openDatabase(config.databaseUrl);
  await migrateToLatest(database);
  const operators = createOperatorDirectory(database.db, { sessionTtlMs: config.operatorSessionTtlMs });
  const { client } = createTemporalClient(config.temporal);
  const direct = createIntake({
    client,
    taskQueue: config.temporal.taskQueue,
    startTimeoutMs: config.startTimeoutMs,
    quarantineKeepForMs: config.quarantineKeepForMs,
    priorities: config.temporal.priorities,
  });
  const metrics = createReceiverMetrics({ sources: config.sources.keys(), processMetrics: true });
  // The event log's own handle: on SQLite a write that finds the file locked (the worker writing)
  // fails at once and is retried later, rather than waiting with every request held (src/eventlog/).
  const eventLogDatabase = config.eventLog ? await openDatabase(config.databaseUrl, { busyTimeoutMs: 0 }) : undefined;
  const eventLog = eventLogDatabase
    ? createEventLogWriter({ write: (rows) => appendEventLog(eventLogDatabase.db, rows), logger, registry: metrics.registry })
    : undefined;
  // No spooling source, no spool: every event then needs Temporal's acknowledgement, as before.
  const spool =
    config.spool.sources.size > 0
      ? await startSpool({
          config: config.spool,
          direct,
          scope: `${config.temporal.namespace}/${config.temporal.taskQueue}`,
          logger,
          registry: metrics.registry,
        })
      : undefined;
  // Quarantined bodies live in the receiver's own database (the spool's), bounded per source.
  const quarantined = await openQuarantineStore(config.spool.url, { scope: `${config.temporal.namespace}/${config.temporal.taskQueue}` });
  registerQuarantineGauges(metrics.registry, quarantined, config.quarantineLimits);
  const intake = createQuarantineKeeper({
    intake: spool?.intake ?? direct,
    store: quarantined,
    limits: (source) => config.quarantineLimits.get(source) ?? DEFAULT_QUARANTINE_LIMITS,
    keepForMs: config.quarantineKeepForMs,
    logger,
  });
  const app = createApp({
    sources: config.sources,
    intake,
    spoolStatus: spool?.status,
    logger,
    maxBodyBytes: config.maxBodyBytes,
    retryAfterSeconds: 5,
    trustProxy: config.trustProxy,
    unknownSourceRateLimit: config.unknownSourceRateLimit,
    isTemporalReachable: () => isReachable(client),
    metrics,
    metricsToken: config.metricsToken,
    eventLog,
    extraRouters: [
      handoffRouter({
        service: createHandoffService(client),
        operators,
        logger,
        sessionTtlMs: config.operatorSessionTtlMs,
        plainHttp: config.plainHttp,
        metrics,
        events: { db: database.db, temporalUiUrl: config.temporalUiUrl, namespace: config.temporal.namespace },
      }),
    ],
  });

  const server = createReceiverServer(app, {
    requestTimeoutMs: config.requestTimeoutMs,
    tls: config.tls ? { cert: readFileSync(config.tls.certPath), key: readFileSync(config.tls.keyPath) } : undefined,
    logger,
  });
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const scheme = config.tls ? 'https' : 'http';
  const unsigned = [...config.sources.values()].filter((s) => s.secrets.length === 0).map((s) => s.name);
  // The port bound, not the one asked for: with PORT=0 the system picks it, and this line says which.
  const { port } = server.address() as AddressInfo;
  logger.info('receiver listening', {
    url: `${scheme}://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`,
    temporal: config.temporal.address,
    namespace: config.temporal.namespace,
    sources: [...config.sources.keys()],
    metrics: config.metricsToken ? 'GET /metrics (bearer METRICS_TOKEN)' : 'GET /metrics (open: set METRICS_TOKEN to require a token)',
    spool: spool ? { store: spool.spool.dialect, sources: [...config.spool.sources] } : 'off',
    ...(unsigned.length > 0 ? { refusingAllFrom: unsigned } : {}),
  });

  const shutdown = (signal: string) => {
    logger.info('receiver stopping', { signal });
    server.close(() => {
      // The drainer finishes its pass and gives back what it did not start, for the next receiver.
      // The Temporal connection is left to the exit: a start that lost its timeout race may still
      // hold a retry timer in the client, which would throw once the connection were closed.
      void (spool?.close() ?? Promise.resolve())
        .catch(() => undefined)
        .then(() => quarantined.close())
        .catch(() => undefined)
        .then(() => eventLog?.close())
        .then(() => eventLogDatabase?.close())
        .catch(() => undefined)
        .then(() => database.close())
        .finally(() => process.exit(0));
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`receiver failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
