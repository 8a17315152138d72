import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, inject } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { AgentSettings } from '../../src/agent/types';
import type { Schema } from '../../src/db/schema';
import { createHandoffService } from '../../src/handoff/service';
import { silentLogger, type Logger } from '../../src/log';
import { createApp } from '../../src/receiver/app';
import { handoffRouter, type HandoffRouterOptions } from '../../src/receiver/handoffs';
import { createReceiverMetrics } from '../../src/receiver/metrics';
import { createOperatorDirectory, type OperatorDirectory } from '../../src/operators/directory';
import { loadPriorityPolicy } from '../../src/config/temporal';
import { createIntake } from '../../src/intake/direct';
import { createReceiverServer, DEFAULT_REQUEST_TIMEOUT_MS } from '../../src/receiver/server';
import { createQuarantineService, type QuarantineService } from '../../src/receiver/quarantine';
import type { Acknowledgement } from '../../src/receiver/acknowledgement';
import type { BuiltinSource } from '../../src/events/sources';
import { BUILTIN_SCHEMES, loadSources, type RateLimit } from '../../src/receiver/sources';
import { signWebhook, type SchemeName } from '../../src/signatures';
import { sandboxClientsConfig, sandboxProvidersEnv, startSandbox, type RunningSandbox } from '../../src/sandbox';
import { loadProvidersConfig } from '../../src/config/providers';
import { buildActivityDeps } from '../../src/worker/deps';
import { createPartnerWorkers } from '../../src/worker/partners';
import { defaultPartnerRates } from '../../src/config/partners';
import { workerBuildId } from '../../src/worker/build-id';
import { makeCurrentWhenPolling, waitUntilPolling, type DeploymentVersion } from '../../src/temporal/deployments';
import { loadSpoolConfig, startSpool, type DrainPolicy, type SpoolRuntime } from '../../src/spool';
import { DEFAULT_QUARANTINE_LIMITS, loadQuarantineLimits } from '../../src/spool/config';
import { createQuarantineKeeper, openQuarantineStore, registerQuarantineGauges, type QuarantineStore } from '../../src/spool/quarantine';
import type { Kysely } from 'kysely';
import type { EventLogWriter } from '../../src/eventlog/writer';
import type { EventsRouteOptions } from '../../src/receiver/events';

let runtimeInstalled = false;

/** Connect to the run's one dev server (test/support/global-setup.ts). */
/**
 * `npm run quarantine`'s service over a test receiver's kept bodies: lists, shows and replays them
 * through an intake on the test's task queue, reading each body as the receiver's sources do.
 */
export function quarantineServiceFor(
  env: TestWorkflowEnvironment,
  receiver: Receiver,
  taskQueue: string,
  sourceEnv: Record<string, string | undefined>,
): QuarantineService {
  const intake = createIntake({ client: env.client, taskQueue, startTimeoutMs: 5000, quarantineKeepForMs: 60_000 });
  return createQuarantineService({ client: env.client, intake, sources: loadSources({ ...sourceEnv }), bodies: receiver.quarantine });
}

export function connectTestEnv(): Promise<TestWorkflowEnvironment> {
  if (!runtimeInstalled) {
    // Once per process (the SDK allows no more); warnings and errors only, so failures stand out.
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  return TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress'), namespace: inject('temporalNamespace') });
}

export const TEST_SETTINGS: AgentSettings = {
  returnPolicyDays: 30,
  returnReceiptWindowMs: 60_000,
  approvalTimeoutMs: 60_000,
  handoffUnclaimedSlaMs: 60_000,
  handoffUnansweredSlaMs: 60_000,
  refundHandoffThreshold: 200,
};

/** The databases to run against: SQLite always, PostgreSQL too when TEST_DATABASE_URL is set. */
export function testDatabases(): { name: string; url: () => string }[] {
  const dbs = [{ name: 'sqlite', url: () => `sqlite:${join(mkdtempSync(join(tmpdir(), 'hookline-test-')), 'kb.db')}` }];
  const pg = process.env.TEST_DATABASE_URL;
  if (pg) dbs.push({ name: 'postgres', url: () => withFreshSchema(pg) });
  return dbs;
}

/** A schema per harness so runs never see each other's rows. */
function withFreshSchema(url: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=t_${randomUUID().replace(/-/g, '').slice(0, 16)}`);
  return u.toString();
}

/** The model name the sandbox's endpoint reports back. */
export const SANDBOX_MODEL = 'sandbox-model';

export interface Agent {
  env: TestWorkflowEnvironment;
  taskQueue: string;
  sandbox: RunningSandbox;
  db: Kysely<Schema>;
  worker: Worker;
  /** The worker's Worker Deployment version, current in its own deployment (one per test worker). */
  version: DeploymentVersion;
  /**
   * Another build beside this one, as a rolling deploy starts it: a worker on the same task queue
   * and deployment, with the same activities, running `code` as the version its hash names. Not
   * made current: that is the release's step. Its workers stop with the agent, or by `stop`.
   */
  startBuild(code: string): Promise<{ version: DeploymentVersion; stop(): Promise<void> }>;
  close(): Promise<void>;
}

/**
 * The agent's real parts for a test: the shared dev server, a real worker on its own task queue,
 * the third-party sandbox on a real port, and a real database.
 */
export async function startAgent(options: {
  env: TestWorkflowEnvironment;
  databaseUrl: string;
  settings?: Partial<AgentSettings>;
  /** Where the notifier delivers (the outside world's mail server or chat webhook); the outbox only when unset. */
  notify?: { smtpUrl?: string; agentsChatWebhookUrl?: string };
  /** Give the agent a language model: the sandbox's OpenAI-compatible endpoint, with this call timeout. */
  model?: { timeoutMs?: number };
  /** Act through Stripe and EasyPost: the sandbox's stand-ins, configured as STRIPE_* and EASYPOST_* would. */
  providers?: boolean;
  /** A task queue that already has work waiting (test/priorities.test.ts); a fresh one when unset. */
  taskQueue?: string;
  /** The receiver's database (its SPOOL_URL), for privacy erasures to reach its spool and quarantined bodies. */
  receiverStoreUrl?: string;
}): Promise<Agent> {
  const { env } = options;
  const taskQueue = options.taskQueue ?? `test-${randomUUID()}`;
  const sandbox = await startSandbox({ port: 0 });
  const { deps, close: closeDeps } = await buildActivityDeps(
    {
      databaseUrl: await prepareDatabase(options.databaseUrl),
      systems: sandboxClientsConfig(sandbox.url, { timeoutMs: 2_000 }) as Parameters<typeof buildActivityDeps>[0]['systems'],
      notifyFrom: 'hookline-test <test@localhost>',
      ...options.notify,
      agent: { ...TEST_SETTINGS, ...(options.model ? { model: SANDBOX_MODEL } : {}), ...options.settings },
      ...(options.model
        ? { model: { baseUrl: `${sandbox.url}/llm/v1`, model: SANDBOX_MODEL, timeoutMs: options.model.timeoutMs ?? 5_000, maxTokens: 256 } }
        : {}),
      ...(options.providers ? { providers: loadProvidersConfig({ ...sandboxProvidersEnv(sandbox.url), PROVIDER_TIMEOUT: '2s' }) } : {}),
      // The receiver's scope, as startReceiver gives it.
      ...(options.receiverStoreUrl ? { receiverStore: { url: options.receiverStoreUrl, scope: `default/${taskQueue}` } } : {}),
    },
    silentLogger,
  );
  // Versioned as src/worker/main.ts runs it, in a deployment of its own (files run in parallel,
  // each with its own task queue), and made current as `npm start` makes its build current.
  const code = inject('workflowBundle');
  const version = { deploymentName: `hookline-${taskQueue}`, buildId: workerBuildId(code) };
  const activities = createActivities(deps, { temporal: env.client });
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: { code },
    activities,
    workerDeploymentOptions: { useWorkerVersioning: true, version, defaultVersioningBehavior: 'PINNED' },
  });
  // The partners' queues, polled as src/worker/main.ts polls them, at the default rates.
  const partnerWorkers = (deploymentVersion: DeploymentVersion) =>
    createPartnerWorkers({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      activities,
      rates: defaultPartnerRates(),
      workerDeploymentOptions: { useWorkerVersioning: true, version: deploymentVersion, defaultVersioningBehavior: 'PINNED' },
    });
  const partners = await partnerWorkers(version);
  const running = Promise.all([worker.run(), ...partners.map((w) => w.run())]);
  await makeCurrentWhenPolling(env.client, version);
  const others: (() => Promise<void>)[] = [];
  const startBuild = async (otherCode: string) => {
    const other = { deploymentName: version.deploymentName, buildId: workerBuildId(otherCode) };
    const w = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      workflowBundle: { code: otherCode },
      activities: createActivities(deps, { temporal: env.client }),
      workerDeploymentOptions: { useWorkerVersioning: true, version: other, defaultVersioningBehavior: 'PINNED' },
    });
    const ws = [w, ...(await partnerWorkers(other))];
    const run = Promise.all(ws.map((each) => each.run())).then(() => undefined);
    let stopped: Promise<void> | undefined;
    const stop = () => {
      for (const each of ws) if (each.getState() === 'RUNNING') each.shutdown();
      return (stopped ??= run);
    };
    others.push(stop);
    // Known to Temporal (it polled) before the caller ramps or promotes it.
    await waitUntilPolling(env.client, other);
    return { version: other, stop };
  };
  return {
    env,
    taskQueue,
    sandbox,
    db: deps.db,
    worker,
    version,
    startBuild,
    async close() {
      await Promise.all(others.map((stop) => stop()));
      for (const each of [worker, ...partners]) if (each.getState() === 'RUNNING') each.shutdown();
      await running;
      await closeDeps();
      await sandbox.close();
    },
  };
}

async function prepareDatabase(url: string): Promise<string> {
  if (!url.startsWith('postgres')) return url;
  const schema = new URL(url).searchParams.get('options')?.match(/search_path=(\S+)/)?.[1];
  if (schema) {
    const pg = await import('pg');
    const client = new pg.default.Client({ connectionString: url.replace(/\?.*$/, '') });
    await client.connect();
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.end();
  }
  return url;
}

export const TEST_SECRETS: Readonly<Record<string, string>> = {
  oms: 'oms-test-secret-0123456789abcdef',
  crm: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  payments: 'whsec_stripe_test_secret_123456',
  carrier: 'carrier-test-secret-abcdef0123456789',
} satisfies Record<BuiltinSource, string>;

/** The receiver's WEBHOOK_SECRET_<SOURCE> variables for the test senders' secrets. */
export function testSecretsEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(TEST_SECRETS).map(([name, secret]) => [`WEBHOOK_SECRET_${name.toUpperCase()}`, secret]));
}

/** The built-in sources' schemes, by any name a test sends as (a source that is not built in has none). */
export const DEFAULT_SCHEMES: Readonly<Record<string, SchemeName>> = BUILTIN_SCHEMES;

/**
 * What the receiver answered: its acknowledgement on a 2xx, a problem document otherwise (both
 * read by field, so one type serves both).
 */
export type ReceiverAnswer = Partial<Acknowledgement> & Record<string, unknown>;

export interface Receiver {
  url: string;
  /** Present when the receiver was started with a spool. */
  spool?: SpoolRuntime;
  /** Where it keeps quarantined bodies (the spool's database, or a file of its own). */
  quarantine: QuarantineStore;
  close(): Promise<void>;
}

/**
 * The real receiver app on a real port, talking to the given Temporal client.
 *
 * With `operators` the operators' router (`/handoffs`, `/operators/me`, `/inbox`) is mounted too,
 * as src/receiver/main.ts mounts it, reading operators and sessions from that directory.
 */
export async function startReceiver(options: {
  env: Pick<TestWorkflowEnvironment, 'client'>;
  taskQueue: string;
  sourceEnv?: Record<string, string>;
  maxBodyBytes?: number;
  /** RECEIVER_REQUEST_TIMEOUT: how long a request's headers and body may take to arrive (default as in production). */
  requestTimeoutMs?: number;
  trustProxy?: false | string[];
  startTimeoutMs?: number;
  operators?: OperatorDirectory;
  /** Options for the operators' router (backoff, session lifetime, plain HTTP, metrics). */
  handoff?: Partial<Omit<HandoffRouterOptions, 'service' | 'operators' | 'logger'>>;
  /** Where the receiver logs; silent by default (tests that check log lines pass a capturing one). */
  logger?: Logger;
  /** METRICS_TOKEN: when set, GET /metrics requires it. */
  metricsToken?: string;
  /** WEBHOOK_UNKNOWN_SOURCE_RATE_LIMIT: per address, for names that are not configured sources. */
  unknownSourceRateLimit?: RateLimit;
  /**
   * A spool as src/receiver/main.ts wires it, configured by these variables (SPOOL_URL,
   * WEBHOOK_SPOOL_<SOURCE>, SPOOL_MAX_EVENTS, …). Without it the receiver has none: every event
   * needs Temporal's acknowledgement.
   */
  spoolEnv?: Record<string, string>;
  spoolPolicy?: Partial<DrainPolicy>;
  /** QUARANTINE_MAX_EVENTS, QUARANTINE_MAX_BYTES and their per-source forms; the defaults when unset. */
  quarantineEnv?: Record<string, string>;
  /** What /readyz asks; answers true when unset. */
  isTemporalReachable?: () => Promise<boolean>;
  /** The event log's writer (src/eventlog/), and with operators, the leads' search over it. */
  eventLog?: EventLogWriter;
  events?: EventsRouteOptions;
}): Promise<Receiver> {
  const sourceEnv = testSecretsEnv();
  const sources = loadSources({ ...sourceEnv, ...options.sourceEnv });
  const direct = createIntake({
    client: options.env.client,
    taskQueue: options.taskQueue,
    startTimeoutMs: options.startTimeoutMs ?? 5_000,
    quarantineKeepForMs: 60_000,
    // PRIORITY_<EVENT_TYPE> and WEBHOOK_WEIGHT_<SOURCE> from sourceEnv, as the receiver reads them.
    priorities: loadPriorityPolicy({ ...sourceEnv, ...options.sourceEnv }),
  });
  const logger = options.logger ?? silentLogger;
  const metrics = createReceiverMetrics({ sources: sources.keys() });
  const spoolConfig = options.spoolEnv ? loadSpoolConfig(options.spoolEnv, sources.keys()) : undefined;
  const spool = spoolConfig
    ? await startSpool({
        config: spoolConfig,
        direct,
        scope: `default/${options.taskQueue}`,
        logger,
        registry: metrics.registry,
        policy: options.spoolPolicy,
      })
    : undefined;
  // As src/receiver/main.ts: quarantined bodies in the receiver's own database, bounded per source.
  const quarantine = await openQuarantineStore(
    spoolConfig?.url ?? `sqlite:${join(mkdtempSync(join(tmpdir(), 'hookline-receiver-')), 'spool.db')}`,
    { scope: `default/${options.taskQueue}` },
  );
  const quarantineLimits = loadQuarantineLimits(options.quarantineEnv ?? {}, sources.keys());
  registerQuarantineGauges(metrics.registry, quarantine, quarantineLimits);
  const app = createApp({
    sources,
    intake: createQuarantineKeeper({
      intake: spool?.intake ?? direct,
      store: quarantine,
      limits: (source) => quarantineLimits.get(source) ?? DEFAULT_QUARANTINE_LIMITS,
      keepForMs: 60_000,
      logger,
    }),
    spoolStatus: spool?.status,
    metrics,
    logger,
    maxBodyBytes: options.maxBodyBytes ?? 256 * 1024,
    retryAfterSeconds: 5,
    trustProxy: options.trustProxy ?? false,
    isTemporalReachable: options.isTemporalReachable ?? (async () => true),
    metricsToken: options.metricsToken,
    unknownSourceRateLimit: options.unknownSourceRateLimit,
    eventLog: options.eventLog,
    extraRouters: options.operators
      ? [
          handoffRouter({
            plainHttp: true,
            metrics,
            ...options.handoff,
            service: createHandoffService(options.env.client),
            operators: options.operators,
            logger,
            ...(options.events ? { events: options.events } : {}),
          }),
        ]
      : [],
  });
  const server = createReceiverServer(app, { requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, logger });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spool,
    quarantine,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await spool?.close();
      await quarantine.close();
    },
  };
}

/** Sign `body` as `source`'s genuine sender would and POST it. */
export async function sendSigned(
  receiverUrl: string,
  source: string,
  body: unknown,
  options: { headers?: Record<string, string>; secret?: string; scheme?: SchemeName; id?: string } = {},
): Promise<{ status: number; body: ReceiverAnswer; headers: Headers }> {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const scheme = options.scheme ?? DEFAULT_SCHEMES[source] ?? 'hmac-sha256-hex';
  const signed = signWebhook(scheme, raw, options.secret ?? TEST_SECRETS[source] ?? 'x', { id: options.id });
  const res = await fetch(`${receiverUrl}/webhooks/${source}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signed, ...options.headers },
    body: raw,
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as ReceiverAnswer) : {}, headers: res.headers };
}

export interface AgentContext {
  env: TestWorkflowEnvironment;
  agent: Agent;
  receiver: Receiver;
  /** The operators the receiver knows (in the agent's database), when setupAgent was given `operators: true`. */
  operators: OperatorDirectory;
}

/** Operators in the agent's database: what `npm run operators` writes and the receiver reads. */
export function testOperators(agent: Pick<Agent, 'db'>, sessionTtlMs = 60 * 60_000): OperatorDirectory {
  return createOperatorDirectory(agent.db, { sessionTtlMs });
}

/**
 * The usual setup of a test file: the shared dev server, the agent's real parts and a receiver in
 * front of them, started before the file's tests and stopped after. Read the fields inside tests.
 */
export function setupAgent(
  options: {
    databaseUrl?: () => string;
    settings?: Partial<AgentSettings>;
    operators?: boolean;
    /** The sandbox's OpenAI-compatible endpoint as the agent's language model. */
    model?: { timeoutMs?: number };
    /** Act through the sandbox's Stripe and EasyPost stand-ins (startAgent's `providers`). */
    providers?: boolean;
  } = {},
): AgentContext {
  const context = {} as AgentContext;
  beforeAll(async () => {
    context.env = await connectTestEnv();
    context.agent = await startAgent({
      env: context.env,
      databaseUrl: (options.databaseUrl ?? testDatabases()[0]!.url)(),
      settings: options.settings,
      model: options.model,
      providers: options.providers,
    });
    if (options.operators) context.operators = testOperators(context.agent);
    context.receiver = await startReceiver({
      env: context.env,
      taskQueue: context.agent.taskQueue,
      operators: options.operators ? context.operators : undefined,
    });
  });
  afterAll(async () => {
    await context.receiver?.close();
    await context.agent?.close();
    await context.env?.teardown();
  });
  return context;
}
