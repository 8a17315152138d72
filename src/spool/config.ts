import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, dataDir, duration, envSuffix, parseEnv, positiveInt, type Env } from '../config/env';
import type { QuarantineLimits } from './quarantine';

/**
 * The spool's settings. Receiver-wide ones are `SPOOL_*`, not `WEBHOOK_SPOOL_*`: a source may be
 * named `url` or `lease`, and `WEBHOOK_SPOOL_<SOURCE>` must stay unambiguous.
 */
export interface SpoolConfig {
  /** `sqlite:<path>` or `postgres://…`. */
  url: string;
  /** Sources whose events fall back to the spool; empty: no spool is opened. */
  sources: ReadonlySet<string>;
  maxEvents: number;
  maxBytes: number;
  leaseMs: number;
}

const SpoolEnv = z.object({
  SPOOL_URL: z
    .string()
    .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/i, 'expected sqlite:<path> or postgres://user@host/db')
    .optional(),
  DATABASE_URL: z.string().optional(),
  SPOOL_MAX_EVENTS: positiveInt(100_000, 'a number of events'),
  SPOOL_MAX_BYTES: positiveInt(1024 * 1024 * 1024, 'a size in bytes'),
  SPOOL_LEASE: duration('30s'),
});

/**
 * Where the spool lives (and the quarantined bodies beside it): `SPOOL_URL` when set; else
 * `DATABASE_URL` when it is PostgreSQL; else the data directory's spool.db. The worker reaches the
 * same database by the same rule, to erase what it holds about a person (src/spool/privacy.ts).
 */
export function receiverDatabaseUrl(env: Env): string {
  const e = parseEnv(SpoolEnv.pick({ SPOOL_URL: true, DATABASE_URL: true }), env);
  return (
    e.SPOOL_URL ??
    (e.DATABASE_URL && /^postgres(ql)?:\/\//i.test(e.DATABASE_URL) ? e.DATABASE_URL : `sqlite:${join(dataDir(env), 'spool.db')}`)
  );
}

/**
 * Where the spool lives: `SPOOL_URL` when set; else `DATABASE_URL` when it is PostgreSQL (several
 * receivers then share one spool, as they must for one to drain what another took in); else an
 * SQLite file of its own under the data directory (not the knowledge base's file: the spool
 * fsyncs every commit, and the worker's writes must never hold up an acknowledgement).
 */
export function loadSpoolConfig(env: Env, sourceNames: Iterable<string>): SpoolConfig {
  const e = parseEnv(SpoolEnv, env);
  const problems: string[] = [];
  const sources = new Set<string>();
  for (const name of sourceNames) {
    const variable = `WEBHOOK_SPOOL_${envSuffix(name)}`;
    const value = (env[variable] ?? '').trim().toLowerCase();
    if (value === '' || value === 'on') sources.add(name);
    else if (value !== 'off') problems.push(`${variable}: expected on or off (got ${JSON.stringify(env[variable])})`);
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  return { url: receiverDatabaseUrl(env), sources, maxEvents: e.SPOOL_MAX_EVENTS, maxBytes: e.SPOOL_MAX_BYTES, leaseMs: e.SPOOL_LEASE };
}

/** Each source's quarantine bound, unless QUARANTINE_MAX_*_<SOURCE> says otherwise. */
export const DEFAULT_QUARANTINE_LIMITS: QuarantineLimits = { maxEvents: 1_000, maxBytes: 64 * 1024 * 1024 };

const wholeNumber = (what: string) =>
  z.coerce
    .number({ message: `expected ${what}` })
    .int(`expected ${what} as a whole number`)
    .positive(`expected ${what} greater than 0`);

/**
 * How much each source may hold in quarantine at once: `QUARANTINE_MAX_EVENTS` and
 * `QUARANTINE_MAX_BYTES` for every source, `QUARANTINE_MAX_EVENTS_<SOURCE>` and
 * `QUARANTINE_MAX_BYTES_<SOURCE>` for one. Per source, so one sender's bad bodies never take
 * another's place.
 */
export function loadQuarantineLimits(env: Env, sourceNames: Iterable<string>): ReadonlyMap<string, QuarantineLimits> {
  const names = [...sourceNames];
  const shape: Record<string, z.ZodType> = {
    QUARANTINE_MAX_EVENTS: wholeNumber('a number of events').default(DEFAULT_QUARANTINE_LIMITS.maxEvents),
    QUARANTINE_MAX_BYTES: wholeNumber('a size in bytes').default(DEFAULT_QUARANTINE_LIMITS.maxBytes),
  };
  for (const name of names) {
    shape[`QUARANTINE_MAX_EVENTS_${envSuffix(name)}`] = wholeNumber('a number of events').optional();
    shape[`QUARANTINE_MAX_BYTES_${envSuffix(name)}`] = wholeNumber('a size in bytes').optional();
  }
  const e = parseEnv(z.object(shape), env) as Record<string, number | undefined>;
  return new Map(
    names.map((name) => [
      name,
      {
        maxEvents: e[`QUARANTINE_MAX_EVENTS_${envSuffix(name)}`] ?? e.QUARANTINE_MAX_EVENTS!,
        maxBytes: e[`QUARANTINE_MAX_BYTES_${envSuffix(name)}`] ?? e.QUARANTINE_MAX_BYTES!,
      },
    ]),
  );
}
