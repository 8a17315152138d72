import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { openDatabase, type Database } from '../src/db';
import { sandboxWorkerEnv, startSandbox, type RunningSandbox } from '../src/sandbox';
import { sendSigned, testSecretsEnv } from './support/harness';
import { freePort, startDevServer, startReceiverProcess, startWorkerProcess, type Child, type DevServer } from './support/processes';
import { trackRetries } from './support/retries';
import { freshPostgresUrl, spoolRows } from './support/spool';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';
import { notificationsFor, payment, paymentWorkflowId, unique } from './support/fixtures';

/**
 * The spool's promise, with the failures made real: "a 2xx means the event is durable somewhere,
 * and it runs exactly once". Receivers run as their own processes (src/receiver/main.ts, the
 * default SQLite spool or a shared PostgreSQL one) and are SIGKILLed; a private Temporal dev
 * server is SIGKILLed and restarted on its file; the kernel refuses the spool's writes. The
 * senders here never retry: whatever they were told 2xx must happen, without their help.
 */

function receiverEnv(
  temporalAddress: string,
  taskQueue: string,
  spoolUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: temporalAddress,
    HOOKLINE_TASK_QUEUE: taskQueue,
    TEMPORAL_START_TIMEOUT: '2s',
    SPOOL_URL: spoolUrl,
    // A killed drainer's rows are taken over after this; short so the tests do not wait 30 s.
    SPOOL_LEASE: '3s',
    WEBHOOK_RATE_LIMIT_PAYMENTS: '100000/s',
    ...testSecretsEnv(),
    ...extra,
  };
}

/** A connection whose `close` waits for the client's own scheduled retries first (see trackRetries). */
async function connect(address: string): Promise<{ client: Client; connection: Connection; close(): Promise<void> }> {
  const retries = trackRetries();
  const connection = await Connection.connect({ address, interceptors: [retries.interceptor] });
  return {
    client: new Client({ connection, namespace: 'default' }),
    connection,
    async close() {
      await retries.settle();
      await connection.close();
    },
  };
}

/** Every workflow ID Temporal has on a task queue, one entry per run: a repeated ID is a double start. */
async function runsOnQueue(client: Client, taskQueue: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) ids.push(wf.workflowId);
  return ids.sort();
}

/** The one JSON log line of a child whose `msg` is `msg`, parsed. */
function logLines(child: Child, msg: string): Record<string, unknown>[] {
  return child.lines.filter((l) => l.includes(`"msg":"${msg}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('a receiver with its SQLite spool, a private Temporal dev server and a worker, all real processes', () => {
  const taskQueue = `faults-spool-${unique()}`;
  let dir: string;
  let spoolUrl: string;
  let server: DevServer;
  let sandbox: RunningSandbox;
  let worker: Child;
  let database: Database;
  let temporal: Awaited<ReturnType<typeof connect>>;
  let receiver: Child & { url: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookline-faults-spool-'));
    spoolUrl = `sqlite:${join(dir, 'spool.db')}`;
    server = await startDevServer({ cliPath: inject('temporalCliPath'), dbFile: join(dir, 'temporal.db') });
    sandbox = await startSandbox({ port: 0 });
    const databaseUrl = `sqlite:${join(dir, 'kb.db')}`;
    worker = await startWorkerProcess({
      TEMPORAL_ADDRESS: server.address,
      HOOKLINE_TASK_QUEUE: taskQueue,
      DATABASE_URL: databaseUrl,
      UPSTREAM_TIMEOUT: '10s',
      WORKER_METRICS_ADDRESS: 'off',
      ...sandboxWorkerEnv(sandbox.url),
    });
    database = await openDatabase(databaseUrl);
    temporal = await connect(server.address);
    receiver = await startReceiverProcess(receiverEnv(server.address, taskQueue, spoolUrl));
  }, 180_000);
  afterAll(async () => {
    await receiver?.kill();
    await worker?.kill();
    await server?.stop();
    await temporal?.close();
    await database?.close();
    await sandbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Exactly once: the run completed, applied the payment itself (not a ledger duplicate), one run, one message. */
  async function expectRanOnce(ids: string[]): Promise<void> {
    for (const id of ids) {
      const result = await temporal.client.workflow.getHandle(paymentWorkflowId(id)).result();
      expect(result, id).toMatchObject({ duplicate: false, notified: 'payment-confirmed' });
      expect(await notificationsFor(database.db, `payment:payment.succeeded:${id}`), id).toHaveLength(1);
    }
    const runs = await runsOnQueue(temporal.client, taskQueue);
    for (const id of ids)
      expect(
        runs.filter((r) => r === paymentWorkflowId(id)),
        id,
      ).toHaveLength(1);
  }

  it(
    'the dev server SIGKILLed while events stream in: no sender sees a 503, and every event runs exactly once after it is back',
    { timeout: 240_000 },
    async () => {
      const EVENTS = 40;
      const ids = Array.from({ length: EVENTS }, () => `PMT-${unique()}`);
      // One delivery per event, like a sender that never retries: every answer must be a 2xx.
      const answers: Promise<{ status: number; queued: boolean }>[] = [];
      let startedDirectly = 0;
      for (const [n, id] of ids.entries()) {
        answers.push(
          sendSigned(receiver.url, 'payments', payment(id)).then((res) => {
            const answer = { status: res.status, queued: res.body.queued === true };
            if (answer.status === 202 && !answer.queued) startedDirectly += 1;
            return answer;
          }),
        );
        if (n === 15) {
          // Not before Temporal took some event itself: the kill must land on a stream it was taking in.
          await expect.poll(() => startedDirectly, { timeout: 60_000 }).toBeGreaterThan(0);
          await server.current.kill('SIGKILL');
        }
        // Pacing: events arrive over time, so the kill lands mid-stream.
        await sleep(100);
      }
      // Temporal comes back only once every event has its answer: each one after the kill met it down.
      const got = await Promise.all(answers);
      const restarted = server.restart();
      expect(got.map((a) => a.status)).toEqual(ids.map(() => 202));
      // The fault bit: events before the kill went straight to Temporal, those after it were spooled.
      expect(got.slice(0, 15).some((a) => !a.queued)).toBe(true);
      expect(got.slice(16).every((a) => a.queued)).toBe(true);

      await restarted;
      await expect.poll(async () => (await spoolRows(spoolUrl)).length, { timeout: 120_000, interval: 250 }).toBe(0);
      await expectRanOnce(ids);
      expect(logLines(receiver, 'webhook').filter((l) => l.outcome === 'queued').length).toBe(got.filter((a) => a.queued).length);
    },
  );

  it(
    'the receiver SIGKILLed with events in its SQLite spool, then restarted: it drains them, none lost, none twice',
    { timeout: 240_000 },
    async () => {
      await server.current.kill('SIGKILL');
      const ids = Array.from({ length: 12 }, () => `PMT-${unique()}`);
      for (const id of ids) {
        const res = await sendSigned(receiver.url, 'payments', payment(id));
        expect(res.status, JSON.stringify(res.body)).toBe(202);
        expect(res.body).toMatchObject({ queued: true, workflowId: paymentWorkflowId(id) });
      }
      const ready = await fetch(`${receiver.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'degraded', temporal: 'unreachable', spool: { depth: ids.length } });

      // No clean-up runs: what survives is what was fsync'd before each 202.
      await receiver.kill('SIGKILL');
      expect((await spoolRows(spoolUrl)).map((r) => r.workflow_id)).toEqual(ids.map(paymentWorkflowId));

      await server.restart();
      receiver = await startReceiverProcess(receiverEnv(server.address, taskQueue, spoolUrl));
      await expect.poll(async () => (await spoolRows(spoolUrl)).length, { timeout: 120_000, interval: 250 }).toBe(0);
      // The drainer logs a pass after it removed the rows, and the line still has to come down the
      // pipe: waited for, not read at once.
      await expect
        .poll(() => logLines(receiver, 'spool drained').reduce((sum, l) => sum + Number(l.started), 0), { timeout: 30_000 })
        .toBe(ids.length);
      await expectRanOnce(ids);
    },
  );
});

describe('a disk that refuses the spool’s writes', () => {
  let dir: string;
  let receiver: Child & { url: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookline-spool-disk-'));
  });
  afterAll(async () => {
    await receiver?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After once a write fails, and every event it answered 202 is in the spool', { timeout: 120_000 }, async () => {
    const spoolFile = join(dir, 'spool.db');
    // Temporal is nowhere, so every event goes to the spool.
    receiver = await startReceiverProcess(receiverEnv(`127.0.0.1:${await freePort()}`, `disk-${unique()}`, `sqlite:${spoolFile}`));
    // A real refusal from the kernel, which chmod cannot give a root process: RLIMIT_FSIZE on the
    // running receiver, a little above the spool's write-ahead log as it is now. A write past it
    // fails with EFBIG (Node ignores SIGXFSZ), as it would on a full disk.
    const size = (path: string) => statSync(path, { throwIfNoEntry: false })?.size ?? 0;
    const limit = Math.max(size(spoolFile), size(`${spoolFile}-wal`)) + 128 * 1024;
    execFileSync('prlimit', ['--pid', String(receiver.process.pid), `--fsize=${limit}:${limit}`]);

    const answered: { id: string; status: number; body: Record<string, unknown>; retryAfter: string | null }[] = [];
    for (let n = 0; n < 200 && !answered.some((a) => a.status === 503); n++) {
      const id = `PMT-${unique()}`;
      const res = await sendSigned(receiver.url, 'payments', payment(id));
      answered.push({ id, status: res.status, body: res.body, retryAfter: res.headers.get('retry-after') });
    }
    const accepted = answered.filter((a) => a.status === 202);
    const refused = answered.filter((a) => a.status !== 202);
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.every((a) => a.body.queued === true)).toBe(true);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.status).toBe(503);
    expect(refused[0]!.retryAfter).toMatch(/^\d+$/);
    expect(refused[0]!.body).toMatchObject({
      type: 'urn:hookline:problem:temporal-unavailable',
      retryable: true,
      reason: 'spool-write-failed',
    });

    // Still refusing while the disk is: never a 2xx for an event that is not durable.
    const later = await sendSigned(receiver.url, 'payments', payment(`PMT-${unique()}`));
    expect(later.status).toBe(503);
    const spooled = (await spoolRows(`sqlite:${spoolFile}`)).map((r) => r.workflow_id);
    expect(spooled).toEqual(accepted.map((a) => paymentWorkflowId(a.id)));
  });
});

const postgresBase = process.env.TEST_DATABASE_URL;

describe.runIf(postgresBase)('two receivers on one PostgreSQL spool, one SIGKILLed mid-drain', () => {
  const taskQueue = `faults-spool-pg-${unique()}`;
  let spoolUrl: string;
  let proxies: TcpProxy[] = [];
  let receivers: (Child & { url: string })[] = [];
  let temporal: Awaited<ReturnType<typeof connect>>;

  beforeAll(async () => {
    spoolUrl = await freshPostgresUrl(postgresBase!);
    temporal = await connect(inject('temporalAddress'));
    const [host, port] = inject('temporalAddress').split(':');
    // Each receiver reaches the suite's dev server through its own proxy: "Temporal down" for one
    // receiver is a cut proxy, and the shared server is never touched.
    proxies = await Promise.all([0, 1].map(() => startTcpProxy({ host: host!, port: Number(port) })));
    receivers = await Promise.all(
      proxies.map((proxy) => startReceiverProcess(receiverEnv(proxy.address, taskQueue, spoolUrl, { TEMPORAL_START_TIMEOUT: '1s' }))),
    );
  }, 120_000);
  afterAll(async () => {
    for (const r of receivers) await r.kill();
    for (const p of proxies) await p.close();
    await temporal?.close();
  });

  it(
    'the other receiver finishes the drain, the dead one’s claimed rows after their lease; one run per event',
    { timeout: 180_000 },
    async () => {
      const [a, b] = receivers as [Child & { url: string }, Child & { url: string }];
      const [proxyA, proxyB] = proxies as [TcpProxy, TcpProxy];
      proxyA.cut();
      proxyB.cut();

      const EVENTS = 400;
      const ids = Array.from({ length: EVENTS }, () => `PMT-${unique()}`);
      for (let i = 0; i < EVENTS; i += 8) {
        const results = await Promise.all(
          ids.slice(i, i + 8).map((id, k) => sendSigned((i + k) % 2 === 0 ? a.url : b.url, 'payments', payment(id))),
        );
        for (const res of results) expect(res.status, JSON.stringify(res.body)).toBe(202);
      }
      expect(await spoolRows(spoolUrl)).toHaveLength(EVENTS);

      // A alone gets Temporal back and drains. Once it is well into the spool and holds a claim, it
      // is frozen (SIGSTOP: it can no longer finish the pass, so what it holds stays held), checked,
      // then SIGKILLed. If the claim was finished in the moment before the freeze, it thaws and tries again.
      const ownerA = logLines(a, 'spool drainer started')[0]!.owner as string;
      proxyA.restore();
      const atKill = await vi.waitFor(
        async () => {
          const rows = await spoolRows(spoolUrl);
          expect(rows.length < EVENTS - 40 && rows.some((r) => r.claimed_by === ownerA), 'A holds a claim well into the drain').toBe(true);
          a.process.kill('SIGSTOP');
          const frozen = await spoolRows(spoolUrl);
          if (!frozen.some((r) => r.claimed_by === ownerA)) {
            a.process.kill('SIGCONT');
            throw new Error('A finished its claim just before the freeze');
          }
          return frozen;
        },
        { timeout: 90_000, interval: 10 },
      );
      await a.kill('SIGKILL');
      // Mid-drain: rows were left, and A held some of them when it died.
      const heldByA = atKill.filter((r) => r.claimed_by === ownerA);
      expect(atKill.length).toBeGreaterThan(heldByA.length);
      expect(heldByA.length).toBeGreaterThan(0);

      proxyB.restore();
      await expect.poll(async () => (await spoolRows(spoolUrl)).length, { timeout: 120_000, interval: 250 }).toBe(0);
      const drainedByB = () => logLines(b, 'spool drained').reduce((sum, l) => sum + Number(l.started), 0);
      // Everything left at the kill, A's held rows included (after their 3 s lease), B started. Its
      // last pass is logged after the rows are gone, and the line comes down a pipe: waited for.
      await expect.poll(drainedByB, { timeout: 30_000 }).toBeGreaterThanOrEqual(atKill.length);

      // One run per event: none missing, none started twice.
      await expect
        .poll(() => runsOnQueue(temporal.client, taskQueue), { timeout: 30_000, interval: 500 })
        .toEqual(ids.map(paymentWorkflowId).sort());
    },
  );
});
