import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { join } from 'node:path';
import { ApplicationFailure, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { reconcile } from '../activities/reconcile';
import { appendEventLog } from '../src/db';
import * as repo from '../src/db/repo';
import { eventFilter } from '../src/eventlog/search';
import { workflowIdFor } from '../src/events/identity';
import { createEventLogWriter, type EventLogWriter } from '../src/eventlog/writer';
import { silentLogger } from '../src/log';
import { createStripeClient } from '../src/providers/stripe/client';
import { createEasyPostClient } from '../src/providers/easypost/client';
import { easypostLister, stripeLister, type Lister } from '../src/reconcile/listers';
import { loadReconcileConfig } from '../src/reconcile/config';
import { ensureReconcileSchedules } from '../src/reconcile/schedules';
import { reconcileMetrics } from '../src/reconcile/metrics';
import { planPass, LookbackRefusedError } from '../src/reconcile/plan';
import { type Reconciler } from '../src/reconcile/reconciler';
import { loadSources } from '../src/receiver/sources';
import { startEasyPostEventsStandIn, type EasyPostEventsStandIn } from '../src/sandbox/easypost-events';
import { startStripeEventsStandIn, type StripeEventObject, type StripeEventsStandIn } from '../src/sandbox/stripe-events';
import { reconcileScheduleId, type ReconcileRequest, type ReconcileWorkflow } from '../workflows/contracts/reconcile';
import { startWorkerProcess, type Child } from './support/processes';
import { sandboxWorkerEnv } from '../src/sandbox';
import { startReconcileWorker, type ReconcileWorker } from './support/reconcile';
import { connectTestEnv, startAgent, startReceiver, testDatabases, type Agent, type Receiver } from './support/harness';
import { startStripeMock } from './support/stripe-mock';
import { runReconcileCli } from '../scripts/reconcile';

// Each test its own source and its own Stripe account (a stand-in), so their events never mix and
// no pass of one test (the schedule's, still running when its test ends) asks another test's API.
const SOURCES = ['stripe', 'stripe-b', 'stripe-c', 'stripe-d', 'stripe-e', 'stripe-f'] as const;
const envName = (source: string) => source.toUpperCase().replace(/-/g, '_');
const SECRETS: Record<string, string> = {
  ...Object.fromEntries(SOURCES.map((s) => [s, `whsec_reconcile_test_secret_${envName(s)}_0123456789`])),
  easypost: 'easypost_reconcile_test_secret_0123456789',
};
const EXAMPLE = JSON.parse(
  readFileSync(join(__dirname, '../src/providers/stripe/examples/payment_intent.succeeded.json'), 'utf8'),
) as StripeEventObject;

/** Stripe's published payment_intent.succeeded with new ids (a new payment), created `created`. */
function paymentEvent(created: number): StripeEventObject {
  const suffix = randomBytes(12).toString('hex');
  const object = { ...(EXAMPLE.data.object as unknown as Record<string, unknown>), id: `pi_${suffix}` };
  return { ...EXAMPLE, id: `evt_${suffix}`, created, data: { ...EXAMPLE.data, object } } as StripeEventObject;
}

const EASYPOST_EXAMPLE = JSON.parse(
  readFileSync(join(__dirname, '../src/providers/easypost/examples/tracker.updated.json'), 'utf8'),
) as Record<string, unknown>;

const nowSeconds = () => Math.floor(Date.now() / 1000);

const SOURCE_ENV: Record<string, string> = {
  WEBHOOK_SOURCES: SOURCES.filter((s) => s !== 'stripe').join(','),
  ...Object.fromEntries(SOURCES.map((s) => [`WEBHOOK_SECRET_${envName(s)}`, SECRETS[s]!])),
  ...Object.fromEntries(SOURCES.filter((s) => s !== 'stripe').map((s) => [`WEBHOOK_PROVIDER_${envName(s)}`, 'stripe'])),
  WEBHOOK_SECRET_EASYPOST: SECRETS.easypost!,
};

describe('reconciliation: Stripe events the webhooks never delivered are found and run once', () => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  /** The agent's database: the worker processes of the SIGKILL test keep their event log there too. */
  let databaseUrl: string;
  let receiver: Receiver;
  let eventLog: EventLogWriter;
  const standIns = new Map<string, StripeEventsStandIn>();
  let easypostStandIn: EasyPostEventsStandIn;
  let reconcileWorker: ReconcileWorker;
  let reconciler: Reconciler;
  let reconcileQueue: string;

  beforeAll(async () => {
    env = await connectTestEnv();
    databaseUrl = testDatabases()[0]!.url();
    agent = await startAgent({ env, databaseUrl });
    for (const name of SOURCES) standIns.set(name, await startStripeEventsStandIn());
    easypostStandIn = await startEasyPostEventsStandIn();
    eventLog = createEventLogWriter({ write: (rows) => appendEventLog(agent.db, rows), logger: silentLogger, flushIntervalMs: 50 });
    receiver = await startReceiver({ env, taskQueue: agent.taskQueue, sourceEnv: SOURCE_ENV, eventLog });
    const reconcileEnv = reconcileEnvOf();
    const config = loadReconcileConfig(reconcileEnv, loadSources(reconcileEnv).values());
    expect([...config.sources.keys()].sort()).toEqual([...SOURCES, 'easypost'].sort());
    const listers = new Map<string, Lister>();
    // The receiver's intake on the agent's queue: the same starts under the same workflow IDs.
    reconcileWorker = await startReconcileWorker({
      env,
      agent,
      config,
      lister: (s) =>
        listers.get(s.source.name) ??
        listers
          .set(
            s.source.name,
            s.provider === 'stripe' ? stripeLister(createStripeClient(s.api)) : easypostLister(createEasyPostClient(s.api)),
          )
          .get(s.source.name)!,
    });
    reconciler = reconcileWorker.reconciler;
    reconcileQueue = reconcileWorker.taskQueue;
  });

  afterAll(async () => {
    await reconcileWorker?.close();
    await eventLog?.close();
    await receiver?.close();
    for (const standIn of standIns.values()) await standIn.close();
    await easypostStandIn?.close();
    await agent?.close();
  });

  /** The worker's environment: the receiver's sources, a Stripe key, each source's stand-in as its API. */
  function reconcileEnvOf(): Record<string, string> {
    return {
      ...SOURCE_ENV,
      STRIPE_API_KEY: 'sk_test_reconcile',
      ...Object.fromEntries(SOURCES.map((s) => [`STRIPE_API_BASE_URL_${envName(s)}`, standIns.get(s)!.url])),
      EASYPOST_API_KEY: 'EZTKreconcile0123456789',
      EASYPOST_API_BASE_URL: easypostStandIn.url,
    };
  }

  const pass = (request: ReconcileRequest, workflowId?: string) => reconcileWorker.pass(request, workflowId);

  const endpoint = (source: string) => ({ url: `${receiver.url}/webhooks/${source}`, secret: SECRETS[source]! });
  const paymentWorkflowId = (source: string, event: StripeEventObject) => workflowIdFor(source, 'payment.succeeded', event.id);

  async function exists(workflowId: string): Promise<boolean> {
    try {
      await env.client.workflow.getHandle(workflowId).describe();
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  /** The event log's rows of accepted starts, by workflow ID: one each means each event started once. */
  async function startsLogged(source: string): Promise<Map<string, { via: string }[]>> {
    await eventLog.flush();
    const rows = await agent.db
      .selectFrom('event_log')
      .select(['workflow_id', 'via'])
      .where('source', '=', source)
      .where('outcome', 'in', ['accepted', 'rerun'])
      .execute();
    const starts = new Map<string, { via: string }[]>();
    for (const row of rows) starts.set(row.workflow_id!, [...(starts.get(row.workflow_id!) ?? []), { via: row.via }]);
    return starts;
  }

  it('40 events, 9 never delivered: one pass starts exactly those 9, counts 31 as known; a late delivery is a duplicate', async () => {
    const standIn = standIns.get('stripe')!;
    // Within the overlap (2 min) of the pass's end, so the second pass lists them all again.
    const start = nowSeconds() - 60;
    const events = Array.from({ length: 40 }, (_, i) => paymentEvent(start + i));
    const dropped = new Set([2, 5, 9, 14, 20, 26, 31, 35, 39].map((i) => events[i]!.id));
    for (const event of events) {
      const status = await standIn.send(event, endpoint('stripe'), { drop: dropped.has(event.id) });
      expect(status).toBe(dropped.has(event.id) ? undefined : 202);
    }
    for (const event of events) expect(await exists(paymentWorkflowId('stripe', event))).toBe(!dropped.has(event.id));

    const passId = `reconcile-test-${randomUUID()}`;
    const summary = await pass({ source: 'stripe' }, passId);
    expect(summary).toMatchObject({ lookedAt: 40, known: 31, started: 9, quarantined: 0, failed: 0, missing: 0 });
    // Its history replays against the current code; RECORD_HISTORIES=reconcile keeps it in
    // test/histories/, where test/replay.test.ts replays it from then on.
    const history = await env.client.workflow.getHandle(passId).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: { code: inject('workflowBundle') } }, history, passId);
    if ((process.env.RECORD_HISTORIES ?? '').split(',').includes('reconcile')) {
      writeFileSync(join(__dirname, 'histories', 'reconcile.json'), JSON.stringify(JSON.parse(historyToJSON(history)), null, 2) + '\n');
    }
    for (const event of events) expect(await exists(paymentWorkflowId('stripe', event))).toBe(true);
    const starts = await startsLogged('stripe');
    expect(starts.size).toBe(40);
    for (const event of events) {
      expect(starts.get(paymentWorkflowId('stripe', event))).toEqual([{ via: dropped.has(event.id) ? 'reconcile' : 'webhook' }]);
    }
    // The cursor is the pass's end: the next pass starts from there, less the overlap.
    expect(await reconciler.cursorOf('stripe')).toBe(summary.to);

    // A dropped delivery Stripe retries after the pass: the same workflow, already running or done.
    const late = events.find((e) => dropped.has(e.id))!;
    expect(await standIn.deliver(late.id, endpoint('stripe'))).toBe(200);

    // A second pass looks at the same events again (the overlap) and starts nothing.
    const again = await pass({ source: 'stripe' });
    expect(again).toMatchObject({ lookedAt: 40, known: 40, started: 0, failed: 0 });
    expect((await startsLogged('stripe')).size).toBe(40);
  });

  it('two passes at once (the schedule and a backfill) start nothing twice', async () => {
    const standIn = standIns.get('stripe-b')!;
    const start = nowSeconds() - 60;
    const events = Array.from({ length: 20 }, (_, i) => paymentEvent(start + i));
    for (const event of events) await standIn.send(event, endpoint('stripe-b'), { drop: true });

    const [scheduled, backfill] = await Promise.all([
      pass({ source: 'stripe-b' }),
      pass({ source: 'stripe-b', range: { from: nowSeconds() - 600 } }),
    ]);
    expect(scheduled.lookedAt).toBe(20);
    expect(backfill.lookedAt).toBe(20);
    expect(scheduled.started + backfill.started).toBe(20);
    expect(scheduled.known + backfill.known).toBe(20);
    const starts = await startsLogged('stripe-b');
    expect(starts.size).toBe(20);
    for (const event of events) expect(starts.get(paymentWorkflowId('stripe-b', event))).toHaveLength(1);
    // A backfill never moves the cursor; the scheduled pass did.
    expect(await reconciler.cursorOf('stripe-b')).toBe(scheduled.to);
  });

  it('250 events over three pages, with a 429 and Retry-After in the middle: all found, the cursor at the pass end', async () => {
    const standIn = standIns.get('stripe-c')!;
    const start = nowSeconds() - 300;
    const events = Array.from({ length: 250 }, (_, i) => paymentEvent(start + Math.floor(i / 2)));
    for (const event of events) standIn.record(event, false);
    // The second request (the second page) is refused once, with Retry-After: 2 s.
    standIn.rateLimitAt(2, 2);
    const began = Date.now();
    const summary = await pass({ source: 'stripe-c' });
    // Three pages of the window, and one (empty) of older undelivered events.
    expect(summary).toMatchObject({ lookedAt: 250, started: 250, known: 0, failed: 0, pages: 4 });
    expect(standIn.requests.rateLimited).toBe(1);
    expect(standIn.requests.total).toBe(5);
    // The retry waited as Stripe asked, not the policy's 1 s.
    expect(Date.now() - began).toBeGreaterThanOrEqual(2_000);
    const starts = await startsLogged('stripe-c');
    expect(starts.size).toBe(250);
    for (const event of events) expect(starts.get(paymentWorkflowId('stripe-c', event))).toHaveLength(1);
    expect(await reconciler.cursorOf('stripe-c')).toBe(summary.to);
    // The list requests: the handled types, the window, Stripe's cursor between pages.
    const [first, limited, retried, last, undelivered] = standIn.requests.queries;
    expect(first!.get('limit')).toBe('100');
    expect(first!.get('created[lte]')).toBe(String(summary.to));
    expect(first!.getAll('types[0]')).toEqual(['payment_intent.succeeded']);
    expect(first!.has('starting_after')).toBe(false);
    expect(first!.has('delivery_success')).toBe(false);
    // Newest first: the first page ends with events[150]; the refused request is asked again unchanged.
    expect(limited!.get('starting_after')).toBe(events[150]!.id);
    expect(retried!.toString()).toBe(limited!.toString());
    expect(last!.get('starting_after')).toBe(events[50]!.id);
    expect(undelivered!.get('delivery_success')).toBe('false');
    expect(Number(undelivered!.get('created[lte]'))).toBeLessThan(Number(first!.get('created[gte]')));
  });

  it('npm run reconcile: a dry run counts what is missing, starts nothing; the backfill starts it, progress on stderr', async () => {
    const standIn = standIns.get('stripe-b')!;
    const start = nowSeconds() - 3 * 3600;
    const events = Array.from({ length: 5 }, (_, i) => paymentEvent(start + i));
    for (const event of events) standIn.record(event, false);
    const cli = async (args: string[]) => {
      const out: string[] = [];
      const progress: string[] = [];
      const code = await runReconcileCli(args, {
        client: env.client,
        taskQueue: reconcileQueue,
        out: (l) => out.push(l),
        progress: (l) => progress.push(l),
        pollMs: 50,
      });
      return { code, out: out.join('\n'), progress: progress.join('\n') };
    };
    const dry = await cli(['stripe-b', '--since', '4h', '--dry-run']);
    expect(dry.code).toBe(0);
    // The two passes of the earlier test found 20 more, all known by now.
    expect(dry.out).toMatch(/stripe-b \(dry run\), .*: looked at 25, already known 20, missing 5, quarantined 0, failed 0/);
    expect(dry.progress).toMatch(/^reconcile stripe-b: reconcile-backfill:stripe-b:/);
    for (const event of events) expect(await exists(paymentWorkflowId('stripe-b', event))).toBe(false);
    const cursor = await reconciler.cursorOf('stripe-b');

    const real = await cli(['stripe-b', '--from', new Date((start - 60) * 1000).toISOString()]);
    expect(real.code).toBe(0);
    expect(real.out).toMatch(/looked at 25, already known 20, started 5, quarantined 0, failed 0/);
    for (const event of events) expect(await exists(paymentWorkflowId('stripe-b', event))).toBe(true);
    expect(await reconciler.cursorOf('stripe-b')).toBe(cursor);

    const usage = await cli(['stripe-b', '--since', '6h', '--from', '2026-01-01T00:00:00Z']);
    expect(usage.code).toBe(2);
    expect(usage.out).toMatch(/--since or --from\/--to, not both/);
  });

  it('the schedule alone finds what was never delivered, and a worker restarting updates it rather than adding one', async () => {
    const standIn = standIns.get('stripe-d')!;
    const events = Array.from({ length: 6 }, (_, i) => paymentEvent(nowSeconds() - 10 + i));
    for (const event of events) standIn.record(event, false);
    const only = (every: string) => {
      const e = {
        ...reconcileEnvOf(),
        ...Object.fromEntries(SOURCES.map((s) => [`RECONCILE_EVERY_${envName(s)}`, s === 'stripe-d' ? every : 'off'])),
        RECONCILE_EVERY_EASYPOST: 'off',
      };
      return loadReconcileConfig(e, loadSources(e).values());
    };
    const handle = env.client.schedule.getHandle(reconcileScheduleId('stripe-d'));
    try {
      expect(await ensureReconcileSchedules(env.client, { config: only('1h'), taskQueue: reconcileQueue, logger: silentLogger })).toEqual([
        'reconcile:stripe-d',
      ]);
      // Again, as a second worker or a restart with a new interval would: the same schedule, updated.
      await ensureReconcileSchedules(env.client, { config: only('1s'), taskQueue: reconcileQueue, logger: silentLogger });
      const described = await handle.describe();
      expect(described.spec.intervals?.map((i) => i.every)).toEqual([1_000]);
      await expect
        .poll(async () => (await Promise.all(events.map((event) => exists(paymentWorkflowId('stripe-d', event))))).every(Boolean), {
          timeout: 30_000,
          interval: 100,
        })
        .toBe(true);
      const starts = await startsLogged('stripe-d');
      for (const event of events) expect(starts.get(paymentWorkflowId('stripe-d', event))).toEqual([{ via: 'reconcile' }]);
    } finally {
      // A pass the schedule started just before may still be running: it ends before the next test.
      const running = (await handle.describe()).info.runningActions;
      await handle.delete();
      for (const action of running) await env.client.workflow.getHandle(action.workflow.workflowId).result();
    }
  });

  it(
    'a worker process killed (SIGKILL) mid-pass: the next worker finishes the pass, each event started once, the cursor at its end',
    { timeout: 180_000 },
    async () => {
      const standIn = standIns.get('stripe-f')!;
      const events = Array.from({ length: 230 }, (_, i) => paymentEvent(nowSeconds() - 30 + Math.floor(i / 10)));
      for (const event of events) standIn.record(event, false);
      const queue = `reconcile-kill-${randomUUID()}`;
      // `npm run worker` as production runs it, reconciling stripe-f only: its webhook source, the
      // Stripe key and the stand-in as its API, the event log in the test database, the sandbox
      // for the payment workflows it starts. Its schedule is due only years from now (asserted
      // below), so the one pass here is the test's own.
      const workerEnv = {
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        HOOKLINE_TASK_QUEUE: queue,
        DATABASE_URL: databaseUrl,
        WORKER_METRICS_ADDRESS: 'off',
        ...sandboxWorkerEnv(agent.sandbox.url),
        WEBHOOK_SOURCES: 'stripe-f',
        WEBHOOK_PROVIDER_STRIPE_F: 'stripe',
        WEBHOOK_SECRET_STRIPE_F: SECRETS['stripe-f']!,
        STRIPE_API_KEY: 'sk_test_reconcile',
        STRIPE_API_BASE_URL_STRIPE_F: standIn.url,
        RECONCILE_EVERY_STRIPE_F: '3650d',
      };
      const schedule = env.client.schedule.getHandle(reconcileScheduleId('stripe-f'));
      let worker: Child | undefined;
      try {
        worker = await startWorkerProcess(workerEnv);
        const next = (await schedule.describe()).info.nextActionTimes[0];
        expect(next!.getTime()).toBeGreaterThan(Date.now() + 24 * 3600 * 1000);
        // The second page is held: the first page's 100 events are handed over, then the worker is killed.
        const { held, release } = standIn.holdAt(2);
        const handle = await env.client.workflow.start<ReconcileWorkflow>('reconcileWorkflow', {
          taskQueue: queue,
          workflowId: `reconcile-kill-${randomUUID()}`,
          args: [{ source: 'stripe-f' }],
        });
        await held;
        const before = await startsLogged('stripe-f');
        expect(events.filter((e) => before.has(paymentWorkflowId('stripe-f', e)))).toHaveLength(100);
        expect(await reconciler.cursorOf('stripe-f')).toBeUndefined();
        await worker.kill('SIGKILL');
        // The held request is answered to a dead socket; nothing the dead worker did moves the cursor.
        release();
        expect(await reconciler.cursorOf('stripe-f')).toBeUndefined();

        worker = await startWorkerProcess(workerEnv);
        const summary = await handle.result();
        // The page the killed worker held is asked again, from the same place: 4 answered, 1 lost.
        expect(summary).toMatchObject({ lookedAt: 230, started: 230, known: 0, failed: 0, pages: 4 });
        expect(standIn.requests.total).toBe(5);
        const retried = standIn.requests.queries.slice(1, 3).map((q) => q.toString());
        expect(retried[1]).toBe(retried[0]);
        const starts = await startsLogged('stripe-f');
        expect(starts.size).toBe(230);
        for (const event of events) expect(starts.get(paymentWorkflowId('stripe-f', event))).toEqual([{ via: 'reconcile' }]);
        expect(await reconciler.cursorOf('stripe-f')).toBe(summary.to);
      } finally {
        await worker?.kill('SIGKILL');
        await schedule.delete().catch(() => undefined);
      }
    },
  );

  // Beside the SIGKILL test: a deploy's graceful shutdown cancels the page in flight (its request
  // aborted through the activity's cancellation signal) rather than leaving it to the heartbeat timeout.
  it('a worker shut down mid-pass (a deploy): its page is cancelled and asked again, each event once, the cursor at its end', async () => {
    const standIn = standIns.get('stripe-e')!;
    const events = Array.from({ length: 230 }, (_, i) => paymentEvent(nowSeconds() - 30 + Math.floor(i / 10)));
    for (const event of events) standIn.record(event, false);
    const queue = `reconcile-crash-${randomUUID()}`;
    const workerOn = () =>
      Worker.create({
        connection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        taskQueue: queue,
        workflowBundle: { code: inject('workflowBundle') },
        activities: reconcile({ reconciler, metrics: reconcileMetrics(Runtime.instance().metricMeter), logger: silentLogger }),
      });
    const first = await workerOn();
    const firstRunning = first.run();
    // The second page is held: the first page's 100 events are handed over, then the worker goes.
    const { held, release } = standIn.holdAt(2);
    const handle = await env.client.workflow.start<ReconcileWorkflow>('reconcileWorkflow', {
      taskQueue: queue,
      workflowId: `reconcile-crash-${randomUUID()}`,
      args: [{ source: 'stripe-e' }],
    });
    await held;
    const before = await startsLogged('stripe-e');
    expect(events.filter((e) => before.has(paymentWorkflowId('stripe-e', e)))).toHaveLength(100);
    const cursorBefore = await reconciler.cursorOf('stripe-e');
    first.shutdown();
    await firstRunning;
    release();
    expect(await reconciler.cursorOf('stripe-e')).toBe(cursorBefore);

    const second = await workerOn();
    const summary = await second.runUntil(handle.result());
    expect(summary.started).toBe(230);
    expect(summary.failed).toBe(0);
    const starts = await startsLogged('stripe-e');
    for (const event of events) expect(starts.get(paymentWorkflowId('stripe-e', event))).toHaveLength(1);
    expect(await reconciler.cursorOf('stripe-e')).toBe(summary.to);
  });

  it('EasyPost: 4 of 12 never delivered: the list and their payloads find those 4, each once, as the webhook’s workflow ID', async () => {
    const start = Date.now() - 60_000;
    const trackerEvent = (created: number) => {
      const suffix = randomBytes(8).toString('hex');
      const result = { ...(EASYPOST_EXAMPLE.result as Record<string, unknown>), tracking_code: `EZ${suffix}`, id: `trk_${suffix}` };
      const at = new Date(created).toISOString();
      return { ...EASYPOST_EXAMPLE, id: `evt_${suffix}`, created_at: at, updated_at: at, result };
    };
    const events = Array.from({ length: 12 }, (_, i) => trackerEvent(start + i * 1000));
    const dropped = new Set([1, 4, 7, 10].map((i) => events[i]!.id));
    for (const event of events) {
      expect(await easypostStandIn.send(event, endpoint('easypost'), { drop: dropped.has(event.id) })).toBe(
        dropped.has(event.id) ? undefined : 202,
      );
    }
    // One more that EasyPost has not tried to deliver yet: no payload, no body to read.
    const queued = trackerEvent(start + 20_000);
    easypostStandIn.record(queued);
    // The receiver's record of the 8 delivered, as a pass five minutes later would find it.
    await eventLog.flush();

    const payloadsBefore = easypostStandIn.requests.payloads;
    const summary = await pass({ source: 'easypost' });
    expect(summary).toMatchObject({ lookedAt: 13, known: 8, started: 4, awaiting: 1, quarantined: 0, unreadable: 0, failed: 0 });
    // The listed Events carry no Tracker: the body of each the event log does not hold came from its
    // payloads; the 8 it holds by their evt_ id were not asked for.
    expect(easypostStandIn.requests.payloads - payloadsBefore).toBe(5);
    const starts = await startsLogged('easypost');
    expect(starts.size).toBe(12);
    const workflowIdOf = (event: { id: string }) => {
      const ids = [...starts.keys()].filter((id) => id.endsWith(`:${event.id}`));
      expect(ids).toHaveLength(1);
      return ids[0]!;
    };
    for (const event of events) {
      expect(starts.get(workflowIdOf(event))).toEqual([{ via: dropped.has(event.id) ? 'reconcile' : 'webhook' }]);
    }
    // The cursor stops at the event still to be delivered, so the next pass looks at it again.
    expect(await reconciler.cursorOf('easypost')).toBe(Math.floor(Date.parse(queued.created_at) / 1000));
    const [query] = easypostStandIn.requests.queries;
    expect(query!.get('page_size')).toBe('100');
    expect(query!.get('end_datetime')).toBe(new Date(summary.to * 1000).toISOString());

    // A dropped delivery EasyPost retries after the pass: the receiver computes the workflow ID the
    // reconciler started, and the run is not started again.
    const late = events.find((e) => dropped.has(e.id))!;
    expect(await easypostStandIn.deliver(late.id, endpoint('easypost'))).toBe(200);
    await eventLog.flush();
    const rows = await agent.db
      .selectFrom('event_log')
      .select(['via', 'outcome', 'workflow_id'])
      .where('source', '=', 'easypost')
      .where('identity', '=', late.id)
      .orderBy('id')
      .execute();
    expect(rows).toEqual([
      { via: 'reconcile', outcome: 'accepted', workflow_id: workflowIdOf(late) },
      { via: 'webhook', outcome: 'duplicate', workflow_id: workflowIdOf(late) },
    ]);

    // EasyPost's attempt at the queued one fails: the next pass reads it from that attempt's payload.
    expect(await easypostStandIn.deliver(queued.id, endpoint('easypost'), { drop: true })).toBeUndefined();
    const payloadsAgain = easypostStandIn.requests.payloads;
    const again = await pass({ source: 'easypost' });
    expect(again).toMatchObject({ lookedAt: 13, known: 12, started: 1, awaiting: 0 });
    // Only the one not yet held was read.
    expect(easypostStandIn.requests.payloads - payloadsAgain).toBe(1);
    const after = await startsLogged('easypost');
    expect(after.size).toBe(13);
    expect([...after].filter(([id]) => id.endsWith(`:${queued.id}`)).map(([, rows]) => rows)).toEqual([[{ via: 'reconcile' }]]);
    expect(await reconciler.cursorOf('easypost')).toBe(again.to);

    // One EasyPost is done with but never sent anywhere (no webhook then): no body in its API. It is
    // recorded for a person as unreadable, with its evt_ id and type, and the cursor moves past it:
    // one lost body does not hold the source back. Nothing is started from the bodiless listed Event.
    const lost = trackerEvent(Date.now() - 5_000);
    easypostStandIn.record(lost, 'completed');
    const third = await pass({ source: 'easypost' });
    expect(third).toMatchObject({ unreadable: 1, started: 0, failed: 0 });
    expect(await reconciler.cursorOf('easypost')).toBe(third.to);
    expect(third.to).toBeGreaterThan(Math.floor(Date.parse(lost.created_at) / 1000));
    expect([...(await startsLogged('easypost')).keys()].filter((id) => id.endsWith(`:${lost.id}`))).toEqual([]);
    const recorded = () =>
      agent.db
        .selectFrom('event_log')
        .select(['via', 'outcome', 'event_type', 'identity', 'workflow_id', 'reason'])
        .where('source', '=', 'easypost')
        .where('identity', '=', lost.id)
        .execute();
    expect(await recorded()).toEqual([
      {
        via: 'reconcile',
        outcome: 'unreadable',
        event_type: 'tracker.updated',
        identity: lost.id,
        workflow_id: null,
        reason: expect.stringContaining('never attempted its delivery') as string,
      },
    ]);
    // Where a person looks: the event log's search by outcome.
    const { events: found } = await repo.findEvents(agent.db, eventFilter({ source: 'easypost', outcome: 'unreadable' }));
    expect(found.map((e) => e.identity)).toContain(lost.id);
    // The next pass knows it by its id: not read, not recorded again.
    const payloadsFourth = easypostStandIn.requests.payloads;
    const fourth = await pass({ source: 'easypost' });
    expect(fourth).toMatchObject({ unreadable: 0, started: 0, failed: 0 });
    expect(easypostStandIn.requests.payloads - payloadsFourth).toBe(0);
    expect(await recorded()).toHaveLength(1);
  });

  it("the sandbox (npm start's) lists the events recorded with it, as Stripe and EasyPost do", async () => {
    const stripeEvent = paymentEvent(nowSeconds());
    const easypostEvent = { ...EASYPOST_EXAMPLE, id: `evt_${randomBytes(8).toString('hex')}`, created_at: new Date().toISOString() };
    for (const [provider, event] of [
      ['stripe', stripeEvent],
      ['easypost', easypostEvent],
    ] as const) {
      const res = await fetch(`${agent.sandbox.url}/_sandbox/events/${provider}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(event),
      });
      expect(res.status).toBe(201);
    }
    const listing = { gte: nowSeconds() - 60, lte: nowSeconds() + 1, undelivered: true };
    const stripe = stripeLister(createStripeClient({ apiKey: 'sk_test_sandbox', baseUrl: `${agent.sandbox.url}/stripe` }));
    expect((await stripe.page(listing, undefined)).bodies).toEqual([expect.objectContaining({ id: stripeEvent.id })]);
    const easypost = easypostLister(createEasyPostClient({ apiKey: 'EZTKsandbox0123', baseUrl: `${agent.sandbox.url}/easypost/v2` }));
    // The sandbox keeps a failed attempt of each: the body is read from its payload, as sent.
    expect((await easypost.page(listing, undefined)).bodies).toEqual([JSON.stringify(easypostEvent)]);
  });

  it('refuses a backfill further back than the event log remembers', async () => {
    const failure = await pass({ source: 'stripe', range: { from: nowSeconds() - 31 * 24 * 3600 } }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause?.cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause).toMatchObject({ type: 'LookbackRefused', message: expect.stringMatching(/refusing to look back/) });
  });
});

describe('the pass plan', () => {
  const base = { overlapSeconds: 120, firstLookbackSeconds: 3600, retentionSeconds: 30 * 86400, providerWindowSeconds: 30 * 86400 };
  it('overlaps the cursor, and looks for undelivered events older than the window', () => {
    const plan = planPass({ ...base, now: 10_000_000, cursor: 9_999_000 });
    expect(plan.listings).toEqual([
      { gte: 9_998_880, lte: 10_000_000, undelivered: false },
      { gte: 10_000_000 - 30 * 86400, lte: 9_998_879, undelivered: true },
    ]);
    expect(plan.advanceTo).toBe(10_000_000);
  });
  it('refuses a range the event log does not cover, whichever of it and the provider is shorter', () => {
    expect(() => planPass({ ...base, retentionSeconds: 7 * 86400, now: 10_000_000, range: { from: 10_000_000 - 8 * 86400 } })).toThrow(
      LookbackRefusedError,
    );
    expect(planPass({ ...base, now: 10_000_000, range: { from: 10_000_000 - 6 * 3600 } })).toEqual({
      listings: [{ gte: 10_000_000 - 6 * 3600, lte: 10_000_000, undelivered: false }],
    });
  });
});

describe('the events list request, checked by stripe-mock against Stripe’s specification', () => {
  let mock: Awaited<ReturnType<typeof startStripeMock>>;
  beforeAll(async () => {
    mock = await startStripeMock();
  });
  afterAll(async () => mock?.close());

  it('lists with types, a created range, delivery_success=false, starting_after and limit', async () => {
    const stripe = createStripeClient({ apiKey: 'sk_test_hookline', baseUrl: mock.url });
    const page = await stripe.listEvents({
      types: ['payment_intent.succeeded', 'charge.refunded'],
      created: { gte: 1_700_000_000, lte: 1_700_086_400 },
      deliverySuccess: false,
      startingAfter: 'evt_1NG8Du2eZvKYlo2CUI79vXWy',
      limit: 100,
    });
    expect(Array.isArray(page.data)).toBe(true);
    expect(typeof page.has_more).toBe('boolean');
  });
});
