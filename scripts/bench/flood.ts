/**
 * `npm run bench -- --flood`: does a customer wait behind a flood? (issue 26.) One run, the shape
 * `npm start` runs: the Temporal dev server on a SQLite file (priorities and fairness on, as
 * scripts/temporal-cli.ts starts it), the sandbox, one real worker and one real receiver.
 *
 *   1. quiet: 10 customer inquiries and 10 failed payments, each from its own customer, all at once;
 *   2. flood: 3,000 routine order updates (priority 3) from 32 senders as fast as they are taken;
 *   3. right after the flood's last 2xx, the same 20 urgent events (priority 1) again.
 *
 * Then the same urgent events while shop A still sends, and shop B's order updates alone and amid
 * shop A's flood. For each urgent event: its 2xx to the agent's decision (the run closed, or it started the
 * conversation that hands the customer to a person), split into the wait in Temporal's task queue
 * (its first workflow task, scheduled to started) and the rest (the worker: its slots, its local
 * activities, its partner calls). `--flood-events N` changes the flood's size; `--no-priorities`
 * starts every event at the same priority, and `--fifo` runs the dev server without priorities and
 * fairness (as before issue 26), to compare. `--shop-b-queue` gives shop B a receiver, task queue
 * and worker of its own, to see what is left when shop B shares only the Temporal server.
 */
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import type { temporal } from '@temporalio/proto';
import { tsToMs } from '@temporalio/common/lib/time';
import { BUILTIN_SCHEMES } from '../../src/receiver/sources';
import { generateSecret, signWebhook } from '../../src/signatures';
import { sandboxWorkerEnv } from '../../src/sandbox';
import { SAMPLES, DEFAULT_SOURCE } from '../../src/events/samples';
import { EVENT_TYPES, type EventType } from '../../src/events/schemas';
import { priorityVariable } from '../../src/config/temporal';
import { findTemporalCli } from '../temporal-cli';
import { freeBlock, freePort } from '../ports';
import { allPorts, ensureNamespace, migrateTemporalDatabases, serverPorts, spawnTemporalServer, withDatabase } from '../cluster-temporal';
import { describeServer, findTemporalServer, TEMPORAL_SERVER_VERSION } from '../temporal-server';
import { baseEnv, receiverEnv } from './hookline-env';
import { httpOk, ProcessGroup, spawnNode, startDevServer, waitUntil } from './processes';

const SENDERS = 32;
const URGENT_EACH = 10;
const TASK_QUEUE = 'bench-flood';
/** A second shop: a source of its own, allowed order updates, so its events differ from the flood's only by source. */
const SHOP_B = 'shop-b';
const SHOP_B_SCHEME = 'hmac-sha256-hex' as const;
const SHOP_B_EVENTS = 50;

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const at = (e: HistoryEvent) => tsToMs(e.eventTime!);

interface Urgent {
  type: EventType;
  workflowId: string;
  ackedAt: number;
}

interface Timing {
  type: EventType;
  /** 2xx → decision. */
  decisionMs: number;
  /** The first workflow task's wait in Temporal's queue (scheduled → started). */
  queueMs: number;
  /** Up to the decision, summed: the waits in Temporal's queues and the time in the worker. */
  split: Split;
}

/** Where an event's time went before its decision, from its history (the server's clock). */
interface Split {
  /** Workflow tasks and activity tasks waiting in Temporal's task queues (scheduled → started). */
  queued: number;
  /** Of `queued`: workflow tasks on the worker's sticky queue (every one after the first, while the run is cached). */
  sticky: number;
  /** Of `queued`: activity tasks (the partner queues, drafting). */
  activityQueued: number;
  /** Workflow tasks in the worker (started → completed): its slots, the code, the local activities. */
  workflowTasks: number;
  /** Activities in the worker (started → completed): partner calls, drafting. */
  activities: number;
}

function splitOf(events: HistoryEvent[], until: number): Split {
  const split: Split = { queued: 0, sticky: 0, activityQueued: 0, workflowTasks: 0, activities: 0 };
  const byId = new Map<string, HistoryEvent>();
  for (const e of events) {
    if (at(e) > until) break;
    byId.set(String(e.eventId), e);
    const wfStarted = e.workflowTaskStartedEventAttributes;
    const wfDone = e.workflowTaskCompletedEventAttributes;
    const actStarted = e.activityTaskStartedEventAttributes;
    const actDone = e.activityTaskCompletedEventAttributes;
    if (wfStarted) {
      const scheduled = byId.get(String(wfStarted.scheduledEventId))!;
      split.queued += at(e) - at(scheduled);
      // TASK_QUEUE_KIND_STICKY
      if (scheduled.workflowTaskScheduledEventAttributes?.taskQueue?.kind === 2) split.sticky += at(e) - at(scheduled);
    }
    if (wfDone) split.workflowTasks += at(e) - at(byId.get(String(wfDone.startedEventId))!);
    if (actStarted) {
      split.queued += at(e) - at(byId.get(String(actStarted.scheduledEventId))!);
      split.activityQueued += at(e) - at(byId.get(String(actStarted.scheduledEventId))!);
    }
    if (actDone) split.activities += at(e) - at(byId.get(String(actDone.startedEventId))!);
  }
  return split;
}

async function post(url: string, type: EventType, event: Record<string, unknown>, secrets: Record<string, string>, from?: string) {
  const source = from ?? DEFAULT_SOURCE[type];
  const body = Buffer.from(JSON.stringify(event));
  const res = await fetch(`${url}/webhooks/${source}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...signWebhook(from ? SHOP_B_SCHEME : BUILTIN_SCHEMES[DEFAULT_SOURCE[type]], body, secrets[source]!, { id: String(event.event_id) }),
    },
    body,
  });
  const answer = (await res.json()) as { workflowId?: string };
  if (res.status !== 202 || !answer.workflowId) throw new Error(`${type} answered ${res.status}: ${JSON.stringify(answer)}`);
  return { workflowId: answer.workflowId, ackedAt: Date.now() };
}

/** Each customer's own inquiry and failed payment, all sent at once. */
async function sendUrgent(url: string, secrets: Record<string, string>, tag: string): Promise<Urgent[]> {
  const sends: Promise<Urgent>[] = [];
  for (let i = 0; i < URGENT_EACH; i++) {
    const customer = `CUST-${tag}X${i}`;
    const inquiry = {
      ...SAMPLES['customer.inquiry.new'],
      event_id: `inq-${tag}-${i}`,
      inquiry_id: `INQ-${tag}-${i}`,
      customer_id: customer,
    };
    const failed = {
      ...SAMPLES['payment.failed'],
      event_id: `pmt-${tag}-${i}`,
      payment_id: `PMT-${tag}-${i}`,
      order_id: `ORD-${tag}-${i}`,
      customer_id: customer,
    };
    sends.push(post(url, 'customer.inquiry.new', inquiry, secrets).then((r) => ({ type: 'customer.inquiry.new' as const, ...r })));
    sends.push(post(url, 'payment.failed', failed, secrets).then((r) => ({ type: 'payment.failed' as const, ...r })));
  }
  return Promise.all(sends);
}

/** Waits for each event's decision: its run closed, or it started the conversation with a person. */
async function decisions(client: Client, urgent: Urgent[]): Promise<Timing[]> {
  const timings: Timing[] = [];
  const deadline = Date.now() + 10 * 60_000;
  for (const u of urgent) {
    for (;;) {
      const events = (await client.workflow.getHandle(u.workflowId).fetchHistory()).events ?? [];
      const decided = events.find(
        (e) =>
          e.startChildWorkflowExecutionInitiatedEventAttributes ||
          e.workflowExecutionCompletedEventAttributes ||
          e.workflowExecutionFailedEventAttributes,
      );
      if (decided) {
        const scheduled = events.find((e) => e.workflowTaskScheduledEventAttributes)!;
        const started = events.find((e) => e.workflowTaskStartedEventAttributes)!;
        timings.push({
          type: u.type,
          decisionMs: at(decided) - u.ackedAt,
          queueMs: at(started) - at(scheduled),
          split: splitOf(events, at(decided)),
        });
        break;
      }
      if (Date.now() > deadline) throw new Error(`${u.workflowId}: no decision within 10 minutes`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return timings;
}

/** The flood: `events` order updates, `SENDERS` in flight, each new event as soon as one is answered. */
async function flood(url: string, secrets: Record<string, string>, tag: string, events: number): Promise<{ ms: number; non2xx: number }> {
  const started = Date.now();
  let next = 0;
  let non2xx = 0;
  await Promise.all(
    Array.from({ length: SENDERS }, async () => {
      for (let i = next++; i < events; i = next++) {
        const event = {
          ...SAMPLES['order.status_updated'],
          event_id: `ord-${tag}-${i}`,
          order_id: `ORD-${tag}-F${i}`,
          customer_id: `CUST-${tag}F${i % 500}`,
          timestamp: new Date().toISOString(),
        };
        await post(url, 'order.status_updated', event, secrets).catch(() => (non2xx += 1));
      }
    }),
  );
  return { ms: Date.now() - started, non2xx };
}

/** Shop B's ordinary order updates, sent `concurrency` at a time; each one's 2xx → its run closed. */
async function shopB(
  url: string,
  client: Client,
  secrets: Record<string, string>,
  tag: string,
): Promise<{ ms: number; first: number; split: Split }[]> {
  const acked: { workflowId: string; ackedAt: number }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = next++; i < SHOP_B_EVENTS; i = next++) {
        const event = {
          ...SAMPLES['order.status_updated'],
          event_id: `b-${tag}-${i}`,
          order_id: `ORD-${tag}-B${i}`,
          customer_id: `CUST-${tag}B${i}`,
          timestamp: new Date().toISOString(),
        };
        acked.push(await post(url, 'order.status_updated', event, secrets, SHOP_B));
        await new Promise((r) => setTimeout(r, 100));
      }
    }),
  );
  const times: { ms: number; first: number; split: Split }[] = [];
  for (const a of acked) {
    await client.workflow.getHandle(a.workflowId).result();
    const events = (await client.workflow.getHandle(a.workflowId).fetchHistory()).events ?? [];
    const closed = at(events[events.length - 1]!);
    const scheduled = events.find((e) => e.workflowTaskScheduledEventAttributes)!;
    const started = events.find((e) => e.workflowTaskStartedEventAttributes)!;
    times.push({ ms: closed - a.ackedAt, first: at(started) - at(scheduled), split: splitOf(events, closed) });
  }
  return times;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

function report(label: string, timings: Timing[]): Record<string, { p50: number; max: number }> {
  const out: Record<string, { p50: number; max: number }> = {};
  for (const type of ['customer.inquiry.new', 'payment.failed'] as const) {
    const t = timings.filter((x) => x.type === type);
    const d = t.map((x) => x.decisionMs);
    const q = t.map((x) => x.queueMs);
    out[type] = { p50: pct(d, 50), max: Math.max(...d) };
    console.log(
      `  ${label.padEnd(12)} ${type.padEnd(21)} 2xx→decision p50 ${secs(pct(d, 50))}, max ${secs(Math.max(...d))}; ` +
        `first workflow task queued p50 ${secs(pct(q, 50))}, max ${secs(Math.max(...q))}`,
    );
    const part = (f: (x: Split) => number) =>
      secs(
        pct(
          t.map((x) => f(x.split)),
          50,
        ),
      );
    console.log(
      `  ${''.padEnd(12)} ${''.padEnd(21)} p50 of the split: queued in Temporal ${part((x) => x.queued)} ` +
        `(sticky workflow tasks ${part((x) => x.sticky)}, activity tasks ${part((x) => x.activityQueued)}), ` +
        `workflow tasks in the worker ${part((x) => x.workflowTasks)}, activities in the worker ${part((x) => x.activities)}`,
    );
  }
  return out;
}

export async function floodBench(options: {
  events: number;
  priorities: boolean;
  fifo: boolean;
  clusterServer: boolean;
  /** `--shop-b-queue`: shop B on a task queue of its own, with its own receiver and worker, as a deployment isolates a shop. */
  shopBQueue: boolean;
}): Promise<number> {
  if (options.clusterServer && options.fifo)
    throw new Error('--fifo is a dev server flag; the cluster server reads config/temporal/dynamicconfig.yaml');
  const dir = mkdtempSync(join(tmpdir(), 'hookline-bench-flood-'));
  const group = new ProcessGroup();
  try {
    const temporal = options.clusterServer ? await startClusterServer(dir, group) : await startCliDevServer(dir, group, !options.fifo);
    const secrets = Object.fromEntries(Object.entries(BUILTIN_SCHEMES).map(([name, scheme]) => [name, generateSecret(scheme)]));
    const env = baseEnv(temporal.address, TASK_QUEUE);
    secrets[SHOP_B] = generateSecret(SHOP_B_SCHEME);
    const [receiverPort, sandboxPort] = await Promise.all([freePort(), freePort()]);
    const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
    const url = `http://127.0.0.1:${receiverPort}`;
    const start = (name: string, entry: string, childEnv: NodeJS.ProcessEnv, ready: (log: string) => Promise<boolean> | boolean) => {
      const log = join(dir, `${name}.log`);
      const child = group.add(name, spawnNode(entry, childEnv, log), name.startsWith('worker') ? 15_000 : 5_000);
      return waitUntil(`the ${name}`, child, log, () => ready(log), 120_000);
    };
    await Promise.all([
      start(
        'receiver',
        'src/receiver/main.ts',
        {
          ...receiverEnv(env, receiverPort, secrets, dir),
          ...shopBEnv(secrets),
          LOG_LEVEL: 'warn',
          ...(options.priorities ? {} : samePriority()),
        },
        () => httpOk(`${url}/readyz`),
      ),
      start('sandbox', 'src/sandbox/main.ts', { ...env, PORT: String(sandboxPort), HOST: '127.0.0.1' }, () =>
        httpOk(`${sandboxUrl}/_sandbox/health`),
      ),
    ]);
    /** A worker on `workerEnv`'s task queue, acting through the sandbox, its database in `workerDir`. */
    const startWorker = (name: string, workerEnv: NodeJS.ProcessEnv, workerDir: string) =>
      start(
        name,
        'src/worker/main.ts',
        { ...workerEnv, ...sandboxWorkerEnv(sandboxUrl), DATABASE_URL: `sqlite:${join(workerDir, 'hookline.db')}` },
        (log) => readFileSync(log, 'utf8').includes('"worker started"'),
      );
    await startWorker('worker', env, dir);
    // Shop B's own stack: the same code on its own task queue (HOOKLINE_TASK_QUEUE), so no poll,
    // slot or backlog of shop A's is shared; only the machine (and the Temporal server) is.
    let shopBUrl = url;
    if (options.shopBQueue) {
      const dirB = join(dir, 'shop-b');
      mkdirSync(dirB);
      const envB = baseEnv(temporal.address, `${TASK_QUEUE}-${SHOP_B}`);
      const portB = await freePort();
      shopBUrl = `http://127.0.0.1:${portB}`;
      await Promise.all([
        start(
          'receiver-b',
          'src/receiver/main.ts',
          { ...receiverEnv(envB, portB, { [SHOP_B]: secrets[SHOP_B]! }, dirB), ...shopBEnv(secrets), LOG_LEVEL: 'warn' },
          () => httpOk(`${shopBUrl}/readyz`),
        ),
        startWorker('worker-b', envB, dirB),
      ]);
    }
    const client = new Client({ connection: temporal.connection, namespace: 'default' });
    const tag = Date.now().toString(36).toUpperCase();
    console.log(
      `flood bench: ${temporal.description}, one receiver, one worker, the sandbox; ` +
        `priorities ${options.priorities ? 'on (the defaults)' : 'OFF (--no-priorities: every type at 3)'}, ` +
        `${options.fifo ? "the server's FIFO matching (--fifo: no priorities, no fairness)" : 'fairness by source'}` +
        `${options.shopBQueue ? `; shop B on a task queue, receiver and worker of its own (--shop-b-queue)` : ''}; logs in ${dir}`,
    );

    // A first round warms every path (bundles, connections, the sandbox's CRM), unmeasured.
    await decisions(client, await sendUrgent(url, secrets, `${tag}W`));
    const quiet = report('quiet', await decisions(client, await sendUrgent(url, secrets, `${tag}Q`)));

    const sent = await flood(url, secrets, tag, options.events);
    console.log(
      `  flood: ${options.events} order updates from ${SENDERS} senders accepted in ${secs(sent.ms)} (${sent.non2xx} not 2xx); ` +
        `backlog at the flood's end: ${await backlog(client)}`,
    );
    const after = report('after flood', await decisions(client, await sendUrgent(url, secrets, `${tag}A`)));
    for (const type of Object.keys(quiet)) {
      const ratio = after[type]!.p50 / quiet[type]!.p50;
      console.log(`  ${type}: after the flood ${ratio.toFixed(2)}× its quiet median (target ≤ 1.5×), worst ${secs(after[type]!.max)}`);
    }

    // Two shops as two sources: shop B's ordinary events alone, then while shop A (oms) floods.
    await drained(client);
    // Unmeasured, as the first round is for the urgent events: with --shop-b-queue, shop B's worker
    // has run nothing yet, and its first workflows (a cold process) take twice as long.
    await shopB(shopBUrl, client, secrets, `${tag}BW`);
    const alone = await shopB(shopBUrl, client, secrets, `${tag}BA`);
    const floodA = flood(url, secrets, `${tag}A2`, options.events);
    await new Promise((r) => setTimeout(r, 5_000)); // shop A's backlog builds up first
    const before = await serverWaits(temporal.metricsUrl);
    const during = await shopB(shopBUrl, client, secrets, `${tag}BF`);
    const whileFlooding = serverWaitsSince(before, await serverWaits(temporal.metricsUrl));
    // Urgent events while shop A is still sending: priority 1 outranks everything in the matcher, so
    // a wait here is upstream of it (the history service handing new tasks to matching).
    const amid = await decisions(client, await sendUrgent(url, secrets, `${tag}M`));
    await floodA;
    report('amid flood', amid);
    const p50 = (xs: { ms: number; first: number; split: Split }[], f: (x: { ms: number; first: number; split: Split }) => number) =>
      pct(xs.map(f), 50);
    for (const [label, xs] of [
      ['alone', alone],
      ['while shop A floods', during],
    ] as const) {
      console.log(
        `  shop B ${label.padEnd(19)} ${SHOP_B_EVENTS} order updates, 4 at a time: 2xx→closed p50 ${secs(p50(xs, (x) => x.ms))}, ` +
          `max ${secs(Math.max(...xs.map((x) => x.ms)))}; p50 queued in Temporal ${secs(p50(xs, (x) => x.split.queued))} ` +
          `(first workflow task ${secs(p50(xs, (x) => x.first))}, sticky ${secs(p50(xs, (x) => x.split.sticky))}), ` +
          `workflow tasks in the worker ${secs(p50(xs, (x) => x.split.workflowTasks))}`,
      );
    }
    // Where a task waited inside the server while shop A flooded, from its own metrics: before matching
    // (history's transfer queue handing new tasks to matching: first come, first served, whatever the
    // priority or fairness key) and in matching (schedule to start, where priority and fairness act).
    console.log(`  server, while shop B sent amid shop A's flood (every queue, every source): ${whileFlooding}`);
    console.log(`  shop B while shop A floods: ${(p50(during, (x) => x.ms) / p50(alone, (x) => x.ms)).toFixed(2)}× alone (target ≤ 1.5×)`);
    return 0;
  } finally {
    await group.stopAll();
    if (options.clusterServer) await dropClusterDatabases();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface FloodServer {
  address: string;
  metricsUrl: string;
  connection: Connection;
  description: string;
}

/** `npm start`'s Temporal: the CLI's dev server (server 1.29.1 inside CLI v1.5.1) on a SQLite file. */
async function startCliDevServer(dir: string, group: ProcessGroup, priorities: boolean): Promise<FloodServer> {
  const cli = await findTemporalCli();
  const server = await startDevServer({ cliPath: cli.path, store: 'file', dir, group, priorities });
  return { ...server, description: `dev server on a SQLite file (${cli.path})` };
}

/**
 * `--cluster-server`: `npm run cluster`'s Temporal instead, server 1.31.2 on PostgreSQL with
 * config/temporal/server.yaml and dynamicconfig.yaml (priorities and fairness on, the default four
 * partitions per task queue), on databases of its own that are dropped afterwards. Whether a shop's
 * events still wait behind another shop's backlog there is what issue 26 left to measure.
 */
async function startClusterServer(dir: string, group: ProcessGroup): Promise<FloodServer> {
  const databases = {
    temporal: withDatabase(ADMIN_DATABASE, `${CLUSTER_DB}_temporal`),
    visibility: withDatabase(ADMIN_DATABASE, `${CLUSTER_DB}_visibility`),
  };
  await dropClusterDatabases();
  const binaries = await findTemporalServer();
  await migrateTemporalDatabases(binaries, databases);
  const ports = serverPorts(await freeBlock(8000, 30000, (base) => allPorts(serverPorts(base))));
  const metricsPort = await freePort();
  const logFile = join(dir, 'temporal.log');
  const child = spawnTemporalServer(binaries, { databases, ports, metricsAddress: `127.0.0.1:${metricsPort}`, logLevel: 'error' });
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  group.add('temporal', child, 10_000);
  const address = `127.0.0.1:${ports.frontend}`;
  await ensureNamespace(address, 'default', 120_000);
  const connection = await Connection.connect({ address });
  return {
    address,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    connection,
    description: `server ${TEMPORAL_SERVER_VERSION} on PostgreSQL (${describeServer(binaries)})`,
  };
}

const CLUSTER_DB = 'hookline_bench_flood';
const ADMIN_DATABASE = withDatabase(process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres', 'postgres');
async function dropClusterDatabases(): Promise<void> {
  const pg = new PgClient({ connectionString: ADMIN_DATABASE });
  await pg.connect();
  try {
    for (const kind of ['temporal', 'visibility']) await pg.query(`DROP DATABASE IF EXISTS ${CLUSTER_DB}_${kind} WITH (FORCE)`);
  } finally {
    await pg.end();
  }
}

/** Shop B: a source of its own for order updates (shop A is the order system, `oms`). */
function shopBEnv(secrets: Record<string, string>): Record<string, string> {
  return {
    WEBHOOK_SOURCES: SHOP_B,
    WEBHOOK_SCHEME_SHOP_B: SHOP_B_SCHEME,
    WEBHOOK_SECRET_SHOP_B: secrets[SHOP_B]!,
    WEBHOOK_EVENTS_SHOP_B: 'order.status_updated',
    WEBHOOK_RATE_LIMIT_SHOP_B: '1000000/s',
  };
}

/** `--no-priorities`: every event type at Temporal's default priority, to see what the priorities change. */
function samePriority(): Record<string, string> {
  return Object.fromEntries(EVENT_TYPES.map((type) => [priorityVariable(type), '3']));
}

/** Waits until the first flood's backlog is worked off, so shop B's "alone" is alone. */
async function drained(client: Client): Promise<void> {
  const started = Date.now();
  while (!(await backlog(client)).startsWith('0 ')) {
    if (Date.now() - started > 15 * 60_000) throw new Error('the flood was not worked off within 15 minutes');
    await new Promise((r) => setTimeout(r, 2_000));
  }
  console.log(`  the flood was worked off ${secs(Date.now() - started)} after the urgent events' decisions`);
}

/** The workflow tasks waiting in the queue now, from Temporal's own statistics. */
async function backlog(client: Client): Promise<string> {
  const described = await client.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: TASK_QUEUE, kind: 1 },
    taskQueueType: 1,
    reportStats: true,
  });
  const stats = described.stats;
  return stats ? `${String(stats.approximateBacklogCount ?? 0)} workflow tasks` : 'unknown';
}

/** The server's own histograms of where tasks wait, cumulative, by series (labels). */
type Histograms = Map<string, Map<number, number>>;
/** One histogram's bucket lines in namespace `default` whose labels include each of `labels` (in the exposition's order). */
const series = (metric: string, ...labels: string[]) =>
  new RegExp(`^${metric}_bucket\\{.*namespace="default"${labels.map((l) => `.*${l}`).join('')}.*le="([^"]+)"\\} (\\S+)`);
const WAITS: Record<string, RegExp> = {
  'transfer queue → matching (workflow tasks)': series('task_latency_queue', 'operation="TransferActiveTaskWorkflowTask"'),
  'transfer queue → matching (activity tasks)': series('task_latency_queue', 'operation="TransferActiveTaskActivity"'),
  'matching, workflow tasks (main queue)': series(
    'task_schedule_to_start_latency',
    'partition="__normal__"',
    `task_type="Workflow",taskqueue="${TASK_QUEUE.replace('-', '_')}"`,
  ),
  'matching, workflow tasks (main queue, sticky)': series(
    'task_schedule_to_start_latency',
    'partition="__sticky__"',
    `task_type="Workflow",taskqueue="${TASK_QUEUE.replace('-', '_')}"`,
  ),
};

async function serverWaits(metricsUrl: string): Promise<Histograms> {
  const text = await (await fetch(metricsUrl)).text();
  const out: Histograms = new Map();
  for (const line of text.split('\n')) {
    for (const [name, re] of Object.entries(WAITS)) {
      const m = re.exec(line);
      if (!m) continue;
      const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
      const buckets = out.get(name) ?? new Map<number, number>();
      buckets.set(le, (buckets.get(le) ?? 0) + Number(m[2]));
      out.set(name, buckets);
    }
  }
  return out;
}

/** Each wait's count, and its median and 90th percentile as the bucket bounds they fall in, between two scrapes. */
function serverWaitsSince(before: Histograms, after: Histograms): string {
  return [...after]
    .map(([name, buckets]) => {
      const les = [...buckets.keys()].sort((a, b) => a - b);
      const delta = les.map((le) => ({ le, n: buckets.get(le)! - (before.get(name)?.get(le) ?? 0) }));
      const total = delta[delta.length - 1]!.n;
      const q = (p: number) => delta.find((d) => d.n >= p * total)?.le ?? Infinity;
      return total === 0 ? `${name}: none` : `${name}: ${total} tasks, p50 ≤ ${q(0.5)} s, p90 ≤ ${q(0.9)} s`;
    })
    .join('; ');
}
