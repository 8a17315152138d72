import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { sql } from 'kysely';
import pg from 'pg';
import { openDatabase } from '../src/db';
import { SAMPLES } from '../src/events/samples';
import { connectTestEnv, sendSigned, startAgent, startReceiver, testDatabases, type Agent, type Receiver } from './support/harness';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';

/**
 * PostgreSQL unavailable for a while, for real: the worker's pool reaches PostgreSQL through a
 * TCP proxy (test/support/tcp-proxy.ts) that the test cuts and restores; the shared server itself
 * is never stopped. PostgreSQL only, so these run when TEST_DATABASE_URL is set (CI sets it).
 */

const unique = () => randomBytes(4).toString('hex').toUpperCase();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const postgres = testDatabases().find((d) => d.name === 'postgres');

/** The same database and schema, reached through the proxy. */
function throughProxy(url: string, proxy: TcpProxy): string {
  const u = new URL(url);
  u.hostname = proxy.host;
  u.port = String(proxy.port);
  return u.toString();
}

describe.runIf(postgres)('PostgreSQL unavailable for a while', () => {
  let env: TestWorkflowEnvironment;
  let proxy: TcpProxy;
  let directUrl: string;
  let agent: Agent;
  let receiver: Receiver;
  /** Straight to PostgreSQL, never through the proxy: the test's own view of what was written. */
  let direct: pg.Client;

  beforeAll(async () => {
    env = await connectTestEnv();
    directUrl = postgres!.url();
    const server = new URL(process.env.TEST_DATABASE_URL!);
    proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    agent = await startAgent({ env, databaseUrl: throughProxy(directUrl, proxy) });
    receiver = await startReceiver({ env, taskQueue: agent.taskQueue });
    direct = new pg.Client({ connectionString: directUrl });
    await direct.connect();
  });
  afterAll(async () => {
    await direct?.end();
    await receiver?.close();
    await agent?.close();
    await proxy?.close();
    await env?.teardown();
  });

  async function deliver(source: string, body: object): Promise<string> {
    const res = await sendSigned(receiver.url, source, body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.workflowId as string;
  }

  /** Whether the workflow is still running (not completed, not failed). */
  async function running(workflowId: string): Promise<boolean> {
    return (await env.client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  }

  const count = async (query: string, params: unknown[]): Promise<number> =>
    Number((await direct.query<{ n: string }>(query, params)).rows[0]!.n);

  it('a connection lost mid-query fails that query, not the process, and the pool reconnects when the server is back', async () => {
    const database = await openDatabase(throughProxy(directUrl, proxy));
    try {
      const sleeping = sql`select pg_sleep(10)`.execute(database.db);
      // The query is running on the server, on a connection the pool has handed out.
      await expect
        .poll(() => count(`select count(*) as n from pg_stat_activity where query like 'select pg_sleep(10)%' and state = 'active'`, []), {
          timeout: 10_000,
        })
        .toBe(1);
      proxy.cut();
      await expect(sleeping).rejects.toThrow(/terminated|ECONNRESET|closed/i);
      // While it is down, new connections fail at once rather than hang.
      await expect(sql`select 1`.execute(database.db)).rejects.toThrow();
      expect(proxy.stats.refused).toBeGreaterThan(0);
      proxy.restore();
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(database.db);
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      proxy.restore();
      await database.close();
    }
  });

  it('activities retry through the outage and succeed once it is back; nothing is applied twice', { timeout: 120_000 }, async () => {
    const orderId = `ORD-${unique()}`;
    const paymentId = `PMT-${orderId}`;
    const customerId = `CUST-${unique()}`;
    // A first event through the pool, so it holds open connections when the link fails.
    await env.client.workflow
      .getHandle(await deliver('oms', { ...SAMPLES['order.status_updated'], order_id: `ORD-${unique()}`, customer_id: customerId }))
      .result();
    // Several connections open and idle, so each activity's first statement goes out on one of
    // them: a connection opened while replies are lost never finishes its handshake, and an
    // activity that only ever got such connections would never reach its write.
    await Promise.all(Array.from({ length: 4 }, () => sql`select pg_sleep(0.2)`.execute(agent.db)));

    // The link fails mid-exchange: statements reach PostgreSQL and run, their answers are lost.
    proxy.loseReplies();
    const shipped = await deliver('oms', {
      ...SAMPLES['order.status_updated'],
      order_id: orderId,
      customer_id: customerId,
      timestamp: '2026-11-02T10:00:00Z',
    });
    const paid = await deliver('payments', {
      ...SAMPLES['payment.succeeded'],
      payment_id: paymentId,
      order_id: orderId,
      customer_id: customerId,
      amount: 42,
    });
    // The order's update reaches PostgreSQL and commits; its answer never comes back (the payment's
    // transaction waits on its BEGIN's answer, so it goes no further).
    await expect
      .poll(() => count('select count(*) as n from orders where id = $1 and status = $2', [orderId, 'shipped']), {
        timeout: 30_000,
        interval: 200,
      })
      .toBe(1);
    await expect.poll(() => proxy.stats.lostReplies, { timeout: 30_000 }).toBeGreaterThan(0);

    // Then down entirely for a few seconds. The knowledge-base steps are local activities, retried
    // inside their workflow tasks (not listed as pending activities): their attempts show as
    // connections refused, and the workflows wait rather than fail.
    proxy.cut();
    const downAt = Date.now();
    const refusedBefore = proxy.stats.refused;
    await expect.poll(() => proxy.stats.refused, { timeout: 30_000, interval: 250 }).toBeGreaterThan(refusedBefore + 1);
    // The outage's length, not a wait for anything: the retries above are already seen; the link
    // stays down for 3 s in all.
    await sleep(Math.max(0, 3_000 - (Date.now() - downAt)));
    expect(await running(shipped)).toBe(true);
    expect(await running(paid)).toBe(true);
    proxy.restore();

    // The retries found their own committed writes: applied (and so told), not taken for redeliveries.
    expect(await env.client.workflow.getHandle(shipped).result()).toEqual({ applied: true, notified: 'order-shipped' });
    expect(await env.client.workflow.getHandle(paid).result()).toEqual({ duplicate: false, notified: 'payment-confirmed' });

    // Exactly once each: the status, the payment, its ledger entry, and one message per event.
    expect(await count('select count(*) as n from orders where id = $1 and status = $2', [orderId, 'shipped'])).toBe(1);
    expect(await count('select count(*) as n from payments where id = $1', [paymentId])).toBe(1);
    expect(await count('select count(*) as n from processed_events where key = $1', [`payment.succeeded:${paymentId}`])).toBe(1);
    const messages = await direct.query<{ idempotency_key: string; subject: string }>(
      'select idempotency_key, subject from notifications where customer_id = $1 and body like $2 order by id',
      [customerId, `%${orderId}%`],
    );
    expect(messages.rows.map((m) => m.idempotency_key).sort()).toEqual(
      [`${shipped}:notify`, `payment:payment.succeeded:${paymentId}`].sort(),
    );
  });
});
