import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { sendSigned, startReceiver, type Receiver } from './support/harness';
import { freePort, startDevServer, type DevServer } from './support/processes';
import { trackRetries } from './support/retries';

// The receiver's promise is "2xx only after Temporal has durably accepted the event". This file
// runs its own private dev server (never the shared one: stopping that would break every other
// file) and takes it away mid-test.

const START_TIMEOUT_MS = 2_000;
/**
 * A 503 must come back promptly, not hang the sender: the start deadline plus headroom for a
 * loaded machine (well short of a sender's own timeout, and of the Temporal client's retries).
 */
const PROMPT_MS = START_TIMEOUT_MS + 6_000;

const orderUpdated = () => ({
  event_type: 'order.status_updated',
  timestamp: new Date().toISOString(),
  order_id: `ORD-${randomUUID().slice(0, 8)}`,
  customer_id: 'CUST-67890',
  new_status: 'shipped',
});

type Sent = Awaited<ReturnType<typeof sendSigned>>;

async function timed(send: () => Promise<Sent>): Promise<Sent & { ms: number }> {
  const started = Date.now();
  const res = await send();
  return { ...res, ms: Date.now() - started };
}

function expectUnavailable(res: Sent & { ms: number }): void {
  expect(res.status, JSON.stringify(res.body)).toBe(503);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json\b/);
  expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(res.body).toMatchObject({ type: 'urn:hookline:problem:temporal-unavailable', status: 503, retryable: true });
  expect(res.body.accepted).toBeUndefined();
  expect(res.body.workflowId).toBeUndefined();
  expect(res.ms).toBeLessThan(PROMPT_MS);
}

describe('Temporal unavailable → 503 with Retry-After, never 2xx', () => {
  let server: DevServer;
  let dataDir: string;
  let connection: Connection;
  let client: Client;
  let receiver: Receiver;
  const closers: (() => Promise<unknown>)[] = [];
  // The receiver's starts during the outage leave the client's retries in timers (see trackRetries).
  const retries = trackRetries();

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hookline-unavailable-'));
    server = await startDevServer({ cliPath: inject('temporalCliPath'), dbFile: join(dataDir, 'temporal.db') });
    connection = await Connection.connect({ address: server.address, interceptors: [retries.interceptor] });
    client = new Client({ connection, namespace: 'default' });
    // No worker: accepting an event only needs Temporal to record the start.
    receiver = await startReceiver({ env: { client }, taskQueue: `unavailable-${randomUUID()}`, startTimeoutMs: START_TIMEOUT_MS });
  });

  afterAll(async () => {
    for (const close of closers) await close().catch(() => undefined);
    await receiver?.close();
    await server?.stop();
    await retries.settle();
    await connection?.close().catch(() => undefined);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('accepts while the server is up, then answers 503 (retryable, Retry-After, promptly) once it is stopped', async () => {
    const first = orderUpdated();
    const accepted = await sendSigned(receiver.url, 'oms', first);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const workflowId = accepted.body.workflowId as string;
    expect((await client.workflow.getHandle(workflowId).describe()).status.name).toBe('RUNNING');

    // A crash, not a polite shutdown.
    await server.current.kill('SIGKILL');
    expect(server.current.process.signalCode).toBe('SIGKILL');

    const deliveries: [string, () => Promise<Sent>][] = [
      ['a new event', () => sendSigned(receiver.url, 'oms', orderUpdated())],
      [
        'another new event',
        () =>
          sendSigned(receiver.url, 'crm', {
            event_type: 'customer.inquiry.new',
            timestamp: new Date().toISOString(),
            inquiry_id: `INQ-${randomUUID()}`,
            customer_id: 'CUST-1',
            summary: 'Where is my order?',
            source: 'chat',
          }),
      ],
      // A redelivery must not be answered "duplicate" from memory: only Temporal can say so.
      ['a redelivery of the accepted event', () => sendSigned(receiver.url, 'oms', first)],
      // Quarantine is a Temporal start too; a verified-but-broken event is not accepted either.
      [
        'an event that would be quarantined',
        () => sendSigned(receiver.url, 'oms', { event_type: 'order.teleported', order_id: randomUUID() }),
      ],
    ];
    for (const [what, send] of deliveries) {
      const res = await timed(send);
      expect(res.status, `${what}: ${res.status} ${JSON.stringify(res.body)}`).not.toBeLessThan(300);
      expectUnavailable(res);
    }
  });

  it('a receiver pointed at an address where nothing listens answers 503', async () => {
    const nowhereRetries = trackRetries();
    const nowhere = Connection.lazy({
      address: `127.0.0.1:${await freePort()}`,
      connectTimeout: '1s',
      interceptors: [nowhereRetries.interceptor],
    });
    closers.push(async () => {
      await nowhereRetries.settle();
      await nowhere.close();
    });
    const lonely = await startReceiver({
      env: { client: new Client({ connection: nowhere, namespace: 'default' }) },
      taskQueue: `nowhere-${randomUUID()}`,
      startTimeoutMs: START_TIMEOUT_MS,
    });
    closers.push(() => lonely.close());
    for (let i = 0; i < 2; i++) {
      const res = await timed(() => sendSigned(lonely.url, 'oms', orderUpdated()));
      expectUnavailable(res);
    }
  });
});
