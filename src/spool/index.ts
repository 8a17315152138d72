import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../log';
import type { Intake } from '../intake';
import type { SpoolConfig } from './config';
import { createDrainer, type Drainer, type DrainPolicy } from './drain';
import { createSpoolingIntake, type SpoolingIntake } from './intake';
import { openSpool, type SpoolStats, type SpoolStore } from './store';

export { loadSpoolConfig, type SpoolConfig } from './config';
export { createDrainer, nextDrain, DEFAULT_DRAIN_POLICY, type Drainer, type DrainPolicy, type PassOutcome } from './drain';
export { createSpoolingIntake, type SpoolingIntake } from './intake';
export { openSpool, SpoolRefusal, SpoolRefusedError, SPOOL_TABLE, type SpoolEntry, type SpoolStats, type SpoolStore } from './store';

/** The spool as the receiver runs it: the store, the intake in front of Temporal, and the drainer. */
export interface SpoolRuntime {
  spool: SpoolStore;
  intake: SpoolingIntake;
  drainer: Drainer;
  /** For /readyz: the spool's depth and age, or a rejection when the spool cannot be read. */
  status(): Promise<SpoolStats>;
  close(): Promise<void>;
}

/**
 * Opens the spool and wires it to the receiver's direct intake, its metrics registry and a
 * drainer (started here). `scope` is `<namespace>/<task queue>`.
 */
export async function startSpool(options: {
  config: SpoolConfig;
  direct: Intake;
  scope: string;
  logger: Logger;
  registry?: Registry;
  policy?: Partial<DrainPolicy>;
}): Promise<SpoolRuntime> {
  const { config, logger } = options;
  const spool = await openSpool(config.url, { scope: options.scope, limits: { maxEvents: config.maxEvents, maxBytes: config.maxBytes } });
  const drained = options.registry
    ? new Counter({
        name: 'hookline_spool_drained_total',
        help: 'Spooled events started in Temporal by this receiver (rate() is drained per second).',
        registers: [options.registry],
      })
    : undefined;
  // The intake wakes the drainer and the drainer reports back to the intake: tied after both exist.
  const wakeDrainer = { now: () => {} };
  const intake = createSpoolingIntake({
    direct: options.direct,
    spool,
    sources: config.sources,
    logger,
    onSpooled: () => wakeDrainer.now(),
  });
  const drainer = createDrainer({
    spool,
    intake: options.direct,
    logger,
    policy: { leaseMs: config.leaseMs, ...options.policy },
    onPass: (outcome) => intake.drainerReport(outcome),
    onDrained: (count) => drained?.inc(count),
  });
  wakeDrainer.now = () => drainer.wake();
  if (options.registry) registerSpoolGauges(options.registry, () => spool.stats());
  drainer.start();
  return {
    spool,
    intake,
    drainer,
    status: () => spool.stats(),
    async close() {
      await drainer.stop();
      await spool.close();
    },
  };
}

/**
 * Depth and the oldest row's age, read from the spool at scrape time (with PostgreSQL, the shared
 * spool's figures for this deployment, the same from every receiver). One read serves both gauges.
 */
function registerSpoolGauges(registry: Registry, stats: () => Promise<SpoolStats>): void {
  let reading: Promise<SpoolStats | undefined> | undefined;
  const read = () => {
    reading ??= stats()
      .catch(() => undefined)
      .finally(() => setTimeout(() => (reading = undefined), 0));
    return reading;
  };
  new Gauge({
    name: 'hookline_spool_depth',
    help: 'Events in the intake spool waiting for Temporal (-1: the spool cannot be read).',
    registers: [registry],
    async collect() {
      const s = await read();
      this.set(s ? s.depth : -1);
    },
  });
  new Gauge({
    name: 'hookline_spool_oldest_age_seconds',
    help: 'Age of the oldest event in the intake spool; 0 when it is empty.',
    registers: [registry],
    async collect() {
      const s = await read();
      this.set(s ? s.oldestAgeMs / 1000 : 0);
    },
  });
  new Gauge({
    name: 'hookline_spool_parked',
    help: 'Spooled events an operator parked (npm run spool -- park): kept, never drained, not in hookline_spool_depth.',
    registers: [registry],
    async collect() {
      const s = await read();
      this.set(s ? s.parked : 0);
    },
  });
  new Gauge({
    name: 'hookline_spool_bytes',
    help: 'Bytes of spooled events (SPOOL_MAX_BYTES bounds it).',
    registers: [registry],
    async collect() {
      const s = await read();
      this.set(s ? s.bytes : 0);
    },
  });
}

/** `/readyz` with a spool: what the receiver can promise right now. */
export function readiness(
  temporalReachable: boolean,
  spool: SpoolStats | 'unavailable' | undefined,
): { ready: boolean; body: Record<string, unknown> } {
  const temporal = temporalReachable ? 'reachable' : 'unreachable';
  if (spool === undefined) return { ready: temporalReachable, body: { status: temporalReachable ? 'ready' : 'unavailable', temporal } };
  if (spool === 'unavailable') {
    return temporalReachable
      ? {
          ready: true,
          body: {
            status: 'degraded',
            temporal,
            spool: 'unavailable',
            reason: 'The spool cannot be read: if Temporal stops answering, events will be refused with 503.',
          },
        }
      : { ready: false, body: { status: 'unavailable', temporal, spool: 'unavailable' } };
  }
  const figures = { depth: spool.depth, oldestAgeSeconds: Math.round(spool.oldestAgeMs / 100) / 10 };
  if (!temporalReachable) {
    return {
      ready: true,
      body: {
        status: 'degraded',
        temporal,
        spool: figures,
        reason: 'Temporal is not reachable: events are spooled durably and started when it is back.',
      },
    };
  }
  if (spool.depth > 0) {
    return {
      ready: true,
      body: { status: 'degraded', temporal, spool: figures, reason: `${spool.depth} spooled event(s) are being started in Temporal.` },
    };
  }
  return { ready: true, body: { status: 'ready', temporal, spool: figures } };
}
