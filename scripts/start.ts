/**
 * `npm start`: the whole of hookline on one machine. Starts the Temporal dev server (unless
 * TEMPORAL_ADDRESS points at one already), the third-party sandbox, the worker and the receiver;
 * prints where everything is; and on Ctrl-C stops them all, newest first, leaving nothing behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { defaultDatabaseUrl } from '../src/config/env';
import { DATA_DIR, devSecretsEnv, DEV_SECRETS_FILE, loadOrCreateDevSecrets } from '../src/dev/secrets';
import { enabledProviderSources } from '../src/receiver/sources';
import { makeCurrentWhenPolling, parseVersion } from '../src/temporal/deployments';
import { sandboxProviderDefaults, sandboxProvidersEnv, sandboxWorkerEnv } from '../src/sandbox';
import { ensureLeadOperator, httpOk, pipePrefixedLines, requireFreePorts, waitFor } from './local-stack';
import { describeCli, devServerArgs, devServerReady, findTemporalCli } from './temporal-cli';

const ROOT = resolve(__dirname, '..');
const DATA = resolve(ROOT, DATA_DIR);
const env = process.env;
/** A URL's scheme and host only: a base URL may carry a deployment's path or a key. */
const originOf = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    return '(LLM_BASE_URL is not a URL)';
  }
};
const RECEIVER_PORT = Number(env.PORT ?? 3000);
const TEMPORAL_PORT = Number(env.HOOKLINE_TEMPORAL_PORT ?? 7233);
const UI_PORT = Number(env.HOOKLINE_UI_PORT ?? 8233);
const SANDBOX_PORT = Number(env.SANDBOX_PORT ?? 4010);
// 9464 is the usual Prometheus exporter port; WORKER_METRICS_ADDRESS, when set, wins (`off` too).
const WORKER_METRICS_PORT = Number(env.HOOKLINE_WORKER_METRICS_PORT ?? 9464);
const WORKER_METRICS_ADDRESS = env.WORKER_METRICS_ADDRESS?.trim() || `127.0.0.1:${WORKER_METRICS_PORT}`;

const children: { name: string; child: ChildProcess }[] = [];
let stopping = false;

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Children's lines, prefixed so four processes in one terminal stay readable. */
function run(name: string, command: string, args: string[], childEnv: NodeJS.ProcessEnv, onLine?: (line: string) => void): ChildProcess {
  const child = spawn(command, args, { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = `[${name}]`.padEnd(11);
  pipePrefixedLines(name, child, { width: 11, stopping: () => stopping, onLine });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      say(`${prefix} exited unexpectedly (${signal ?? `code ${code}`}); stopping everything.`);
      void stop(1);
    }
  });
  children.push({ name, child });
  return child;
}

async function temporalAnswers(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

/** Newest first: receiver, worker and sandbox stop before the server they depend on. */
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('\nStopping hookline…');
  for (const { name, child } of [...children].reverse()) {
    // A Ctrl-C in the terminal reaches the children too; some may have finished already.
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      child.kill('SIGTERM');
      const killed = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 10_000))]);
      if (killed) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    say(`  stopped ${name}`);
  }
  process.exit(code);
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  mkdirSync(DATA, { recursive: true });

  const { secrets, created } = loadOrCreateDevSecrets(resolve(ROOT, DEV_SECRETS_FILE));
  const external = Boolean(env.TEMPORAL_ADDRESS);
  const temporalAddress = env.TEMPORAL_ADDRESS ?? `127.0.0.1:${TEMPORAL_PORT}`;

  await requireFreePorts([RECEIVER_PORT], 'receiver', 'PORT');
  await requireFreePorts([SANDBOX_PORT], 'third-party sandbox', 'SANDBOX_PORT');
  if (!env.WORKER_METRICS_ADDRESS?.trim()) await requireFreePorts([WORKER_METRICS_PORT], 'worker metrics', 'HOOKLINE_WORKER_METRICS_PORT');
  if (!external) {
    await requireFreePorts([TEMPORAL_PORT], 'Temporal dev server', 'HOOKLINE_TEMPORAL_PORT');
    await requireFreePorts([UI_PORT], 'Temporal UI', 'HOOKLINE_UI_PORT');
    const cli = await findTemporalCli();
    say(describeCli(cli));
    say(`Starting the Temporal dev server (data in ${join(DATA, 'temporal.db')})…`);
    run(
      'temporal',
      cli.path,
      devServerArgs({ port: TEMPORAL_PORT, uiPort: UI_PORT, dbFile: join(DATA, 'temporal.db'), logLevel: 'warn' }),
      env,
    );
  } else {
    say(`Using the Temporal server at ${temporalAddress} (TEMPORAL_ADDRESS); not starting one.`);
  }
  // Our own dev server is ready when it has our search attributes; one we were pointed at, when it answers.
  await waitFor(
    'The Temporal server',
    () => (external ? temporalAnswers(temporalAddress) : devServerReady(temporalAddress)),
    60_000,
    () => stopping,
  );

  const node = process.execPath;
  const tsx = ['--import', 'tsx'];
  const sandboxUrl = `http://127.0.0.1:${SANDBOX_PORT}`;
  run('sandbox', node, [...tsx, 'src/sandbox/main.ts'], { ...env, PORT: String(SANDBOX_PORT), HOST: '127.0.0.1' });
  await waitFor(
    'The sandbox',
    () => httpOk(`${sandboxUrl}/_sandbox/health`),
    30_000,
    () => stopping,
  );

  const databaseUrl = env.DATABASE_URL || defaultDatabaseUrl({ HOOKLINE_DATA_DIR: DATA });
  const leadLine = await ensureLeadOperator(databaseUrl, secrets.leadToken);
  const standIns = sandboxProvidersEnv(sandboxUrl);
  const appEnv: NodeJS.ProcessEnv = {
    // The sandbox first, so a <SYSTEM>_BASE_URL of the caller's points that system elsewhere.
    ...sandboxWorkerEnv(sandboxUrl),
    // Stripe's, Shopify's and Zendesk's webhooks are on (dev secrets below): their APIs are the
    // sandbox's stand-ins unless the caller gave credentials of their own.
    ...sandboxProviderDefaults(env, sandboxUrl),
    // On localhost without TLS the inbox's cookie cannot be Secure-only; the caller's setting wins.
    ...(env.RECEIVER_TLS_CERT_PATH ? {} : { RECEIVER_PLAIN_HTTP: 'true' }),
    ...env,
    TEMPORAL_ADDRESS: temporalAddress,
    DATABASE_URL: databaseUrl,
    ...devSecretsEnv(secrets, env),
    PORT: String(RECEIVER_PORT),
    WORKER_METRICS_ADDRESS,
  };
  let workerStarted: string | undefined;
  run('worker', node, [...tsx, 'src/worker/main.ts'], appEnv, (line) => {
    if (line.includes('"worker started"')) workerStarted = line;
  });
  run('receiver', node, [...tsx, 'src/receiver/main.ts'], appEnv);
  const receiverUrl = `http://localhost:${RECEIVER_PORT}`;
  await waitFor(
    'The receiver',
    () => httpOk(`${receiverUrl}/readyz`),
    60_000,
    () => stopping,
  );
  await waitFor(
    'The worker',
    async () => workerStarted !== undefined,
    120_000,
    () => stopping,
  );
  // A versioned worker gets no tasks until its build is the deployment's current version: this
  // build is, at once (on a dev machine the build running is the one meant to run).
  // Its start line names its version, `deployment:build` (none when WORKER_VERSIONING=off).
  const version = parseVersion((JSON.parse(workerStarted!) as { deployment?: string }).deployment);
  if (version) {
    const connection = await Connection.connect({ address: temporalAddress });
    try {
      await makeCurrentWhenPolling(new Client({ connection, namespace: env.TEMPORAL_NAMESPACE ?? 'default' }), version);
    } finally {
      await connection.close();
    }
  }

  const ui = external ? "(your cluster's UI)" : `http://localhost:${UI_PORT}`;
  say('');
  say('hookline is running.');
  say(`  Receiver      ${receiverUrl}/webhooks/{oms,crm,payments,carrier}   (health: ${receiverUrl}/readyz)`);
  // Each provider's own source, enabled by its secret (npm start generates one for each).
  const providerSources = enabledProviderSources(appEnv);
  if (providerSources.length > 0)
    say(`  Providers     ${receiverUrl}/webhooks/{${providerSources.join(',')}}   (see the README's Providers)`);
  say(`  Temporal UI   ${ui}`);
  say(`  Inbox         ${receiverUrl}/inbox   (operator token below)`);
  say(
    version
      ? `  Worker build  ${version.buildId}, current in deployment ${version.deploymentName}   (npm run release -- status)`
      : '  Worker build  unversioned (WORKER_VERSIONING=off)',
  );
  say(`  Sandbox       ${sandboxUrl}   (stands in for the CRM, carrier, warehouse, inventory and payment APIs)`);
  const through = (base: string | undefined, standIn: string | undefined, fallback: string) =>
    base === standIn ? 'the sandbox' : base?.trim() ? originOf(base.trim()) : fallback;
  const stripeThrough = through(appEnv.STRIPE_API_BASE_URL, standIns.STRIPE_API_BASE_URL, 'api.stripe.com');
  say(`  Stripe        refunds of Stripe payments through ${stripeThrough}`);
  const zendeskThrough = through(appEnv.ZENDESK_API_BASE_URL, standIns.ZENDESK_API_BASE_URL, `${appEnv.ZENDESK_SUBDOMAIN}.zendesk.com`);
  say(`  Zendesk       tickets answered on the ticket through ${zendeskThrough}`);
  say(
    appEnv.EASYPOST_API_KEY?.trim()
      ? `  EasyPost      return labels through ${through(appEnv.EASYPOST_API_BASE_URL, standIns.EASYPOST_API_BASE_URL, 'api.easypost.com')}`
      : '  EasyPost      off: labels from the sandbox carrier (HOOKLINE_PROVIDERS=sandbox for the EasyPost stand-in)',
  );
  const shopifyThrough = through(
    appEnv.SHOPIFY_API_BASE_URL,
    standIns.SHOPIFY_API_BASE_URL,
    appEnv.SHOPIFY_SHOP_DOMAIN?.trim() || 'the shop',
  );
  say(`  Shopify       returns/request run by the agent: order read, approval, refund through ${shopifyThrough}`);
  say(
    env.LLM_BASE_URL?.trim()
      ? `  Model         ${env.LLM_MODEL ?? '(LLM_MODEL not set)'} at ${originOf(env.LLM_BASE_URL.trim())}`
      : `  Model         none: rules and templates (LLM_BASE_URL=${sandboxUrl}/llm/v1 LLM_MODEL=sandbox-model to try one)`,
  );
  const workerMetrics = WORKER_METRICS_ADDRESS === 'off' ? 'worker metrics off' : `worker: http://${WORKER_METRICS_ADDRESS}/metrics`;
  say(`  Metrics       ${receiverUrl}/metrics   (${workerMetrics})`);
  say('');
  say(`Dev secrets ${created ? 'created' : 'loaded'}: ${DEV_SECRETS_FILE}`);
  say(leadLine);
  say('Send a first event from another terminal:');
  say('  npm run send -- oms order.status_updated');
  say('  npm run send -- payments payment.succeeded');
  say('  npm run send -- stripe payment_intent.succeeded');
  say('  npm run send -- easypost tracker.updated');
  say('  npm run send -- zendesk ticket.created --fresh');
  say('  npm run send -- crm customer.inquiry.new summary="My order arrived broken, this is unacceptable" --fresh');
  say(`  HOOKLINE_OPERATOR_TOKEN=${secrets.leadToken} npm run handoff -- list`);
  say('');
  say('Press Ctrl-C to stop everything.');
}

main().catch((err: unknown) => {
  process.stderr.write(`npm start failed: ${err instanceof Error ? err.message : String(err)}\n`);
  void stop(1);
});
