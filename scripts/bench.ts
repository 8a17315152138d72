/**
 * `npm run bench [-- options]`: hookline's intake under load, on this machine, in one run. Prints
 * figures; the one verdict is the CHECK line, about correctness (one workflow per accepted event,
 * exactly one start per duplicate storm, no failed workflow), never about speed. The issue's speed
 * targets are printed next to the figures as met / NOT met and never change the exit code.
 *
 * It starts, each as its own process: a Temporal dev server (in memory, or on a SQLite file with
 * `--db file`), the third-party sandbox, the real worker (`src/worker/main.ts`), the real receiver
 * (`src/receiver/main.ts`), a bare Express endpoint that only verifies the HMAC (./bench/bare.ts,
 * the ceiling), and a load generator (./bench/load.ts). Then, in order:
 *
 *  1. end-to-end: a mixed stream of every event type from the four senders, through the
 *     receiver and the worker: completed workflows per second. Then the worker is stopped.
 *  2. max throughput: a closed loop against the bare endpoint, then against hookline. No worker
 *     polls any more: accepted workflows wait in Temporal, so the figure is the intake alone.
 *  3. duplicate storm: each event sent several times at once; exactly one start each.
 *  4. fixed rate: an open loop at `--rate` for `--duration` against the bare endpoint, then hookline.
 *  5. the comparison with the one-activity Temporal pipeline (issue 12, ./bench/compare.ts), once the
 *     processes above are stopped: end to end on a dev server on a SQLite file, then intake alone in
 *     memory, each side by side. `--compare` runs only this; `--skip-compare` leaves it out.
 *
 * `--soak N` runs only a memory test instead: N events through the receiver, its memory sampled.
 * `--outage` runs only the spool's test: the normal path, then the same load with the dev server
 * SIGKILLed (every event spooled), then the dev server started again and the spool drained.
 * Every child is stopped on success, on error and on Ctrl-C. docs/benchmarks.md explains the output.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect, parseArgs } from 'node:util';
import { z } from 'zod';
import { Client } from '@temporalio/client';
import { duration, positiveInt } from '../src/config/env';
import { returnWorkflowId } from '../src/events/identity';
import { envSuffix } from '../src/config/env';
import { BUILTIN_SCHEMES } from '../src/receiver/sources';
import { generateSecret } from '../src/signatures';
import { sandboxWorkerEnv } from '../src/sandbox';
import { compareRun, type CompareOptions } from './bench/compare';
import { delivery, MIXED_TYPES } from './bench/events';
import { baseEnv, receiverEnv } from './bench/hookline-env';
import { freePort } from './ports';
import { LoadGenerator, type LoadPlan, type LoadResult, type LoadShape } from './bench/load';
import {
  askMemory,
  cpuMeter,
  httpOk,
  makeWorkerCurrent,
  ProcessGroup,
  residentOf,
  sampleResident,
  spawnNode,
  startDevServer,
  waitUntil,
  type DevServerStore,
  type ProbeAnswer,
} from './bench/processes';
import { receiverTimeByComponent } from './bench/profile';
import { describe as describeStarts, since, startLatency, type Histogram } from './bench/server-latency';
import { loadAverage, machine, mib, ms, percentile, perSecond, table } from './bench/report';
import { describeCli, findTemporalCli } from './temporal-cli';
import { CONVERSATION_WORKFLOW_TYPE, parseConversationId } from '../workflows/contracts/conversation';

const TASK_QUEUE = 'hookline-bench';

/** A fresh secret for every built-in sender, in its scheme's format. */
const senderSecrets = () => Object.fromEntries(Object.entries(BUILTIN_SCHEMES).map(([name, scheme]) => [name, generateSecret(scheme)]));
const STORM_COPIES = 5;
const count = (fallback: number, what: string) =>
  z.coerce
    .number({ message: `expected ${what}` })
    .int(`expected ${what} as a whole number`)
    .min(0, `expected ${what}, 0 or more`)
    .default(fallback);

const Options = z.object({
  db: z.enum(['memory', 'file'], { message: 'expected memory or file' }).default('memory'),
  concurrency: positiveInt(32, 'a number of requests in flight'),
  'max-duration': duration('15s'),
  warmup: duration('2s'),
  rate: count(200, 'events per second'),
  duration: duration('30s'),
  e2e: count(600, 'a number of events'),
  'e2e-concurrency': positiveInt(8, 'a number of requests in flight'),
  storm: count(200, 'a number of events'),
  soak: count(0, 'a number of events'),
  timeout: duration('10s'),
  profile: z.boolean().default(false),
  keep: z.boolean().default(false),
  outage: z.boolean().default(false),
  compare: z.boolean().default(false),
  'skip-compare': z.boolean().default(false),
  'e2e-rate': positiveInt(60, 'events per second'),
  'e2e-duration': duration('15s'),
  'compare-rounds': positiveInt(1, 'a number of rounds'),
  'event-log': z.boolean().default(false),
  rounds: positiveInt(4, 'a number of rounds'),
});
type Options = z.infer<typeof Options>;

const USAGE = `usage: npm run bench [-- options]   (docs/benchmarks.md explains every figure)
  --db memory|file          the dev server's store (default memory; file: SQLite, WAL, full sync, as npm start)
  --concurrency N           requests in flight in the max-throughput phase (default 32)
  --max-duration D          length of the max-throughput phase (default 15s), after --warmup D (default 2s)
  --rate N --duration D     the fixed-rate phase, open loop (default 200 events/s for 30s; --rate 0 skips it)
  --e2e N                   events in the end-to-end phase (default 600; 0 skips it), --e2e-concurrency N (8)
  --storm N                 events in the duplicate storm, each sent 5 times (default 200; 0 skips it)
  --soak N                  only a memory test: N events through the receiver (e.g. 100000)
  --event-log               only the event log's cost: intake accepted/s with and without it, same run, rounds alternating
                            (--rounds N, default 4; each side runs --max-duration per round)
  --flood                   only issue 26's flood: urgent events' 2xx→decision quiet, then right after 3,000 routine
                            order updates from 32 senders (--flood-events N to change the 3,000; --no-priorities
                            to start every event type at the same priority; --fifo for the server's own first-come
                            matching, without priorities or fairness, as before; --cluster-server for npm run cluster's
                            Temporal server 1.31.2 on PostgreSQL instead of the dev server; --shop-b-queue for shop B
                            on a task queue of its own, with its own receiver and worker)
  --partner-limit           only partners' rate limits: N inquiries at once (--inquiries N, 200) to a CRM that takes
                            --rate N requests/s (10), with two workers, without and then with PARTNER_RATE_CRM; 429s and requests/s
  --reconcile --easypost [--events N]  EasyPost's side instead: N tracker events (default 1000), 10% never delivered,
                            two dry-run passes: requests per event found without and with the event log lookup
  --reconcile [--events N]  only reconciliation: one pass over N never-delivered Stripe events (default 10000), then a second
  --versioning [N]          only Worker Versioning's cost: N order events (400) through a versioned and an unversioned
                            worker, same run, 2 rounds alternating; completed workflows/s and their ratio
  --outage                  only the spool: accepted/s and ack latency with Temporal up, then SIGKILLed (spooled), then the drain rate
  --timeout D               a request's client-side timeout (default 10s)
  --profile                 CPU-profile the receiver and say where its time goes
  --keep                    keep the run's directory (logs, profiles, the dev server's file)
  --compare                 only the comparison with the one-activity Temporal pipeline (issue 12; also run after the
                            other phases unless --skip-compare): end to end on a dev server on a SQLite file, then intake
  --skip-compare            the other phases without the comparison
  --e2e-rate N --e2e-duration D   its end-to-end open loop (default 60 events/s for 15s per system and round)
  --compare-rounds N        its rounds (default 1: pipeline then hookline; 2 adds hookline then pipeline)
                            its intake part uses --concurrency, --warmup and --max-duration
  --cluster                 instead: npm run cluster's production shape (Temporal on PostgreSQL), one and two of each
                            (scripts/bench-cluster.ts; --concurrency, --max-duration seconds, --e2e apply)`;

const BOOLEANS = new Set(['profile', 'keep', 'outage', 'compare', 'skip-compare', 'event-log']);

function parseOptions(): Options {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const names = Object.keys(Options.shape);
  const { values } = parseArgs({
    options: Object.fromEntries(names.map((n) => [n, { type: BOOLEANS.has(n) ? 'boolean' : 'string' }])) as Record<
      string,
      { type: 'string' | 'boolean' }
    >,
  });
  const result = Options.safeParse(values);
  if (result.success) return result.data;
  const lines = result.error.issues.map(
    (i) =>
      `  --${String(i.path[0])}: ${i.message}` +
      (values[String(i.path[0])] === undefined ? '' : ` (got ${JSON.stringify(values[String(i.path[0])])})`),
  );
  throw new Error(`bad options:\n${lines.join('\n')}`);
}

// --- the running system -------------------------------------------------------------------------

interface System {
  dir: string;
  profileDir?: string;
  temporal: {
    address: string;
    metricsUrl: string;
    child: ChildProcess;
    client: Client;
    cliPath: string;
    ports: { port: number; metricsPort: number };
  };
  receiver: { child: ChildProcess; url: string };
  worker?: { child: ChildProcess };
  bare?: { child: ChildProcess; url: string };
  sandbox?: { child: ChildProcess };
  load: LoadGenerator;
  secrets: Record<string, string>;
  runTag: string;
  /** VmRSS once every process was ready, and the highest VmRSS sampled since. */
  afterStartup: Record<string, number | undefined>;
  sampled: Record<string, number>;
}

const group = new ProcessGroup();
let workDir: string | undefined;

/** Starts a Node child and registers its readiness check; the caller awaits all checks together. */
function startChild(
  name: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  dir: string,
  ready: (logFile: string) => () => Promise<boolean> | boolean,
  waits: Promise<void>[],
  nodeArgs: string[] = [],
): ChildProcess {
  const logFile = join(dir, `${name}.log`);
  const child = group.add(name, spawnNode(entry, env, logFile, nodeArgs), name === 'worker' ? 15_000 : 5_000);
  waits.push(waitUntil(`the ${name}`, child, logFile, ready(logFile), 120_000));
  return child;
}

async function startSystem(options: Options): Promise<System> {
  const dir = (workDir = mkdtempSync(join(tmpdir(), 'hookline-bench-')));
  const load = new LoadGenerator(); // forked first, so its start-up overlaps the servers'
  const cli = await findTemporalCli();
  console.log(describeCli(cli));
  const temporal = await startDevServer({ cliPath: cli.path, store: options.db, dir, group });
  console.log(`Temporal dev server ${temporal.address}: ${describeStore(options.db, temporal.dbFile)}`);

  const secrets = senderSecrets();
  const env = baseEnv(temporal.address, TASK_QUEUE);
  const [receiverPort, barePort, sandboxPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const waits: Promise<void>[] = [];
  const profileDir = options.profile ? join(dir, 'profile') : undefined;
  if (profileDir) mkdirSync(profileDir);

  const receiverUrl = `http://127.0.0.1:${receiverPort}`;
  const receiver = {
    url: receiverUrl,
    child: startChild(
      'receiver',
      'src/receiver/main.ts',
      receiverEnv(env, receiverPort, secrets, dir),
      dir,
      () => () => httpOk(`${receiverUrl}/readyz`),
      waits,
      profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    ),
  };
  let bare: System['bare'];
  if (options.soak === 0 && !options.outage) {
    const url = `http://127.0.0.1:${barePort}`;
    bare = {
      url,
      child: startChild(
        'bare',
        'scripts/bench/bare.ts',
        { ...env, PORT: String(barePort), BARE_SECRET: secrets.oms },
        dir,
        () => () => httpOk(`${url}/healthz`),
        waits,
      ),
    };
  }
  let sandbox: System['sandbox'];
  let worker: System['worker'];
  if (options.soak === 0 && !options.outage && options.e2e > 0) {
    const url = `http://127.0.0.1:${sandboxPort}`;
    sandbox = {
      child: startChild(
        'sandbox',
        'src/sandbox/main.ts',
        { ...env, PORT: String(sandboxPort), HOST: '127.0.0.1' },
        dir,
        () => () => httpOk(`${url}/_sandbox/health`),
        waits,
      ),
    };
    const workerEnv = { ...env, ...sandboxWorkerEnv(url), DATABASE_URL: `sqlite:${join(dir, 'hookline.db')}` };
    worker = {
      child: startChild(
        'worker',
        'src/worker/main.ts',
        workerEnv,
        dir,
        (logFile) => () => readFileSync(logFile, 'utf8').includes('"worker started"'),
        waits,
      ),
    };
  }
  await Promise.all(waits);
  if (worker) await makeWorkerCurrent(temporal.address, join(dir, 'worker.log'));
  group.add('load generator', load.child, 2_000); // last in, first out: no new requests once stopping starts
  const client = new Client({ connection: temporal.connection, namespace: 'default' });
  const pids = { receiver: receiver.child.pid, worker: worker?.child.pid, bare: bare?.child.pid, temporal: temporal.child.pid };
  const afterStartup = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, residentOf(pid)?.rss]));
  const sampler = sampleResident(pids);
  process.once('exit', sampler.stop);
  return {
    dir,
    profileDir,
    temporal: {
      address: temporal.address,
      metricsUrl: temporal.metricsUrl,
      child: temporal.child,
      client,
      cliPath: cli.path,
      ports: temporal.ports,
    },
    receiver,
    worker,
    bare,
    sandbox,
    load,
    secrets,
    runTag: randomBytes(4).toString('hex').toUpperCase(),
    afterStartup,
    sampled: sampler.peaks,
  };
}

function describeStore(store: DevServerStore, dbFile: string | undefined): string {
  return store === 'memory'
    ? 'IN MEMORY (its SQLite database lives in RAM: nothing is written to disk, and it is gone when the server stops; ' +
        '--db file for a SQLite file as `npm start` uses)'
    : `SQLite FILE ${dbFile}, write-ahead log with full sync (as \`npm start\` runs it: every commit is written and fsynced; ` +
        '--db memory for an in-memory store)';
}

const describeStoreShort = (store: DevServerStore) =>
  store === 'memory' ? 'Temporal dev server IN MEMORY' : 'Temporal dev server on a SQLite FILE';

/** The bench's own first request to each target: it warms the code and proves the target answers 202. */
async function firstRequest(system: System, url: string, label: string): Promise<void> {
  const d = delivery('order', system.runTag, `first-${label}`, 0, system.secrets);
  const res = await fetch(`${url}/webhooks/${d.source}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...d.headers },
    body: d.body,
  });
  await res.body?.cancel();
  if (res.status !== 202) throw new Error(`the first event to ${label} was answered ${res.status}, not 202`);
}

// --- phases ---------------------------------------------------------------------------------------

interface Measured {
  name: string;
  result: LoadResult;
  /** Cores used by each process over the phase (1.00 = one core the whole time). */
  cpu: Record<string, number | undefined>;
  /** CLOCK_MONOTONIC microseconds, to find the phase in a CPU profile. */
  windowUs: [number, number];
  /** The Temporal frontend's own StartWorkflowExecution latencies during the phase. */
  temporalStarts?: Histogram;
  /** The warm-up's answers: not in the figures, but each 202 is a workflow all the same. */
  warmupStatuses?: Record<string, number>;
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
/** A phase's name as it appears in event ids (and so in workflow ids and the receiver's log). */
const slug = (name: string) => name.replace(/[^A-Za-z0-9]+/g, '');

/**
 * The receiver's own view of a phase: the `latencyMs` of its log line for each request, from the
 * request's arrival to the answer. The rest of what the sender saw is the load generator, the
 * kernel and the wait before the receiver read the request.
 */
function receiverLatencies(system: System, phase: string): number[] {
  const marker = `bench-${system.runTag}-${slug(phase)}-`;
  const latencies: number[] = [];
  for (const line of readFileSync(join(system.dir, 'receiver.log'), 'utf8').split('\n')) {
    if (!line.includes(marker) || !line.includes('"msg":"webhook"')) continue;
    const latency = (JSON.parse(line) as { latencyMs?: number }).latencyMs;
    if (typeof latency === 'number') latencies.push(latency);
  }
  return latencies.sort((a, b) => a - b);
}

/** A closed loop for `warmupMs` first, not measured: JIT, connection pools and caches settle before the clock starts. */
async function measure(
  system: System,
  name: string,
  url: string,
  stream: LoadPlan['stream'],
  shape: LoadShape,
  options: Options,
  server: ChildProcess,
  total?: number,
  warmupMs = 0,
): Promise<Measured> {
  const plan = (label: string, shape: LoadShape): LoadPlan => ({
    label,
    baseUrl: url,
    secrets: system.secrets,
    stream,
    runTag: system.runTag,
    timeoutMs: options.timeout,
    shape,
  });
  const warmup =
    warmupMs > 0 && shape.kind === 'closed'
      ? await system.load.run(plan(`${slug(name)}warmup`, { ...shape, events: undefined, durationMs: warmupMs }))
      : undefined;
  const meter = cpuMeter({ server: server.pid, temporal: system.temporal.child.pid, 'load gen': system.load.child.pid });
  const from = monotonicUs();
  const startsBefore = await startLatency(system.temporal.metricsUrl);
  const result = await system.load.run(plan(slug(name), shape), (p) => {
    // One line every 5 s: enough to see a long phase move without burying the results.
    if (Math.round(p.elapsedMs / 1000) % 5 === 0)
      console.log(
        `  ${name.padEnd(14)} ${String(p.done).padStart(7)}${total ? `/${total}` : ''} answered  ` +
          `${perSecond(p.done / (p.elapsedMs / 1000))}/s so far`,
      );
  });
  const cpu = meter();
  const windowUs: [number, number] = [from, monotonicUs()];
  const startsAfter = await startLatency(system.temporal.metricsUrl);
  return {
    name,
    result,
    cpu,
    windowUs,
    temporalStarts: startsBefore && startsAfter ? since(startsBefore, startsAfter) : undefined,
    warmupStatuses: warmup?.statuses,
  };
}

interface EndToEnd extends Measured {
  accepted: number;
  completed: number;
  waiting: number;
  failed: number;
  stuck: number;
  finishedAfterMs: number;
  workerResident?: { rss: number; peak: number };
  workerMemory?: ProbeAnswer;
}

/** The event workflows started since `since`, by outcome (the return saga's own workflow carries no HooklineSource). */
async function outcomes(client: Client, since: string): Promise<{ completed: number; waiting: number; failed: number; running: number }> {
  const scope = `HooklineSource IS NOT NULL AND StartTime >= '${since}'`;
  // An escalated event workflow runs until its conversation (a child workflow of its own) is
  // resolved: count the conversations waiting for a person that event workflows raised, not the
  // return saga's (the saga is outside the scope above).
  const saga = returnWorkflowId('');
  const waitingConversations = async () => {
    let n = 0;
    const query =
      `WorkflowType = '${CONVERSATION_WORKFLOW_TYPE}' AND StartTime >= '${since}'` +
      ` AND ExecutionStatus = 'Running' AND HandoffStatus = 'waiting'`;
    for await (const info of client.workflow.list({ query })) {
      if (!parseConversationId(info.workflowId)?.raisedBy.startsWith(saga)) n += 1;
    }
    return n;
  };
  const [byStatus, waitingCount] = await Promise.all([client.workflow.count(`${scope} GROUP BY ExecutionStatus`), waitingConversations()]);
  const waiting = { count: waitingCount };
  const of = (status: string) => byStatus.groups.find((g) => g.groupValues[0]?.[0] === status)?.count ?? 0;
  return {
    completed: of('Completed'),
    waiting: waiting.count,
    failed: of('Failed') + of('Terminated') + of('TimedOut') + of('Canceled'),
    running: of('Running'),
  };
}

/**
 * Sends the mixed stream and polls Temporal until every accepted event's workflow has finished
 * its work: completed, or handed to a person and waiting for one (escalations are meant to wait).
 */
async function endToEnd(system: System, options: Options): Promise<EndToEnd> {
  const worker = system.worker!;
  const since = new Date().toISOString(); // the bench's first event, sent earlier, is not counted
  const started = performance.now();
  const from = monotonicUs();
  const meter = cpuMeter({
    receiver: system.receiver.child.pid,
    worker: worker.child.pid,
    sandbox: system.sandbox?.child.pid,
    temporal: system.temporal.child.pid,
    'load gen': system.load.child.pid,
  });
  let sent: LoadResult | undefined;
  const plan: LoadPlan = {
    label: 'e2e',
    baseUrl: system.receiver.url,
    secrets: system.secrets,
    stream: 'mixed',
    runTag: system.runTag,
    timeoutMs: options.timeout,
    shape: { kind: 'closed', concurrency: options['e2e-concurrency'], events: options.e2e, copies: 1 },
  };
  const sending = system.load.run(plan).then((r) => (sent = r));
  let now = { completed: 0, waiting: 0, failed: 0, running: 0 };
  let finishedAt = performance.now();
  let printedAt = 0;
  for (;;) {
    await Promise.race([sending, new Promise((r) => setTimeout(r, 500))]);
    const before = now.completed + now.waiting + now.failed;
    now = await outcomes(system.temporal.client, since);
    const finished = now.completed + now.waiting + now.failed;
    if (finished !== before) finishedAt = performance.now();
    const elapsed = (performance.now() - started) / 1000;
    if (elapsed - printedAt >= 5) {
      printedAt = elapsed;
      console.log(
        `  e2e  ${elapsed.toFixed(0).padStart(4)} s  accepted ${sent ? (sent.statuses['202'] ?? 0) : '…'}/${options.e2e}  ` +
          `completed ${now.completed}  waiting for a person ${now.waiting}  failed ${now.failed}`,
      );
    }
    if (sent && finished >= (sent.statuses['202'] ?? 0)) break;
    if (performance.now() - finishedAt > 60_000) {
      console.log('  e2e  no workflow finished in the last 60 s: giving up on the rest');
      break;
    }
  }
  await sending;
  const cpu = meter();
  const workerResident = residentOf(worker.child.pid);
  const workerMemory = await askMemory(worker.child);
  const result = sent!;
  return {
    name: 'e2e',
    result,
    cpu,
    windowUs: [from, monotonicUs()],
    accepted: result.statuses['202'] ?? 0,
    ...now,
    stuck: now.running - now.waiting,
    finishedAfterMs: finishedAt - started,
    workerResident,
    workerMemory,
  };
}

// --- output ---------------------------------------------------------------------------------------

const statusText = (statuses: Record<string, number>) =>
  Object.entries(statuses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `${s}×${n}`)
    .join(' ');
const answeredOk = (r: LoadResult) => (r.statuses['202'] ?? 0) + (r.statuses['200'] ?? 0);
const errorsOf = (r: LoadResult) => r.requests - answeredOk(r);
const cores = (n: number | undefined) => (n === undefined ? 'n/a' : n.toFixed(2));
const rate = (m: Measured) => answeredOk(m.result) / (m.result.wallMs / 1000);
const sortedLatencies = (m: Measured) => [...m.result.latenciesMs].sort((a, b) => a - b);

const HEADER = [
  'phase',
  'requests',
  'wall s',
  'answered/s',
  'p50 ms',
  'p90 ms',
  'p99 ms',
  'max ms',
  'errors',
  'CPU: server',
  'temporal',
  'load gen',
  'status codes',
];

function row(m: Measured): string[] {
  const r = m.result;
  const sorted = sortedLatencies(m);
  return [
    m.name,
    String(r.requests),
    (r.wallMs / 1000).toFixed(1),
    perSecond(rate(m)),
    ms(percentile(sorted, 50)),
    ms(percentile(sorted, 90)),
    ms(percentile(sorted, 99)),
    ms(sorted.at(-1) ?? NaN),
    String(errorsOf(r)),
    cores(m.cpu.server),
    cores(m.cpu.temporal),
    cores(m.cpu['load gen']),
    statusText(r.statuses),
  ];
}

/** CPU milliseconds each process spent per request: the server's own work, Temporal's, the load generator's. */
function cpuPerRequest(m: Measured, names: Record<string, string>): string {
  const each = Object.entries(names).map(
    ([key, label]) => [label, m.cpu[key] === undefined ? undefined : (m.cpu[key]! * m.result.wallMs) / m.result.requests] as const,
  );
  const total = each.reduce((sum, [, v]) => sum + (v ?? 0), 0);
  return `${each.map(([label, v]) => `${label} ${v === undefined ? 'n/a' : v.toFixed(2)}`).join(' + ')} = ${total.toFixed(2)} ms`;
}

function target(what: string, met: boolean | undefined, measured: string): void {
  console.log(`  ${met === undefined ? 'n/a    ' : met ? 'met    ' : 'NOT met'}  ${what.padEnd(46)} ${measured}`);
}

function printReceiverView(system: System, m: Measured): void {
  const own = receiverLatencies(system, m.name);
  if (own.length === 0) return;
  console.log(
    `  ${m.name}: the receiver's own view (latencyMs in its log, arrival to answer) of ${own.length} requests: ` +
      `p50 ${ms(percentile(own, 50))}, p90 ${ms(percentile(own, 90))}, p99 ${ms(percentile(own, 99))}, max ${ms(own.at(-1) ?? NaN)} ms`,
  );
  console.log(`  ${m.name}: inside Temporal (its frontend's StartWorkflowExecution histogram): ${describeStarts(m.temporalStarts)}`);
}

function printEndToEnd(e2e: EndToEnd, options: Options): void {
  const seconds = e2e.finishedAfterMs / 1000;
  const finished = e2e.completed + e2e.waiting;
  console.log(
    `\nend-to-end: ${options.e2e} events (the ${MIXED_TYPES.length} types in turn), ` +
      `${options['e2e-concurrency']} in flight, worker running`,
  );
  console.log(
    `  accepted   ${e2e.accepted} (${statusText(e2e.result.statuses)}) in ${(e2e.result.wallMs / 1000).toFixed(1)} s: ` +
      `${perSecond(e2e.accepted / (e2e.result.wallMs / 1000))}/s, ` +
      `p50 ack ${ms(percentile(sortedLatencies(e2e), 50))} ms, p99 ${ms(percentile(sortedLatencies(e2e), 99))} ms`,
  );
  console.log(
    `  finished   ${finished} in ${seconds.toFixed(1)} s from the first send: ${perSecond(finished / seconds)} workflows/s — ` +
      `${e2e.completed} completed, ${e2e.waiting} handed to a person and waiting for one (by design)`,
  );
  console.log(`  failed ${e2e.failed}; stuck (running, not waiting for a person) ${e2e.stuck}`);
  console.log(
    `  CPU cores over the phase: ${Object.entries(e2e.cpu)
      .map(([n, c]) => `${n} ${cores(c)}`)
      .join(', ')}`,
  );
}

function printProfile(system: System, phases: Measured[]): void {
  if (!system.profileDir) return;
  console.log(
    '\nreceiver time by component ' +
      '(--profile: V8 CPU profile of the receiver; wall time on its main thread, so % is the share of its busy time)',
  );
  for (const m of phases) {
    const byComponent = receiverTimeByComponent(system.profileDir, ...m.windowUs);
    if (!byComponent) return console.log('  (no profile was written)');
    byComponent.delete('idle');
    const busy = [...byComponent.values()].reduce((a, b) => a + b, 0);
    console.log(
      `  ${m.name}: ${busy.toFixed(0)} ms busy for ${m.result.requests} requests (${(busy / m.result.requests).toFixed(2)} ms each)`,
    );
    for (const [component, t] of [...byComponent].sort((a, b) => b[1] - a[1]))
      console.log(`    ${((100 * t) / busy).toFixed(1).padStart(5)} %  ${(t / m.result.requests).toFixed(3)} ms/request  ${component}`);
  }
}

/** Asked of Temporal itself, not inferred from status codes. Visibility lags a little, so it is polled. */
async function correctness(system: System, phases: Measured[], storm: Measured | undefined, e2e: EndToEnd | undefined): Promise<boolean> {
  const all = phases.flatMap((m) => [m.result.statuses, m.warmupStatuses ?? {}]);
  const accepted = all.reduce((n, s) => n + (s['202'] ?? 0), 0) + 1; // +1: the bench's first event
  // A request that timed out or got a 5xx may still have started its workflow after the answer.
  const unsure = all.reduce((n, s) => n + Object.entries(s).reduce((k, [code, c]) => k + (code === '200' || code === '202' ? 0 : c), 0), 0);
  const inRange = (n: number) => n >= accepted && n <= accepted + unsure;
  let workflows = -1;
  for (const deadline = Date.now() + 15_000; !inRange(workflows) && Date.now() < deadline; await new Promise((r) => setTimeout(r, 300))) {
    workflows = (await system.temporal.client.workflow.count(`TaskQueue = '${TASK_QUEUE}' AND HooklineSource IS NOT NULL`)).count;
  }
  const once = storm?.result.perEvent?.filter(
    (s) => s.filter((x) => x === 202).length === 1 && s.filter((x) => x === 200).length === STORM_COPIES - 1,
  ).length;
  const pass = inRange(workflows) && (!storm || once === storm.result.perEvent!.length) && (!e2e || (e2e.failed === 0 && e2e.stuck === 0));
  console.log(
    `\nCHECK ${pass ? 'PASS' : 'FAIL'}: Temporal holds ${workflows} event workflows for ${accepted} requests answered 202` +
      `${unsure ? ` (and up to ${unsure} more whose request failed)` : ''}` +
      `${storm ? `; storm: ${once}/${storm.result.perEvent!.length} events got exactly one 202 and ${STORM_COPIES - 1}×200` : ''}` +
      `${e2e ? `; end-to-end: ${e2e.failed} failed, ${e2e.stuck} stuck` : ''}`,
  );
  return pass;
}

// --- the two modes ----------------------------------------------------------------------------------

async function standardRun(system: System, options: Options): Promise<boolean> {
  const { receiver } = system;
  const bare = system.bare!;
  const steps = [system.worker && 'e2e', 'max', options.storm > 0 && 'storm', options.rate > 0 && 'fixed'].filter(Boolean);
  const step = (name: string) => `[${steps.indexOf(name) + 1}/${steps.length}]`;

  let e2e: EndToEnd | undefined;
  if (system.worker) {
    console.log(
      `\n${step('e2e')} end-to-end: ${options.e2e} events, the ${MIXED_TYPES.length} types in turn from the four senders ` +
        `(all four signature schemes), ${options['e2e-concurrency']} in flight, through the receiver and the worker`,
    );
    e2e = await endToEnd(system, options);
    console.log('  stopping the worker: from here on the figures are the intake alone');
    await group.stop('worker');
  }

  const closed: LoadShape = { kind: 'closed', concurrency: options.concurrency, durationMs: options['max-duration'], copies: 1 };
  console.log(
    `\n${step('max')} max throughput: closed loop, ${options.concurrency} in flight, ` +
      `${options.warmup / 1000} s warm-up then ${options['max-duration'] / 1000} s; signed order.status_updated from oms (hmac-sha256-hex)`,
  );
  const maxBare = await measure(system, 'bare', bare.url, 'order', closed, options, bare.child, undefined, options.warmup);
  const heapBefore = await askMemory(receiver.child);
  const maxHookline = await measure(system, 'hookline', receiver.url, 'order', closed, options, receiver.child, undefined, options.warmup);

  let storm: Measured | undefined;
  if (options.storm > 0) {
    console.log(`\n${step('storm')} duplicate storm: ${options.storm} events, each sent ${STORM_COPIES} times at once`);
    const shape: LoadShape = { kind: 'closed', concurrency: options.concurrency, events: options.storm, copies: STORM_COPIES };
    storm = await measure(system, 'storm', receiver.url, 'order', shape, options, receiver.child, options.storm * STORM_COPIES);
  }
  let fixedBare: Measured | undefined;
  let fixedHookline: Measured | undefined;
  if (options.rate > 0) {
    const total = Math.round((options.rate * options.duration) / 1000);
    console.log(
      `\n${step('fixed')} fixed rate: ${options.rate} events/s for ${options.duration / 1000} s, ` +
        "open loop (latency from each request's intended send time), bare then hookline",
    );
    const shape: LoadShape = { kind: 'open', rate: options.rate, durationMs: options.duration };
    fixedBare = await measure(system, `bare @${options.rate}/s`, bare.url, 'order', shape, options, bare.child, total);
    fixedHookline = await measure(system, `hookline @${options.rate}/s`, receiver.url, 'order', shape, options, receiver.child, total);
  }
  const heapAfter = await askMemory(receiver.child);
  const resident = {
    receiver: residentOf(receiver.child.pid),
    bare: residentOf(bare.child.pid),
    temporal: residentOf(system.temporal.child.pid),
  };

  console.log(`\n===== results: ${describeStoreShort(options.db)}; load average ${loadAverage()} =====`);
  console.log(`\nmax throughput: closed loop, ${options.concurrency} in flight. CPU in cores (2.00 = both cores of a 2-core machine)`);
  table(HEADER, [row(maxBare), row(maxHookline)]);
  const ratio = rate(maxHookline) / rate(maxBare);
  console.log(`hookline / bare = ${ratio.toFixed(3)}`);
  printReceiverView(system, maxHookline);
  if (storm) {
    console.log(`\nduplicate storm: ${options.storm} events × ${STORM_COPIES} copies at once`);
    table(HEADER, [row(storm)]);
  }
  if (fixedBare && fixedHookline) {
    console.log(`\nfixed rate: open loop, ${options.rate}/s for ${options.duration / 1000} s; latency from the intended send time`);
    table(HEADER, [row(fixedBare), row(fixedHookline)]);
    for (const m of [fixedBare, fixedHookline])
      console.log(
        `  ${m.name}: the generator itself sent late by p99 ${ms(m.result.sendLagMs!.p99)} ms, max ${ms(m.result.sendLagMs!.max)} ms` +
          (m.result.errors.length ? `; errors: ${m.result.errors.join('; ')}` : ''),
      );
    printReceiverView(system, fixedHookline);
  }
  if (e2e) printEndToEnd(e2e, options);

  console.log('\nwhere the time goes: CPU milliseconds per request, per process (from /proc)');
  for (const m of [maxBare, fixedBare].filter((x): x is Measured => x !== undefined))
    console.log(`  ${m.name.padEnd(18)} ${cpuPerRequest(m, { server: 'bare endpoint', 'load gen': 'load generator' })}`);
  for (const m of [maxHookline, fixedHookline].filter((x): x is Measured => x !== undefined))
    console.log(
      `  ${m.name.padEnd(18)} ${cpuPerRequest(m, { server: 'receiver', temporal: 'Temporal server', 'load gen': 'load generator' })}`,
    );

  console.log(
    '\nmemory, from /proc: RSS once every process had started; the highest RSS sampled every 250 ms after that; ' +
      'VmHWM (the peak since the process started, start-up included); RSS at the end of its last phase. Heap after a forced full GC.',
  );
  const rows: [string, string, { rss: number; peak: number } | undefined, ProbeAnswer | undefined, ProbeAnswer | undefined][] = [
    ['receiver', 'receiver', resident.receiver, heapBefore, heapAfter],
    ['worker', 'worker', e2e?.workerResident, undefined, e2e?.workerMemory],
    ['bare endpoint', 'bare', resident.bare, undefined, undefined],
    ['Temporal server', 'temporal', resident.temporal, undefined, undefined],
  ];
  table(
    ['process', 'RSS after start-up', 'highest sampled', 'VmHWM', 'RSS at end', 'heap after GC: before load', 'after'],
    rows.map(([label, key, r, before, after]) => [
      label,
      mib(system.afterStartup[key]),
      mib(system.sampled[key]),
      mib(r?.peak),
      mib(r?.rss),
      mib(before?.heapUsedAfterGc),
      mib(after?.heapUsedAfterGc),
    ]),
  );

  const pass = await correctness(
    system,
    [maxHookline, storm, fixedHookline, e2e].filter((x): x is Measured => x !== undefined),
    storm,
    e2e,
  );
  console.log("\ntargets (the issue's; figures of this machine at this moment, not verdicts on the code)");
  target(
    'accepted/s ≥ 0.5 × bare',
    ratio >= 0.5,
    `${ratio.toFixed(3)} × (${perSecond(rate(maxHookline))}/s against ${perSecond(rate(maxBare))}/s)`,
  );
  if (fixedHookline) {
    const p99 = percentile(sortedLatencies(fixedHookline), 99);
    target(`p99 ack < 50 ms at 200 events/s`, options.rate === 200 ? p99 < 50 : undefined, `${ms(p99)} ms at ${options.rate}/s`);
    target(`zero errors at ${options.rate} events/s`, errorsOf(fixedHookline.result) === 0, `${errorsOf(fixedHookline.result)} errors`);
  }
  target('memory flat over 100,000 events', undefined, 'see `npm run bench -- --soak 100000`');

  if (system.profileDir) {
    await group.stop('receiver'); // the profile is written when the receiver exits
    printProfile(
      system,
      [maxHookline, fixedHookline].filter((x): x is Measured => x !== undefined),
    );
  }
  return pass;
}

async function soakRun(system: System, options: Options): Promise<boolean> {
  const { receiver } = system;
  console.log(
    `\nsoak: ${options.soak.toLocaleString('en-US')} events through the receiver, closed loop, ${options.concurrency} in flight; ` +
      'receiver memory sampled every 5 s (each sample forces a full GC in the receiver)',
  );
  const samples: { done: number; rss: number; heap: number }[] = [];
  let done = 0;
  const started = performance.now();
  const sample = async () => {
    const memory = await askMemory(receiver.child);
    const rss = residentOf(receiver.child.pid)?.rss;
    if (!memory || rss === undefined) return;
    samples.push({ done, rss, heap: memory.heapUsedAfterGc });
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `  soak ${seconds.toFixed(0).padStart(5)} s  ${done.toLocaleString('en-US').padStart(8)} answered  ` +
        `${perSecond(done / seconds).padStart(6)}/s  receiver rss ${mib(rss).padStart(10)}  ` +
        `heap after GC ${mib(memory.heapUsedAfterGc).padStart(9)}  ` +
        `(Temporal server rss ${mib(residentOf(system.temporal.child.pid)?.rss)})`,
    );
  };
  const timer = setInterval(() => void sample(), 5_000);
  const meter = cpuMeter({ server: receiver.child.pid, temporal: system.temporal.child.pid, 'load gen': system.load.child.pid });
  const from = monotonicUs();
  const plan: LoadPlan = {
    label: 'soak',
    baseUrl: receiver.url,
    secrets: system.secrets,
    stream: 'order',
    runTag: system.runTag,
    timeoutMs: options.timeout,
    shape: { kind: 'closed', concurrency: options.concurrency, events: options.soak, copies: 1 },
  };
  const result = await system.load.run(plan, (p) => (done = p.done));
  clearInterval(timer);
  done = result.requests;
  await sample();
  const soak: Measured = { name: 'soak', result, cpu: meter(), windowUs: [from, monotonicUs()] };

  console.log(`\n===== soak results: ${describeStoreShort(options.db)}; load average ${loadAverage()} =====`);
  table(HEADER, [row(soak)]);
  // The first tenth is warm-up (JIT, pools, caches filling); the trend is read over the rest.
  const steady = samples.filter((s) => s.done >= options.soak / 10);
  const quarter = Math.max(1, Math.floor(steady.length / 4));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const trend = (pick: (s: (typeof samples)[number]) => number) => {
    const first = mean(steady.slice(0, quarter).map(pick));
    const last = mean(steady.slice(-quarter).map(pick));
    return { first, last, change: (last - first) / first };
  };
  const rss = trend((s) => s.rss);
  const heap = trend((s) => s.heap);
  console.log(
    `\nreceiver memory: mean of the first vs the last quarter of the ${steady.length} samples taken after the first 10 % of events`,
  );
  console.log(`  rss            ${mib(rss.first)} → ${mib(rss.last)} (${(rss.change * 100).toFixed(1)} %)`);
  console.log(`  heap after GC  ${mib(heap.first)} → ${mib(heap.last)} (${(heap.change * 100).toFixed(1)} %)`);
  console.log(
    `  highest RSS sampled after start-up ${mib(system.sampled.receiver)}; ` +
      `VmHWM (start-up included) ${mib(residentOf(receiver.child.pid)?.peak)}`,
  );
  console.log('\ntargets');
  target(
    `memory flat over ${options.soak.toLocaleString('en-US')} events (heap after GC within ±10 %)`,
    steady.length >= 4 ? Math.abs(heap.change) < 0.1 : undefined,
    `heap ${(heap.change * 100).toFixed(1)} %, rss ${(rss.change * 100).toFixed(1)} %`,
  );
  target('zero errors', errorsOf(result) === 0, `${errorsOf(result)} errors`);
  if (system.profileDir) {
    await group.stop('receiver');
    printProfile(system, [soak]);
  }
  return errorsOf(result) === 0;
}

/** The receiver's own gauge of its spool (GET /metrics). */
async function spoolDepth(system: System): Promise<number> {
  const text = await (await fetch(`${system.receiver.url}/metrics`)).text();
  return Number(/^hookline_spool_depth (\S+)$/m.exec(text)?.[1] ?? NaN);
}

/**
 * The spool against its peer, the normal path, in one run: the same closed loop with Temporal up
 * (each 202 waits for Temporal's acknowledgement) and with the dev server SIGKILLed (each 202 waits
 * for the spool's fsync'd commit); then the dev server is started again and the receiver's drainer
 * starts what was spooled, and the drain rate is compared with the normal path's starts per second.
 */
async function outageRun(system: System, options: Options): Promise<boolean> {
  const { receiver } = system;
  const closed: LoadShape = { kind: 'closed', concurrency: options.concurrency, durationMs: options['max-duration'], copies: 1 };
  console.log(
    `\n[1/3] normal path: closed loop, ${options.concurrency} in flight, ` +
      `${options.warmup / 1000} s warm-up then ${options['max-duration'] / 1000} s, Temporal up`,
  );
  const normal = await measure(system, 'normal', receiver.url, 'order', closed, options, receiver.child, undefined, options.warmup);

  console.log('\n[2/3] outage: the dev server SIGKILLed; the same load, every event spooled');
  const dead = new Promise<void>((done) => system.temporal.child.once('exit', () => done()));
  system.temporal.child.kill('SIGKILL');
  await dead;
  // The first event after the kill waits out TEMPORAL_START_TIMEOUT (5 s) before it is spooled;
  // from then on the receiver knows of the outage and spools at once.
  const tripStarted = performance.now();
  const d = delivery('order', system.runTag, 'trip', 0, system.secrets);
  const trip = await fetch(`${receiver.url}/webhooks/${d.source}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...d.headers },
    body: d.body,
  });
  const tripBody = (await trip.json()) as { queued?: boolean };
  const tripMs = performance.now() - tripStarted;
  if (trip.status !== 202 || tripBody.queued !== true)
    throw new Error(`the first event after the kill was answered ${trip.status} ${JSON.stringify(tripBody)}, not 202 queued`);
  const spooled = await measure(system, 'spooled', receiver.url, 'order', closed, options, receiver.child, undefined, options.warmup);
  const depth = await spoolDepth(system);

  console.log(
    `\n[3/3] drain: the dev server started again ` +
      `(${options.db === 'file' ? 'on its SQLite file' : 'in memory: empty, the spooled events are all it will hold'}); ` +
      `${depth} events spooled`,
  );
  const restartAt = performance.now();
  const temporal = await startDevServer({
    cliPath: system.temporal.cliPath,
    store: options.db,
    dir: system.dir,
    group,
    ports: system.temporal.ports,
  });
  const readyAt = performance.now();
  const meter = cpuMeter({ receiver: receiver.child.pid, temporal: temporal.child.pid });
  let drainedAt = readyAt;
  // When the first row went: before that the receiver's client was still reconnecting.
  let firstAt: number | undefined;
  for (let left = depth; left > 0;) {
    await new Promise((r) => setTimeout(r, 100));
    left = await spoolDepth(system);
    drainedAt = performance.now();
    if (firstAt === undefined && left < depth) firstAt = drainedAt;
    if (drainedAt - readyAt > 600_000) throw new Error(`the spool still holds ${left} events 10 minutes after Temporal came back`);
  }
  const drainCpu = meter();
  const drainSeconds = (drainedAt - readyAt) / 1000;
  const client = new Client({ connection: temporal.connection, namespace: 'default' });

  console.log(`\n===== outage results: ${describeStoreShort(options.db)}; load average ${loadAverage()} =====`);
  table(HEADER, [row(normal), row(spooled)]);
  const ratio = rate(spooled) / rate(normal);
  console.log(
    `spooled / normal = ${ratio.toFixed(3)} accepted/s; ` +
      `p50 ${ms(percentile(sortedLatencies(spooled), 50))} vs ${ms(percentile(sortedLatencies(normal), 50))} ms, ` +
      `p99 ${ms(percentile(sortedLatencies(spooled), 99))} vs ${ms(percentile(sortedLatencies(normal), 99))} ms`,
  );
  printReceiverView(system, normal);
  console.log(`  the first event after the kill: 202 queued after ${ms(tripMs)} ms (TEMPORAL_START_TIMEOUT, then the spool)`);
  const drainRate = depth / drainSeconds;
  console.log(
    `\ndrain: ${depth} events in ${drainSeconds.toFixed(1)} s once the dev server was ready ` +
      `(it took ${((readyAt - restartAt) / 1000).toFixed(1)} s to start): ${perSecond(drainRate)} starts/s = ` +
      `${(drainRate / rate(normal)).toFixed(3)} × the normal path's ${perSecond(rate(normal))}/s`,
  );
  const steady = firstAt === undefined ? NaN : depth / ((drainedAt - firstAt) / 1000);
  console.log(
    `  the first spooled event left ${firstAt === undefined ? '?' : ((firstAt - readyAt) / 1000).toFixed(1)} s ` +
      "after the server was ready (the client reconnecting, the drainer's backoff); " +
      `from then on ${perSecond(steady)} starts/s = ${(steady / rate(normal)).toFixed(3)} × normal`,
  );
  console.log(
    `  CPU cores over the drain: ${Object.entries(drainCpu)
      .map(([n, c]) => `${n} ${cores(c)}`)
      .join(', ')}`,
  );
  console.log('  where the time goes: CPU milliseconds per request, per process (from /proc)');
  console.log(
    `  ${'normal'.padEnd(10)} ${cpuPerRequest(normal, { server: 'receiver', temporal: 'Temporal server', 'load gen': 'load generator' })}`,
  );
  console.log(`  ${'spooled'.padEnd(10)} ${cpuPerRequest(spooled, { server: 'receiver', 'load gen': 'load generator' })}`);

  // Every event answered 202 during the outage is in Temporal now, once; on a file store, so is every earlier one.
  const queuedAccepted = (spooled.result.statuses['202'] ?? 0) + (spooled.warmupStatuses?.['202'] ?? 0) + 1;
  const earlier = (normal.result.statuses['202'] ?? 0) + (normal.warmupStatuses?.['202'] ?? 0) + 1; // +1: the bench's first event
  const expected = options.db === 'file' ? queuedAccepted + earlier : queuedAccepted;
  let workflows = -1;
  for (
    const deadline = Date.now() + 15_000;
    workflows !== expected && Date.now() < deadline;
    await new Promise((r) => setTimeout(r, 300))
  ) {
    workflows = (await client.workflow.count(`TaskQueue = '${TASK_QUEUE}' AND HooklineSource IS NOT NULL`)).count;
  }
  const refused = errorsOf(spooled.result);
  const pass = workflows === expected && refused === 0 && depth === queuedAccepted;
  console.log(
    `\nCHECK ${pass ? 'PASS' : 'FAIL'}: ${depth} spooled for ${queuedAccepted} answered 202 during the outage (${refused} not 2xx); ` +
      `Temporal holds ${workflows} event workflows, expected ${expected}`,
  );
  return pass;
}

async function main(): Promise<number> {
  // Imported only here: bench-cluster.ts reads its own flags (seconds, not durations) when loaded, and would
  // refuse the standard run's `--max-duration 15s` or `--e2e 0`.
  if (process.argv.includes('--cluster')) return (await import('./bench-cluster.js')).clusterBench();
  // Does a customer wait behind a flood (issue 26): scripts/bench/flood.ts. Its flags are its own, read before the others'.
  if (process.argv.includes('--flood')) {
    const at = process.argv.indexOf('--flood-events');
    return (await import('./bench/flood.js')).floodBench({
      events: at > 0 ? Number(process.argv[at + 1]) : 3_000,
      priorities: !process.argv.includes('--no-priorities'),
      fifo: process.argv.includes('--fifo'),
      clusterServer: process.argv.includes('--cluster-server'),
      shopBQueue: process.argv.includes('--shop-b-queue'),
    });
  }
  // Partners' rate limits (issue 26, part 3): a burst's calls to a rate-limited partner with and without the
  // limit (scripts/bench/partner-limit.ts).
  if (process.argv.includes('--partner-limit')) {
    const arg = (name: string, fallback: number) => {
      const at = process.argv.indexOf(name);
      const value = at > 0 ? Number(process.argv[at + 1]) : fallback;
      if (!(value > 0)) throw new Error(`${name} expects a number above 0`);
      return value;
    };
    return (await import('./bench/partner-limit.js')).partnerLimitBench({ inquiries: arg('--inquiries', 200), rate: arg('--rate', 10) });
  }
  // A reconciliation pass over a backlog of undelivered Stripe events (scripts/bench/reconcile.ts).
  if (process.argv.includes('--reconcile')) {
    const at = process.argv.indexOf('--events');
    const events = at > 0 ? Number(process.argv[at + 1]) : 10_000;
    if (at > 0 && (!Number.isInteger(events) || events <= 0)) throw new Error('--events expects a whole number above 0');
    // EasyPost's payload requests with and without the event log lookup (scripts/bench/reconcile-easypost.ts).
    if (process.argv.includes('--easypost')) {
      return (await import('./bench/reconcile-easypost.js')).reconcileEasyPostBench({ events: at > 0 ? events : 1000 });
    }
    return (await import('./bench/reconcile.js')).reconcileBench({ events });
  }
  // What Worker Versioning costs the worker: versioned and unversioned, same run (scripts/bench/versioning.ts).
  const versioning = process.argv.indexOf('--versioning');
  if (versioning !== -1) {
    const events = Number(process.argv[versioning + 1] ?? 400);
    if (!Number.isInteger(events) || events < 1) throw new Error('--versioning [events]: expected a whole number of events per round');
    console.log(`hookline bench --versioning — ${machine()}; load average ${loadAverage()}`);
    return (await import('./bench/versioning.js')).versioningBench({ rounds: 2, events });
  }
  const options = parseOptions();
  // The event log's cost: intake with and without it, in the same run (scripts/bench/event-log.ts). More
  // rounds than the other phases: on a shared machine one round's noise is larger than the log's cost.
  if (options['event-log']) {
    return (await import('./bench/event-log.js')).eventLogBench({ rounds: options.rounds, seconds: options['max-duration'] / 1000 });
  }
  keepWorkDir = options.keep;
  console.log(`hookline bench — ${machine()}; load average ${loadAverage()}`);
  if (options.compare) return (await compareOnly(options)) ? 0 : 1;
  const system = await startSystem(options);
  const pids = {
    receiver: system.receiver.child,
    worker: system.worker?.child,
    bare: system.bare?.child,
    sandbox: system.sandbox?.child,
    temporal: system.temporal.child,
    'load generator': system.load.child,
  };
  console.log(
    `processes: ${Object.entries(pids)
      .filter(([, c]) => c)
      .map(([n, c]) => `${n} ${c!.pid}`)
      .join(', ')}; logs in ${system.dir}`,
  );
  console.log(
    `receiver: WEBHOOK_RATE_LIMIT_{${Object.keys(system.secrets).map(envSuffix).join(',')}}=1000000/s ` +
      '(the per-sender limit lifted: all load comes from 127.0.0.1), LOG_LEVEL=info (a JSON line per request, through a pipe)',
  );
  await firstRequest(system, system.receiver.url, 'hookline');
  if (system.bare) await firstRequest(system, system.bare.url, 'bare');
  console.log(`ready ${(performance.now() / 1000).toFixed(1)} s after the bench started (each target has answered a first event with 202)`);
  const pass =
    options.soak > 0
      ? await soakRun(system, options)
      : options.outage
        ? await outageRun(system, options)
        : await standardRun(system, options);
  let compared = true;
  if (options.soak === 0 && !options.outage && !options['skip-compare']) {
    // The comparison starts processes of its own: the first phases' stop first, so as not to share the CPUs with them.
    for (const name of ['receiver', 'worker', 'sandbox', 'bare', 'temporal']) await group.stop(name);
    compared = await compareRun(
      { group, cliPath: system.temporal.cliPath, load: system.load, secrets: system.secrets, runTag: system.runTag, dir: system.dir },
      compareOptions(options),
    );
  }
  console.log(`\nload average ${loadAverage()}; whole run ${(performance.now() / 1000).toFixed(0)} s`);
  return pass && compared ? 0 : 1;
}

function compareOptions(options: Options): CompareOptions {
  return {
    rate: options['e2e-rate'],
    durationMs: options['e2e-duration'],
    rounds: options['compare-rounds'],
    concurrency: options.concurrency,
    warmupMs: options.warmup,
    intakeMs: options['max-duration'],
    timeoutMs: options.timeout,
  };
}

/** `--compare`: only issue 12's comparison, with nothing else running. */
async function compareOnly(options: Options): Promise<boolean> {
  const dir = (workDir = mkdtempSync(join(tmpdir(), 'hookline-bench-')));
  const load = new LoadGenerator();
  group.add('load generator', load.child, 2_000);
  const cli = await findTemporalCli();
  console.log(`${describeCli(cli)}; logs in ${dir}`);
  const secrets = senderSecrets();
  const runTag = randomBytes(4).toString('hex').toUpperCase();
  return compareRun({ group, cliPath: cli.path, load, secrets, runTag, dir }, compareOptions(options));
}

let interrupted = false;
let keepWorkDir = false;
process.on('exit', () => {
  group.killNow();
  if (workDir && !keepWorkDir) rmSync(workDir, { recursive: true, force: true });
  if (workDir && keepWorkDir) console.log(`kept ${workDir} (--keep): the processes' logs, and the databases`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.log(`\n${signal}: stopping every process the bench started…`);
    void group.stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}
main().then(
  async (code) => {
    await group.stopAll();
    process.exit(code);
  },
  async (err: unknown) => {
    if (interrupted) return; // Ctrl-C made the phase fail; the signal handler does the exiting
    // The cause too: a worker's fatal error says what happened only there.
    const cause = err instanceof Error && err.cause ? ` (${inspect(err.cause, { depth: 4 })})` : '';
    process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}${cause}\n`);
    await group.stopAll();
    process.exit(1);
  },
);
