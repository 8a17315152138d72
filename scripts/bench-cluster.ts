/**
 * `npm run bench -- --cluster`: hookline's production shape under load, on this machine, in one run.
 * For each configuration (one receiver and one worker; two of each; one of each with 16 history
 * shards; the first again, to show how much the figures drift within the run), a fresh
 * `npm run cluster` on its own PostgreSQL databases (hookline_bench_*, dropped after), then:
 *
 *  1. accepted/s: a closed loop of --concurrency requests spread over the receivers for
 *     --max-duration, workers running (they compete for the CPUs, as in production on one host);
 *     ack p50/p99 as the senders saw it.
 *  2. end to end: --e2e order events, then the time until the last of their workflows completed.
 *  3. where the time goes: CPU per accepted event of each process (the Temporal server, PostgreSQL,
 *     receivers, workers, load generator) and PostgreSQL commits per accepted event.
 *
 * The peer, measured in the same run, is the bare HMAC endpoint (./bench/bare.ts): every figure is
 * also given as a ratio to it, and two-of-each as a ratio to one-of-each.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { envSuffix } from '../src/config/env';
import { BUILTIN_SCHEMES } from '../src/receiver/sources';
import { generateSecret } from '../src/signatures';
import { LoadGenerator, type LoadResult } from './bench/load';
import { httpOk, spawnNode } from './bench/processes';
import { freeBlock, freePort } from './ports';
import { loadAverage, machine, ms, percentile, perSecond, table } from './bench/report';
import { allPorts, serverPorts, withDatabase } from './cluster-temporal';

const ROOT = resolve(__dirname, '..');
const PG = withDatabase(process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres', 'postgres');
const PREFIX = 'hookline_bench';
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: expected a positive number`);
  return value;
};
const CONCURRENCY = arg('concurrency', 32);
const DURATION_MS = arg('max-duration', 15) * 1000;
const E2E = arg('e2e', 300);

interface Config {
  name: string;
  workers: number;
  receivers: number;
  shards: number;
  env?: Record<string, string>;
}

const CONFIGS: Config[] = [
  { name: '1 receiver + 1 worker', workers: 1, receivers: 1, shards: 4 },
  { name: '2 receivers + 2 workers', workers: 2, receivers: 2, shards: 4 },
  // A knob tried on one host (docs/benchmarks.md#the-cluster says what it and smaller server pools did).
  { name: '1 + 1, 16 history shards', workers: 1, receivers: 1, shards: 16 },
  // The first configuration again: how far the figures drift within one run on a shared machine.
  // A difference smaller than the gap between the first and this row is noise.
  { name: '1 + 1 again (drift control)', workers: 1, receivers: 1, shards: 4 },
];

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function pg<T>(database: string, fn: (c: PgClient) => Promise<T>): Promise<T> {
  const c = new PgClient({ connectionString: withDatabase(PG, database) });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const dropDatabases = () =>
  pg('postgres', async (c) => {
    for (const s of ['temporal', 'visibility', 'kb']) await c.query(`DROP DATABASE IF EXISTS ${PREFIX}_${s} WITH (FORCE)`);
  });

/** Transactions committed so far (read-only ones included) per bench database: temporal, visibility, kb. */
const commits = () =>
  pg('postgres', async (c) => {
    const { rows } = await c.query<{ datname: string; n: string }>(
      "SELECT datname, xact_commit::bigint AS n FROM pg_stat_database WHERE datname LIKE 'hookline_bench_%'",
    );
    const of = (suffix: string) => Number(rows.find((r) => r.datname === `${PREFIX}_${suffix}`)?.n ?? 0);
    return { temporal: of('temporal'), visibility: of('visibility'), kb: of('kb') };
  });

/** CPU ms used so far by every process whose command line matches. */
function cpuMs(match: (cmd: string, env: string) => boolean): number {
  const tick = 100; // USER_HZ
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'latin1').replace(/\0/g, ' ');
      const env = readFileSync(`/proc/${entry}/environ`, 'latin1');
      if (!match(cmd, env)) continue;
      const fields = readFileSync(`/proc/${entry}/stat`, 'latin1').split(') ')[1]!.split(' ');
      total += ((Number(fields[11]) + Number(fields[12])) * 1000) / tick;
    } catch {
      // gone
    }
  }
  return total;
}

type Cpu = Record<'temporal' | 'postgres' | 'receivers' | 'workers' | 'load', number>;

function processCpu(dataDir: string, loadPids: (number | undefined)[]): Cpu {
  const role = (prefix: string) => (cmd: string, env: string) =>
    env.includes(`HOOKLINE_DATA_DIR=${dataDir}\0`) && env.includes(`HOOKLINE_CLUSTER_PROCESS=${prefix}`);
  return {
    temporal: cpuMs(role('temporal')),
    // Backends serving the bench's databases (their title names the database); not other users' nor the WAL writer.
    postgres: cpuMs((cmd) => cmd.startsWith('postgres: ') && cmd.includes(` ${PREFIX}_`)),
    receivers: cpuMs(role('receiver-')),
    workers: cpuMs(role('worker-')),
    load: loadPids.reduce<number>((sum, pid) => sum + (pid ? cpuOfPid(pid) : 0), 0),
  };
}

function cpuOfPid(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

interface Running {
  child: ChildProcess;
  urls: string[];
  address: string;
  dataDir: string;
  stop: () => Promise<void>;
}

async function startCluster(config: Config, secrets: Record<string, string>, build: boolean): Promise<Running> {
  await dropDatabases();
  const dataDir = mkdtempSync(join(tmpdir(), 'hookline-bench-cluster-'));
  const temporalPort = await freeBlock(20_000, 30_000, (b) => allPorts(serverPorts(b)));
  const port = await freeBlock(30_000, 32_000, (b) => Array.from({ length: config.receivers }, (_, i) => b + i));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    HOOKLINE_DATA_DIR: dataDir,
    HOOKLINE_TEMPORAL_PORT: String(temporalPort),
    PORT: String(port),
    SANDBOX_PORT: String(await freePort()),
    CLUSTER_WORKERS: String(config.workers),
    CLUSTER_RECEIVERS: String(config.receivers),
    NUM_HISTORY_SHARDS: String(config.shards),
    TEMPORAL_DATABASE_URL: withDatabase(PG, `${PREFIX}_temporal`),
    TEMPORAL_VISIBILITY_DATABASE_URL: withDatabase(PG, `${PREFIX}_visibility`),
    DATABASE_URL: withDatabase(PG, `${PREFIX}_kb`),
    LOG_LEVEL: 'warn',
    ...config.env,
  };
  for (const [name, secret] of Object.entries(secrets)) {
    env[`WEBHOOK_SECRET_${envSuffix(name)}`] = secret;
    env[`WEBHOOK_RATE_LIMIT_${envSuffix(name)}`] = '1000000/s';
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/cluster.ts', ...(build ? [] : ['--skip-build'])], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const deadline = Date.now() + 600_000;
  while (!output.includes('hookline cluster is running')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm run cluster did not come up:\n${output.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    child,
    dataDir,
    address: `127.0.0.1:${temporalPort}`,
    urls: Array.from({ length: config.receivers }, (_, i) => `http://127.0.0.1:${port + i}`),
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The closed loop spread over the receivers: one load generator per receiver, concurrency split. */
async function closedLoop(
  generators: LoadGenerator[],
  urls: string[],
  secrets: Record<string, string>,
  label: string,
  events?: number,
): Promise<LoadResult & { accepted: number }> {
  const runTag = randomBytes(4).toString('hex').toUpperCase();
  const results = await Promise.all(
    urls.map((baseUrl, i) =>
      generators[i]!.run({
        label: `${label}${i}`,
        baseUrl,
        secrets,
        stream: 'order',
        runTag,
        timeoutMs: 10_000,
        shape: {
          kind: 'closed',
          concurrency: Math.max(1, Math.round(CONCURRENCY / urls.length)),
          copies: 1,
          ...(events ? { events: Math.ceil(events / urls.length) } : { durationMs: DURATION_MS }),
        },
      }),
    ),
  );
  const latenciesMs = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const statuses: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  return {
    requests: latenciesMs.length,
    wallMs: Math.max(...results.map((r) => r.wallMs)),
    latenciesMs,
    statuses,
    errors: results.flatMap((r) => r.errors),
    accepted: (statuses['202'] ?? 0) + (statuses['200'] ?? 0),
  };
}

interface Row {
  name: string;
  acceptedPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  e2ePerSec: number;
  cpuPerEvent: Record<string, number>;
  commitsPerEvent: { temporal: number; visibility: number; kb: number };
}

async function measureConfig(config: Config, secrets: Record<string, string>, build: boolean): Promise<Row> {
  log(
    `\n== ${config.name} (${config.shards} history shards${
      config.env && Object.keys(config.env).length
        ? `, ${Object.entries(config.env)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`
        : ''
    }) — load average ${loadAverage()}`,
  );
  const cluster = await startCluster(config, secrets, build);
  const generators = cluster.urls.map(() => new LoadGenerator());
  try {
    const connection = await Connection.connect({ address: cluster.address });
    const client = new Client({ connection, namespace: 'default' });
    await closedLoop(generators, cluster.urls, secrets, 'warm', 50);

    const c0 = await commits();
    const cpu0 = processCpu(
      cluster.dataDir,
      generators.map((g) => g.child.pid),
    );
    const load = await closedLoop(generators, cluster.urls, secrets, 'max');
    const cpu1 = processCpu(
      cluster.dataDir,
      generators.map((g) => g.child.pid),
    );
    const c1 = await commits();
    const acceptedPerSec = (load.accepted / load.wallMs) * 1000;
    log(
      `accepted ${load.accepted} in ${(load.wallMs / 1000).toFixed(1)} s: ${perSecond(acceptedPerSec)}/s; ` +
        `statuses ${JSON.stringify(load.statuses)}`,
    );

    // Let the workers drain the backlog the closed loop left before timing end to end.
    const drained = Date.now() + 300_000;
    while (
      (
        await client.workflowService.countWorkflowExecutions({ namespace: 'default', query: "ExecutionStatus = 'Running'" })
      ).count!.toString() !== '0' &&
      Date.now() < drained
    ) {
      await new Promise((r) => setTimeout(r, 1000));
    }
    const since = new Date(Date.now() - 1000).toISOString();
    const started = performance.now();
    const e2e = await closedLoop(generators, cluster.urls, secrets, 'e2e', E2E);
    const query = `WorkflowType = 'orderStatusWorkflow' AND ExecutionStatus = 'Completed' AND StartTime >= '${since}'`;
    while (Number((await client.workflowService.countWorkflowExecutions({ namespace: 'default', query })).count) < e2e.accepted) {
      if (performance.now() - started > 300_000) throw new Error('end-to-end workflows did not complete within 5 minutes');
      await new Promise((r) => setTimeout(r, 200));
    }
    const e2ePerSec = (e2e.accepted / (performance.now() - started)) * 1000;
    log(`end to end: ${e2e.accepted} order events completed at ${perSecond(e2ePerSec)} workflows/s`);
    await connection.close();
    const per = (k: keyof Cpu) => (cpu1[k] - cpu0[k]) / Math.max(1, load.accepted);
    return {
      name: config.name,
      acceptedPerSec,
      p50: percentile(load.latenciesMs, 50),
      p99: percentile(load.latenciesMs, 99),
      errors: load.requests - load.accepted,
      e2ePerSec,
      cpuPerEvent: {
        temporal: per('temporal'),
        postgres: per('postgres'),
        receivers: per('receivers'),
        workers: per('workers'),
        load: per('load'),
      },
      commitsPerEvent: {
        temporal: (c1.temporal - c0.temporal) / load.accepted,
        visibility: (c1.visibility - c0.visibility) / load.accepted,
        kb: (c1.kb - c0.kb) / load.accepted,
      },
    };
  } finally {
    for (const g of generators) g.child.kill();
    await cluster.stop();
  }
}

async function bare(secrets: Record<string, string>): Promise<number> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'hookline-bench-bare-'));
  const child = spawnNode(
    'scripts/bench/bare.ts',
    { PATH: process.env.PATH ?? '', PORT: String(port), BARE_SECRET: secrets.oms },
    join(dir, 'bare.log'),
  );
  const generators = [new LoadGenerator()];
  try {
    while (!(await httpOk(`http://127.0.0.1:${port}/healthz`).catch(() => false))) await new Promise((r) => setTimeout(r, 100));
    const result = await closedLoop(generators, [`http://127.0.0.1:${port}`], secrets, 'bare');
    return (result.accepted / result.wallMs) * 1000;
  } finally {
    generators[0]!.child.kill();
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function clusterBench(): Promise<number> {
  log(`hookline cluster bench — ${machine()}; load average ${loadAverage()}`);
  log(`closed loop of ${CONCURRENCY} for ${DURATION_MS / 1000} s per configuration; end to end ${E2E} order events; PostgreSQL ${PG}`);
  const secrets = Object.fromEntries(Object.entries(BUILTIN_SCHEMES).map(([name, scheme]) => [name, generateSecret(scheme)]));
  const barePerSec = await bare(secrets);
  log(`peer: bare HMAC endpoint ${perSecond(barePerSec)}/s`);
  const only = process.env.BENCH_CONFIGS?.split(',').map(Number);
  const rows: Row[] = [];
  for (const [i, config] of CONFIGS.entries()) {
    if (only && !only.includes(i + 1)) continue;
    rows.push(await measureConfig(config, secrets, rows.length === 0));
  }
  await dropDatabases();
  const first = rows[0]!;
  log('');
  table(
    ['configuration', 'accepted/s', '× bare', '× first', 'ack p50 ms', 'ack p99 ms', 'non-2xx', 'e2e wf/s', '× first'],
    rows.map((r) => [
      r.name,
      perSecond(r.acceptedPerSec),
      (r.acceptedPerSec / barePerSec).toFixed(4),
      (r.acceptedPerSec / first.acceptedPerSec).toFixed(2),
      ms(r.p50),
      ms(r.p99),
      String(r.errors),
      perSecond(r.e2ePerSec),
      (r.e2ePerSec / first.e2ePerSec).toFixed(2),
    ]),
  );
  log(
    '\nwhere the time goes, per accepted event during the closed loop (workers running): ' +
      'CPU ms by process, PostgreSQL transactions by database',
  );
  table(
    ['configuration', 'temporal', 'postgres', 'receivers', 'workers', 'load gen', 'tx temporal', 'tx visibility', 'tx kb'],
    rows.map((r) => [
      r.name,
      ms(r.cpuPerEvent.temporal!),
      ms(r.cpuPerEvent.postgres!),
      ms(r.cpuPerEvent.receivers!),
      ms(r.cpuPerEvent.workers!),
      ms(r.cpuPerEvent.load!),
      r.commitsPerEvent.temporal.toFixed(1),
      r.commitsPerEvent.visibility.toFixed(1),
      r.commitsPerEvent.kb.toFixed(1),
    ]),
  );
  log(`\nload average ${loadAverage()}`);
  return 0;
}
