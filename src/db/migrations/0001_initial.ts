import { sql } from 'kysely';
import type { HooklineMigration } from './migration.js';

// Text for ids, timestamps (ISO-8601 UTC), money (decimal text) and JSON: see ../schema.ts.
export const initial: HooklineMigration = {
  async up(db, { dialect }) {
    await db.schema
      .createTable('customers')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('phone', 'text')
      .addColumn('details_json', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('orders')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('customer_id', 'text')
      .addColumn('status', 'text')
      .addColumn('status_event_at', 'text')
      .addColumn('carrier', 'text')
      .addColumn('tracking_number', 'text')
      .addColumn('eta', 'text')
      .addColumn('paid_at', 'text')
      .addColumn('total_amount', 'text')
      .addColumn('currency', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('orders_customer_id_idx').on('orders').column('customer_id').execute();

    await db.schema
      .createTable('order_items')
      .addColumn('order_id', 'text', (c) => c.notNull())
      .addColumn('product_id', 'text', (c) => c.notNull())
      .addColumn('quantity', 'integer', (c) => c.notNull().check(sql`quantity > 0`))
      .addPrimaryKeyConstraint('order_items_pk', ['order_id', 'product_id'])
      .execute();

    await db.schema
      .createTable('payments')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('order_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('amount', 'text', (c) => c.notNull())
      .addColumn('currency', 'text', (c) => c.notNull())
      .addColumn('status_event_at', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('payments_order_id_idx').on('payments').column('order_id').execute();

    await db.schema
      .createTable('returns')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('order_id', 'text', (c) => c.notNull())
      .addColumn('customer_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('items_json', 'text')
      .addColumn('label_id', 'text')
      .addColumn('tracking_number', 'text')
      .addColumn('refund_id', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('returns_order_id_idx').on('returns').column('order_id').execute();

    await db.schema
      .createTable('inquiries')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('customer_id', 'text', (c) => c.notNull())
      .addColumn('summary', 'text', (c) => c.notNull())
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('decision', 'text', (c) => c.check(sql`decision in ('answered', 'handoff')`))
      .addColumn('decision_reason', 'text')
      .addColumn('reply', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('inquiries_customer_id_idx').on('inquiries').column('customer_id').execute();

    // The one non-portable column: an auto-assigned integer key.
    const notifications =
      dialect === 'postgres'
        ? db.schema.createTable('notifications').addColumn('id', 'serial', (c) => c.primaryKey())
        : db.schema.createTable('notifications').addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
    await notifications
      .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
      .addColumn('audience', 'text', (c) => c.notNull().check(sql`audience in ('customer', 'agents')`))
      .addColumn('channel', 'text', (c) => c.notNull().check(sql`channel in ('outbox', 'email', 'chat')`))
      .addColumn('recipient', 'text')
      .addColumn('customer_id', 'text')
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('queued', 'sent', 'failed')`))
      .addColumn('error', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('sent_at', 'text')
      .execute();
    await db.schema.createIndex('notifications_customer_id_idx').on('notifications').column('customer_id').execute();

    await db.schema
      .createTable('processed_events')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('event_type', 'text', (c) => c.notNull())
      .addColumn('workflow_id', 'text', (c) => c.notNull())
      .addColumn('processed_at', 'text', (c) => c.notNull())
      .execute();
  },

  async down(db) {
    for (const table of ['processed_events', 'notifications', 'inquiries', 'returns', 'payments', 'order_items', 'orders', 'customers']) {
      await db.schema.dropTable(table).ifExists().execute();
    }
  },
};
