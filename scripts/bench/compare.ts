/**
 * Issue 12's comparison: hookline against the simplest Temporal pipeline that does the same job
 * (./pipeline/: a receiver that verifies and starts a workflow with the same two search
 * attributes, a worker whose workflow runs one activity writing the event to SQLite), side by side
 * in the same run, on the same machine at the same moment.
 *
 *  1. end to end: the four-type stream (order shipped, payment succeeded, customer updated, order
 *     delivered) at an open-loop `rate` for `durationMs`, through each system's receiver and
 *     worker, against ONE dev server on a SQLite file as `npm start` runs it. Each system has its
 *     own task queue. One server rather than one each: hookline's receiver and worker connect at
 *     start, so a fresh server per measurement would mean restarting them (minutes on 2 shared
 *     cores) and measuring start-up noise; on one server both meet the same Temporal process and
 *     file. Whoever runs second finds a fuller file, so the order alternates by round
 *     (round 1 pipeline first, round 2 hookline first, ...), and before the first round each
 *     system gets a short warm-up whose workflows must all finish.
 *     Completed workflows per second = the workflows that completed / (the latest CloseTime Temporal
 *     recorded among them − the moment the first event was sent), the same query for both systems.
 *  2. intake alone: no worker, a fresh dev server in memory, a closed loop against each receiver:
 *     accepted (202) per second.
 *
 * Prints both rates and hookline / pipeline with the issue's targets (≥ 1.0 end to end, ≥ 0.9
 * intake) as met / NOT met; those never change the exit code. The CHECK line does: every accepted
 * event's workflow completed and none failed (end to end), one workflow per accepted event (intake).
 * Requests not answered 202 (timeouts under load) are errors in the tables, not CHECK failures.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { sandboxWorkerEnv } from '../../src/sandbox';
import { FOUR_TYPES } from './events';
import { baseEnv, receiverEnv } from './hookline-env';
import type { LoadGenerator, LoadResult, LoadShape } from './load';
import { freePort } from '../ports';
import { cpuMeter, httpOk, makeWorkerCurrent, spawnNode, startDevServer, waitUntil, type ProcessGroup } from './processes';
import { loadAverage, ms, percentile, perSecond, table } from './report';

export interface CompareOptions {
  /** End to end: the open loop's events per second and length. */
  rate: number;
  durationMs: number;
  rounds: number;
  /** Intake: the closed loop's requests in flight, warm-up and measured length. */
  concurrency: number;
  warmupMs: number;
  intakeMs: number;
  timeoutMs: number;
}

export interface CompareContext {
  group: ProcessGroup;
  cliPath: string;
  load: LoadGenerator;
  secrets: Record<string, string>;
  runTag: string;
  dir: string;
}

type Which = 'pipeline' | 'hookline';
const TASK_QUEUE: Record<Which, string> = { pipeline: 'pipeline-compare', hookline: 'hookline-compare' };

interface Target {
  which: Which;
  url: string;
  receiver: ChildProcess;
  worker?: ChildProcess;
}

/** Starts one system's receiver (and worker) against `address`; resolves once each is ready. */
async function startTarget(
  ctx: CompareContext,
  which: Which,
  address: string,
  stage: string,
  withWorker: boolean,
  sandboxUrl?: string,
): Promise<Target> {
  const dir = join(ctx.dir, `${stage}-${which}`);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const base = baseEnv(address, TASK_QUEUE[which]);
  const waits: Promise<void>[] = [];
  const spawnOne = (role: string, entry: string, env: NodeJS.ProcessEnv, ready: (log: string) => () => Promise<boolean> | boolean) => {
    const log = join(dir, `${role}.log`);
    const child = ctx.group.add(`${stage} ${which} ${role}`, spawnNode(entry, env, log), role === 'worker' ? 15_000 : 5_000);
    waits.push(waitUntil(`the ${stage} ${which} ${role}`, child, log, ready(log), 180_000));
    return child;
  };
  const healthy = (path: string) => () => () => httpOk(`${url}${path}`);
  const logSays = (line: string) => (log: string) => () => readFileSync(log, 'utf8').includes(line);
  let receiver: ChildProcess;
  let worker: ChildProcess | undefined;
  if (which === 'hookline') {
    receiver = spawnOne('receiver', 'src/receiver/main.ts', receiverEnv(base, port, ctx.secrets, dir), healthy('/readyz'));
    if (withWorker) {
      const env = { ...base, ...sandboxWorkerEnv(sandboxUrl!), DATABASE_URL: `sqlite:${join(dir, 'hookline.db')}` };
      worker = spawnOne('worker', 'src/worker/main.ts', env, logSays('"worker started"'));
    }
  } else {
    const env = { ...base, PORT: String(port), PIPELINE_TASK_QUEUE: TASK_QUEUE.pipeline, PIPELINE_SECRETS: JSON.stringify(ctx.secrets) };
    receiver = spawnOne('receiver', 'scripts/bench/pipeline/receiver.ts', env, healthy('/healthz'));
    if (withWorker) {
      const workerEnv = { ...env, PIPELINE_DB: join(dir, 'events.db') };
      worker = spawnOne('worker', 'scripts/bench/pipeline/worker.ts', workerEnv, logSays('"pipeline worker started"'));
    }
  }
  await Promise.all(waits);
  if (which === 'hookline' && worker) await makeWorkerCurrent(address, join(dir, 'worker.log'));
  return { which, url, receiver, worker };
}

async function stopTarget(ctx: CompareContext, stage: string, t: Target): Promise<void> {
  await ctx.group.stop(`${stage} ${t.which} worker`);
  await ctx.group.stop(`${stage} ${t.which} receiver`);
}

/** The event workflows of `which` started since `since`, by status, from Temporal's visibility. */
async function statuses(client: Client, which: Which, since: string): Promise<{ completed: number; closed: number; running: number }> {
  const scope = `TaskQueue = '${TASK_QUEUE[which]}' AND HooklineSource IS NOT NULL AND StartTime >= '${since}'`;
  const { groups } = await client.workflow.count(`${scope} GROUP BY ExecutionStatus`);
  const of = (status: string) => groups.find((g) => g.groupValues[0]?.[0] === status)?.count ?? 0;
  const running = of('Running');
  const all = groups.reduce((n, g) => n + g.count, 0);
  return { completed: of('Completed'), closed: all - running, running };
}

interface E2E {
  which: Which;
  round: number;
  sent: LoadResult;
  accepted: number;
  completed: number;
  failed: number;
  /** First send to the latest CloseTime among the completed workflows. */
  seconds: number;
  cpu: Record<string, number | undefined>;
  /** The machine's 1-minute load average at the end: other work moves every figure. */
  load: number;
}

/** The comparison's stream (order shipped, payment, customer updated, delivered) at `t`, in `shape`. */
const fourStream = (ctx: CompareContext, t: Target, label: string, timeoutMs: number, shape: LoadShape) =>
  ctx.load.run({ label, baseUrl: t.url, secrets: ctx.secrets, stream: 'four', runTag: ctx.runTag, timeoutMs, shape });

const accepted202 = (r: LoadResult) => r.statuses['202'] ?? 0;
const sorted = (r: LoadResult) => [...r.latenciesMs].sort((a, b) => a - b);

/** Sends the open loop and waits until every accepted event's workflow has closed. */
async function e2eOnce(
  ctx: CompareContext,
  client: Client,
  t: Target,
  label: string,
  rate: number,
  durationMs: number,
  options: CompareOptions,
) {
  // StartTime is the server's clock, on this machine; a second of margin for its truncation is harmless
  // because the earlier phase on this queue had finished before this one started.
  const since = new Date(Date.now() - 1000).toISOString();
  const meter = cpuMeter({ receiver: t.receiver.pid, worker: t.worker?.pid });
  const firstSendAt = Date.now();
  const sent = await fourStream(ctx, t, label, options.timeoutMs, { kind: 'open', rate, durationMs });
  const accepted = accepted202(sent);
  let now = await statuses(client, t.which, since);
  let progressAt = Date.now();
  let printedAt = Date.now();
  // A request that timed out may still have started its workflow: those are waited for and counted too.
  while (now.closed < accepted || now.running > 0) {
    await new Promise((r) => setTimeout(r, 250)); // visibility is polled: it has no push
    const before = now.closed;
    now = await statuses(client, t.which, since);
    if (now.closed !== before) progressAt = Date.now();
    if (Date.now() - printedAt >= 5_000) {
      printedAt = Date.now();
      console.log(`  ${label.padEnd(18)} completed ${now.completed}/${accepted}`);
    }
    if (Date.now() - progressAt > 60_000) {
      console.log(`  ${label}: no workflow closed in the last 60 s: giving up on the rest (${now.running} running)`);
      break;
    }
  }
  const cpu = meter();
  // The latest completion as Temporal recorded it, not as this poll loop happened to see it.
  let lastClose = firstSendAt;
  const query =
    `TaskQueue = '${TASK_QUEUE[t.which]}' AND HooklineSource IS NOT NULL` +
    ` AND StartTime >= '${since}' AND ExecutionStatus = 'Completed'`;
  for await (const wf of client.workflow.list({ query })) lastClose = Math.max(lastClose, wf.closeTime?.getTime() ?? 0);
  const seconds = (lastClose - firstSendAt) / 1000;
  return { sent, accepted, completed: now.completed, failed: now.closed - now.completed, seconds, cpu, load: loadavg()[0]! };
}

async function endToEndStage(ctx: CompareContext, options: CompareOptions): Promise<{ runs: E2E[]; pass: boolean }> {
  const stage = 'e2e';
  const temporal = await startDevServer({
    cliPath: ctx.cliPath,
    store: 'file',
    dir: ctx.dir,
    group: ctx.group,
    name: 'compare-temporal-file',
  });
  console.log(`  Temporal dev server ${temporal.address} on a SQLite FILE ${temporal.dbFile} (WAL, full sync, as \`npm start\` runs it)`);
  const client = new Client({ connection: temporal.connection, namespace: 'default' });
  const sandboxPort = await freePort();
  const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
  const sandboxLog = join(ctx.dir, 'compare-sandbox.log');
  const sandbox = ctx.group.add(
    'compare sandbox',
    spawnNode(
      'src/sandbox/main.ts',
      { ...baseEnv(temporal.address, TASK_QUEUE.hookline), PORT: String(sandboxPort), HOST: '127.0.0.1' },
      sandboxLog,
    ),
  );
  const [, pipeline, hookline] = await Promise.all([
    waitUntil('the compare sandbox', sandbox, sandboxLog, () => httpOk(`${sandboxUrl}/_sandbox/health`), 120_000),
    startTarget(ctx, 'pipeline', temporal.address, stage, true),
    startTarget(ctx, 'hookline', temporal.address, stage, true, sandboxUrl),
  ]);
  // Warm-up, not measured: a second of the stream each, every workflow finished (JIT, bundles, pools, caches).
  for (const t of [pipeline, hookline]) {
    const w = await e2eOnce(ctx, client, t, `${t.which}warmup`, options.rate, 1000, options);
    console.log(`  warm-up ${t.which}: ${w.completed}/${w.accepted} completed`);
  }
  const runs: E2E[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const t of round % 2 === 1 ? [pipeline, hookline] : [hookline, pipeline]) {
      const label = `${t.which}e2e${round}`;
      console.log(`  round ${round}: ${t.which}, ${options.rate} events/s for ${options.durationMs / 1000} s, open loop`);
      runs.push({ which: t.which, round, ...(await e2eOnce(ctx, client, t, label, options.rate, options.durationMs, options)) });
    }
  }
  // Requests not answered 202 (timeouts under load) are the speed's business, reported as errors, not a CHECK failure.
  const pass = runs.every((r) => r.failed === 0 && r.completed >= r.accepted);
  await stopTarget(ctx, stage, hookline);
  await stopTarget(ctx, stage, pipeline);
  await ctx.group.stop('compare sandbox');
  await ctx.group.stop('compare-temporal-file');
  return { runs, pass };
}

interface Intake {
  which: Which;
  round: number;
  result: LoadResult;
  cpu: Record<string, number | undefined>;
  load: number;
}

async function intakeStage(ctx: CompareContext, options: CompareOptions): Promise<{ runs: Intake[]; pass: boolean; check: string }> {
  const stage = 'intake';
  const temporal = await startDevServer({
    cliPath: ctx.cliPath,
    store: 'memory',
    dir: ctx.dir,
    group: ctx.group,
    name: 'compare-temporal-memory',
  });
  console.log(`  Temporal dev server ${temporal.address} IN MEMORY; no worker polls: the figure is the intake alone`);
  const client = new Client({ connection: temporal.connection, namespace: 'default' });
  const [pipeline, hookline] = await Promise.all([
    startTarget(ctx, 'pipeline', temporal.address, stage, false),
    startTarget(ctx, 'hookline', temporal.address, stage, false),
  ]);
  const closed = (durationMs: number): LoadShape => ({ kind: 'closed', concurrency: options.concurrency, durationMs, copies: 1 });
  const runs: Intake[] = [];
  // Every answer each system gave, warm-ups included: each 202 is a workflow all the same.
  const answers: Record<Which, LoadResult[]> = { pipeline: [], hookline: [] };
  for (let round = 1; round <= options.rounds; round++) {
    for (const t of round % 2 === 1 ? [pipeline, hookline] : [hookline, pipeline]) {
      const run = (label: string, durationMs: number) => fourStream(ctx, t, label, options.timeoutMs, closed(durationMs));
      console.log(
        `  round ${round}: ${t.which}, closed loop, ${options.concurrency} in flight, ` +
          `${options.warmupMs / 1000} s warm-up then ${options.intakeMs / 1000} s`,
      );
      if (options.warmupMs > 0) answers[t.which].push(await run(`${t.which}inwarm${round}`, options.warmupMs));
      const meter = cpuMeter({ receiver: t.receiver.pid, temporal: temporal.child.pid, 'load gen': ctx.load.child.pid });
      const result = await run(`${t.which}intake${round}`, options.intakeMs);
      answers[t.which].push(result);
      runs.push({ which: t.which, round, result, cpu: meter(), load: loadavg()[0]! });
    }
  }
  // Asked of Temporal: one workflow per accepted event (a request that failed may still have started one).
  let pass = true;
  const said: string[] = [];
  for (const which of ['pipeline', 'hookline'] as const) {
    const accepted = answers[which].reduce((n, r) => n + accepted202(r), 0);
    const unsure = answers[which].reduce((n, r) => n + r.requests - accepted202(r) - (r.statuses['200'] ?? 0), 0);
    const inRange = (n: number) => n >= accepted && n <= accepted + unsure;
    let workflows = -1;
    for (const deadline = Date.now() + 15_000; !inRange(workflows) && Date.now() < deadline; await new Promise((r) => setTimeout(r, 300)))
      workflows = (await client.workflow.count(`TaskQueue = '${TASK_QUEUE[which]}' AND HooklineSource IS NOT NULL`)).count;
    pass &&= inRange(workflows);
    said.push(`${which} ${workflows} workflows for ${accepted} answered 202${unsure ? ` (+ up to ${unsure} unsure)` : ''}`);
  }
  await stopTarget(ctx, stage, hookline);
  await stopTarget(ctx, stage, pipeline);
  await ctx.group.stop('compare-temporal-memory');
  return { runs, pass, check: `intake: ${said.join(', ')}` };
}

// --- output ---------------------------------------------------------------------------------------

const answers = (r: LoadResult) =>
  Object.entries(r.statuses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, n]) => `${status}×${n}`)
    .join(' ');
const cores = (n: number | undefined) => (n === undefined ? 'n/a' : n.toFixed(2));
const e2eRate = (r: E2E) => r.completed / r.seconds;
const intakeRate = (r: Intake) => accepted202(r.result) / (r.result.wallMs / 1000);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function verdict(what: string, ratio: number, goal: number): void {
  console.log(
    `  ${what}: ratio = hookline / pipeline = ${ratio.toFixed(3)}; target ≥ ${goal.toFixed(1)}: ${ratio >= goal ? 'met' : 'NOT met'}`,
  );
}

/** Runs both stages; true when the CHECK passed. Speed never decides it. */
export async function compareRun(ctx: CompareContext, options: CompareOptions): Promise<boolean> {
  const total = Math.round((options.rate * options.durationMs) / 1000);
  console.log(
    `\ncompare [1/2] end to end: ${FOUR_TYPES.join(', ')} in turn, ${options.rate} events/s open loop for ` +
      `${options.durationMs / 1000} s (${total} events) per system and round, ${options.rounds} round(s); ` +
      'one-activity pipeline and hookline',
  );
  const e2e = await endToEndStage(ctx, options);
  console.log(
    `\ncompare [2/2] intake alone: closed loop, ${options.concurrency} in flight, ${options.rounds} round(s); ` +
      'the simplest receiver and hookline',
  );
  const intake = await intakeStage(ctx, options);

  console.log(`\n===== comparison with the one-activity pipeline (issue 12); load average ${loadAverage()} =====`);
  console.log(
    '\nend to end (dev server on a SQLite file): completed workflows/s = completed / (latest CloseTime − first send); ' +
      'ack latency from the intended send time',
  );
  table(
    [
      'system',
      'round',
      'sent',
      'accepted',
      'completed',
      'failed',
      's',
      'completed/s',
      'p50 ack ms',
      'p99 ack ms',
      'CPU: receiver',
      'worker',
      'load avg',
      'answers',
    ],
    e2e.runs.map((r) => [
      r.which,
      String(r.round),
      String(r.sent.requests),
      String(r.accepted),
      String(r.completed),
      String(r.failed),
      r.seconds.toFixed(1),
      perSecond(e2eRate(r)),
      ms(percentile(sorted(r.sent), 50)),
      ms(percentile(sorted(r.sent), 99)),
      cores(r.cpu.receiver),
      cores(r.cpu.worker),
      r.load.toFixed(2),
      answers(r.sent),
    ]),
  );
  const e2eOf = (which: Which) => mean(e2e.runs.filter((r) => r.which === which).map(e2eRate));
  console.log(
    `  pipeline ${perSecond(e2eOf('pipeline'))} workflows/s, hookline ${perSecond(e2eOf('hookline'))} workflows/s (mean over rounds)`,
  );
  verdict('end to end', e2eOf('hookline') / e2eOf('pipeline'), 1.0);

  console.log('\nintake alone (dev server in memory, no worker): accepted/s = 202 answers / wall time');
  table(
    ['system', 'round', 'requests', 'accepted/s', 'p50 ms', 'p99 ms', 'errors', 'CPU: receiver', 'temporal', 'load gen', 'load avg'],
    intake.runs.map((r) => [
      r.which,
      String(r.round),
      String(r.result.requests),
      perSecond(intakeRate(r)),
      ms(percentile(sorted(r.result), 50)),
      ms(percentile(sorted(r.result), 99)),
      String(r.result.requests - accepted202(r.result)),
      cores(r.cpu.receiver),
      cores(r.cpu.temporal),
      cores(r.cpu['load gen']),
      r.load.toFixed(2),
    ]),
  );
  const intakeOf = (which: Which) => mean(intake.runs.filter((r) => r.which === which).map(intakeRate));
  console.log(
    `  pipeline ${perSecond(intakeOf('pipeline'))} accepted/s, hookline ${perSecond(intakeOf('hookline'))} accepted/s (mean over rounds)`,
  );
  verdict('intake', intakeOf('hookline') / intakeOf('pipeline'), 0.9);

  const failed = e2e.runs.reduce((n, r) => n + r.failed, 0);
  const missing = e2e.runs.reduce((n, r) => n + Math.max(0, r.accepted - r.completed), 0);
  const refused = e2e.runs.reduce((n, r) => n + r.sent.requests - r.accepted, 0);
  const pass = e2e.pass && intake.pass;
  console.log(
    `\nCHECK ${pass ? 'PASS' : 'FAIL'}: end to end: every accepted event's workflow completed ` +
      `(${missing} not, ${failed} failed; ${refused} requests not answered 202, see the table); ${intake.check}`,
  );
  return pass;
}
