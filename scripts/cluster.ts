/**
 * `npm run cluster`: hookline's production shape on one machine. A Temporal server (all four
 * services in one process) on PostgreSQL, configured by config/temporal/server.yaml; its databases
 * created and migrated; the namespace and hookline's search attributes registered; then the
 * third-party sandbox, CLUSTER_WORKERS workers and CLUSTER_RECEIVERS receivers (ports PORT,
 * PORT+1, …), all running the compiled build (`npm run build`, run first) with the knowledge base
 * on PostgreSQL. A process that dies is restarted after a pause, as compose's `restart:
 * unless-stopped` would; Ctrl-C stops everything, receivers first, the server last.
 *
 * Variables: TEMPORAL_DATABASE_URL (postgres://postgres@127.0.0.1:5432/temporal),
 * TEMPORAL_VISIBILITY_DATABASE_URL (…/temporal_visibility beside it), DATABASE_URL (…/hookline beside
 * it), HOOKLINE_TEMPORAL_PORT (7233), PORT (3000), CLUSTER_WORKERS (2), CLUSTER_RECEIVERS (2),
 * NUM_HISTORY_SHARDS (4; fixed once the temporal database exists), HOOKLINE_UI_PORT (8233, the
 * Temporal UI when it could be provisioned), SANDBOX_PORT (4010),
 * HOOKLINE_DATA_DIR (.data: the dev secrets `npm run send` shares), TEMPORAL_DYNAMIC_CONFIG_FILE.
 * `--skip-build` uses dist/ as it is.
 *
 * The workers are versions of the Worker Deployment HOOKLINE_DEPLOYMENT_NAME: once they poll, their
 * build is made current. A rolling deploy on one machine: `--next-build <bundle>` (a second run,
 * beside this one) starts a new build's workers; `npm run release` moves work to it; SIGUSR2 to
 * this process (its pid is in .data/cluster.pid) stops this build's workers for good once drained.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DATA_DIR, devSecretsEnv, DEV_SECRETS_FILE, loadOrCreateDevSecrets } from '../src/dev/secrets';
import { sandboxProviderDefaults, sandboxWorkerEnv } from '../src/sandbox';
import { loadTemporalConfig } from '../src/config/temporal';
import { describeDeployment, makeCurrentWhenPolling, waitUntilPolling, type DeploymentVersion } from '../src/temporal/deployments';
import { compiledBuild, workerBuildId } from '../src/worker/build-id';
import {
  allPorts,
  describeSchema,
  ensureDatabase,
  ensureNamespace,
  migrateTemporalDatabases,
  redact,
  serverPorts,
  spawnTemporalServer,
  temporalDatabases,
  withDatabase,
} from './cluster-temporal';
import { ensureLeadOperator, httpOk, pipePrefixedLines, requireFreePorts, waitFor } from './local-stack';
import { describeServer, findTemporalServer, findTemporalUi } from './temporal-server';

const ROOT = resolve(__dirname, '..');
const DATA = resolve(ROOT, DATA_DIR);
const env = process.env;

function count(variable: string, fallback: number): number {
  const raw = env[variable];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 16)
    throw new Error(`${variable}: expected a whole number from 1 to 16, got "${raw}"`);
  return value;
}

interface Managed {
  name: string;
  start: () => ChildProcess;
  child?: ChildProcess;
  restarts: number;
  /** Stopped for good (a retired build's worker): not restarted when it exits. */
  retired?: boolean;
}

const managed: Managed[] = [];
let stopping = false;

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function pipeLines(name: string, child: ChildProcess, onLine?: (line: string) => void): void {
  pipePrefixedLines(name, child, { width: 13, stopping: () => stopping, onLine });
}

/** Starts a process and keeps it running: restarted 1, 2, 4… up to 10 s after each unexpected exit. */
function supervise(name: string, launch: () => ChildProcess): Managed {
  const entry: Managed = { name, start: launch, restarts: 0 };
  const startOnce = (): ChildProcess => {
    const child = launch();
    entry.child = child;
    pipeLines(name, child);
    child.on('exit', (code, signal) => {
      if (stopping || entry.retired) return;
      const delay = Math.min(10_000, 1000 * 2 ** Math.min(entry.restarts, 4));
      entry.restarts += 1;
      say(`[${name}]`.padEnd(13) + ` exited (${signal ?? `code ${code}`}); restarting in ${delay / 1000}s`);
      setTimeout(() => {
        if (!stopping) startOnce();
      }, delay);
    });
    return child;
  };
  entry.start = startOnce;
  startOnce();
  managed.push(entry);
  return entry;
}

/** Newest first: receivers, then workers, the sandbox, and the Temporal server last. */
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('\nStopping the cluster…');
  for (const { name, child } of [...managed].reverse()) {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      child.kill('SIGTERM');
      const late = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 15_000))]);
      if (late) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    say(`  stopped ${name}`);
  }
  process.exit(code);
}

function build(): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/build.ts')], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`npm run build failed (exit ${code})`))));
  });
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  mkdirSync(DATA, { recursive: true });
  const next = process.argv.indexOf('--next-build');
  if (next !== -1) return startNextBuild(process.argv[next + 1]);

  const workers = count('CLUSTER_WORKERS', 2);
  const receivers = count('CLUSTER_RECEIVERS', 2);
  const receiverPort = Number(env.PORT ?? 3000);
  const sandboxPort = Number(env.SANDBOX_PORT ?? 4010);
  const ports = serverPorts(Number(env.HOOKLINE_TEMPORAL_PORT ?? 7233));
  const databases = temporalDatabases(env);
  const knowledgeBase = env.DATABASE_URL || withDatabase(databases.temporal, 'hookline');
  const shards = Number(env.NUM_HISTORY_SHARDS ?? 4);
  const receiverPorts = Array.from({ length: receivers }, (_, i) => receiverPort + i);
  const uiPort = Number(env.HOOKLINE_UI_PORT ?? 8233);

  await requireFreePorts(receiverPorts, 'receivers', 'PORT');
  await requireFreePorts([sandboxPort], 'third-party sandbox', 'SANDBOX_PORT');
  await requireFreePorts(allPorts(ports), 'Temporal server', 'HOOKLINE_TEMPORAL_PORT');
  await requireFreePorts([uiPort], 'Temporal UI', 'HOOKLINE_UI_PORT');

  const binaries = await findTemporalServer();
  say(describeServer(binaries));
  const ui = await findTemporalUi();
  say(
    ui.path
      ? `Temporal UI: ${ui.path} (${ui.source === 'cache' ? 'cached build' : 'freshly built with go'})`
      : `Temporal UI: none — ${ui.reason}`,
  );
  for (const report of await migrateTemporalDatabases(binaries, databases)) say(`PostgreSQL ${describeSchema(report)}`);
  if (/^postgres(ql)?:/.test(knowledgeBase) && (await ensureDatabase(knowledgeBase)))
    say(`PostgreSQL ${new URL(knowledgeBase).pathname.slice(1)}: created (knowledge base)`);

  if (process.argv.includes('--skip-build') && existsSync(join(ROOT, 'dist/workflow-bundle.js')))
    say('Using dist/ as built (--skip-build).');
  else await build();

  const temporalAddress = `127.0.0.1:${ports.frontend}`;
  // In every child's environment, so tests (and `ps e`) can tell the cluster's processes apart.
  const role = (name: string) => ({ HOOKLINE_CLUSTER_PROCESS: name, HOOKLINE_DATA_DIR: DATA });
  say(`Starting the Temporal server on PostgreSQL (${redact(databases.temporal)}, ${shards} history shards)…`);
  supervise('temporal', () =>
    spawnTemporalServer(
      binaries,
      {
        databases,
        ports,
        numHistoryShards: shards,
        sqlMaxConns: optionalCount('TEMPORAL_SQL_MAX_CONNS'),
        metricsAddress: env.TEMPORAL_METRICS_ADDRESS,
        dynamicConfigFile: env.TEMPORAL_DYNAMIC_CONFIG_FILE ? resolve(env.TEMPORAL_DYNAMIC_CONFIG_FILE) : undefined,
      },
      role('temporal'),
    ),
  );
  const namespace = env.TEMPORAL_NAMESPACE ?? 'default';
  const registered = await ensureNamespace(temporalAddress, namespace, 120_000);
  say(
    `Namespace ${namespace}: ${registered.namespaceCreated ? 'created' : 'ready'}` +
      (registered.added.length ? `; search attributes added: ${registered.added.join(', ')}` : ''),
  );

  if (ui.path) {
    const uiBinary = ui.path;
    supervise('temporal-ui', () =>
      spawn(uiBinary, ['--root', ROOT, '--config', 'config/temporal-ui', '--env', 'cluster', 'start'], {
        cwd: ROOT,
        env: {
          PATH: env.PATH ?? '',
          HOME: env.HOME ?? '',
          ...role('temporal-ui'),
          TEMPORAL_ADDRESS: temporalAddress,
          TEMPORAL_UI_PORT: String(uiPort),
          TEMPORAL_NAMESPACE: namespace,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    await waitFor(
      'The Temporal UI',
      () => httpOk(`http://127.0.0.1:${uiPort}/`),
      30_000,
      () => stopping,
    );
  }

  const { secrets, created } = loadOrCreateDevSecrets(resolve(ROOT, DEV_SECRETS_FILE));
  const node = process.execPath;
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
  supervise('sandbox', () =>
    spawn(node, ['dist/src/sandbox/main.js'], {
      cwd: ROOT,
      env: { ...env, ...role('sandbox'), PORT: String(sandboxPort), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  await waitFor(
    'The sandbox',
    () => httpOk(`${sandboxUrl}/_sandbox/health`),
    30_000,
    () => stopping,
  );

  const leadLine = await ensureLeadOperator(knowledgeBase, secrets.leadToken);
  const appEnv = appEnvFor({ sandboxUrl, temporalAddress, namespace, knowledgeBase, secrets });
  const workerProcesses = superviseWorkers('worker', workers, appEnv);
  for (const [i, port] of receiverPorts.entries()) {
    const name = `receiver-${i + 1}`;
    supervise(name, () =>
      spawn(node, ['dist/src/receiver/main.js'], {
        cwd: ROOT,
        env: { ...appEnv, ...role(name), PORT: String(port), HOST: env.HOST ?? '127.0.0.1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
  }
  for (const port of receiverPorts)
    await waitFor(
      `The receiver on port ${port}`,
      () => httpOk(`http://127.0.0.1:${port}/readyz`),
      90_000,
      () => stopping,
    );
  // A worker is ready when Temporal sees it poll (its identity is `pid@host`), whatever LOG_LEVEL says.
  const taskQueue = env.HOOKLINE_TASK_QUEUE ?? 'hookline';
  await waitFor(
    'The workers',
    async () => {
      const polling = await pollerPids(temporalAddress, namespace, taskQueue);
      return workerProcesses.every((w) => w.child?.pid !== undefined && polling.has(w.child.pid));
    },
    120_000,
    () => stopping,
  );
  const version = await makeBuildCurrent(temporalAddress, namespace, appEnv);
  // For `kill -USR2 $(cat .data/cluster.pid)`: under npm and tsx this process is not the one a shell started.
  writeFileSync(join(DATA, 'cluster.pid'), `${process.pid}\n`);
  // The last step of a rolling deploy on one machine: this build is drained, its workers may go.
  process.on('SIGUSR2', () => {
    say(`Stopping the workers of build ${version.buildId} for good (SIGUSR2); the rest keeps running.`);
    for (const w of workerProcesses) {
      w.retired = true;
      w.child?.kill('SIGTERM');
    }
  });

  say('');
  say('hookline cluster is running (compiled build, Temporal on PostgreSQL).');
  for (const port of receiverPorts)
    say(`  Receiver      http://localhost:${port}/webhooks/{oms,crm,payments,carrier}   (health: http://localhost:${port}/readyz)`);
  say(`  Workers       ${workers} (node dist/src/worker/main.js, prebuilt dist/workflow-bundle.js)`);
  say(`  Temporal      ${temporalAddress}   namespace ${namespace}`);
  say(`  Deployment    ${version.deploymentName}, build ${version.buildId} current   (npm run release -- status)`);
  say(`  Temporal UI   ${ui.path ? `http://localhost:${uiPort}` : `none (${ui.reason})`}`);
  say(`  PostgreSQL    ${redact(databases.temporal)}, ${redact(databases.visibility)}; knowledge base ${redact(knowledgeBase)}`);
  say(`  Sandbox       ${sandboxUrl}`);
  say(`  Inbox         http://localhost:${receiverPorts[0]}/inbox`);
  say('');
  say(`Dev secrets ${created ? 'created' : 'loaded'}: ${DEV_SECRETS_FILE}`);
  say(leadLine);
  say('Send an event to either receiver:');
  say(`  PORT=${receiverPorts.at(-1)} npm run send -- oms order.status_updated`);
  say('');
  say('Press Ctrl-C to stop everything.');
}

/**
 * The workers are versioned (src/worker/main.ts) and get no tasks until their build is the
 * deployment's current version: make the compiled build current, as its workers compute it (the
 * same hash over dist/). A build already current is left so; another one current (the cluster
 * restarted on a new build) is replaced and named, since its pinned workflows need its workers
 * back (npm run release -- status).
 */
async function makeBuildCurrent(address: string, namespace: string, appEnv: NodeJS.ProcessEnv): Promise<DeploymentVersion> {
  const build = compiledBuild(ROOT);
  if (!build) throw new Error('no dist/workflow-bundle.js: npm run build did not finish');
  const version = { deploymentName: loadTemporalConfig(appEnv).deploymentName, buildId: build.buildId };
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace });
    const before = (await describeDeployment(client, version.deploymentName))?.current;
    await makeCurrentWhenPolling(client, version);
    if (before && before !== version.buildId)
      say(`Build ${version.buildId} is now current; it replaced ${before} (its pinned workflows need its workers to finish).`);
    return version;
  } finally {
    await connection.close();
  }
}

/** What every hookline process of the cluster runs with: the sandbox, Temporal, the knowledge base, the dev secrets. */
function appEnvFor(o: {
  sandboxUrl: string;
  temporalAddress: string;
  namespace: string;
  knowledgeBase: string;
  secrets: ReturnType<typeof loadOrCreateDevSecrets>['secrets'];
}): NodeJS.ProcessEnv {
  return {
    ...sandboxWorkerEnv(o.sandboxUrl),
    // Stripe's, Shopify's and Zendesk's webhooks are on (dev secrets below): their APIs are the
    // sandbox's stand-ins unless the caller gave credentials of their own.
    ...sandboxProviderDefaults(env, o.sandboxUrl),
    ...(env.RECEIVER_TLS_CERT_PATH ? {} : { RECEIVER_PLAIN_HTTP: 'true' }),
    ...env,
    NODE_ENV: 'production',
    TEMPORAL_ADDRESS: o.temporalAddress,
    TEMPORAL_NAMESPACE: o.namespace,
    DATABASE_URL: o.knowledgeBase,
    ...devSecretsEnv(o.secrets, env),
  };
}

/** `count` compiled workers named `<prefix>-1…`, supervised; `extra` on top of the app's environment. */
function superviseWorkers(prefix: string, count: number, appEnv: NodeJS.ProcessEnv, extra: NodeJS.ProcessEnv = {}): Managed[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `${prefix}-${i + 1}`;
    return supervise(name, () =>
      spawn(process.execPath, ['dist/src/worker/main.js'], {
        cwd: ROOT,
        env: {
          ...appEnv,
          HOOKLINE_CLUSTER_PROCESS: name,
          HOOKLINE_DATA_DIR: DATA,
          WORKER_METRICS_ADDRESS: env.WORKER_METRICS_ADDRESS ?? 'off',
          ...extra,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
  });
}

/**
 * `npm run cluster -- --next-build <workflow-bundle.js>`: a rolling deploy on one machine. Beside a
 * running `npm run cluster` (same variables), CLUSTER_WORKERS more workers of the compiled code
 * with that workflow bundle: a new build, with a build ID of its own, polling but not current.
 * `npm run release -- verify | ramp | promote --build <id>` takes it from there; Ctrl-C stops them.
 */
async function startNextBuild(bundle: string | undefined): Promise<void> {
  if (!bundle || !existsSync(bundle)) throw new Error(`--next-build needs a workflow bundle file (got ${bundle ?? 'nothing'})`);
  if (!existsSync(join(ROOT, 'dist/src/worker/main.js'))) throw new Error('no dist/: start npm run cluster (it builds) first');
  const bundlePath = resolve(bundle);
  const temporalAddress = `127.0.0.1:${serverPorts(Number(env.HOOKLINE_TEMPORAL_PORT ?? 7233)).frontend}`;
  const namespace = env.TEMPORAL_NAMESPACE ?? 'default';
  const { secrets } = loadOrCreateDevSecrets(resolve(ROOT, DEV_SECRETS_FILE));
  const appEnv = appEnvFor({
    sandboxUrl: `http://127.0.0.1:${Number(env.SANDBOX_PORT ?? 4010)}`,
    temporalAddress,
    namespace,
    knowledgeBase: env.DATABASE_URL || withDatabase(temporalDatabases(env).temporal, 'hookline'),
    secrets,
  });
  const dist = join(ROOT, 'dist');
  const version = {
    deploymentName: loadTemporalConfig(appEnv).deploymentName,
    buildId: workerBuildId(readFileSync(bundlePath, 'utf8'), dist),
  };
  const workers = count('CLUSTER_WORKERS', 2);
  say(`Starting ${workers} workers of build ${version.buildId} (dist/ with ${bundlePath}) beside the cluster…`);
  superviseWorkers('next-worker', workers, appEnv, { WORKFLOW_BUNDLE_PATH: bundlePath });
  const connection = await Connection.connect({ address: temporalAddress });
  try {
    await waitUntilPolling(new Client({ connection, namespace }), version, 120_000);
  } finally {
    await connection.close();
  }
  say('');
  say(`Build ${version.buildId} is running beside the cluster (${workers} workers), not current yet:`);
  say(`  npm run release -- verify --bundle ${bundlePath} --query "ExecutionStatus = 'Running'"`);
  say(`  npm run release -- promote --build ${version.buildId}`);
  say('Press Ctrl-C to stop these workers.');
}

/** temporal.api.enums.v1.TaskQueueType (@temporalio/proto is not a direct dependency). */
const TASK_QUEUE_TYPE_WORKFLOW = 1;

async function pollerPids(address: string, namespace: string, taskQueue: string): Promise<Set<number>> {
  const connection = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    const { pollers } = await connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
    });
    return new Set((pollers ?? []).map((p) => Number(p.identity?.split('@')[0])));
  } finally {
    await connection.close();
  }
}

function optionalCount(variable: string): number | undefined {
  const raw = env[variable];
  if (!raw) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${variable}: expected a positive whole number, got "${raw}"`);
  return value;
}

main().catch((err: unknown) => {
  process.stderr.write(`npm run cluster failed: ${err instanceof Error ? err.message : String(err)}\n`);
  void stop(1);
});
