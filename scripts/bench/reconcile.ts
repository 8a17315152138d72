/**
 * `npm run bench -- --reconcile [--events 10000]`: how fast a reconciliation pass finds a backlog,
 * and what it costs the provider. One Temporal dev server (in memory), the Stripe events stand-in
 * (src/sandbox/stripe-events.ts) holding a backlog of never-delivered events, a real worker in this
 * process running reconcileWorkflow with the reconciler's activities on a SQLite knowledge base, and
 * the intake starting each found event's workflow on a task queue no worker polls (so the figure is
 * the reconciler's, not the payment workflows'). Two passes: the first finds and starts the whole
 * backlog, the second finds it all known (the steady state every five minutes). Prints events per
 * second and requests per event found; the CHECK line is about correctness: every event started
 * exactly once, none on the second pass.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, Worker, DefaultLogger } from '@temporalio/worker';
import { reconcile } from '../../activities/reconcile';
import { migrateToLatest, openDatabase } from '../../src/db';
import { createIntake } from '../../src/intake/direct';
import { silentLogger } from '../../src/log';
import { createStripeClient } from '../../src/providers/stripe/client';
import { loadReconcileConfig } from '../../src/reconcile/config';
import { stripeLister } from '../../src/reconcile/listers';
import { reconcileMetrics } from '../../src/reconcile/metrics';
import { createReconciler } from '../../src/reconcile/reconciler';
import { loadSources } from '../../src/receiver/sources';
import { startStripeEventsStandIn, type StripeEventObject } from '../../src/sandbox/stripe-events';
import type { ReconcileSummary, ReconcileWorkflow } from '../../workflows/contracts/reconcile';
import { findTemporalCli } from '../temporal-cli';
import { ProcessGroup, startDevServer } from './processes';
import { machine } from './report';

const EXAMPLE = readFileSync(join(__dirname, '../../src/providers/stripe/examples/payment_intent.succeeded.json'), 'utf8');

export async function reconcileBench(options: { events: number }): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-bench-reconcile-'));
  const group = new ProcessGroup();
  const standIn = await startStripeEventsStandIn();
  const database = await openDatabase(`sqlite:${join(dir, 'hookline.db')}`);
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    const cli = await findTemporalCli();
    const temporal = await startDevServer({ cliPath: cli.path!, store: 'memory', dir, group });
    await migrateToLatest(database);
    const now = Math.floor(Date.now() / 1000);
    // The backlog: an hour of payments, none delivered (hookline was down), spread over the hour.
    for (let i = 0; i < options.events; i++) {
      const suffix = randomBytes(12).toString('hex');
      const created = now - 3500 + Math.floor((i * 3400) / options.events);
      // Plain JSON, not Stripe's types: a copy of the published event with new ids.
      const event = JSON.parse(EXAMPLE) as { id: string; created: number; data: { object: { id: string } } };
      event.id = `evt_${suffix}`;
      event.created = created;
      event.data.object.id = `pi_${suffix}`;
      standIn.record(event as unknown as StripeEventObject, false);
    }
    const env = {
      WEBHOOK_SECRET_STRIPE: `whsec_${randomBytes(24).toString('hex')}`,
      STRIPE_API_KEY: 'sk_test_bench',
      STRIPE_API_BASE_URL: standIn.url,
      RECONCILE_FIRST_LOOKBACK: '2h',
    };
    const config = loadReconcileConfig(env, loadSources(env).values());
    const connection = await NativeConnection.connect({ address: temporal.address });
    const client = new Client({ connection, namespace: 'default' });
    const reconciler = createReconciler({
      db: database.db,
      // Started on a queue no worker polls: the pass's own cost, not the payment workflows'.
      intake: createIntake({ client, taskQueue: 'bench-reconcile-unpolled', startTimeoutMs: 10_000, quarantineKeepForMs: 60_000 }),
      config,
      retentionMs: 30 * 86_400_000,
      lister: (source) => stripeLister(createStripeClient(source.api)),
      logger: silentLogger,
    });
    const { code } = await bundleWorkflowCode({ workflowsPath: join(__dirname, '../../workflows/index.ts'), logger: quietLogger });
    const worker = await Worker.create({
      connection,
      taskQueue: 'bench-reconcile',
      workflowBundle: { code },
      activities: reconcile({ reconciler, metrics: reconcileMetrics(Runtime.instance().metricMeter), logger: silentLogger }),
    });
    console.log(`reconcile bench: ${options.events} undelivered Stripe events; ${machine()}`);
    const pass = async (label: string): Promise<{ summary: ReconcileSummary; seconds: number; requests: number }> => {
      const requestsBefore = standIn.requests.total;
      const began = process.hrtime.bigint();
      const summary = await client.workflow.execute<ReconcileWorkflow>('reconcileWorkflow', {
        taskQueue: 'bench-reconcile',
        workflowId: `bench-reconcile-${label}-${randomBytes(4).toString('hex')}`,
        args: [{ source: 'stripe' }],
      });
      const seconds = Number(process.hrtime.bigint() - began) / 1e9;
      return { summary, seconds, requests: standIn.requests.total - requestsBefore };
    };
    // One run of the worker for both passes (a Worker runs once).
    const { first, second } = await worker.runUntil(async () => ({ first: await pass('backlog'), second: await pass('steady') }));
    const line = (what: string, r: { summary: ReconcileSummary; seconds: number; requests: number }, count: number) =>
      `${what}: looked at ${r.summary.lookedAt}, started ${r.summary.started}, known ${r.summary.known} in ${r.seconds.toFixed(1)} s = ` +
      `${(r.summary.lookedAt / r.seconds).toFixed(0)} events/s; ${r.requests} list requests ` +
      `(${(r.requests / Math.max(1, count)).toFixed(3)} per event)`;
    console.log(line('first pass (the backlog)', first, first.summary.started));
    console.log(line('second pass (all known)', second, second.summary.lookedAt));
    const logged = await database.db.selectFrom('event_log').select('workflow_id').where('via', '=', 'reconcile').execute();
    const rows = { rows: logged.length, ids: new Set(logged.map((r) => r.workflow_id)).size };
    const pass1 = first.summary.started === options.events && first.summary.failed === 0;
    const pass2 = second.summary.started === 0 && second.summary.known === options.events;
    const once = Number(rows.rows) === options.events && Number(rows.ids) === options.events;
    const ok = pass1 && pass2 && once;
    console.log(
      `CHECK ${ok ? 'PASS' : 'FAIL'}: first pass started ${first.summary.started} of ${options.events}; ` +
        `second started ${second.summary.started}; ${rows.ids} workflow IDs in ${rows.rows} event log rows`,
    );
    await connection.close();
    return ok ? 0 : 1;
  } finally {
    await database.close();
    await standIn.close();
    await group.stopAll();
  }
}

const quietLogger = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => process.stderr.write(`[bundler] ${message}\n`),
  error: (message: string) => process.stderr.write(`[bundler] ${message}\n`),
  log: () => undefined,
};
