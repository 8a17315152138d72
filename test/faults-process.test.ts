import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { openDatabase, type Database } from '../src/db';
import { returnWorkflowId } from '../src/events/identity';
import { SAMPLES } from '../src/events/samples';
import { signWebhook } from '../src/signatures';
import { sandboxWorkerEnv, startSandbox, type RunningSandbox } from '../src/sandbox';
import { DEFAULT_SCHEMES, sendSigned, startReceiver, TEST_SECRETS, testSecretsEnv, type Receiver } from './support/harness';
import { startDevServer, startReceiverProcess, startWorkerProcess, type Child, type DevServer } from './support/processes';
import { trackRetries } from './support/retries';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';
import { day, deliveredPaidOrder, notificationsFor, payment, paymentWorkflowId, unique } from './support/fixtures';

/**
 * "No acknowledged event is lost or applied twice, whatever fails", with the failures made real:
 * hookline's worker and receiver run as their own processes and are killed with SIGKILL (no
 * clean-up code runs), and a private Temporal dev server is killed and restarted on its database
 * file. The shared dev server of the suite is never touched.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The environment `npm run worker` needs, pointed at a dev server, a database and the sandbox. */
function workerEnv(temporalAddress: string, taskQueue: string, databaseUrl: string, sandboxUrl: string): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: temporalAddress,
    HOOKLINE_TASK_QUEUE: taskQueue,
    DATABASE_URL: databaseUrl,
    UPSTREAM_TIMEOUT: '10s',
    RETURN_RECEIPT_WINDOW: '5m',
    WORKER_METRICS_ADDRESS: 'off',
    ...sandboxWorkerEnv(sandboxUrl),
  };
}

/**
 * The environment `npm run receiver` needs for the test senders' secrets. Payments do not spool
 * here: these tests are about the answer that waits for Temporal's acknowledgement, and the spool
 * (test/faults-spool.test.ts) would answer 202 queued once a held start timed out.
 */
function receiverEnv(temporalAddress: string, taskQueue: string): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: temporalAddress,
    HOOKLINE_TASK_QUEUE: taskQueue,
    TEMPORAL_START_TIMEOUT: '2s',
    WEBHOOK_SPOOL_PAYMENTS: 'off',
    SPOOL_URL: `sqlite:${join(mkdtempSync(join(tmpdir(), 'hookline-faults-spool-')), 'spool.db')}`,
    ...testSecretsEnv(),
  };
}

interface TestConnection {
  client: Client;
  connection: Connection;
  /** Closes the connection once no retry the client scheduled is still waiting to be sent. */
  close(): Promise<void>;
}

/** A connection whose closing waits for the client's own retries (see trackRetries). */
async function connect(address: string): Promise<TestConnection> {
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

/**
 * Bytes the kernel holds for the server's end of a loopback connection that its process has not
 * read yet, from /proc/net/tcp (undefined while the connection is not listed). With everything
 * the client wrote already handed to the kernel, 0 means the server process has read it all.
 */
function unreadByServer(serverPort: number, clientPort: number): number | undefined {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, remote, state, queues] = line.trim().split(/\s+/);
    // 01 is ESTABLISHED; the queues field is tx_queue:rx_queue in hex.
    if (local?.endsWith(`:${hex(serverPort)}`) && remote?.endsWith(`:${hex(clientPort)}`) && state === '01')
      return parseInt(queues!.split(':')[1]!, 16);
  }
  return undefined;
}

/** How many runs Temporal has of one workflow ID, open or closed: one means it started once. */
async function runsOf(client: Client, workflowId: string): Promise<number> {
  let runs = 0;
  for await (const _ of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs += 1;
  return runs;
}

describe('process faults on the shared dev server: worker and receiver killed', () => {
  const taskQueue = `faults-${unique()}`;
  let dir: string;
  let sandbox: RunningSandbox;
  let database: Database;
  let temporal: TestConnection;
  let worker: Child;
  let receiver: Receiver;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookline-faults-'));
    sandbox = await startSandbox({ port: 0 });
    temporal = await connect(inject('temporalAddress'));
    env = workerEnv(inject('temporalAddress'), taskQueue, `sqlite:${join(dir, 'kb.db')}`, sandbox.url);
    worker = await startWorkerProcess(env);
    // The worker has migrated the database by now; the test reads what the agent wrote.
    database = await openDatabase(env.DATABASE_URL!);
    receiver = await startReceiver({ env: temporal, taskQueue });
  });
  afterAll(async () => {
    await receiver?.close();
    await worker?.kill();
    await database?.close();
    await sandbox?.close();
    await temporal?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function deliver(source: string, body: object): Promise<string> {
    const res = await sendSigned(receiver.url, source, body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.workflowId as string;
  }

  it(
    'a worker SIGKILLed while the label request is in flight: the return finishes, one label, the customer told once',
    { timeout: 120_000 },
    async () => {
      const orderId = `ORD-${unique()}`;
      const returnId = `RET-${unique()}`;
      const returnWf = returnWorkflowId(returnId);
      // A delivered, paid order, so the return is within policy and needs no approval.
      await deliveredPaidOrder(deliver, temporal.client, orderId);

      // The carrier takes 3 s to answer, and creates the label whether or not anyone still listens.
      sandbox.sandbox.addFault({ system: 'carrier', method: 'POST', path: '/return-labels', kind: 'latency', delayMs: 3_000, times: 1 });
      await deliver('oms', { ...SAMPLES['return.initiated'], return_id: returnId, order_id: orderId, timestamp: day(5) });
      // The fault is used up the moment the carrier has the request: the activity is mid-call.
      await expect.poll(() => sandbox.sandbox.faults().length, { timeout: 30_000, interval: 50 }).toBe(0);
      await worker.kill('SIGKILL');
      // The label now exists at the carrier, but no worker heard of it.
      await expect.poll(() => sandbox.state.labels.filter((l) => l.return_id === returnId).length, { timeout: 10_000 }).toBe(1);

      worker = await startWorkerProcess(env);
      await deliver('carrier', { ...SAMPLES['return.received'], return_id: returnId, order_id: orderId, timestamp: day(9) });
      // The lost attempt stops heartbeating, so Temporal retries it after the 10 s heartbeat
      // timeout; the retry carries the same idempotency key.
      const state = await temporal.client.workflow.getHandle(returnWf).result();
      expect(state).toMatchObject({ status: 'refunded' });

      const labels = sandbox.state.labels.filter((l) => l.return_id === returnId);
      expect(labels).toHaveLength(1);
      expect(labels[0]).toMatchObject({ voided: false, label_id: state.label.labelId });
      const labelCalls = sandbox.sandbox
        .calls()
        .filter((c) => c.system === 'carrier' && c.method === 'POST' && c.path === '/return-labels');
      expect(labelCalls.length).toBeGreaterThanOrEqual(2);
      expect(new Set(labelCalls.map((c) => c.idempotencyKey))).toEqual(new Set([`${returnWf}:label`]));
      expect(labelCalls.slice(1).every((c) => c.replayed)).toBe(true);
      expect(await notificationsFor(database.db, `${returnWf}:label-sent`)).toHaveLength(1);
      expect(await notificationsFor(database.db, `${returnWf}:refunded`)).toHaveLength(1);
      expect(sandbox.state.refunds.filter((r) => r.order_id === orderId)).toHaveLength(1);
    },
  );

  describe('a receiver killed mid-request', () => {
    let proxy: TcpProxy;
    let killable: Child & { url: string };

    beforeAll(async () => {
      const [host, port] = inject('temporalAddress').split(':');
      proxy = await startTcpProxy({ host: host!, port: Number(port) });
    });
    afterAll(async () => {
      await killable?.kill();
      await proxy?.close();
    });

    it('while it uploads the body: nothing was started; sent again, it runs exactly once', { timeout: 90_000 }, async () => {
      killable = await startReceiverProcess(receiverEnv(inject('temporalAddress'), taskQueue));
      const paymentId = `PMT-${unique()}`;
      const raw = JSON.stringify(payment(paymentId));
      const headers = signWebhook(DEFAULT_SCHEMES.payments!, raw, TEST_SECRETS.payments!, {});
      const { port } = new URL(killable.url);
      const socket = net.connect(Number(port), '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      const answered = new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (chunk) => (text += chunk.toString()));
        socket.on('close', () => resolve(text));
        socket.on('error', () => undefined);
      });
      const head = Object.entries({ ...headers, 'content-type': 'application/json', 'content-length': String(raw.length) })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      // Handed to the kernel once the callback runs; on loopback that is the receiver's receive queue.
      await new Promise<void>((resolve, reject) =>
        socket.write(`POST /webhooks/payments HTTP/1.1\r\nhost: 127.0.0.1\r\n${head}\r\n${raw.slice(0, 20)}`, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
      // Killed mid-upload, not before it began: once the receiver process has read the head and the
      // first bytes of the body, its handler is waiting for the rest.
      await expect.poll(() => unreadByServer(Number(port), socket.localPort!), { timeout: 30_000, interval: 20 }).toBe(0);
      await killable.kill('SIGKILL');
      expect(await answered).toBe(''); // no answer at all, so certainly no 2xx
      expect(await runsOf(temporal.client, paymentWorkflowId(paymentId))).toBe(0);

      const again = await sendSigned(receiver.url, 'payments', payment(paymentId));
      expect(again.status).toBe(202);
      await temporal.client.workflow.getHandle(paymentWorkflowId(paymentId)).result();
      expect(await runsOf(temporal.client, paymentWorkflowId(paymentId))).toBe(1);
      expect(await notificationsFor(database.db, `payment:payment.succeeded:${paymentId}`)).toHaveLength(1);
    });

    it(
      'after Temporal accepted the start but before the answer: the resend is a duplicate, applied once',
      { timeout: 90_000 },
      async () => {
        killable = await startReceiverProcess(receiverEnv(proxy.address, taskQueue));
        // One event through first, so the receiver's gRPC connection runs through the proxy.
        expect((await sendSigned(killable.url, 'payments', payment(`PMT-${unique()}`))).status).toBe(202);

        const paymentId = `PMT-${unique()}`;
        proxy.holdResponses();
        const pending = sendSigned(killable.url, 'payments', payment(paymentId)).then(
          (res) => res.status,
          () => 'no answer' as const,
        );
        // Temporal has the workflow (it may already have run); the sender has heard nothing.
        await expect.poll(() => runsOf(temporal.client, paymentWorkflowId(paymentId)), { timeout: 30_000, interval: 100 }).toBe(1);
        await killable.kill('SIGKILL');
        expect(await pending).toBe('no answer');
        proxy.releaseResponses();

        const again = await sendSigned(receiver.url, 'payments', payment(paymentId));
        expect(again.status, JSON.stringify(again.body)).toBe(200);
        expect(again.body).toMatchObject({ duplicate: true, workflowId: paymentWorkflowId(paymentId) });
        const result = await temporal.client.workflow.getHandle(paymentWorkflowId(paymentId)).result();
        expect(result).toMatchObject({ duplicate: false, notified: 'payment-confirmed' });
        expect(await runsOf(temporal.client, paymentWorkflowId(paymentId))).toBe(1);
        expect(await notificationsFor(database.db, `payment:payment.succeeded:${paymentId}`)).toHaveLength(1);
      },
    );
  });
});

describe('the Temporal dev server killed and restarted on its database file while events stream in', () => {
  const taskQueue = `faults-restart-${unique()}`;
  let dir: string;
  let server: DevServer;
  let sandbox: RunningSandbox;
  let worker: Child;
  let database: Database;
  let temporal: TestConnection;
  let receiver: Receiver;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookline-restart-'));
    server = await startDevServer({ cliPath: inject('temporalCliPath'), dbFile: join(dir, 'temporal.db') });
    sandbox = await startSandbox({ port: 0 });
    const env = workerEnv(server.address, taskQueue, `sqlite:${join(dir, 'kb.db')}`, sandbox.url);
    worker = await startWorkerProcess(env);
    database = await openDatabase(env.DATABASE_URL!);
    temporal = await connect(server.address);
    // No rate limit in the way: 40 events arrive within seconds from one address, with retries.
    receiver = await startReceiver({
      env: temporal,
      taskQueue,
      startTimeoutMs: 2_000,
      sourceEnv: { WEBHOOK_RATE_LIMIT_PAYMENTS: '10000/s' },
    });
  }, 120_000);
  afterAll(async () => {
    await receiver?.close();
    // Closed while the server is still up, so no call left in flight meets a stopped server.
    await temporal?.close();
    await worker?.kill();
    await server?.stop();
    await database?.close();
    await sandbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every event that got a 2xx completes; those answered 503 and sent again complete once', { timeout: 240_000 }, async () => {
    const EVENTS = 40;
    const ids = Array.from({ length: EVENTS }, () => `PMT-${unique()}`);
    /** Per event, every answer the sender got, in order: a status, or 'error' for no answer. */
    const answers = new Map<string, (number | 'error')[]>(ids.map((id) => [id, []]));

    // A webhook sender as providers behave: retry after a pause until the receiver says 2xx.
    async function sendUntilAccepted(id: string): Promise<void> {
      for (const deadline = Date.now() + 150_000; Date.now() < deadline;) {
        const status = await sendSigned(receiver.url, 'payments', payment(id)).then(
          (res) => res.status,
          () => 'error' as const,
        );
        answers.get(id)!.push(status);
        if (status === 200 || status === 202) return;
        expect(status === 503 || status === 'error', `unexpected answer ${status}`).toBe(true);
        // A sender's retry pause, as providers wait before redelivering: not a wait for state.
        await sleep(500);
      }
    }

    const senders: Promise<void>[] = [];
    let restarted: Promise<void> | undefined;
    for (const [n, id] of ids.entries()) {
      senders.push(sendUntilAccepted(id));
      if (n === 15) {
        // Not before some event was acknowledged: the kill must land on a stream Temporal was taking in.
        await expect.poll(() => ids.slice(0, 15).some((earlier) => answers.get(earlier)![0] === 202), { timeout: 60_000 }).toBe(true);
        // A third of the way in: SIGKILL, so Temporal gets no chance to flush or say goodbye.
        await server.current.kill('SIGKILL');
        // Back once a sender has been refused (503 or a dropped request): the outage was seen.
        restarted = expect
          .poll(() => ids.some((other) => answers.get(other)!.some((s) => s === 503 || s === 'error')), { timeout: 60_000 })
          .toBe(true)
          .then(() => server.restart());
      }
      // Pacing: events arrive over time, so the kill lands mid-stream.
      await sleep(100);
    }
    // Together, so a restart that fails is reported rather than waited out by the senders.
    await Promise.all([...senders, restarted]);

    const acceptedBeforeKill = ids.slice(0, 15).filter((id) => answers.get(id)![0] === 202);
    const refusedThenResent = ids.filter((id) => answers.get(id)!.some((a) => a === 503 || a === 'error'));
    // The fault really happened to this stream: events were acked before it, others were refused.
    expect(acceptedBeforeKill.length).toBeGreaterThan(0);
    expect(refusedThenResent.length).toBeGreaterThan(0);

    for (const id of ids) {
      const final = answers.get(id)!.at(-1);
      expect([200, 202], `${id}: ${answers.get(id)!.join(', ')}`).toContain(final);
      const result = await temporal.client.workflow.getHandle(paymentWorkflowId(id)).result();
      // duplicate: false means this very run claimed the payment in the ledger: it was applied here, once.
      expect(result, id).toMatchObject({ duplicate: false, notified: 'payment-confirmed' });
      expect(await runsOf(temporal.client, paymentWorkflowId(id)), id).toBe(1);
      expect(await notificationsFor(database.db, `payment:payment.succeeded:${id}`), id).toHaveLength(1);
    }
  });
});
