import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyOrderStatus,
  applyPaymentOnce,
  claimProcessedEvent,
  createInquiry,
  findCompletedEffect,
  getCustomer,
  getInquiry,
  getOrder,
  getReturn,
  listCustomerOrders,
  listOrderItems,
  migrateToLatest,
  MigrationFailedError,
  migrations,
  openDatabase,
  recordCompletedEffect,
  recordInquiryDecision,
  recordPayment,
  toDecimalAmount,
  upsertCustomer,
  upsertOrderItems,
  upsertReturn,
  type Database,
} from '../src/db/index.js';

const repoRoot = resolve(__dirname, '..');
const APP_TABLES = [
  'completed_effects',
  'customers',
  'disputes',
  'event_log',
  'inquiries',
  'notifications',
  'operator_sessions',
  'operators',
  'order_items',
  'orders',
  'payments',
  'privacy_requests',
  'processed_events',
  'reconcile_cursors',
  'returns',
  'store_returns',
  'trackers',
];

/** Hands out URLs of empty databases and removes them afterwards. */
interface Target {
  name: 'sqlite' | 'postgres';
  freshUrl(): Promise<string>;
  cleanup(): Promise<void>;
}

function sqliteTarget(): Target {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-db-test-'));
  return {
    name: 'sqlite',
    // A nested path, so openDatabase has to create the directory.
    freshUrl: async () => `sqlite:${join(dir, randomUUID(), 'kb.sqlite')}`,
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

function postgresTarget(baseUrl: string): Target {
  const schemas: string[] = [];
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: baseUrl });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  return {
    name: 'postgres',
    // A schema of its own per database, reached through search_path, so reruns and
    // parallel runs never see each other's tables.
    async freshUrl() {
      const schema = `hookline_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
      await admin((c) => c.query(`create schema ${schema}`));
      schemas.push(schema);
      const options = encodeURIComponent(`-c search_path=${schema}`);
      return `${baseUrl}${baseUrl.includes('?') ? '&' : '?'}options=${options}`;
    },
    async cleanup() {
      await admin(async (c) => {
        for (const schema of schemas) await c.query(`drop schema if exists ${schema} cascade`);
      });
    },
  };
}

const targets: Target[] = [sqliteTarget()];
if (process.env.TEST_DATABASE_URL) targets.push(postgresTarget(process.env.TEST_DATABASE_URL));

describe.each(targets)('database on $name', (target) => {
  const opened: Database[] = [];
  /** One migrated database shared by the tests below that only add rows with fresh ids. */
  let sharedUrl: string;
  let database: Database;

  async function open(url: string): Promise<Database> {
    const d = await openDatabase(url);
    opened.push(d);
    return d;
  }

  beforeAll(async () => {
    sharedUrl = await target.freshUrl();
    database = await open(sharedUrl);
    await migrateToLatest(database);
  });

  afterAll(async () => {
    await Promise.all(opened.map((d) => d.close()));
    await target.cleanup();
  });

  /** The tables this connection sees (on PostgreSQL, those in its own schema). */
  async function tableNames(d: Database): Promise<string[]> {
    const schema = d.dialect === 'postgres' ? (await sql<{ s: string }>`select current_schema() as s`.execute(d.db)).rows[0]?.s : undefined;
    const tables = await d.db.introspection.getTables();
    return tables
      .filter((t) => t.schema === schema)
      .map((t) => t.name)
      .sort();
  }

  it('applies migrations once and then finds nothing to do', async () => {
    const url = await target.freshUrl();
    const first = await open(url);
    expect(first.dialect).toBe(target.name);
    expect(await migrateToLatest(first)).toEqual([
      '0001_initial',
      '0002_operators',
      '0003_order_status_owner',
      '0004_inquiry_model',
      '0005_completed_effects',
      '0006_event_log',
      '0007_providers',
      '0008_privacy',
      '0009_trackers',
      '0010_reconcile_cursors',
      '0011_event_log_identity',
      '0012_order_item_prices',
    ]);
    expect(await migrateToLatest(first)).toEqual([]);
    const second = await open(url);
    expect(await migrateToLatest(second)).toEqual([]);
    expect(await tableNames(second)).toEqual(APP_TABLES);
  });

  it('takes a migration merged after a later-numbered one already ran (0008 after 0009)', async () => {
    const url = await target.freshUrl();
    const first = await open(url);
    const { '0008_privacy': _later, ...before } = migrations;
    expect(await migrateToLatest(first, { migrations: before })).toContain('0009_trackers');
    expect(await migrateToLatest(first)).toEqual(['0008_privacy']);
    expect(await tableNames(first)).toEqual(APP_TABLES);
  });

  it('lets several processes migrate a fresh database at once', async () => {
    const url = await target.freshUrl();
    const dir = mkdtempSync(join(tmpdir(), 'hookline-migrate-'));
    const script = join(dir, 'migrate.ts');
    writeFileSync(
      script,
      `import { migrateToLatest, openDatabase } from ${JSON.stringify(join(repoRoot, 'src/db/index.ts'))};
       async function main() {
         const d = await openDatabase(process.argv[2]!);
         // Start together, so the processes really race: each says it is ready, then waits for "go".
         console.log('ready');
         await new Promise((resolve) => process.stdin.once('data', resolve));
         console.log(JSON.stringify(await migrateToLatest(d)));
         await d.close();
         process.stdin.destroy();
       }
       main().catch((e) => { console.error(e); process.exit(1); });`,
    );
    const children: ChildProcess[] = [];
    try {
      const runs = [1, 2, 3].map(() => {
        const child = spawn(process.execPath, ['--import', 'tsx', script, url], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
        children.push(child);
        let stdout = '';
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        const ready = new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (c: Buffer) => {
            stdout += c.toString();
            if (stdout.startsWith('ready\n')) resolve();
          });
          child.once('exit', (code) => reject(new Error(`migrate exited (${code}) before it was ready:\n${stderr}`)));
        });
        const done = new Promise<string>((resolve, reject) =>
          child.once('close', (code) =>
            code === 0 ? resolve(stdout.slice('ready\n'.length)) : reject(new Error(`exit ${code}: ${stderr}`)),
          ),
        );
        // Awaited below; this only keeps a run killed after a sibling failed from being reported as unhandled.
        done.catch(() => undefined);
        return { child, ready, done };
      });
      // However long each took to start on a loaded machine, all three are ready before any migrates.
      await Promise.all(runs.map((r) => r.ready));
      for (const r of runs) r.child.stdin.write('go\n');
      const applied = (await Promise.all(runs.map((r) => r.done))).map((out) => JSON.parse(out.trim()) as string[]);
      expect(applied.flat()).toEqual([
        '0001_initial',
        '0002_operators',
        '0003_order_status_owner',
        '0004_inquiry_model',
        '0005_completed_effects',
        '0006_event_log',
        '0007_providers',
        '0008_privacy',
        '0009_trackers',
        '0010_reconcile_cursors',
        '0011_event_log_identity',
        '0012_order_item_prices',
      ]);
      expect(await tableNames(await open(url))).toEqual(APP_TABLES);
    } finally {
      // Only those still waiting for "go" after a sibling failed.
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('names a failed migration and rolls it back', async () => {
    const d = await open(await target.freshUrl());
    await migrateToLatest(d);
    const broken = {
      ...migrations,
      '9999_broken': {
        async up(db: Parameters<(typeof migrations)[string]['up']>[0]) {
          await db.schema.createTable('half_done').addColumn('id', 'text').execute();
          await sql`select * from no_such_table`.execute(db);
        },
      },
    };
    const error: unknown = await migrateToLatest(d, { migrations: broken }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationFailedError);
    expect((error as MigrationFailedError).migrationName).toBe('9999_broken');
    expect((error as Error).message).toMatch(/migration "9999_broken" failed: .*no_such_table/);
    expect(await tableNames(d)).not.toContain('half_done');
    expect(await migrateToLatest(d)).toEqual([]);
  });

  it('claims a processed event exactly once, also when two connections race', async () => {
    const key = `payment.succeeded:${randomUUID()}`;
    expect(await claimProcessedEvent(database.db, key, 'payment.succeeded', 'wf-1')).toBe(true);
    expect(await claimProcessedEvent(database.db, key, 'payment.succeeded', 'wf-2')).toBe(false);
    const row = await database.db.selectFrom('processed_events').selectAll().where('key', '=', key).executeTakeFirst();
    expect(row).toMatchObject({ event_type: 'payment.succeeded', workflow_id: 'wf-1' });

    const other = await open(sharedUrl);
    const raced = `payment.succeeded:${randomUUID()}`;
    const results = await Promise.all([
      claimProcessedEvent(database.db, raced, 'payment.succeeded', 'wf-a'),
      claimProcessedEvent(other.db, raced, 'payment.succeeded', 'wf-b'),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('records a completed effect once, returns what was recorded, and keeps the first record', async () => {
    const key = `return:process:RET-${randomUUID()}:label`;
    expect(await findCompletedEffect(database.db, key)).toBeUndefined();
    const label = { labelId: 'LBL-1', trackingNumber: 'TRK-1', labelUrl: 'https://carrier.example/l/1', carrier: 'UPS' };
    await recordCompletedEffect(database.db, { key, effect: 'carrier.create-return-label', result: label, workflowId: 'wf/run-1' });
    // A second writer of the same key (a retry that got there too) changes nothing.
    await recordCompletedEffect(database.db, {
      key,
      effect: 'carrier.create-return-label',
      result: { labelId: 'LBL-2' },
      workflowId: 'wf/run-2',
    });
    const other = await open(sharedUrl);
    expect(await findCompletedEffect(other.db, key)).toMatchObject({
      effect: 'carrier.create-return-label',
      result: label,
      workflowId: 'wf/run-1',
    });

    const voided = `return:process:RET-${randomUUID()}:void-label`;
    await recordCompletedEffect(database.db, { key: voided, effect: 'carrier.void-return-label', result: undefined });
    expect(await findCompletedEffect(database.db, voided)).toMatchObject({ result: null, workflowId: null });
  });

  it('a payment claimed by one run of an event is applied by a later run of that event, not by another event', async () => {
    const paymentId = `PMT-${randomUUID()}`;
    const ledgerKey = `payment.succeeded:${paymentId}`;
    const payment = {
      paymentId,
      orderId: `ORD-${randomUUID()}`,
      status: 'succeeded' as const,
      amount: '10.00',
      currency: 'USD',
      eventAt: '2026-01-01T00:00:00Z',
    };
    const apply = (owner: string) => applyPaymentOnce(database.db, { ledgerKey, eventType: 'payment.succeeded', owner, payment });
    expect(await apply('payments:payment.succeeded:evt_1/run-1')).toBe(true);
    // The run that replaces a failed one: the same workflow ID.
    expect(await apply('payments:payment.succeeded:evt_1/run-2')).toBe(true);
    // The same payment event under another event's workflow (another delivery ID): a redelivery.
    expect(await apply('payments:payment.succeeded:evt_2/run-1')).toBe(false);
  });

  it('keeps the newest order status when events arrive out of order', async () => {
    const orderId = `ORD-${randomUUID()}`;
    expect(
      await applyOrderStatus(database.db, {
        orderId,
        customerId: 'CUST-1',
        status: 'shipped',
        eventAt: '2023-10-27T10:30:00Z',
        carrier: 'FedEx',
        trackingNumber: 'TRK-1',
        eta: '2023-10-30',
      }),
    ).toBe('applied');
    // Older, then exactly as old (a redelivery, in another offset): both ignored.
    expect(await applyOrderStatus(database.db, { orderId, status: 'processing', eventAt: '2023-10-27T10:00:00Z' })).toBe('stale');
    expect(await applyOrderStatus(database.db, { orderId, status: 'processing', eventAt: '2023-10-27T12:30:00+02:00' })).toBe('stale');
    expect(await getOrder(database.db, orderId)).toMatchObject({
      status: 'shipped',
      status_event_at: '2023-10-27T10:30:00.000Z',
    });

    // Newer, written with an offset: applied, and fields it does not carry are kept.
    expect(await applyOrderStatus(database.db, { orderId, status: 'delivered', eventAt: '2023-10-27T13:00:00+02:00' })).toBe('applied');
    expect(await getOrder(database.db, orderId)).toMatchObject({
      customer_id: 'CUST-1',
      status: 'delivered',
      status_event_at: '2023-10-27T11:00:00.000Z',
      carrier: 'FedEx',
      tracking_number: 'TRK-1',
      eta: '2023-10-30',
    });
    await expect(applyOrderStatus(database.db, { orderId, status: 'delivered', eventAt: 'yesterday' })).rejects.toThrow(
      /Not a valid timestamp/,
    );
  });

  it('keeps the newest order status when two connections apply events at once', async () => {
    const other = await open(sharedUrl);
    for (let i = 0; i < 20; i++) {
      const orderId = `ORD-race-${randomUUID()}`;
      const older = { orderId, status: 'shipped' as const, eventAt: '2023-10-27T10:30:00Z' };
      const newer = { orderId, status: 'delivered' as const, eventAt: '2023-10-28T09:00:00Z' };
      const [a, b] = i % 2 === 0 ? [older, newer] : [newer, older];
      const [ra, rb] = await Promise.all([applyOrderStatus(database.db, a), applyOrderStatus(other.db, b)]);
      expect(a === newer ? ra : rb).toBe('applied');
      expect(await getOrder(database.db, orderId)).toMatchObject({
        status: 'delivered',
        status_event_at: '2023-10-28T09:00:00.000Z',
      });
    }
  });

  it('refuses a second notification with the same idempotency key', async () => {
    const key = `wf-${randomUUID()}:shipped`;
    const row = {
      idempotency_key: key,
      audience: 'customer' as const,
      channel: 'outbox' as const,
      subject: 'Shipped',
      body: 'Your order shipped.',
      status: 'sent' as const,
      created_at: new Date().toISOString(),
    };
    const first = await database.db.insertInto('notifications').values(row).returning('id').executeTakeFirstOrThrow();
    expect(typeof first.id).toBe('number');
    await expect(database.db.insertInto('notifications').values(row).execute()).rejects.toThrow(/unique/i);
    const rows = await database.db.selectFrom('notifications').select('id').where('idempotency_key', '=', key).execute();
    expect(rows).toEqual([{ id: first.id }]);
    // Check constraints keep the enumerations honest on both databases.
    await expect(
      database.db
        .insertInto('notifications')
        .values({ ...row, idempotency_key: `${key}:2`, status: 'lost' as 'sent' })
        .execute(),
    ).rejects.toThrow(/check/i);
  });

  it('records payments newest-first and stamps the order paid once', async () => {
    const orderId = `ORD-${randomUUID()}`;
    const paymentId = `PMT-${randomUUID()}`;
    const base = { paymentId, orderId, currency: 'USD', amount: 99.99 };
    expect(await recordPayment(database.db, { ...base, status: 'refunded', eventAt: '2023-10-28T08:00:00Z' })).toBe('applied');
    expect(await recordPayment(database.db, { ...base, status: 'succeeded', eventAt: '2023-10-27T11:30:00Z' })).toBe('stale');
    const payment = await database.db.selectFrom('payments').selectAll().where('id', '=', paymentId).executeTakeFirst();
    expect(payment).toMatchObject({ status: 'refunded', amount: '99.99', currency: 'USD' });
    // The success still tells us when the order was paid, even though the OMS has not
    // reported the order yet.
    expect(await getOrder(database.db, orderId)).toMatchObject({
      paid_at: '2023-10-27T11:30:00.000Z',
      total_amount: '99.99',
      customer_id: null,
      status: null,
    });

    // Inside the caller's transaction, together with the ledger claim; rolled back with it.
    const late = `PMT-${randomUUID()}`;
    await expect(
      database.db.transaction().execute(async (tx) => {
        expect(await claimProcessedEvent(tx, `payment.succeeded:${late}`, 'payment.succeeded', 'wf-1')).toBe(true);
        await recordPayment(tx, { ...base, paymentId: late, status: 'succeeded', eventAt: '2023-10-29T00:00:00Z' });
        throw new Error('crash before commit');
      }),
    ).rejects.toThrow('crash before commit');
    expect(await database.db.selectFrom('payments').select('id').where('id', '=', late).execute()).toEqual([]);
    expect(await claimProcessedEvent(database.db, `payment.succeeded:${late}`, 'payment.succeeded', 'wf-2')).toBe(true);

    expect(toDecimalAmount('12.50')).toBe('12.50');
    expect(() => toDecimalAmount(1e21)).toThrow(/plain decimal/);
  });

  it('keeps customer, return and inquiry records up to date idempotently', async () => {
    const customerId = `CUST-${randomUUID()}`;
    await upsertCustomer(database.db, {
      id: customerId,
      name: 'Alice Smith',
      email: 'alice@example.com',
      phone: '+1 555 0100',
      details: { last_orders: [{ order_id: 'ORD-12345' }] },
    });
    await upsertCustomer(database.db, { id: customerId, name: 'Alice Smith', email: 'alice.smith@example.com' });
    const customer = await getCustomer(database.db, customerId);
    expect(customer).toMatchObject({ email: 'alice.smith@example.com', phone: '+1 555 0100' });
    expect(JSON.parse(customer!.details_json!)).toEqual({ last_orders: [{ order_id: 'ORD-12345' }] });

    const orderId = `ORD-${randomUUID()}`;
    await applyOrderStatus(database.db, { orderId, customerId, status: 'delivered', eventAt: '2023-10-01T00:00:00Z' });
    await upsertOrderItems(database.db, orderId, [{ productId: 'PROD-A', quantity: 1 }]);
    await upsertOrderItems(database.db, orderId, [{ productId: 'PROD-A', quantity: 2 }]);
    expect(await listOrderItems(database.db, orderId)).toEqual([
      { order_id: orderId, product_id: 'PROD-A', quantity: 2, unit_price: null },
    ]);
    // A store's unit price is kept, and a later line without one (an order system's) does not erase it.
    await upsertOrderItems(database.db, orderId, [{ productId: 'PROD-A', quantity: 2, unitPrice: '19.99' }]);
    await upsertOrderItems(database.db, orderId, [{ productId: 'PROD-A', quantity: 3 }]);
    expect(await listOrderItems(database.db, orderId)).toEqual([
      { order_id: orderId, product_id: 'PROD-A', quantity: 3, unit_price: '19.99' },
    ]);
    // Two lines of one product (a store's SKU twice): one row of both quantities, priced only when they agree.
    const twice = `ORD-${randomUUID()}`;
    await upsertOrderItems(database.db, twice, [
      { productId: 'MUG-1', quantity: 1, unitPrice: '25.00' },
      { productId: 'PLATE-2', quantity: 1, unitPrice: '7.50' },
      { productId: 'MUG-1', quantity: 2, unitPrice: '25.00' },
      { productId: 'PLATE-2', quantity: 1, unitPrice: '6.00' },
    ]);
    expect(await listOrderItems(database.db, twice)).toEqual([
      { order_id: twice, product_id: 'MUG-1', quantity: 3, unit_price: '25.00' },
      { order_id: twice, product_id: 'PLATE-2', quantity: 2, unit_price: null },
    ]);
    expect((await listCustomerOrders(database.db, customerId)).map((o) => o.id)).toEqual([orderId]);

    const returnId = `RET-${randomUUID()}`;
    const ret = { returnId, orderId, customerId };
    await upsertReturn(database.db, {
      ...ret,
      status: 'initiated',
      reason: 'Item too large',
      items: [{ productId: 'PROD-A', quantity: 1 }],
    });
    await upsertReturn(database.db, { ...ret, status: 'label-sent', labelId: 'LBL-1', trackingNumber: 'TRK-R' });
    expect(await getReturn(database.db, returnId)).toMatchObject({
      status: 'label-sent',
      reason: 'Item too large',
      items_json: JSON.stringify([{ product_id: 'PROD-A', quantity: 1 }]),
      label_id: 'LBL-1',
      tracking_number: 'TRK-R',
      refund_id: null,
    });

    const inquiryId = `INQ-${randomUUID()}`;
    const inquiry = { inquiryId, customerId, summary: 'Question about a recent order.', channel: 'email' };
    expect(await createInquiry(database.db, { ...inquiry, createdAt: '2023-10-27T11:00:00Z' })).toBe(true);
    expect(await createInquiry(database.db, inquiry)).toBe(false);
    await recordInquiryDecision(database.db, { inquiryId, decision: 'handoff', reason: 'refund dispute' });
    expect(await getInquiry(database.db, inquiryId)).toMatchObject({
      created_at: '2023-10-27T11:00:00.000Z',
      decision: 'handoff',
      decision_reason: 'refund dispute',
      reply: null,
    });
    await expect(recordInquiryDecision(database.db, { inquiryId: 'INQ-missing', decision: 'answered', reason: 'x' })).rejects.toThrow(
      /does not exist/,
    );
  });
});
