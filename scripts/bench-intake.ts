/**
 * `npm run bench:intake [-- --requests N --concurrency C]`: the whole intake path over real HTTP
 * against a real Temporal dev server, and what it costs. Prints figures; the only verdict is the
 * CHECK line, about correctness (one workflow per event), never about speed.
 *
 * - Starts `temporal server start-dev` (the provisioned CLI, loopback only, a throwaway SQLite
 *   file, hookline's search attributes) and always stops it: on success, on error and on Ctrl-C.
 * - Builds the receiver in THIS process exactly as the tests do (test/support/harness.ts), on
 *   127.0.0.1:0, so process.memoryUsage() here is the receiver's memory. No worker: the intake's
 *   job ends when Temporal has durably accepted the start, which is what a 202 means.
 * - Drives it from a CHILD process (this same file, HOOKLINE_BENCH_ROLE=load), so the load
 *   generator's CPU and heap are not counted as the receiver's. On 2 cores all three (Temporal,
 *   receiver, client) still compete for the same CPUs; the CPU figures show how they split.
 * - Two phases: N unique signed order.status_updated events at concurrency C (all must be 202),
 *   then a duplicate storm: each of 200 fresh events sent 5 times at once (exactly one 202 per
 *   event, the other four 200 duplicates: Temporal's workflow-ID policies are the dedup).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Client, Connection } from '@temporalio/client';
import { SAMPLES } from '../src/events/samples';
import { silentLogger } from '../src/log';
import { createApp } from '../src/receiver/app';
import { createIntake } from '../src/receiver/intake';
import { BUILTIN_SOURCES, envSuffix, loadSources } from '../src/receiver/sources';
import { generateSecret, signWebhook, type SchemeName } from '../src/receiver/verify';
import { isReachable } from '../src/temporal/client';
import { searchAttributeFlags, HooklineSource } from '../workflows/search-attributes';
import { describeCli, findTemporalCli } from './temporal-cli';

const SOURCE = 'oms'; // the built-in sender of order.status_updated
const STORM_EVENTS = 200;
const STORM_COPIES = 5;
const PROGRESS_EVERY = 500;
const TASK_QUEUE = 'hookline-bench'; // no worker polls it: accepted workflows simply wait there

// --- shared by both processes -------------------------------------------------------------------

interface PhaseRequest {
  phase: 'unique' | 'storm';
  url: string;
  scheme: SchemeName;
  secret: string;
  runId: string;
  events: number;
  copies: number;
  concurrency: number;
}

interface PhaseResult {
  phase: PhaseRequest['phase'];
  wallMs: number;
  latenciesMs: number[];
  /** Per event, the status of each copy; 0 when the request failed without an HTTP answer. */
  statuses: number[][];
  clientCpuMs: number;
  errors: string[];
}

/** A genuine order.status_updated from the seed sample; the event_id makes it a distinct event. */
function orderEvent(eventId: string, n: number): Buffer {
  return Buffer.from(JSON.stringify({ ...SAMPLES['order.status_updated'], event_id: eventId, order_id: `ORD-B${n}`, timestamp: new Date().toISOString() }));
}

/** POST over a keep-alive agent, as a real sender's HTTP client would; resolves the status code. */
function post(agent: http.Agent, url: string, body: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...headers } }, (res) => {
      res.resume(); // the body is not needed, but must be drained to free the socket
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// --- the load generator (child process) ---------------------------------------------------------

async function runPhase(p: PhaseRequest): Promise<PhaseResult> {
  // Bodies are built and signed before the clock starts: the figures are the receiver's, not the signer's.
  const events = Array.from({ length: p.events }, (_, i) => {
    const body = orderEvent(`bench-${p.runId}-${p.phase}-${i}`, i);
    return { body, headers: signWebhook(p.scheme, body, p.secret) };
  });
  // A storm's copies must be in flight together, so groups of `copies` run at once and fewer
  // groups run side by side: about `concurrency` requests in flight either way.
  const lanes = Math.max(1, Math.floor(p.concurrency / p.copies));
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(p.concurrency, p.copies) });
  const latenciesMs: number[] = [];
  const statuses: number[][] = events.map(() => []);
  const errors: string[] = [];
  const total = p.events * p.copies;
  const cpuStart = process.cpuUsage();
  const started = performance.now();

  const send = async (i: number) => {
    const t = performance.now();
    const status = await post(agent, p.url, events[i]!.body, events[i]!.headers).catch((err: Error) => {
      if (errors.length < 5) errors.push(err.message);
      return 0;
    });
    latenciesMs.push(performance.now() - t);
    statuses[i]!.push(status);
    if (latenciesMs.length % PROGRESS_EVERY === 0 || latenciesMs.length === total) {
      const seconds = (performance.now() - started) / 1000;
      console.log(`  ${p.phase.padEnd(6)} ${String(latenciesMs.length).padStart(6)}/${total}  ${Math.round(latenciesMs.length / seconds)} req/s so far`);
    }
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, p.events) }, async () => {
      while (next < p.events) {
        const i = next++;
        await Promise.all(Array.from({ length: p.copies }, () => send(i)));
      }
    }),
  );
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  agent.destroy();
  return { phase: p.phase, wallMs, latenciesMs, statuses, clientCpuMs: (cpu.user + cpu.system) / 1000, errors };
}

function loadGenerator(): void {
  process.on('message', (p: PhaseRequest) => {
    runPhase(p).then(
      (result) => process.send!(result),
      (err: unknown) => process.send!({ error: String(err) }),
    );
  });
  // The parent gone (even SIGKILLed) closes the channel: never outlive it.
  process.on('disconnect', () => process.exit(0));
}

// --- the receiver and Temporal (parent process) -------------------------------------------------

/** What this run started, so every way out (success, error, Ctrl-C) can stop it. */
const started: { loader?: ChildProcess; temporal?: ChildProcess; server?: http.Server; dir?: string } = {};
const alive = (child: ChildProcess | undefined): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;
let stopping: Promise<void> | undefined;

/**
 * Load first (no new requests), then the receiver, then Temporal, then its files. Idempotent, so
 * Ctrl-C during an error's clean-up cannot run it twice. The Temporal connection is left for
 * process.exit: closing it under in-flight retries makes grpc-js throw from a timer.
 */
function stopAll(): Promise<void> {
  stopping ??= (async () => {
    await stopChild(started.loader, 2_000);
    started.server?.closeAllConnections();
    started.server?.close();
    await stopChild(started.temporal, 10_000);
    if (started.dir) rmSync(started.dir, { recursive: true, force: true });
  })();
  return stopping;
}

async function stopChild(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!child || !alive(child)) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Ready means hookline could start a workflow: the namespace answers and our search attributes exist. */
async function waitForTemporal(address: string, server: ChildProcess, stderrTail: string[], timeoutMs: number): Promise<Connection> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive(server)) throw new Error(`the Temporal dev server exited (${server.exitCode ?? server.signalCode}):\n${stderrTail.join('\n')}`);
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 1000 });
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      if (customAttributes && HooklineSource.name in customAttributes) return connection;
    } catch {
      // not up yet
    }
    await connection?.close().catch(() => undefined);
    if (Date.now() > deadline) throw new Error(`the Temporal dev server did not answer within ${timeoutMs / 1000}s:\n${stderrTail.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Linux only: the dev server's CPU time so far, from /proc (ticks are 1/100 s there). */
function cpuMsOf(pid: number | undefined): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

// A heap figure after a full GC shows what the receiver retains, not garbage it has yet to collect.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function memory(): Record<string, number> {
  const m = process.memoryUsage();
  gc();
  return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, 'heapUsed after GC': process.memoryUsage().heapUsed, external: m.external };
}

const pct = (sorted: number[], p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { requests: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '16' } } });
  const requests = Number(values.requests);
  const concurrency = Number(values.concurrency);
  if (![requests, concurrency].every((n) => Number.isInteger(n) && n > 0)) throw new Error('--requests and --concurrency must be positive whole numbers');
  const scriptRunningAt = performance.now();
  const cpu = cpus();
  console.log(`hookline bench:intake — Node ${process.version}, ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores; load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}`);

  // Started first so its own start-up overlaps Temporal's.
  const loader = fork(__filename, [], { env: { ...process.env, HOOKLINE_BENCH_ROLE: 'load' } });
  started.loader = loader;

  const cli = await findTemporalCli();
  console.log(describeCli(cli));
  const dir = (started.dir = mkdtempSync(join(tmpdir(), 'hookline-bench-')));
  const port = await freeLoopbackPort();
  const address = `127.0.0.1:${port}`;
  const temporal = spawn(
    cli.path,
    ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--db-filename', join(dir, 'temporal.db'), '--log-level', 'error', ...searchAttributeFlags()],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  started.temporal = temporal;
  const stderrTail: string[] = [];
  // Kept only to explain a server that fails to start (at --log-level error it is otherwise quiet).
  for (const stream of [temporal.stdout, temporal.stderr]) {
    stream.on('data', (chunk: Buffer) => {
      stderrTail.push(...chunk.toString().trim().split('\n'));
      stderrTail.splice(0, Math.max(0, stderrTail.length - 20));
    });
  }
  const connection = await waitForTemporal(address, temporal, stderrTail, 60_000);
  const temporalReadyAt = performance.now();
  console.log(`Temporal dev server on ${address} (pid ${temporal.pid}, SQLite ${join(dir, 'temporal.db')})`);

  // The receiver as test/support/harness.ts startReceiver wires it, with fresh secrets. The
  // rate limit is lifted for this source: all load comes from 127.0.0.1, and at the default
  // 100/s per sender address we would measure the limiter.
  const sourceEnv: Record<string, string> = { [`WEBHOOK_RATE_LIMIT_${envSuffix(SOURCE)}`]: '1000000/s' };
  const secrets: Record<string, string> = {};
  for (const [name, { scheme }] of Object.entries(BUILTIN_SOURCES)) {
    secrets[name] = generateSecret(scheme);
    sourceEnv[`WEBHOOK_SECRET_${envSuffix(name)}`] = secrets[name];
  }
  const client = new Client({ connection, namespace: 'default' });
  const intake = createIntake({ client, taskQueue: TASK_QUEUE, startTimeoutMs: 5_000, quarantineKeepForMs: 60_000 });
  const app = createApp({
    sources: loadSources(sourceEnv),
    intake,
    // Discards lines but still builds them, so the per-request logging cost is in the figures.
    logger: silentLogger,
    maxBodyBytes: 256 * 1024,
    retryAfterSeconds: 5,
    trustProxy: false,
    isTemporalReachable: () => isReachable(client),
  });
  const server = (started.server = http.createServer(app));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/${SOURCE}`;
  const listeningAt = performance.now();

  const scheme = BUILTIN_SOURCES[SOURCE]!.scheme;
  const runId = randomUUID().slice(0, 8);
  const first = orderEvent(`bench-${runId}-first`, 0);
  const firstAgent = new http.Agent({ keepAlive: false });
  const firstStatus = await post(firstAgent, url, first, signWebhook(scheme, first, secrets[SOURCE]!));
  if (firstStatus !== 202) throw new Error(`the first event was answered ${firstStatus}, not 202`);
  const firstAcceptAt = performance.now();

  console.log('');
  console.log('start-up, ms since this process started (includes tsx compiling the TypeScript)');
  console.log(`  script running        ${scriptRunningAt.toFixed(0).padStart(6)}`);
  console.log(`  Temporal ready        ${temporalReadyAt.toFixed(0).padStart(6)}`);
  console.log(`  receiver listening    ${listeningAt.toFixed(0).padStart(6)}`);
  console.log(`  first 202             ${firstAcceptAt.toFixed(0).padStart(6)}   time-to-first-accept`);
  console.log('');
  console.log(`load generator: child process pid ${loader.pid}; receiver: this process pid ${process.pid}`);
  console.log(`phase unique: ${requests} events at concurrency ${concurrency}; phase storm: ${STORM_EVENTS} events × ${STORM_COPIES} copies sent at once, ${Math.max(1, Math.floor(concurrency / STORM_COPIES))} event(s) side by side`);

  const before = memory();
  const ask = (p: PhaseRequest) =>
    new Promise<PhaseResult>((resolve, reject) => {
      const onExit = () => reject(new Error('the load generator exited'));
      loader.once('exit', onExit);
      loader.once('message', (m: PhaseResult | { error: string }) => {
        loader.off('exit', onExit);
        if ('error' in m) reject(new Error(`load generator: ${m.error}`));
        else resolve(m);
      });
      loader.send(p);
    });
  const base = { url, scheme, secret: secrets[SOURCE]!, runId, concurrency };
  const rows: { result: PhaseResult; receiverCpuMs: number; temporalCpuMs?: number }[] = [];
  for (const phase of [{ phase: 'unique', events: requests, copies: 1 }, { phase: 'storm', events: STORM_EVENTS, copies: STORM_COPIES }] as const) {
    const cpu0 = process.cpuUsage();
    const temporalCpu0 = cpuMsOf(temporal.pid);
    const result = await ask({ ...base, ...phase });
    const cpuUsed = process.cpuUsage(cpu0);
    const temporalCpu1 = cpuMsOf(temporal.pid);
    rows.push({ result, receiverCpuMs: (cpuUsed.user + cpuUsed.system) / 1000, temporalCpuMs: temporalCpu0 === undefined || temporalCpu1 === undefined ? undefined : temporalCpu1 - temporalCpu0 });
  }
  const after = memory();

  console.log('');
  const header = ['phase', 'requests', 'wall s', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'CPU cores: receiver', 'temporal', 'client', 'status codes'];
  const table = rows.map(({ result: r, receiverCpuMs, temporalCpuMs }) => {
    const sorted = [...r.latenciesMs].sort((a, b) => a - b);
    const counts = new Map<number, number>();
    for (const s of r.statuses.flat()) counts.set(s, (counts.get(s) ?? 0) + 1);
    const cores = (cpuMs: number | undefined) => (cpuMs === undefined ? 'n/a' : (cpuMs / r.wallMs).toFixed(2));
    return [r.phase, String(sorted.length), (r.wallMs / 1000).toFixed(2), (sorted.length / (r.wallMs / 1000)).toFixed(0), ms(pct(sorted, 50)), ms(pct(sorted, 90)), ms(pct(sorted, 99)), ms(sorted.at(-1) ?? NaN), cores(receiverCpuMs), cores(temporalCpuMs), cores(r.clientCpuMs), [...counts].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s || 'error'}×${n}`).join(' ')];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  for (const row of [header, widths.map((w) => '-'.repeat(w)), ...table]) console.log(row.map((c, i) => (i === 0 || i === row.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  for (const { result } of rows) for (const e of result.errors) console.log(`  ${result.phase} request error: ${e}`);

  console.log('');
  const [unique, storm] = rows.map((r) => r.result) as [PhaseResult, PhaseResult];
  const uniqueOk = unique.statuses.filter(([s]) => s === 202).length;
  const stormOk = storm.statuses.filter((s) => s.filter((x) => x === 202).length === 1 && s.filter((x) => x === 200).length === STORM_COPIES - 1).length;
  // Asked of Temporal itself, not inferred from status codes: one workflow per event, no more.
  // Visibility is eventually consistent, so it may take a moment to catch up.
  const expected = 1 + requests + STORM_EVENTS;
  let workflows = -1;
  for (const deadline = Date.now() + 10_000; workflows !== expected && Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    workflows = (await client.workflow.count(`TaskQueue = '${TASK_QUEUE}'`)).count;
  }
  const pass = uniqueOk === requests && stormOk === STORM_EVENTS && workflows === expected;
  console.log(
    `CHECK ${pass ? 'PASS' : 'FAIL'}: unique ${uniqueOk}/${requests} answered 202; storm ${stormOk}/${STORM_EVENTS} events got exactly one 202 and ${STORM_COPIES - 1}×200; ` +
      `Temporal holds ${workflows} workflows (expected ${expected}: the first event, ${requests} unique, ${STORM_EVENTS} storm)`,
  );

  console.log('');
  console.log('receiver memory (this process; includes the Temporal client and tsx)');
  console.log(`  ${''.padEnd(18)}  ${'before'.padStart(10)}  ${'after'.padStart(10)}`);
  for (const key of Object.keys(before)) console.log(`  ${key.padEnd(18)}  ${mib(before[key]!).padStart(10)}  ${mib(after[key]!).padStart(10)}`);
  console.log(`  peak rss            ${mib(process.resourceUsage().maxRSS * 1024).padStart(10)}`);
  console.log(`load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}; whole run ${((performance.now() - scriptRunningAt) / 1000).toFixed(1)} s`);
  return pass ? 0 : 1;
}

if (process.env.HOOKLINE_BENCH_ROLE === 'load') {
  loadGenerator();
} else {
  // Last resort when the process dies without stopAll (an uncaught error): no orphaned dev server or files.
  process.on('exit', () => {
    for (const child of [started.loader, started.temporal]) if (alive(child)) child!.kill('SIGKILL');
    if (started.dir) rmSync(started.dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.log(`\n${signal}: stopping the Temporal dev server and the load generator…`);
      void stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  main().then(
    async (code) => {
      await stopAll();
      process.exit(code);
    },
    async (err: unknown) => {
      // After Ctrl-C the load generator's death is expected; the signal handler does the exiting.
      if (stopping) return;
      process.stderr.write(`bench:intake failed: ${err instanceof Error ? err.message : String(err)}\n`);
      await stopAll();
      process.exit(1);
    },
  );
}
