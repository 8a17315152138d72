import { existsSync } from 'node:fs';
import { z } from 'zod';
import { csv, duration, LOG_LEVEL, parseEnv, port, type Env } from './env';
import { loadSources, type SourceConfig } from '../receiver/sources';
import { loadTemporalConfig, type TemporalConfig } from './temporal';
import type { LogLevel } from '../log';
import { loadSpoolConfig, type SpoolConfig } from '../spool/config';

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
  RECEIVER_TLS_CERT_PATH: z.string().optional().refine((p) => p === undefined || existsSync(p), 'expected the path of an existing certificate file'),
  RECEIVER_TLS_KEY_PATH: z.string().optional().refine((p) => p === undefined || existsSync(p), 'expected the path of an existing private key file'),
  OPERATOR_TOKEN: z.string().min(16, 'expected a token of at least 16 characters').optional(),
  METRICS_TOKEN: z.string().min(16, 'expected a token of at least 16 characters').optional(),
  TEMPORAL_START_TIMEOUT: duration('5s'),
  QUARANTINE_KEEP_FOR: duration('30d'),
});

export interface ReceiverConfig {
  port: number;
  host: string;
  logLevel: LogLevel;
  maxBodyBytes: number;
  trustProxy: false | string[];
  tls?: { certPath: string; keyPath: string };
  operatorToken?: string;
  /** Unset: `GET /metrics` is open to anyone who can reach the receiver. */
  metricsToken?: string;
  startTimeoutMs: number;
  quarantineKeepForMs: number;
  sources: Map<string, SourceConfig>;
  /** The durable fallback when Temporal does not acknowledge a start (src/spool/). */
  spool: SpoolConfig;
  temporal: TemporalConfig;
}

export function loadReceiverConfig(env: Env = process.env): ReceiverConfig {
  const e = parseEnv(ReceiverEnv, env);
  if (Boolean(e.RECEIVER_TLS_CERT_PATH) !== Boolean(e.RECEIVER_TLS_KEY_PATH)) {
    throw new Error('Invalid configuration:\n  RECEIVER_TLS_CERT_PATH and RECEIVER_TLS_KEY_PATH: expected both (to serve HTTPS) or neither');
  }
  const sources = loadSources(env);
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    maxBodyBytes: e.WEBHOOK_MAX_BODY_BYTES,
    trustProxy: e.TRUST_PROXY.length > 0 ? e.TRUST_PROXY : false,
    tls: e.RECEIVER_TLS_CERT_PATH && e.RECEIVER_TLS_KEY_PATH ? { certPath: e.RECEIVER_TLS_CERT_PATH, keyPath: e.RECEIVER_TLS_KEY_PATH } : undefined,
    operatorToken: e.OPERATOR_TOKEN,
    metricsToken: e.METRICS_TOKEN,
    startTimeoutMs: e.TEMPORAL_START_TIMEOUT,
    quarantineKeepForMs: e.QUARANTINE_KEEP_FOR,
    sources,
    spool: loadSpoolConfig(env, sources.keys()),
    temporal: loadTemporalConfig(env),
  };
}

