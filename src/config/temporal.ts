import { existsSync } from 'node:fs';
import { z } from 'zod';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { ConfigError, envSuffix, parseEnv, type Env } from './env';
import { EVENT_TYPES } from '../events/schemas';
import type { EventType } from '../events/registry';
import { DEFAULT_PRIORITIES, FAIRNESS_WEIGHT_RANGE, PRIORITY_KEYS, type PriorityKey, type PriorityPolicy } from '../events/priorities';

const filePath = (what: string) =>
  z
    .string()
    .optional()
    .refine((path) => path === undefined || existsSync(path), { message: `expected the path of an existing ${what} file` });

/**
 * Temporal's own variable names, so one build runs against the dev server, a self-hosted
 * cluster or Temporal Cloud. Validated here for clear messages; the connection options
 * themselves come from @temporalio/envconfig, which reads the same variables (and a
 * TEMPORAL_CONFIG_FILE profile, for those who keep one).
 */
const TemporalEnv = z.object({
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:/]+:\d{1,5}$/, 'expected host:port, e.g. localhost:7233 or my-ns.a1b2c.tmprl.cloud:7233')
    .default('localhost:7233'),
  TEMPORAL_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, 'expected a namespace name')
    .default('default'),
  TEMPORAL_API_KEY: z.string().optional(),
  TEMPORAL_TLS: z.enum(['true', 'false', '1', '0'], { message: 'expected true or false' }).optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: filePath('TLS client certificate'),
  TEMPORAL_TLS_CLIENT_KEY_PATH: filePath('TLS client key'),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: filePath('TLS CA certificate'),
  HOOKLINE_TASK_QUEUE: z.string().min(1).default('hookline'),
  // The Worker Deployment every worker joins; each build is one version of it (docs/production.md).
  HOOKLINE_DEPLOYMENT_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'expected letters, digits, - and _ (Temporal writes versions as name:build)')
    .default('hookline'),
});

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  /** HOOKLINE_DEPLOYMENT_NAME: the Worker Deployment the workers poll as (one version per build). */
  deploymentName: string;
  /** Options for `Connection.connect` / `NativeConnection.connect`, TLS and API key included. */
  connectionOptions: NativeConnectionOptions;
  /** Every workflow start's priority key (per event type) and fairness weight (per source): src/events/priorities.ts. */
  priorities: PriorityPolicy;
}

/** `PRIORITY_CUSTOMER_INQUIRY_NEW` for `customer.inquiry.new`. */
export function priorityVariable(eventType: EventType): string {
  return `PRIORITY_${eventType.toUpperCase().replace(/[.-]/g, '_')}`;
}

const WEIGHT_PREFIX = 'WEBHOOK_WEIGHT_';

/**
 * PRIORITY_<EVENT_TYPE> (1–5) over the defaults, and WEBHOOK_WEIGHT_<SOURCE> (0.001–1000): a source's
 * share of the queue against other sources at the same priority. Read by every process that starts
 * workflows (the receiver, the spool drain, redrive), so they all start the same event alike.
 */
export function loadPriorityPolicy(env: Env): PriorityPolicy {
  const problems: string[] = [];
  const byEventType = { ...DEFAULT_PRIORITIES } as Record<EventType, PriorityKey>;
  for (const type of EVENT_TYPES) {
    const name = priorityVariable(type);
    const text = env[name]?.trim();
    if (!text) continue;
    const key = Number(text);
    if ((PRIORITY_KEYS as readonly number[]).includes(key)) byEventType[type] = key as PriorityKey;
    else problems.push(`${name}: expected a priority key from 1 (first) to 5 (last) (got ${JSON.stringify(text)})`);
  }
  const weights = new Map<string, number>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(WEIGHT_PREFIX) || !value?.trim()) continue;
    const source = name.slice(WEIGHT_PREFIX.length).toLowerCase().replace(/_/g, '-');
    const weight = Number(value.trim());
    if (!source || envSuffix(source) !== name.slice(WEIGHT_PREFIX.length)) {
      problems.push(`${name}: expected WEBHOOK_WEIGHT_<SOURCE>, the source's name in upper case with _ for -`);
    } else if (!Number.isFinite(weight) || weight < FAIRNESS_WEIGHT_RANGE.min || weight > FAIRNESS_WEIGHT_RANGE.max) {
      problems.push(
        `${name}: expected a weight from ${FAIRNESS_WEIGHT_RANGE.min} to ${FAIRNESS_WEIGHT_RANGE.max} (got ${JSON.stringify(value)})`,
      );
    } else weights.set(source, weight);
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  return { byEventType, weights };
}

export function loadTemporalConfig(env: Env = process.env): TemporalConfig {
  const parsed = parseEnv(TemporalEnv, env);
  if (Boolean(parsed.TEMPORAL_TLS_CLIENT_CERT_PATH) !== Boolean(parsed.TEMPORAL_TLS_CLIENT_KEY_PATH)) {
    throw new Error(
      'Invalid configuration:\n  TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH: ' +
        'expected both or neither (mTLS needs a certificate and its key)',
    );
  }
  const overrideEnvVars = Object.fromEntries(
    Object.entries({ ...env, TEMPORAL_ADDRESS: parsed.TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE: parsed.TEMPORAL_NAMESPACE }).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== '',
    ),
  );
  const { connectionOptions, namespace } = loadClientConnectConfig({ overrideEnvVars });
  return {
    address: parsed.TEMPORAL_ADDRESS,
    namespace: namespace ?? parsed.TEMPORAL_NAMESPACE,
    taskQueue: parsed.HOOKLINE_TASK_QUEUE,
    deploymentName: parsed.HOOKLINE_DEPLOYMENT_NAME,
    connectionOptions,
    priorities: loadPriorityPolicy(env),
  };
}
