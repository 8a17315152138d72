import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runEventsCli } from '../scripts/events';
import { appendEventLog, findEvents, migrateToLatest, openDatabase, type EventLogInput } from '../src/db';
import { createRunStatusRecorder } from '../src/eventlog/status';
import { createEventLogWriter, type EventLogWriter } from '../src/eventlog/writer';
import { SAMPLES } from '../src/events/samples';
import { silentLogger } from '../src/log';
import {
  connectTestEnv,
  sendSigned,
  startAgent,
  startReceiver,
  testDatabases,
  testOperators,
  type Agent,
  type Receiver,
} from './support/harness';
import { unique } from './support/fixtures';

/**
 * The event log over real HTTP, a real worker and a real database (SQLite, and PostgreSQL with
 * TEST_DATABASE_URL): one row per delivery whatever its answer, found by order and customer from
 * the CLI, the API and with the run's final status.
 */
describe.each(testDatabases())('the event log on $name', ({ url }) => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;
  let writer: EventLogWriter;
  let lead: string;
  let operatorAgent: string;
  let databaseUrl: string;

  beforeAll(async () => {
    env = await connectTestEnv();
    databaseUrl = url();
    agent = await startAgent({ env, databaseUrl });
    const operators = testOperators(agent);
    lead = (await operators.add(`lead-${unique().toLowerCase()}`, 'lead')).token;
    operatorAgent = (await operators.add(`agent-${unique().toLowerCase()}`, 'agent')).token;
    writer = createEventLogWriter({ write: (rows) => appendEventLog(agent.db, rows), logger: silentLogger, flushIntervalMs: 20 });
    receiver = await startReceiver({
      env,
      taskQueue: agent.taskQueue,
      operators,
      eventLog: writer,
      events: { db: agent.db, temporalUiUrl: 'http://temporal-ui.test:8233/', namespace: 'default' },
    });
  });
  afterAll(async () => {
    await receiver?.close();
    await writer?.close();
    await agent?.close();
    await env?.teardown();
  });

  const rowsOf = async (filter: Parameters<typeof findEvents>[1]) => {
    await writer.flush();
    return (await findEvents(agent.db, filter)).events;
  };

  it('records each delivery once, duplicates, quarantines and refusals included, with the run status once it closes', async () => {
    const orderId = `ORD-${unique()}`;
    const customerId = `CUST-${unique()}`;
    const body = { ...SAMPLES['order.status_updated'], order_id: orderId, customer_id: customerId };
    const first = await sendSigned(receiver.url, 'oms', body);
    expect(first.status).toBe(202);
    const workflowId = first.body.workflowId as string;
    expect((await sendSigned(receiver.url, 'oms', body)).status).toBe(200);
    expect((await sendSigned(receiver.url, 'oms', body)).status).toBe(200);
    const bad = { ...SAMPLES['order.status_updated'], order_id: orderId, new_status: 'teleported' };
    const quarantined = await sendSigned(receiver.url, 'oms', bad);
    expect(quarantined.body.quarantined).toBe(true);
    const forged = await sendSigned(receiver.url, 'oms', body, { secret: 'not-the-oms-secret-0123456789' });
    expect(forged.status).toBe(401);
    await env.client.workflow.getHandle(workflowId).result();

    const rows = await rowsOf({ orderId, limit: 50 });
    expect(rows.map((r) => r.outcome).sort()).toEqual(['accepted', 'duplicate', 'duplicate', 'quarantined']);
    for (const r of rows.filter((x) => x.outcome !== 'quarantined')) {
      expect(r).toMatchObject({ via: 'webhook', source: 'oms', provider: 'hookline', workflow_id: workflowId, customer_id: customerId });
      expect(r.event_type).toBe('order.status_updated');
    }
    const kept = rows.find((r) => r.outcome === 'quarantined')!;
    expect(kept.reason).toContain('order.status_updated');
    expect(kept.workflow_id).toMatch(/^quarantine:oms:/);
    // The forged delivery names no order (it was never read): found by source, outcome and time.
    const refused = await rowsOf({ source: 'oms', outcome: 'refused', since: new Date(Date.now() - 60_000).toISOString(), limit: 50 });
    expect(refused.some((r) => r.reason === 'invalid-signature: bad-signature' && r.workflow_id === null)).toBe(true);

    // The worker's recorder asks Temporal how the run ended. Visibility lags behind the run's result, so a
    // pass may still read it as running; the recorder then waits recheckMs (60 s by default) before asking
    // again, which is right for a worker but longer than this poll: here every pass asks.
    const recorder = createRunStatusRecorder({
      db: agent.db,
      client: env.client,
      logger: silentLogger,
      retentionMs: 86_400_000,
      recheckMs: 0,
    });
    await expect
      .poll(
        async () => {
          await recorder.pass();
          return (await rowsOf({ workflowId, limit: 10 })).map((r) => r.run_status);
        },
        { timeout: 20_000, interval: 500 },
      )
      .toEqual(['completed', 'completed', 'completed']);
    expect((await rowsOf({ workflowId, limit: 10 }))[0]!.run_closed_at).toMatch(/^\d{4}-/);
  });

  it('finds exactly one order’s and one customer’s events, from the CLI and from GET /events (leads only)', async () => {
    const [orderA, orderB, customer] = [`ORD-A${unique()}`, `ORD-B${unique()}`, `CUST-${unique()}`];
    const sent: string[] = [];
    for (const [orderId, status] of [
      [orderA, 'shipped'],
      [orderA, 'delivered'],
      [orderB, 'shipped'],
    ] as const) {
      const res = await sendSigned(receiver.url, 'oms', {
        ...SAMPLES['order.status_updated'],
        order_id: orderId,
        customer_id: customer,
        new_status: status,
        timestamp: new Date().toISOString(),
      });
      sent.push(res.body.workflowId as string);
    }
    const paid = await sendSigned(receiver.url, 'payments', {
      ...SAMPLES['payment.succeeded'],
      payment_id: `PMT-${unique()}`,
      order_id: orderA,
    });
    expect(paid.status).toBe(202);

    const ofA = await rowsOf({ orderId: orderA, limit: 50 });
    expect(ofA.map((r) => r.workflow_id).sort()).toEqual([sent[0], sent[1], paid.body.workflowId].sort());
    expect((await rowsOf({ customerId: customer, limit: 50 })).map((r) => r.workflow_id).sort()).toEqual([...sent].sort());

    const lines: string[] = [];
    const code = await runEventsCli(['find', '--order', orderA, '--json'], {
      // As `npm run events` does, from DATABASE_URL: a connection of its own.
      open: () => openDatabase(databaseUrl),
      out: (line) => lines.push(line),
    });
    expect(code).toBe(0);
    expect(lines.map((l) => (JSON.parse(l) as { orderId: string }).orderId)).toEqual([orderA, orderA, orderA]);

    const api = (path: string, token: string) => fetch(`${receiver.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const res = await api(`/events?order=${orderA}&limit=2`, lead);
    expect(res.status).toBe(200);
    const page = (await res.json()) as { events: { workflowId: string; orderId: string; temporalUrl: string }[]; next?: string };
    expect(page.events).toHaveLength(2);
    expect(page.next).toBeDefined();
    expect(page.events[0]!.temporalUrl).toBe(
      `http://temporal-ui.test:8233/namespaces/default/workflows/${encodeURIComponent(page.events[0]!.workflowId)}`,
    );
    const rest = (await (await api(`/events?order=${orderA}&limit=2&before=${page.next}`, lead)).json()) as typeof page;
    expect([...page.events, ...rest.events].map((e) => e.orderId)).toEqual([orderA, orderA, orderA]);
    expect(rest.next).toBeUndefined();
    expect((await api(`/events?order=${orderA}`, operatorAgent)).status).toBe(403);
    expect((await fetch(`${receiver.url}/events?order=${orderA}`)).status).toBe(401);
    const badQuery = await api('/events?outcome=exploded&since=yesterday-ish', lead);
    expect(badQuery.status).toBe(400);
    expect(((await badQuery.json()) as { detail: string }).detail).toMatch(/outcome: expected one of accepted/);
  });
});

describe('the event log writer', () => {
  /** A real SQLite knowledge base, and a second connection that holds its write lock as the worker would. */
  async function lockedDatabase() {
    const path = join(mkdtempSync(join(tmpdir(), 'hookline-eventlog-')), 'kb.db');
    const migrated = await openDatabase(`sqlite:${path}`);
    await migrateToLatest(migrated);
    await migrated.close();
    const holder = new BetterSqlite3(path);
    const receiverSide = await openDatabase(`sqlite:${path}`, { busyTimeoutMs: 0 });
    return { holder, receiverSide };
  }
  const row = (i: number): EventLogInput => ({
    receivedAt: new Date().toISOString(),
    via: 'webhook',
    source: 'oms',
    provider: 'hookline',
    outcome: 'accepted',
    workflowId: `oms:order.status_updated:ORD-${i}`,
    orderId: `ORD-${i}`,
  });

  it('never waits on a locked database: rows wait in memory, bounded, the excess counted, and are written once it frees', async () => {
    const { holder, receiverSide } = await lockedDatabase();
    const registry = new Registry();
    const writer = createEventLogWriter({
      write: (rows) => appendEventLog(receiverSide.db, rows),
      logger: silentLogger,
      registry,
      flushIntervalMs: 10,
      batchRows: 50,
      maxQueued: 300,
      maxBackoffMs: 50,
    });
    try {
      holder.exec('begin exclusive');
      const started = process.hrtime.bigint();
      for (let i = 0; i < 400; i++) writer.record(row(i));
      // record() is a push: 400 of them take well under a millisecond each, lock or no lock.
      expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(200);
      // Several attempts refused while the lock holds: the writer keeps retrying in the background.
      const failures = async () =>
        Number(
          /hookline_event_log_write_failures_total (\d+)/.exec(
            await registry.getSingleMetricAsString('hookline_event_log_write_failures_total'),
          )?.[1] ?? 0,
        );
      await expect.poll(failures).toBeGreaterThanOrEqual(3);
      // The event loop kept turning while the database was locked (a timer fired on time).
      const lag = await new Promise<number>((resolve) => {
        const at = Date.now();
        setTimeout(() => resolve(Date.now() - at), 10);
      });
      expect(lag).toBeLessThan(100);
      expect(writer.queued).toBe(300);
      expect(await registry.getSingleMetricAsString('hookline_event_log_dropped_total')).toMatch(/hookline_event_log_dropped_total 100$/m);
      holder.exec('commit');
      await expect.poll(() => writer.queued, { timeout: 5_000 }).toBe(0);
      const written = await findEvents(receiverSide.db, { source: 'oms', limit: 500 });
      expect(written.events).toHaveLength(300);
      // The first 300 kept, in order; the last 100 were the ones dropped.
      expect(new Set(written.events.map((e) => e.order_id))).toEqual(new Set(Array.from({ length: 300 }, (_, i) => `ORD-${i}`)));
    } finally {
      if (holder.inTransaction) holder.exec('rollback');
      holder.close();
      await writer.close();
      await receiverSide.close();
    }
  });

  it('prunes rows past the retention', async () => {
    const { holder, receiverSide } = await lockedDatabase();
    holder.close();
    try {
      const old = { ...row(1), receivedAt: new Date(Date.now() - 40 * 86_400_000).toISOString() };
      await appendEventLog(receiverSide.db, [old, row(2)]);
      const env = { client: undefined as never };
      const recorder = createRunStatusRecorder({
        db: receiverSide.db,
        client: env.client,
        logger: silentLogger,
        retentionMs: 30 * 86_400_000,
      });
      expect(await recorder.prune()).toBe(1);
      expect((await findEvents(receiverSide.db, { limit: 10 })).events.map((e) => e.order_id)).toEqual(['ORD-2']);
    } finally {
      await receiverSide.close();
    }
  });
});
