import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { knowledgeBase, notifications, partners } from '../activities';
import { createClients } from '../src/clients';
import { migrateToLatest, openDatabase, type Database } from '../src/db';
import { SAMPLES } from '../src/events/samples';
import type { OrderStatusUpdated } from '../src/events/schemas';
import { silentLogger } from '../src/log';
import { createNotifier, type NotifyResult } from '../src/notify';
import { sandboxClientsConfig, startSandbox, type RunningSandbox } from '../src/sandbox';
import { TEST_SETTINGS, testDatabases } from './support/harness';

/**
 * Activities on their own, in Temporal's mock activity context, over the real database and the
 * sandbox: classification of partner errors and cancellation reach the HTTP request.
 */
describe('activities', () => {
  let database: Database;
  let sandbox: RunningSandbox;
  let activities: ReturnType<typeof knowledgeBase> & ReturnType<typeof partners> & ReturnType<typeof notifications>;

  beforeAll(async () => {
    database = await openDatabase(testDatabases()[0]!.url());
    await migrateToLatest(database);
    sandbox = await startSandbox({ port: 0 });
    // Each group from only the dependencies it takes: none of them gets a Temporal client.
    const db = database.db;
    const clients = createClients(sandboxClientsConfig(sandbox.url, { timeoutMs: 10_000 }));
    activities = {
      ...knowledgeBase({ db, settings: TEST_SETTINGS }),
      ...partners({ db, clients }),
      ...notifications({ db, clients, notifier: createNotifier({ db, logger: silentLogger }) }),
    };
  });
  afterAll(async () => {
    await sandbox?.close();
    await database?.close();
  });

  it('enriches from the CRM and keeps the customer in the knowledge base', async () => {
    const customer = await new MockActivityEnvironment().run(activities.enrichCustomer, 'CUST-67890');
    expect(customer).toMatchObject({
      name: 'Alice Smith',
      email: 'alice@example.com',
      lastOrders: [{ order_id: 'ORD-12345' }, { order_id: 'ORD-00112' }],
    });
    const stored = await database.db.selectFrom('customers').selectAll().where('id', '=', 'CUST-67890').executeTakeFirstOrThrow();
    expect(stored.email).toBe('alice@example.com');
  });

  it('an unknown customer is a non-retryable failure, classified where it arose', async () => {
    const err = await new MockActivityEnvironment().run(activities.enrichCustomer, 'CUST-404-nobody').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ nonRetryable: true, type: 'UpstreamNotFound' });
  });

  it('cancelling the activity aborts its hung HTTP request at once', async () => {
    sandbox.sandbox.addFault({ system: 'carrier', method: 'POST', path: '/return-labels', kind: 'hang', times: 1 });
    const env = new MockActivityEnvironment();
    const pending = env.run(activities.createReturnLabel, {
      returnId: 'RET-C1',
      orderId: 'ORD-C1',
      customerId: 'CUST-67890',
      items: [{ product_id: 'P', quantity: 1 }],
      idempotencyKey: 'RET-C1:label',
    });
    // Cancelled only once the request hangs at the carrier (the fault took it, no answer yet).
    const hanging = () =>
      sandbox.sandbox
        .calls()
        .some((c) => c.system === 'carrier' && c.path === '/return-labels' && c.fault?.endsWith(':hang') && c.status === null);
    await expect.poll(hanging, { timeout: 30_000, interval: 20 }).toBe(true);
    const cancelledAt = Date.now();
    env.cancel();
    await expect(pending).rejects.toBeInstanceOf(CancelledFailure);
    // Well inside the client's own 10 s timeout: the cancellation, not a timeout, ended the call.
    expect(Date.now() - cancelledAt).toBeLessThan(5_000);
  });

  it('a notification is sent once per idempotency key, rendered from the template', async () => {
    const message = {
      kind: 'order-shipped' as const,
      orderId: 'ORD-12345',
      carrier: 'FedEx',
      trackingNumber: 'TRK-ABCDEF123',
      eta: '2023-10-30',
    };
    const env = new MockActivityEnvironment();
    const first: NotifyResult = await env.run(activities.notifyCustomer, { idempotencyKey: 'k-1', customerId: 'CUST-67890', message });
    const second = await env.run(activities.notifyCustomer, { idempotencyKey: 'k-1', customerId: 'CUST-67890', message });
    expect(first.duplicate).toBe(false);
    expect(second).toMatchObject({ duplicate: true, id: first.id });
    const row = await database.db.selectFrom('notifications').selectAll().where('idempotency_key', '=', 'k-1').executeTakeFirstOrThrow();
    expect(row.body).toBe(
      'Hi Alice,\n\nGood news! Your order ORD-12345 has shipped with FedEx, tracking TRK-ABCDEF123. Estimated delivery: October 30th.',
    );
  });

  it('a message for a customer the CRM does not know still lands in the outbox, for a person to route', async () => {
    const sent: NotifyResult = await new MockActivityEnvironment().run(activities.notifyCustomer, {
      idempotencyKey: 'k-unknown',
      customerId: 'CUST-404-ghost',
      message: { kind: 'order-delivered' as const, orderId: 'ORD-GHOST' },
    });
    expect(sent).toMatchObject({ duplicate: false, channel: 'outbox' });
    const row = await database.db
      .selectFrom('notifications')
      .selectAll()
      .where('idempotency_key', '=', 'k-unknown')
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ recipient: null, customer_id: 'CUST-404-ghost', subject: 'Your order ORD-GHOST was delivered' });
  });

  it('a stale order event changes nothing', async () => {
    const env = new MockActivityEnvironment();
    const base: OrderStatusUpdated = { ...SAMPLES['order.status_updated'], order_id: 'ORD-STALE' };
    expect(
      await env.run(activities.applyOrderStatus, { ...base, new_status: 'delivered' as const, timestamp: '2026-01-02T00:00:00Z' }),
    ).toBe('applied');
    expect(await env.run(activities.applyOrderStatus, { ...base, new_status: 'shipped' as const, timestamp: '2026-01-01T00:00:00Z' })).toBe(
      'stale',
    );
    const order = await database.db.selectFrom('orders').select('status').where('id', '=', 'ORD-STALE').executeTakeFirstOrThrow();
    expect(order.status).toBe('delivered');
  });

  it('a repeat by a run of the event that applied a status counts as applied; the same row reached by another event is stale', async () => {
    const event = {
      ...(SAMPLES['order.status_updated'] as OrderStatusUpdated),
      order_id: 'ORD-LOSTREPLY',
      timestamp: '2026-02-01T00:00:00Z',
    };
    const run = (runId: string, attempt = 1, workflowId = 'order-ORD-LOSTREPLY') =>
      new MockActivityEnvironment({ attempt, workflowExecution: { workflowId, runId } });
    // Attempt 1 commits; its answer is lost (the connection dropped), so Temporal runs attempt 2.
    expect(await run('run-1').run(activities.applyOrderStatus, event)).toBe('applied');
    expect(await run('run-1', 2).run(activities.applyOrderStatus, event)).toBe('applied');
    // A local activity whose worker died before its workflow task completed runs again from attempt 1.
    expect(await run('run-1').run(activities.applyOrderStatus, event)).toBe('applied');
    // A run of the same event that replaces a failed one (same workflow ID) goes on as the owner,
    // so its customer is still told; the outbox's key sends that message once.
    expect(await run('run-2').run(activities.applyOrderStatus, event)).toBe('applied');
    expect(await run('run-2', 3).run(activities.applyOrderStatus, event)).toBe('applied');
    // Another event reaching the same row (the same status from another sender) is stale, whatever its attempt.
    expect(await run('run-3', 1, 'other-ORD-LOSTREPLY').run(activities.applyOrderStatus, event)).toBe('stale');
    expect(await run('run-3', 3, 'other-ORD-LOSTREPLY').run(activities.applyOrderStatus, event)).toBe('stale');
    // And a repeat never turns a genuinely older event into an applied one.
    expect(await run('run-1', 2).run(activities.applyOrderStatus, { ...event, new_status: 'processing' as const })).toBe('stale');
  });
});
