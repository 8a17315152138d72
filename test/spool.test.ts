import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { ConfigError } from '../src/config/env';
import type { EventEnvelope } from '../src/events/envelope';
import { workflowIdFor } from '../src/events/identity';
import { runSpoolCli } from '../scripts/spool';
import { createIntake } from '../src/intake/direct';
import { silentLogger } from '../src/log';
import {
  createDrainer,
  DEFAULT_DRAIN_POLICY,
  loadSpoolConfig,
  nextDrain,
  openSpool,
  readiness,
  SpoolRefusal,
  SpoolRefusedError,
  type SpoolStore,
} from '../src/spool';
import { connectTestEnv, sendSigned, startAgent, startReceiver, testDatabases, type Agent, type Receiver } from './support/harness';
import { freePort } from './support/processes';
import { spoolRows, spoolTargets } from './support/spool';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';

const policy = { ...DEFAULT_DRAIN_POLICY, initialBackoffMs: 100, maxBackoffMs: 1_000, idlePollMs: 500 };

describe('nextDrain: the drain loop’s schedule', () => {
  it('goes again at once after a pass that started rows, and may be woken', () => {
    expect(nextDrain('drained', 3, policy)).toEqual({ failures: 0, delayMs: 0, wakeable: true });
  });

  it('idles for idlePollMs when there is nothing to drain, and may be woken by a new row', () => {
    expect(nextDrain('empty', 0, policy)).toEqual({ failures: 0, delayMs: 500, wakeable: true });
    expect(nextDrain('empty', 4, policy).failures).toBe(0);
  });

  it('backs off exponentially while Temporal does not answer, capped, and a new row does not cut it short', () => {
    const top = () => 0.999999;
    const delays = [0, 1, 2, 3, 4, 5, 20, 1000].map((failures) => nextDrain('unavailable', failures, policy, top));
    expect(delays.map((d) => d.delayMs)).toEqual([100, 200, 400, 800, 1000, 1000, 1000, 1000]);
    expect(delays.map((d) => d.failures)).toEqual([1, 2, 3, 4, 5, 6, 21, 1001]);
    expect(delays.every((d) => !d.wakeable)).toBe(true);
  });

  it('jitters between half and all of the delay, so receivers that lost Temporal together spread out', () => {
    expect(nextDrain('unavailable', 2, policy, () => 0).delayMs).toBe(200);
    expect(nextDrain('unavailable', 2, policy, () => 0.5).delayMs).toBe(300);
    // Temporal answering but refusing every row left: backed off the same way, never a hot loop.
    expect(nextDrain('refused', 2, policy, () => 0.5)).toEqual({ failures: 3, delayMs: 300, wakeable: false });
  });
});

describe('spool configuration', () => {
  const sources = ['oms', 'crm', 'github-app'];

  it('spools every source by default, into an SQLite file under the data directory', () => {
    const config = loadSpoolConfig({}, sources);
    expect([...config.sources]).toEqual(sources);
    expect(config.url).toBe('sqlite:.data/spool.db');
    expect(loadSpoolConfig({ HOOKLINE_DATA_DIR: '/var/lib/hookline' }, sources).url).toBe('sqlite:/var/lib/hookline/spool.db');
    expect(config).toMatchObject({ maxEvents: 100_000, maxBytes: 1024 ** 3, leaseMs: 30_000 });
  });

  it('shares a PostgreSQL DATABASE_URL (several receivers), but never an SQLite one, and SPOOL_URL wins', () => {
    expect(loadSpoolConfig({ DATABASE_URL: 'postgres://h/db' }, sources).url).toBe('postgres://h/db');
    expect(loadSpoolConfig({ DATABASE_URL: 'sqlite:.data/hookline.db' }, sources).url).toBe('sqlite:.data/spool.db');
    expect(loadSpoolConfig({ DATABASE_URL: 'postgres://h/db', SPOOL_URL: 'sqlite:/tmp/s.db' }, sources).url).toBe('sqlite:/tmp/s.db');
  });

  it('turns a source off with WEBHOOK_SPOOL_<SOURCE>=off and names a bad value', () => {
    expect([...loadSpoolConfig({ WEBHOOK_SPOOL_CRM: 'off', WEBHOOK_SPOOL_GITHUB_APP: 'ON' }, sources).sources]).toEqual([
      'oms',
      'github-app',
    ]);
    expect(() => loadSpoolConfig({ WEBHOOK_SPOOL_OMS: 'maybe' }, sources)).toThrow(ConfigError);
    expect(() => loadSpoolConfig({ WEBHOOK_SPOOL_OMS: 'maybe' }, sources)).toThrow(/WEBHOOK_SPOOL_OMS: expected on or off/);
    expect(() => loadSpoolConfig({ SPOOL_URL: 'mysql://x' }, sources)).toThrow(/SPOOL_URL: expected sqlite:<path> or postgres:/);
    expect(() => loadSpoolConfig({ SPOOL_MAX_EVENTS: '0' }, sources)).toThrow(/SPOOL_MAX_EVENTS/);
  });
});

describe('readiness with a spool', () => {
  const stats = (depth: number) => ({ depth, bytes: depth * 100, oldestAgeMs: depth ? 1_500 : 0, claimed: 0, parked: 0 });

  it('is ready with an empty spool and Temporal reachable', () => {
    expect(readiness(true, stats(0))).toMatchObject({ ready: true, body: { status: 'ready' } });
  });

  it('is degraded (still ready) while events are spooled, or while Temporal is away but the spool works', () => {
    expect(readiness(true, stats(3))).toMatchObject({
      ready: true,
      body: { status: 'degraded', spool: { depth: 3, oldestAgeSeconds: 1.5 }, reason: expect.stringContaining('3 spooled') },
    });
    expect(readiness(false, stats(0))).toMatchObject({
      ready: true,
      body: { status: 'degraded', temporal: 'unreachable', reason: expect.stringContaining('spooled durably') },
    });
  });

  it('is not ready when neither Temporal nor the spool can take an event', () => {
    expect(readiness(false, 'unavailable').ready).toBe(false);
    expect(readiness(false, undefined).ready).toBe(false);
    expect(readiness(true, 'unavailable')).toMatchObject({ ready: true, body: { status: 'degraded', spool: 'unavailable' } });
  });
});

const envelope = (orderId = `ORD-${randomUUID().slice(0, 8)}`): EventEnvelope => ({
  source: 'oms',
  identity: `${orderId}:shipped`,
  identityFrom: 'natural-key',
  receivedAt: new Date().toISOString(),
  event: {
    event_type: 'order.status_updated',
    timestamp: new Date().toISOString(),
    order_id: orderId,
    customer_id: 'CUST-1',
    new_status: 'shipped',
  } as EventEnvelope['event'],
});
const idOf = (e: EventEnvelope) => workflowIdFor(e.source, e.event.event_type, e.identity);

describe.each(spoolTargets())('the spool store on $name', (target) => {
  let url: string;
  const stores: SpoolStore[] = [];
  const open = async (limits = { maxEvents: 1_000, maxBytes: 10_000_000 }, scope = 'default/q') => {
    const store = await openSpool(url, { scope, limits });
    stores.push(store);
    return store;
  };
  beforeAll(async () => {
    url = await target.freshUrl();
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
  });

  it('keeps one row per workflow ID, oldest first, and says when an event was already spooled', async () => {
    const store = await open(undefined, `scope-${randomUUID()}`);
    const [a, b] = [envelope(), envelope()];
    expect(await store.add(idOf(a), { kind: 'event', envelope: a })).toBe(true);
    expect(await store.add(idOf(b), { kind: 'event', envelope: b })).toBe(true);
    expect(await store.add(idOf(a), { kind: 'event', envelope: a })).toBe(false);
    const listed = await store.list(10);
    expect(listed.map((e) => e.workflowId)).toEqual([idOf(a), idOf(b)]);
    const stats = await store.stats();
    expect(stats.depth).toBe(2);
    expect(stats.bytes).toBe(listed[0]!.bytes + listed[1]!.bytes);
  });

  it('refuses an event beyond its count or size bound, without storing it', async () => {
    const full = await openSpool(url, { scope: `scope-${randomUUID()}`, limits: { maxEvents: 1_000_000, maxBytes: 10_000_000 } });
    stores.push(full);
    const existing = (await spoolRows(url)).length;
    const tight = await open({ maxEvents: existing + 1, maxBytes: 10_000_000 }, `scope-${randomUUID()}`);
    const first = envelope();
    expect(await tight.add(idOf(first), { kind: 'event', envelope: first })).toBe(true);
    const second = envelope();
    const refused = await tight.add(idOf(second), { kind: 'event', envelope: second }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(SpoolRefusedError);
    expect((refused as SpoolRefusedError).reason).toBe(SpoolRefusal.full);
    expect((refused as SpoolRefusedError).workflowId).toBe(idOf(second));
    const small = await open({ maxEvents: 1_000_000, maxBytes: 10 }, `scope-${randomUUID()}`);
    await expect(small.add(idOf(second), { kind: 'event', envelope: second })).rejects.toMatchObject({ reason: 'spool-full' });
    expect((await spoolRows(url)).map((r) => r.workflow_id)).not.toContain(idOf(second));

    // A drained row frees its place (counted once, even if removed twice), a redelivery takes none.
    const [row] = await tight.claim('drainer', 1, 60_000);
    expect(row?.workflowId).toBe(idOf(first));
    await tight.remove([row!.seq]);
    await tight.remove([row!.seq]);
    expect(await tight.add(idOf(second), { kind: 'event', envelope: second })).toBe(true);
    expect(await tight.add(idOf(second), { kind: 'event', envelope: second })).toBe(false);
    const third = envelope();
    await expect(tight.add(idOf(third), { kind: 'event', envelope: third })).rejects.toMatchObject({ reason: 'spool-full' });
  });

  it('leases rows to one drainer at a time; released or expired rows go to the next', async () => {
    const scope = `scope-${randomUUID()}`;
    const [one, two] = [await open(undefined, scope), await open(undefined, scope)];
    const events = Array.from({ length: 6 }, () => envelope());
    for (const e of events) await one.add(idOf(e), { kind: 'event', envelope: e });

    // Two drainers claiming at the same moment get disjoint rows.
    const [a, b] = await Promise.all([one.claim('a', 4, 60_000), two.claim('b', 4, 60_000)]);
    const claimed = [...a, ...b].map((r) => r.workflowId);
    expect(new Set(claimed).size).toBe(claimed.length);
    expect(claimed.sort()).toEqual(events.map(idOf).sort());
    expect(a[0]!.start).toMatchObject({ kind: 'event', envelope: { source: 'oms' } });
    expect(await one.claim('c', 10, 60_000)).toEqual([]);

    // Released rows (Temporal did not answer) are claimable again at once, with the error kept.
    await one.release(
      'a',
      a.map((r) => r.seq),
      'no answer within 1000 ms',
    );
    const again = await two.claim('c', 10, 60_000);
    expect(again.map((r) => r.workflowId)).toEqual(a.map((r) => r.workflowId));
    expect(again.every((r) => r.attempts === 2 && r.lastError === 'no answer within 1000 ms')).toBe(true);
    // Someone else's release does nothing.
    await one.release(
      'a',
      b.map((r) => r.seq),
    );
    expect(await one.claim('d', 10, 60_000)).toEqual([]);

    // A claim whose lease ran out (its drainer died) is taken over.
    await one.remove([...again, ...b].map((r) => r.seq));
    const late = envelope();
    await one.add(idOf(late), { kind: 'event', envelope: late });
    // The store reads the clock (Date.now) for leases: frozen here, so "before the lease runs out"
    // is a fact, not a hope that the next line runs within a second on a busy machine.
    vi.useFakeTimers({ toFake: ['Date'] });
    let taken: Awaited<ReturnType<typeof two.claim>>;
    try {
      vi.setSystemTime(Date.now());
      expect((await one.claim('dead', 10, 1_000)).map((r) => r.workflowId)).toEqual([idOf(late)]);
      // Before the lease runs out nobody else gets the row, not even a millisecond before.
      expect(await two.claim('alive', 10, 60_000)).toEqual([]);
      vi.setSystemTime(Date.now() + 999);
      expect(await two.claim('alive', 10, 60_000)).toEqual([]);
      // Once it has, the next drainer takes it over.
      vi.setSystemTime(Date.now() + 1);
      taken = await two.claim('alive', 10, 60_000);
    } finally {
      vi.useRealTimers();
    }
    expect(taken.map((r) => r.workflowId)).toEqual([idOf(late)]);
    expect((await one.stats()).claimed).toBe(1);
  });

  it('keeps other deployments’ rows (another scope) out of its claims and figures', async () => {
    const mine = await open(undefined, `scope-${randomUUID()}`);
    const theirs = await open(undefined, `scope-${randomUUID()}`);
    const e = envelope();
    await theirs.add(idOf(e), { kind: 'event', envelope: e });
    expect(await mine.claim('me', 10, 60_000)).toEqual([]);
    expect((await mine.stats()).depth).toBe(0);
    expect((await theirs.stats()).depth).toBe(1);
  });
});

const orderUpdated = (orderId = `ORD-${randomUUID().slice(0, 8)}`) => ({
  event_type: 'order.status_updated',
  timestamp: '2026-11-02T10:00:00Z',
  order_id: orderId,
  customer_id: 'CUST-67890',
  new_status: 'shipped',
});

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? NaN : Number(line.split(' ').at(-1));
}

describe('a receiver with a spool while Temporal is cut off (a TCP proxy to the shared dev server)', () => {
  let proxy: TcpProxy;
  let connection: Connection;
  let receiver: Receiver;
  let spoolUrl: string;
  let temporal: Client;
  let temporalConnection: Connection;
  const taskQueue = `spool-${randomUUID()}`;
  /** What /readyz is told about Temporal: the proxy's state. */
  let mode: 'up' | 'cut' = 'up';

  beforeAll(async () => {
    const [host, port] = inject('temporalAddress').split(':');
    proxy = await startTcpProxy({ host: host!, port: Number(port) });
    connection = await Connection.connect({ address: proxy.address });
    temporalConnection = await Connection.connect({ address: inject('temporalAddress') });
    temporal = new Client({ connection: temporalConnection, namespace: 'default' });
    spoolUrl = await spoolTargets()[0]!.freshUrl();
    receiver = await startReceiver({
      env: { client: new Client({ connection, namespace: 'default' }) },
      taskQueue,
      startTimeoutMs: 1_000,
      sourceEnv: { WEBHOOK_RATE_LIMIT_OMS: '10000/s' },
      spoolEnv: { SPOOL_URL: spoolUrl, WEBHOOK_SPOOL_CRM: 'off', SPOOL_MAX_EVENTS: '6' },
      spoolPolicy: { initialBackoffMs: 200, maxBackoffMs: 1_000, idlePollMs: 200 },
      isTemporalReachable: async () => mode === 'up',
    });
  });
  afterAll(async () => {
    await receiver?.close();
    // `connection` (through the proxy) is left open, like `nowhere` below: the Temporal client's
    // retry interceptor may still hold a timer for a start refused while the proxy was cut, and a
    // connection closed under it throws from that timer, uncaught.
    await temporalConnection?.close();
    await proxy?.close();
  });

  it(
    'answers 202 queued with the final workflow ID, 200 to a redelivery, 503 for a source with the spool off; drains once Temporal is back',
    { timeout: 60_000 },
    async () => {
      const direct = await sendSigned(receiver.url, 'oms', orderUpdated());
      expect(direct.status).toBe(202);
      expect(direct.body.queued).toBeUndefined();
      expect(await spoolRows(spoolUrl)).toEqual([]);

      proxy.cut();
      mode = 'cut';
      const first = orderUpdated();
      const queued = await sendSigned(receiver.url, 'oms', first);
      expect(queued.status, JSON.stringify(queued.body)).toBe(202);
      const workflowId = workflowIdFor('oms', 'order.status_updated', `${first.order_id}:shipped:${first.timestamp}`);
      expect(queued.body).toEqual({ accepted: true, duplicate: false, queued: true, workflowId });

      // Later events skip the start timeout: the outage is known, and they go straight to the spool.
      expect(receiver.spool?.intake.bypassing).toBe(true);
      const second = await sendSigned(receiver.url, 'oms', orderUpdated());
      expect(second.body.queued).toBe(true);

      const again = await sendSigned(receiver.url, 'oms', first);
      expect(again.status).toBe(200);
      expect(again.body).toEqual({ accepted: true, duplicate: true, workflowId });

      const kept = await sendSigned(receiver.url, 'oms', { event_type: 'order.teleported', order_id: randomUUID() });
      expect(kept.status).toBe(202);
      expect(kept.body).toMatchObject({
        accepted: true,
        queued: true,
        quarantined: true,
        reason: expect.stringContaining('unknown event type'),
      });

      const unspooled = await sendSigned(receiver.url, 'crm', {
        event_type: 'customer.inquiry.new',
        timestamp: new Date().toISOString(),
        inquiry_id: `INQ-${randomUUID()}`,
        customer_id: 'CUST-1',
        summary: 'Where is my order?',
        source: 'chat',
      });
      expect(unspooled.status).toBe(503);
      expect(unspooled.headers.get('retry-after')).toMatch(/^\d+$/);

      const rows = await spoolRows(spoolUrl);
      expect(rows.map((r) => r.workflow_id)).toEqual([workflowId, second.body.workflowId, kept.body.workflowId]);
      expect(await metric(receiver.url, 'hookline_spool_depth')).toBe(3);
      expect(await metric(receiver.url, 'hookline_spool_oldest_age_seconds')).toBeGreaterThan(0);
      expect(await metric(receiver.url, 'hookline_webhook_requests_total{source="oms",outcome="queued"}')).toBe(2);
      const ready = await fetch(`${receiver.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'degraded', spool: { depth: 3 } });

      // Full (SPOOL_MAX_EVENTS=6): 503 with Retry-After and the reason, and nothing stored.
      const more = [orderUpdated(), orderUpdated(), orderUpdated()];
      for (const body of more) expect((await sendSigned(receiver.url, 'oms', body)).status).toBe(202);
      const refused = await sendSigned(receiver.url, 'oms', orderUpdated('ORD-REFUSED'));
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(refused.body).toMatchObject({ type: 'urn:hookline:problem:temporal-unavailable', retryable: true, reason: 'spool-full' });
      expect(refused.body.accepted).toBeUndefined();
      const spooled = (await spoolRows(spoolUrl)).map((r) => r.workflow_id);
      expect(spooled).toHaveLength(6);
      expect(spooled.some((id) => id.includes('ORD-REFUSED'))).toBe(false);

      proxy.restore();
      mode = 'up';
      await expect.poll(async () => (await spoolRows(spoolUrl)).length, { timeout: 30_000, interval: 200 }).toBe(0);
      for (const id of spooled) {
        const description = await temporal.workflow.getHandle(id).describe();
        expect(description.taskQueue).toBe(taskQueue);
      }
      // The drainer counts what it removed once the delete has returned, a moment after the rows are
      // gone for this test's own reader; /readyz reuses its figures for up to a second. Waited for.
      await expect.poll(() => metric(receiver.url, 'hookline_spool_drained_total'), { timeout: 10_000 }).toBe(6);
      await expect
        .poll(async () => ((await (await fetch(`${receiver.url}/readyz`)).json()) as { status: string }).status, { timeout: 10_000 })
        .toBe('ready');
      // Back to the direct path: nothing spooled for a new event.
      await expect
        .poll(async () => (await sendSigned(receiver.url, 'oms', orderUpdated())).body.queued, { timeout: 10_000, interval: 300 })
        .toBeUndefined();
    },
  );
});

describe('a provider source with a spool while Temporal is cut off', () => {
  const STRIPE_SECRET = 'whsec_spool_stripe_provider_0123456789';
  const SHOPIFY_SECRET = 'shpss_spool_shopify_provider_0123456789';
  const EASYPOST_SECRET = 'spool_easypost_provider_0123456789';
  let proxy: TcpProxy;
  let connection: Connection;
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;
  let spoolUrl: string;

  beforeAll(async () => {
    const [host, port] = inject('temporalAddress').split(':');
    proxy = await startTcpProxy({ host: host!, port: Number(port) });
    connection = await Connection.connect({ address: proxy.address });
    env = await connectTestEnv();
    // The worker talks to Temporal directly: only the receiver's starts go through the proxy.
    agent = await startAgent({ env, databaseUrl: testDatabases()[0]!.url() });
    spoolUrl = await spoolTargets()[0]!.freshUrl();
    receiver = await startReceiver({
      env: { client: new Client({ connection, namespace: 'default' }) },
      taskQueue: agent.taskQueue,
      startTimeoutMs: 1_000,
      sourceEnv: { WEBHOOK_SECRET_STRIPE: STRIPE_SECRET, WEBHOOK_SECRET_SHOPIFY: SHOPIFY_SECRET, WEBHOOK_SECRET_EASYPOST: EASYPOST_SECRET },
      spoolEnv: { SPOOL_URL: spoolUrl },
      spoolPolicy: { initialBackoffMs: 200, maxBackoffMs: 1_000, idlePollMs: 200 },
    });
  });
  afterAll(async () => {
    await receiver?.close();
    await agent?.close();
    await env?.teardown();
    await proxy?.close();
  });

  it(
    'a Stripe event spooled while Temporal is away runs once when it returns; its redelivery meanwhile is a duplicate',
    { timeout: 60_000 },
    async () => {
      const example = JSON.parse(
        readFileSync(join(__dirname, '..', 'src', 'providers', 'stripe', 'examples', 'payment_intent.succeeded.json'), 'utf8'),
      ) as { data: { object: Record<string, unknown> } };
      const intent = `pi_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
      const body = JSON.stringify({
        ...example,
        id: `evt_${randomUUID().replace(/-/g, '')}`,
        data: { object: { ...example.data.object, id: intent } },
      });
      const send = () => sendSigned(receiver.url, 'stripe', body, { scheme: 'stripe', secret: STRIPE_SECRET });

      proxy.cut();
      const queued = await send();
      expect(queued.status, JSON.stringify(queued.body)).toBe(202);
      expect(queued.body).toMatchObject({ queued: true, duplicate: false });
      const workflowId = queued.body.workflowId as string;
      expect(workflowId).toMatch(/^stripe:payment\.succeeded:evt_/);
      expect((await send()).body).toEqual({ accepted: true, duplicate: true, workflowId });
      // What waits is the envelope the provider made: its provider and test mode travel with it.
      const [row] = await spoolRows(spoolUrl);
      expect(JSON.parse(row!.payload)).toMatchObject({ provider: 'stripe', testMode: true, event: { payment_id: intent } });

      proxy.restore();
      await expect.poll(async () => (await spoolRows(spoolUrl)).length, { timeout: 30_000, interval: 200 }).toBe(0);
      expect(await env.client.workflow.getHandle(workflowId).result()).toEqual({ duplicate: false, notified: 'payment-confirmed' });
      expect(await agent.db.selectFrom('payments').selectAll().where('id', '=', intent).execute()).toHaveLength(1);
      const messages = await agent.db.selectFrom('notifications').selectAll().where('idempotency_key', 'like', `%${intent}%`).execute();
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatchObject({ test_mode: 1, channel: 'outbox' });
    },
  );

  it(
    'a Shopify order spooled while Temporal is away runs once; the same body under another topic meanwhile is a duplicate',
    { timeout: 60_000 },
    async () => {
      const example = JSON.parse(
        readFileSync(join(__dirname, '..', 'src', 'providers', 'shopify', 'examples', 'orders-create.json'), 'utf8'),
      ) as Record<string, unknown>;
      const orderId = (2n ** 60n + BigInt(Date.now())).toString();
      const body = JSON.stringify({ ...example, id: orderId, admin_graphql_api_id: `gid://shopify/Order/${orderId}` }).replace(
        `"id":"${orderId}"`,
        `"id":${orderId}`,
      );
      const send = (topic: string) =>
        sendSigned(receiver.url, 'shopify', body, {
          scheme: 'hmac-sha256-base64',
          secret: SHOPIFY_SECRET,
          headers: { 'x-shopify-topic': topic, 'x-shopify-webhook-id': randomUUID() },
        });

      proxy.cut();
      const queued = await send('orders/create');
      expect(queued.status, JSON.stringify(queued.body)).toBe(202);
      expect(queued.body).toMatchObject({ queued: true, duplicate: false });
      const workflowId = queued.body.workflowId as string;
      expect(workflowId).toBe(`shopify:order.status_updated:order-${orderId}:cancelled:2021-12-31T19:00:00-05:00`);
      expect((await send('orders/cancelled')).body).toEqual({ accepted: true, duplicate: true, workflowId });
      const [row] = await spoolRows(spoolUrl);
      expect(JSON.parse(row!.payload)).toMatchObject({ provider: 'shopify', testMode: true, event: { order_id: orderId } });

      proxy.restore();
      await expect.poll(async () => (await spoolRows(spoolUrl)).length, { timeout: 30_000, interval: 200 }).toBe(0);
      expect(await env.client.workflow.getHandle(workflowId).result()).toEqual({ applied: true, notified: 'order-cancelled' });
      const messages = await agent.db
        .selectFrom('notifications')
        .selectAll()
        .where('idempotency_key', '=', `${workflowId}:notify`)
        .execute();
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatchObject({ test_mode: 1, channel: 'outbox' });
    },
  );
  it('an EasyPost tracker event spooled while Temporal is away runs once when it returns', { timeout: 60_000 }, async () => {
    // EasyPost's published delivered body (a test tracker) with a new event id and tracking code.
    const example = JSON.parse(
      readFileSync(join(__dirname, '..', 'src', 'providers', 'easypost', 'examples', 'tracker.updated-delivered.json'), 'utf8'),
    ) as { result: Record<string, unknown> };
    const tracking = `EZ${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`;
    const body = JSON.stringify({
      ...example,
      id: `evt_${randomUUID().replace(/-/g, '')}`,
      result: { ...example.result, tracking_code: tracking },
    });
    const send = () => sendSigned(receiver.url, 'easypost', body, { scheme: 'easypost', secret: EASYPOST_SECRET });

    proxy.cut();
    const queued = await send();
    expect(queued.status, JSON.stringify(queued.body)).toBe(202);
    expect(queued.body).toMatchObject({ queued: true, duplicate: false });
    const workflowId = queued.body.workflowId as string;
    expect(workflowId).toMatch(/^easypost:shipment\.delivered:evt_/);
    expect((await send()).body).toEqual({ accepted: true, duplicate: true, workflowId });
    const [row] = await spoolRows(spoolUrl);
    expect(JSON.parse(row!.payload)).toMatchObject({ provider: 'easypost', testMode: true, event: { tracking_number: tracking } });

    proxy.restore();
    await expect.poll(async () => (await spoolRows(spoolUrl)).length, { timeout: 30_000, interval: 200 }).toBe(0);
    expect(await env.client.workflow.getHandle(workflowId).result()).toEqual({ applied: true, notified: null });
    expect(await agent.db.selectFrom('trackers').selectAll().where('tracking_number', '=', tracking).execute()).toMatchObject([
      { status: 'delivered', test_mode: 1, order_id: null },
    ]);
  });
});

describe('a refusal is not an outage', () => {
  it('a start Temporal refuses for good (here: no such namespace) is answered 503 and not spooled', { timeout: 30_000 }, async () => {
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    const spoolUrl = await spoolTargets()[0]!.freshUrl();
    const receiver = await startReceiver({
      env: { client: new Client({ connection, namespace: `no-such-namespace-${randomUUID()}` }) },
      taskQueue: `refused-${randomUUID()}`,
      startTimeoutMs: 5_000,
      spoolEnv: { SPOOL_URL: spoolUrl },
    });
    try {
      const res = await sendSigned(receiver.url, 'oms', orderUpdated());
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ type: 'urn:hookline:problem:temporal-unavailable', retryable: true });
      expect(res.body.accepted).toBeUndefined();
      expect(await spoolRows(spoolUrl)).toEqual([]);
      expect(receiver.spool?.intake.bypassing).toBe(false);
    } finally {
      await receiver.close();
      await connection.close();
    }
  });
});

describe('npm run spool -- stats | list | drain', () => {
  const taskQueue = `spool-cli-${randomUUID()}`;
  let store: SpoolStore;
  let url: string;
  let connection: Connection;
  let nowhere: Connection;
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    url = await spoolTargets()[0]!.freshUrl();
    store = await openSpool(url, { scope: `default/${taskQueue}`, limits: { maxEvents: 100, maxBytes: 1_000_000 } });
    connection = await Connection.connect({ address: inject('temporalAddress') });
    nowhere = Connection.lazy({ address: `127.0.0.1:${await freePort()}`, connectTimeout: '1s' });
    // `nowhere` is left open, for the reason given above.
    closers.push(
      () => store.close(),
      () => connection.close(),
    );
  });
  afterAll(async () => {
    for (const close of closers) await close().catch(() => undefined);
  });

  const cli = async (argv: string[], client: Client) => {
    const lines: string[] = [];
    const intake = createIntake({ client, taskQueue, startTimeoutMs: 1_000, quarantineKeepForMs: 60_000 });
    const open = async () => ({ spool: store, drainer: () => createDrainer({ spool: store, intake, logger: silentLogger }) });
    const code = await runSpoolCli(argv, { open, out: (l) => lines.push(l) });
    return { code, text: lines.join('\n') };
  };

  it('shows what waits, keeps it when Temporal does not answer, and starts it when it does', { timeout: 30_000 }, async () => {
    const client = new Client({ connection, namespace: 'default' });
    const events = [envelope(), envelope()];
    for (const e of events) await store.add(idOf(e), { kind: 'event', envelope: e });

    const stats = await cli(['stats'], client);
    expect(stats.code).toBe(0);
    expect(stats.text).toMatch(/Spooled: +2 event\(s\)/);
    const list = await cli(['list'], client);
    expect(list.text).toContain(idOf(events[0]!));
    expect(list.text.indexOf(idOf(events[0]!))).toBeLessThan(list.text.indexOf(idOf(events[1]!)));

    const failed = await cli(['drain'], new Client({ connection: nowhere, namespace: 'default' }));
    expect(failed.code).toBe(1);
    expect(failed.text).toMatch(/Started 0 event\(s\), then Temporal did not answer/);
    const kept = await spoolRows(url);
    expect(kept.map((r) => r.workflow_id)).toEqual(events.map(idOf));
    expect(kept.every((r) => r.claimed_by === null)).toBe(true);
    expect((await cli(['list'], client)).text).toMatch(/no answer within 1000 ms|Temporal did not accept/);

    const drained = await cli(['drain'], client);
    expect(drained).toEqual({ code: 0, text: 'Started 2 event(s); the spool is empty.' });
    for (const e of events) expect((await client.workflow.getHandle(idOf(e)).describe()).taskQueue).toBe(taskQueue);
    expect((await cli(['list'], client)).text).toBe('The spool is empty.');
    expect((await cli(['bogus'], client)).code).toBe(2);
    // Help opens nothing: it works without a reachable spool.
    const lines: string[] = [];
    const noSpool = async (): Promise<never> => {
      throw new Error('help must not open the spool');
    };
    expect(await runSpoolCli(['help'], { open: noSpool, out: (l) => lines.push(l) })).toBe(0);
    expect(lines.join('\n')).toContain('Usage: npm run spool -- <command>');
  });
});
