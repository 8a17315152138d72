import { existsSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, csv, DATABASE_URL, defaultDatabaseUrl, duration, flag, LOG_LEVEL, parseEnv, port, type Env } from './env';
import { loadSources, parseRateLimit, type RateLimit, type SourceConfig } from '../receiver/sources';
import { loadTemporalConfig, type TemporalConfig } from './temporal';
import type { LogLevel } from '../log';
import { loadQuarantineLimits, loadSpoolConfig, type SpoolConfig } from '../spool/config';
import type { QuarantineLimits } from '../spool/quarantine';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../receiver/server';

/**
 * The body limit's ceiling. A quarantined body travels in its workflow's input as a JSON string
 * (control bytes escaped to six characters each), beside an identity that can be as long again,
 * and Temporal refuses inputs over 2 MiB; at 256 KiB the worst case still fits.
 */
const MAX_BODY_LIMIT = 256 * 1024;

const ReceiverEnv = z.object({
  PORT: port(3000),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL,
  WEBHOOK_MAX_BODY_BYTES: z.coerce
    .number({ message: 'expected a size in bytes' })
    .int()
    .positive('expected a size in bytes greater than 0')
    .max(MAX_BODY_LIMIT, `expected at most ${MAX_BODY_LIMIT} bytes (Temporal refuses larger workflow inputs)`)
    .default(MAX_BODY_LIMIT),
  TRUST_PROXY: csv,
  WEBHOOK_UNKNOWN_SOURCE_RATE_LIMIT: z
    .string()
    .optional()
    .transform((value, ctx) => {
      // Unset: the router's own default (DEFAULT_UNKNOWN_SOURCE_RATE_LIMIT).
      if (value === undefined) return undefined;
      const limit = parseRateLimit(value);
      if (!limit) {
        ctx.addIssue({ code: 'custom', message: 'expected requests per period such as 60/min, 10/s or 1000/5m' });
        return z.NEVER;
      }
      return limit;
    }),
  RECEIVER_TLS_CERT_PATH: z
    .string()
    .optional()
    .refine((p) => p === undefined || existsSync(p), 'expected the path of an existing certificate file'),
  RECEIVER_TLS_KEY_PATH: z
    .string()
    .optional()
    .refine((p) => p === undefined || existsSync(p), 'expected the path of an existing private key file'),
  DATABASE_URL,
  OPERATOR_SESSION_TTL: duration('12h'),
  RECEIVER_PLAIN_HTTP: flag(false),
  METRICS_TOKEN: z.string().min(16, 'expected a token of at least 16 characters').optional(),
  RECEIVER_REQUEST_TIMEOUT: duration(`${DEFAULT_REQUEST_TIMEOUT_MS}`),
  TEMPORAL_START_TIMEOUT: duration('5s'),
  QUARANTINE_KEEP_FOR: duration('30d'),
  // The event log (src/eventlog/): written in batches off the request path into DATABASE_URL.
  EVENT_LOG: flag(true),
  // Where the inbox's Events view links each run (`<url>/namespaces/<ns>/workflows/<id>`).
  TEMPORAL_UI_URL: z.url({ message: 'expected the Temporal UI base URL, e.g. http://localhost:8233' }).default('http://localhost:8233'),
});

export interface ReceiverConfig {
  port: number;
  host: string;
  logLevel: LogLevel;
  maxBodyBytes: number;
  trustProxy: false | string[];
  /** Per sender address, for all names that are not configured sources together; unset: 60/min. */
  unknownSourceRateLimit?: RateLimit;
  tls?: { certPath: string; keyPath: string };
  /** How long a request's headers and body may take to arrive; beyond it, 408 and the connection closes. */
  requestTimeoutMs: number;
  /** Where operators and inbox sessions live (the knowledge base, shared by every receiver). */
  databaseUrl: string;
  operatorSessionTtlMs: number;
  /** Development over plain HTTP: inbox cookies without `Secure`. */
  plainHttp: boolean;
  /** Unset: `GET /metrics` is open to anyone who can reach the receiver. */
  metricsToken?: string;
  startTimeoutMs: number;
  quarantineKeepForMs: number;
  /** Per source: how many quarantined events and bytes of their bodies it may hold (kept in the spool's database). */
  quarantineLimits: ReadonlyMap<string, QuarantineLimits>;
  sources: Map<string, SourceConfig>;
  /** The durable fallback when Temporal does not acknowledge a start (src/spool/). */
  spool: SpoolConfig;
  temporal: TemporalConfig;
  /** EVENT_LOG: whether deliveries are recorded in the knowledge base's event log. */
  eventLog: boolean;
  /** TEMPORAL_UI_URL, without a trailing slash. */
  temporalUiUrl: string;
}

export function loadReceiverConfig(env: Env = process.env): ReceiverConfig {
  if (env.OPERATOR_TOKEN?.trim()) {
    // Its value is not shown: it was a credential.
    throw new ConfigError(
      'Invalid configuration:\n  OPERATOR_TOKEN: no longer used: every operator has a token of their own. ' +
        'Unset it, and create operators with: npm run operators -- add <name> --role agent|lead',
    );
  }
  const e = parseEnv(ReceiverEnv, env);
  if (Boolean(e.RECEIVER_TLS_CERT_PATH) !== Boolean(e.RECEIVER_TLS_KEY_PATH)) {
    throw new Error(
      'Invalid configuration:\n  RECEIVER_TLS_CERT_PATH and RECEIVER_TLS_KEY_PATH: expected both (to serve HTTPS) or neither',
    );
  }
  const sources = loadSources(env);
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    maxBodyBytes: e.WEBHOOK_MAX_BODY_BYTES,
    trustProxy: e.TRUST_PROXY.length > 0 ? e.TRUST_PROXY : false,
    unknownSourceRateLimit: e.WEBHOOK_UNKNOWN_SOURCE_RATE_LIMIT,
    tls:
      e.RECEIVER_TLS_CERT_PATH && e.RECEIVER_TLS_KEY_PATH
        ? { certPath: e.RECEIVER_TLS_CERT_PATH, keyPath: e.RECEIVER_TLS_KEY_PATH }
        : undefined,
    requestTimeoutMs: e.RECEIVER_REQUEST_TIMEOUT,
    databaseUrl: e.DATABASE_URL ?? defaultDatabaseUrl(env),
    operatorSessionTtlMs: e.OPERATOR_SESSION_TTL,
    plainHttp: e.RECEIVER_PLAIN_HTTP,
    metricsToken: e.METRICS_TOKEN,
    startTimeoutMs: e.TEMPORAL_START_TIMEOUT,
    quarantineKeepForMs: e.QUARANTINE_KEEP_FOR,
    quarantineLimits: loadQuarantineLimits(env, sources.keys()),
    sources,
    spool: loadSpoolConfig(env, sources.keys()),
    temporal: loadTemporalConfig(env),
    eventLog: e.EVENT_LOG,
    temporalUiUrl: e.TEMPORAL_UI_URL.replace(/\/+$/, ''),
  };
}
