import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { migrateDatabase, migrateTemporalDatabases, temporalDatabases, withDatabase } from '../scripts/cluster-temporal';
import { findTemporalServer } from '../scripts/temporal-server';
import { openDatabase, type Database } from '../src/db';
import { returnWorkflowId } from '../src/events/identity';
import { createHandoffService } from '../src/handoff/service';
import { SAMPLES } from '../src/events/samples';
import {
  clusterEnv,
  clusterPostgres,
  clusterProcesses,
  clusterRoot,
  distFile,
  startCluster,
  type ClusterEnv,
  type RunningCluster,
} from './support/cluster';
import { sendSigned, testSecretsEnv } from './support/harness';
import { raiseEscalation, waitingInService } from './support/handoff';
import { bundleBuildB } from './support/builds';
import { returnStateQuery } from '../workflows/contracts/returns';
import { day, deliveredPaidOrder, payment, paymentWorkflowId, unique } from './support/fixtures';

/**
 * The production shape, for real: `npm run cluster` — a Temporal server on PostgreSQL, two
 * compiled workers and two compiled receivers, the knowledge base on PostgreSQL — and the
 * guarantees hookline makes, checked across it while its processes are SIGKILLed. The databases
 * are this run's own (hookline_cluster_test_<random>_*), created fresh and dropped at the end.
 */

/** Per run, so two runs at once (two worktrees, two CI jobs on one PostgreSQL) never share a database. */
const PREFIX = `hookline_cluster_test_${unique().toLowerCase()}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function dropOurDatabases(): Promise<void> {
  const pg = new PgClient({ connectionString: clusterPostgres() });
  await pg.connect();
  try {
    for (const suffix of ['temporal', 'visibility', 'kb', 'upgrade'])
      await pg.query(`DROP DATABASE IF EXISTS ${PREFIX}_${suffix} WITH (FORCE)`);
  } finally {
    await pg.end();
  }
}

describe('npm run cluster: Temporal on PostgreSQL, two compiled workers and two receivers', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hookline-cluster-'));
  let env: ClusterEnv;
  let cluster: RunningCluster | undefined;
  let temporal: { client: Client; connection: Connection };
  let kb: Database;
  let leadToken: string;
  /** A workflow that finished before the stop, to find again after the restart. */
  let finishedBeforeStop: { workflowId: string; paymentId: string };

  const [a, b] = [0, 1];
  const url = (i: number) => env.receiverUrls[i]!;
  const notifications = (key: string) => kb.db.selectFrom('notifications').select('id').where('idempotency_key', '=', key).execute();
  const runsOf = async (workflowId: string) => {
    let runs = 0;
    for await (const _ of temporal.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs += 1;
    return runs;
  };
  const sandbox = async <T>(path: string, init?: RequestInit) =>
    (await (await fetch(`${env.sandboxUrl}/_sandbox/${path}`, init)).json()) as T;
  const pidOf = (role: string) => {
    const found = clusterProcesses(dataDir).filter((p) => p.role === role);
    expect(found, `one ${role} process`).toHaveLength(1);
    return found[0]!.pid;
  };

  beforeAll(async () => {
    await dropOurDatabases();
    env = await clusterEnv({
      dataDir,
      databasePrefix: PREFIX,
      extra: {
        ...testSecretsEnv(),
        // 40 events at once from one address: lift the per-sender limit.
        ...Object.fromEntries(['OMS', 'CRM', 'PAYMENTS', 'CARRIER'].map((s) => [`WEBHOOK_RATE_LIMIT_${s}`, '10000/s'])),
        TEMPORAL_START_TIMEOUT: '2s',
        // The upgrade test's returns wait for their parcels across a whole rolling deploy.
        RETURN_RECEIPT_WINDOW: '15m',
        TEMPORAL_DYNAMIC_CONFIG_FILE: join(__dirname, 'support/dynamicconfig-upgrade.yaml'),
      },
    });
    // The first run on a fresh machine builds the Temporal server (about 5 minutes) and dist/.
    cluster = await startCluster(env, [], 900_000);
    const connection = await Connection.connect({ address: env.temporalAddress });
    temporal = { connection, client: new Client({ connection, namespace: 'default' }) };
    kb = await openDatabase(env.env.DATABASE_URL!);
    leadToken = (JSON.parse(readFileSync(join(dataDir, 'dev-secrets.json'), 'utf8')) as { leadToken: string }).leadToken;
  }, 960_000);

  afterAll(async () => {
    await cluster?.interrupt();
    for (const { pid } of clusterProcesses(dataDir)) process.kill(pid, 'SIGKILL');
    await temporal?.connection.close();
    await kb?.close();
    await dropOurDatabases();
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('runs the compiled build: node dist/…, the prebuilt workflow bundle, the inbox pages from dist/', async () => {
    expect(existsSync(distFile('workflow-bundle.js'))).toBe(true);
    const processes = clusterProcesses(dataDir);
    expect(processes.filter((p) => p.role.startsWith('worker-')).map((p) => p.command.split(' ').slice(1).join(' '))).toEqual([
      'dist/src/worker/main.js',
      'dist/src/worker/main.js',
    ]);
    expect(processes.filter((p) => p.role.startsWith('receiver-')).map((p) => p.command.split(' ').slice(1).join(' '))).toEqual([
      'dist/src/receiver/main.js',
      'dist/src/receiver/main.js',
    ]);
    // Each worker's start line comes down its own pipe through the cluster's: waited for, not read at once.
    await expect
      .poll(() => cluster!.output().match(/"workflows":"prebuilt [^"]*dist\/workflow-bundle\.js"/g)?.length, { timeout: 30_000 })
      .toBe(2);
    for (const i of [a, b]) {
      expect((await fetch(`${url(i)}/readyz`)).status).toBe(200);
      // The login page, read from dist/src/receiver/inbox/ (tsc does not copy it; npm run build does).
      const login = await fetch(`${url(i)}/inbox`);
      expect(login.status).toBe(401);
      expect(await login.text()).toMatch(/<form[^>]*action="\/inbox\/login"/);
    }
    // Signed in on one receiver, the session (in the PostgreSQL knowledge base) opens the inbox on the other.
    const signIn = await fetch(`${url(a)}/inbox/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: leadToken }),
      redirect: 'manual',
    });
    expect(signIn.status).toBe(303);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const inbox = await fetch(`${url(b)}/inbox`, { headers: { cookie } });
    expect(inbox.status).toBe(200);
    expect(await inbox.text()).toContain('lead');
  });

  it('serves the Temporal UI against the cluster’s server', async () => {
    // Said after "hookline cluster is running", which is all startCluster waited for.
    await expect.poll(() => cluster!.output(), { timeout: 30_000 }).toContain(`Temporal UI   http://localhost:${new URL(env.uiUrl).port}`);
    const page = await fetch(env.uiUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    // Its API proxies to the frontend on PostgreSQL: the namespace npm run cluster registered.
    const namespaces = await fetch(`${env.uiUrl}/api/v1/namespaces`);
    expect(namespaces.status).toBe(200);
    expect(JSON.stringify(await namespaces.json())).toContain('"default"');
  });

  it('keeps its Temporal databases migrated idempotently: a rerun changes nothing, an older schema is upgraded', async () => {
    const binaries = await findTemporalServer();
    const databases = temporalDatabases(env.env);
    const history = async () => {
      const pg = new PgClient({ connectionString: databases.temporal });
      await pg.connect();
      const { rows } = await pg.query('SELECT count(*)::int AS n FROM schema_update_history');
      await pg.end();
      return rows[0].n as number;
    };
    const before = await history();
    const reports = await migrateTemporalDatabases(binaries, databases);
    expect(reports.map((r) => ({ created: r.created, same: r.before === r.after }))).toEqual([
      { created: false, same: true },
      { created: false, same: true },
    ]);
    expect(await history()).toBe(before);
    expect(cluster!.output()).toMatch(new RegExp(`PostgreSQL ${PREFIX}_temporal: created, schema 1\\.\\d+`));

    // A database left at an older version (as an older server leaves it) is brought up to this one's.
    const upgrade = withDatabase(databases.temporal, `${PREFIX}_upgrade`);
    expect(await migrateDatabase(binaries, upgrade, 'temporal', '1.10')).toMatchObject({ created: true, after: '1.10' });
    expect(await migrateDatabase(binaries, upgrade, 'temporal')).toEqual({
      database: `${PREFIX}_upgrade`,
      created: false,
      before: '1.10',
      after: reports[0]!.after,
    });
  });

  it('the same event sent to both receivers at once runs once, and its execution is in the PostgreSQL temporal database', async () => {
    const paymentId = `PMT-${unique()}`;
    const answers = await Promise.all(Array.from({ length: 40 }, (_, n) => sendSigned(url(n % 2), 'payments', payment(paymentId))));
    // One start wins (202); the others find it (200, duplicate). A receiver whose start takes longer
    // than TEMPORAL_START_TIMEOUT (a loaded machine) spools the delivery instead and answers 202
    // queued: durable, and a duplicate once the spool drains it. Either way, one run.
    const shown = JSON.stringify(answers.map((r) => [r.status, r.body]));
    const started = answers.filter((r) => r.status === 202 && r.body.queued !== true && r.body.duplicate === false);
    const queued = answers.filter((r) => r.status === 202 && r.body.queued === true);
    const duplicates = answers.filter((r) => r.status === 200 && r.body.duplicate === true);
    expect(started.length, shown).toBeLessThanOrEqual(1);
    expect(started.length + queued.length, shown).toBeGreaterThanOrEqual(1);
    expect(started.length + queued.length + duplicates.length, shown).toBe(40);
    expect(new Set(answers.map((r) => r.body.workflowId))).toEqual(new Set([paymentWorkflowId(paymentId)]));
    const result = await temporal.client.workflow.getHandle(paymentWorkflowId(paymentId)).result();
    expect(result).toMatchObject({ duplicate: false, notified: 'payment-confirmed' });
    expect(await runsOf(paymentWorkflowId(paymentId))).toBe(1);
    expect(await notifications(`payment:payment.succeeded:${paymentId}`)).toHaveLength(1);

    const pg = new PgClient({ connectionString: env.env.TEMPORAL_DATABASE_URL });
    await pg.connect();
    const { rows } = await pg.query('SELECT count(*)::int AS n FROM executions WHERE workflow_id = $1', [paymentWorkflowId(paymentId)]);
    await pg.end();
    expect(rows[0].n).toBe(1);
    finishedBeforeStop = { workflowId: paymentWorkflowId(paymentId), paymentId };
  });

  it('an escalation is listed, claimed, answered and resolved through either receiver (visibility on PostgreSQL)', async () => {
    const customerId = `CUST-${unique()}`;
    const api = async (i: number, method: string, path: string, body?: object) => {
      const res = await fetch(`${url(i)}${path}`, {
        method,
        headers: { authorization: `Bearer ${leadToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const { id, workflowId } = await raiseEscalation(url(b), { customerId });
    const listed = (i: number, status: string) =>
      expect
        .poll(
          async () =>
            (
              (await api(i, 'GET', `/handoffs?status=${status}&customerId=${customerId}`)).body.handoffs as { id: string }[] | undefined
            )?.map((h) => h.id),
          { timeout: 30_000, interval: 250 },
        )
        .toEqual([id]);
    await listed(a, 'waiting');
    await listed(b, 'waiting');
    const at = (action: string) => `/handoffs/${encodeURIComponent(id)}/${action}`;
    expect((await api(a, 'POST', at('claim'))).status).toBe(200);
    await listed(b, 'claimed');
    expect((await api(b, 'POST', at('reply'), { text: 'A replacement ships today.' })).status).toBeLessThan(300);
    expect((await api(b, 'POST', at('resolve'), { outcome: 'resolved' })).status).toBe(200);
    await temporal.client.workflow.getHandle(workflowId).result();
    const shown = await api(a, 'GET', `/handoffs/${encodeURIComponent(id)}`);
    expect(shown.body).toMatchObject({ status: 'resolved', assignee: 'lead' });
  });

  it(
    'a worker SIGKILLed while it creates a return label: another worker process finishes it, one label, the customer told once',
    { timeout: 180_000 },
    async () => {
      const orderId = `ORD-${unique()}`;
      const returnId = `RET-${unique()}`;
      const returnWf = returnWorkflowId(returnId);
      const deliver = async (source: string, body: object) => {
        const res = await sendSigned(url(a), source, body);
        expect(res.status, JSON.stringify(res.body)).toBe(202);
        return res.body.workflowId as string;
      };
      await deliveredPaidOrder(deliver, temporal.client, orderId);

      // The carrier takes 8 s to answer and creates the label whether or not anyone still listens. The
      // kill must land inside that window, after a poll of the sandbox, describe()s and a look into
      // /proc on a loaded machine: 8 s leaves it room. (A retry may come before the label exists: the
      // carrier's idempotency key makes it the same label either way.)
      await sandbox('faults', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ system: 'carrier', method: 'POST', path: '/return-labels', kind: 'latency', delayMs: 8_000, times: 1 }),
      });
      await deliver('oms', { ...SAMPLES['return.initiated'], return_id: returnId, order_id: orderId, timestamp: day(5) });
      await expect.poll(async () => (await sandbox<unknown[]>('faults')).length, { timeout: 30_000, interval: 50 }).toBe(0);
      // The worker holding the call, by the identity Temporal recorded (`pid@host`).
      const holder = await expect
        .poll(
          async () => (await temporal.client.workflow.getHandle(returnWf).describe()).raw.pendingActivities?.[0]?.lastWorkerIdentity ?? '',
          { timeout: 10_000, interval: 50 },
        )
        .toMatch(/^\d+@/)
        .then(async () => (await temporal.client.workflow.getHandle(returnWf).describe()).raw.pendingActivities![0]!.lastWorkerIdentity!);
      const pid = Number(holder.split('@')[0]);
      expect(clusterProcesses(dataDir).find((p) => p.pid === pid)?.role).toMatch(/^worker-/);
      process.kill(pid, 'SIGKILL');

      await deliver('carrier', { ...SAMPLES['return.received'], return_id: returnId, order_id: orderId, timestamp: day(9) });
      const state = await temporal.client.workflow.getHandle(returnWf).result();
      expect(state).toMatchObject({ status: 'refunded' });

      // The attempt that succeeded ran on a live worker of the cluster, not the one killed (which the
      // cluster restarts as a new process after a second: either may take the retry).
      const history = await temporal.client.workflow.getHandle(returnWf).fetchHistory();
      const scheduled = history.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'createReturnLabel')!;
      const started = history.events!.find(
        (e) => Number(e.activityTaskStartedEventAttributes?.scheduledEventId) === Number(scheduled.eventId),
      )!;
      const finisher = started.activityTaskStartedEventAttributes!.identity!;
      expect(finisher).not.toBe(holder);
      expect(clusterProcesses(dataDir).find((p) => p.pid === Number(finisher.split('@')[0]))?.role).toMatch(/^worker-/);

      const labels = (await sandbox<{ labels: { return_id: string; voided: boolean }[] }>('state')).labels.filter(
        (l) => l.return_id === returnId,
      );
      expect(labels).toHaveLength(1);
      expect(labels[0]!.voided).toBe(false);
      expect(await notifications(`${returnWf}:label-sent`)).toHaveLength(1);
      expect(await notifications(`${returnWf}:refunded`)).toHaveLength(1);
    },
  );

  /** A webhook sender as providers behave: retry after a pause until some receiver says 2xx. */
  async function sendUntilAccepted(id: string, answers: (number | 'error')[], pick: (attempt: number) => number): Promise<void> {
    for (let attempt = 0, deadline = Date.now() + 150_000; Date.now() < deadline; attempt += 1) {
      const status = await sendSigned(url(pick(attempt)), 'payments', payment(id)).then(
        (res) => res.status,
        () => 'error' as const,
      );
      answers.push(status);
      if (status === 200 || status === 202) return;
      expect(status === 503 || status === 'error', `unexpected answer ${status}`).toBe(true);
      // A sender's retry pause, as providers wait before redelivering: not a wait for state.
      await sleep(500);
    }
  }

  async function expectEachOnce(ids: string[], answers: Map<string, (number | 'error')[]>): Promise<void> {
    for (const id of ids) {
      expect([200, 202], `${id}: ${answers.get(id)!.join(', ')}`).toContain(answers.get(id)!.at(-1));
      const result = await temporal.client.workflow.getHandle(paymentWorkflowId(id)).result();
      expect(result, id).toMatchObject({ duplicate: false, notified: 'payment-confirmed' });
      expect(await runsOf(paymentWorkflowId(id)), id).toBe(1);
      expect(await notifications(`payment:payment.succeeded:${id}`), id).toHaveLength(1);
    }
  }

  it(
    'the Temporal server SIGKILLed (and restarted by the cluster) while events stream in: ' +
      'the shared PostgreSQL spool takes them, nobody is refused, none lost, none doubled',
    { timeout: 300_000 },
    async () => {
      const ids = Array.from({ length: 40 }, () => `PMT-${unique()}`);
      const answers = new Map<string, (number | 'error')[]>(ids.map((id) => [id, []]));
      const senders: Promise<void>[] = [];
      for (const [n, id] of ids.entries()) {
        senders.push(sendUntilAccepted(id, answers.get(id)!, (attempt) => (n + attempt) % 2));
        if (n === 15) process.kill(pidOf('temporal'), 'SIGKILL');
        // Pacing: events arrive over time, so the kill lands mid-stream.
        await sleep(100);
      }
      await Promise.all(senders);
      expect(ids.slice(0, 15).some((id) => answers.get(id)![0] === 202)).toBe(true);
      // While Temporal is away the receivers spool (DATABASE_URL is PostgreSQL, so the spool is the
      // shared table): every sender is answered 2xx at once. The fault did hit: a receiver spooled.
      expect(ids.filter((id) => answers.get(id)!.some((s) => s !== 202 && s !== 200))).toEqual([]);
      // Lines from the receivers and the cluster come down pipes, and may trail the answers: waited for.
      await expect.poll(() => cluster!.output(), { timeout: 30_000 }).toMatch(/spooling events: Temporal did not accept a start/);
      await expect.poll(() => cluster!.output(), { timeout: 30_000 }).toMatch(/\[temporal\]\s+exited \(SIGKILL\); restarting/);
      await expectEachOnce(ids, answers);
    },
  );

  it('a receiver SIGKILLed while senders retry to the other: nothing lost, nothing doubled', { timeout: 240_000 }, async () => {
    const ids = Array.from({ length: 30 }, () => `PMT-${unique()}`);
    const answers = new Map<string, (number | 'error')[]>(ids.map((id) => [id, []]));
    const senders: Promise<void>[] = [];
    for (const [n, id] of ids.entries()) {
      // First to receiver A; a failed attempt goes to the other one.
      senders.push(sendUntilAccepted(id, answers.get(id)!, (attempt) => attempt % 2));
      if (n === 10) process.kill(pidOf('receiver-1'), 'SIGKILL');
      // Pacing: events arrive over time, so the kill lands mid-stream.
      await sleep(50);
    }
    await Promise.all(senders);
    expect(ids.some((id) => answers.get(id)![0] === 'error')).toBe(true);
    await expectEachOnce(ids, answers);
  });

  /** `npm run release -- …` against the cluster, as an operator runs it. */
  function release(...args: string[]): Promise<{ code: number | null; out: string }> {
    return new Promise((done) => {
      const child = spawn('npm', ['run', '--silent', 'release', '--', ...args], {
        cwd: clusterRoot,
        env: { ...env.env, TEMPORAL_ADDRESS: env.temporalAddress },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.once('exit', (code) => done({ code, out }));
    });
  }

  it(
    'a rolling deploy: build B beside A, verified on real histories and made current; 20 open returns and 10 conversations ' +
      'finish with no non-determinism and each effect once; new work runs on B; A drains and is retired',
    { timeout: 900_000 },
    async () => {
      const started = Date.now();
      // The previous test SIGKILLed a receiver; the cluster restarts it after a pause.
      for (const i of [a, b])
        await expect
          .poll(
            () =>
              fetch(`${url(i)}/readyz`).then(
                (r) => r.status,
                () => 0,
              ),
            { timeout: 60_000 },
          )
          .toBe(200);
      const deliver = async (source: string, body: object) => {
        const res = await sendSigned(url(a), source, body);
        expect(res.status, JSON.stringify(res.body)).toBe(202);
        return res.body.workflowId as string;
      };
      const handle = (id: string) => temporal.client.workflow.getHandle(id);
      const history = async (id: string) => (await handle(id).fetchHistory()).events!;
      /** The build that completed each workflow task, in order (Temporal records it on the event). */
      const builds = async (id: string) =>
        (await history(id)).flatMap((e) => e.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId ?? []);
      const patches = async (id: string) =>
        (await history(id)).flatMap(
          (e) =>
            e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.map(
              (p) => (JSON.parse(Buffer.from(p.data!).toString()) as { id: string }).id,
            ) ?? [],
        );
      const statusA = await release('status');
      const buildA = /current {2}([0-9a-f]{16})/.exec(statusA.out)?.[1];
      expect(buildA, statusA.out).toBeDefined();

      // Build A: 20 returns waiting for their parcels, 10 conversations waiting for a person.
      const returns = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const orderId = `ORD-${unique()}`;
          const returnId = `RET-${unique()}`;
          await deliveredPaidOrder(deliver, temporal.client, orderId);
          await deliver('oms', { ...SAMPLES['return.initiated'], return_id: returnId, order_id: orderId, timestamp: day(5) });
          return { orderId, returnId, workflowId: returnWorkflowId(returnId) };
        }),
      );
      for (const r of returns)
        await expect
          .poll(
            () =>
              handle(r.workflowId)
                .query(returnStateQuery)
                .then(
                  (s) => s.status,
                  () => undefined,
                ),
            { timeout: 60_000 },
          )
          .toBe('awaiting-arrival');
      const handoffs = createHandoffService(temporal.client);
      const conversations = await Promise.all(
        Array.from({ length: 10 }, () => raiseEscalation(url(b), { customerId: `CUST-UP-${unique()}` })),
      );
      for (const c of conversations) await waitingInService(handoffs, c.id, 60_000);
      const open = [...returns.map((r) => r.workflowId), ...conversations.map((c) => c.id)];
      for (const id of open) expect(new Set(await builds(id))).toEqual(new Set([buildA]));

      // Build B: returns and conversations with a changed command sequence, behind patched().
      const bundles = { patched: join(dataDir, 'build-b.js'), unpatched: join(dataDir, 'build-b-unpatched.js') };
      writeFileSync(bundles.patched, await bundleBuildB({ patched: true }));
      writeFileSync(bundles.unpatched, await bundleBuildB({ patched: false }));
      const next = await startCluster(env, ['--next-build', bundles.patched], 180_000, 'Press Ctrl-C to stop these workers.');
      try {
        const buildB = /Build ([0-9a-f]{16}) is running beside the cluster/.exec(next.output())![1]!;
        expect(buildB).not.toBe(buildA);

        // The gate on production's own histories: the patched build replays every open one; the same
        // change unpatched does not.
        const query = "ExecutionStatus = 'Running'";
        const verified = await release('verify', '--bundle', bundles.patched, '--query', query);
        expect(verified.code, verified.out).toBe(0);
        expect(Number(/(\d+) history\(ies\) replayed, 0 not replayable/.exec(verified.out)?.[1])).toBeGreaterThanOrEqual(30);
        const refused = await release('verify', '--bundle', bundles.unpatched, '--query', query);
        expect(refused.code).toBe(1);
        for (const id of [returns[0]!.workflowId, conversations[0]!.id]) expect(refused.out).toContain(`NOT REPLAYABLE ${id}`);

        const promoted = await release('promote', '--build', buildB);
        expect(promoted.code, promoted.out).toBe(0);
        expect((await release('status')).out).toContain(`current  ${buildB}`);

        // Everything finishes: parcels arrive, people resolve.
        const lead = { name: 'lead', role: 'lead' } as const;
        await Promise.all([
          ...returns.map((r) =>
            deliver('carrier', { ...SAMPLES['return.received'], return_id: r.returnId, order_id: r.orderId, timestamp: day(9) }),
          ),
          ...conversations.map(async (c) => {
            await handoffs.claim(c.id, lead);
            await handoffs.resolve(c.id, lead, { outcome: 'resolved', note: 'sorted after the upgrade' });
          }),
        ]);
        for (const r of returns) expect(await handle(r.workflowId).result()).toMatchObject({ status: 'refunded' });
        for (const c of conversations) expect(await handle(c.workflowId).result()).toMatchObject({ handoff: { outcome: 'resolved' } });

        // No workflow task failed (a non-determinism error fails one); each moved from A to B and
        // took B's changed code only where it had not been yet (no B marker: they passed it on A).
        const sandboxState = await sandbox<{ labels: { return_id: string }[]; refunds: { order_id: string }[] }>('state');
        for (const id of [...open, ...conversations.map((c) => c.workflowId)]) {
          expect(
            (await history(id)).filter((e) => e.workflowTaskFailedEventAttributes),
            id,
          ).toEqual([]);
        }
        for (const id of open) {
          const ran = await builds(id);
          expect([ran[0], ran.at(-1)], id).toEqual([buildA, buildB]);
          expect(
            (await patches(id)).filter((p) => p.startsWith('release-b-')),
            id,
          ).toEqual([]);
        }
        for (const r of returns) {
          expect(sandboxState.labels.filter((l) => l.return_id === r.returnId)).toHaveLength(1);
          expect(sandboxState.refunds.filter((x) => x.order_id === r.orderId)).toHaveLength(1);
          expect(await notifications(`${r.workflowId}:label-sent`)).toHaveLength(1);
          expect(await notifications(`${r.workflowId}:refunded`)).toHaveLength(1);
        }
        for (const c of conversations) expect(await notifications(`${c.id}:handoff:opened`)).toHaveLength(1);

        // New work runs on B, through B's changed code.
        const orderId = `ORD-${unique()}`;
        const returnId = `RET-${unique()}`;
        await deliveredPaidOrder(deliver, temporal.client, orderId);
        await deliver('oms', { ...SAMPLES['return.initiated'], return_id: returnId, order_id: orderId, timestamp: day(5) });
        await deliver('carrier', { ...SAMPLES['return.received'], return_id: returnId, order_id: orderId, timestamp: day(9) });
        // The relay starts the return's workflow: it exists a moment after the events are accepted.
        await expect
          .poll(
            () =>
              handle(returnWorkflowId(returnId))
                .describe()
                .then(
                  () => true,
                  () => false,
                ),
            { timeout: 30_000 },
          )
          .toBe(true);
        expect(await handle(returnWorkflowId(returnId)).result()).toMatchObject({ status: 'refunded' });
        expect(new Set(await builds(returnWorkflowId(returnId)))).toEqual(new Set([buildB]));
        expect(await patches(returnWorkflowId(returnId))).toContain('release-b-returns.ts');
        const late = await raiseEscalation(url(a), { customerId: `CUST-UP-${unique()}` });
        await expect.poll(async () => (await builds(late.id)).length, { timeout: 30_000 }).toBeGreaterThan(0);
        expect(new Set(await builds(late.id))).toEqual(new Set([buildB]));
        expect(await patches(late.id)).toContain('release-b-conversation.ts');
        await handoffs.claim(late.id, lead);
        await handoffs.resolve(late.id, lead, { outcome: 'resolved' });
        await handle(late.workflowId).result();

        // A (dist/'s build: "this build" to the release command) is drained: nothing pinned to it is
        // open. Its workers stop; then it is retired.
        const drained = await release('status');
        expect(drained.out).toMatch(new RegExp(`^${buildA} +0 +\\S+ +drained: its workers can stop {2}\\(this build\\)$`, 'm'));
        process.kill(Number(readFileSync(join(dataDir, 'cluster.pid'), 'utf8')), 'SIGUSR2');
        await expect.poll(() => clusterProcesses(dataDir).filter((p) => /^worker-/.test(p.role)), { timeout: 30_000 }).toEqual([]);
        const retired = await release('retire', buildA!, '--wait', '120');
        expect(retired.code, retired.out).toBe(0);
        expect(retired.out).toContain(`Build ${buildA} retired`);
        expect((await release('status')).out).not.toContain(buildA);
        process.stderr.write(`upgrade test: ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
      } finally {
        await next.interrupt();
      }
    },
  );

  it('Ctrl-C stops everything; started again, history and the knowledge base are still there', { timeout: 300_000 }, async () => {
    await cluster!.interrupt();
    // In order: receivers first, the Temporal server last. npm may exit on the signal before the
    // cluster has finished stopping its children, so wait for its last line.
    const first = cluster!;
    await expect.poll(() => first.output(), { timeout: 30_000 }).toContain('  stopped temporal\n');
    expect(first.output()).toContain(
      'Stopping the cluster…\n  stopped receiver-2\n  stopped receiver-1\n  stopped worker-2\n  stopped worker-1\n' +
        '  stopped sandbox\n  stopped temporal-ui\n  stopped temporal\n',
    );
    await expect.poll(() => clusterProcesses(dataDir).map((p) => `${p.role} ${p.command}`), { timeout: 20_000 }).toEqual([]);
    cluster = await startCluster(env, ['--skip-build']);
    expect(cluster.output()).toMatch(new RegExp(`PostgreSQL ${PREFIX}_temporal: schema 1\\.\\d+, up to date`));
    expect(cluster.output()).toContain('Namespace default: ready');
    const described = await temporal.client.workflow.getHandle(finishedBeforeStop.workflowId).describe();
    expect(described.status.name).toBe('COMPLETED');
    expect(await notifications(`payment:payment.succeeded:${finishedBeforeStop.paymentId}`)).toHaveLength(1);
    for (const i of [a, b]) expect((await fetch(`${url(i)}/readyz`)).status).toBe(200);
    await cluster.interrupt();
    const second = cluster;
    await expect.poll(() => second.output(), { timeout: 30_000 }).toContain('  stopped temporal\n');
    await expect.poll(() => clusterProcesses(dataDir).length, { timeout: 20_000 }).toBe(0);
    cluster = undefined;
  });
});
