import { sql } from 'kysely';
import type { HooklineMigration } from './migration.js';

/**
 * What providers' events need of the knowledge base:
 * - a payment without an order: a Stripe payment intent need not name hookline's order, and its
 *   payment is recorded all the same (payments.order_id may be null);
 * - test mode: rows written for a provider's test event (Stripe `livemode: false`) say so
 *   (`test_mode` 1), and the notifier keeps a test event's customer messages in the outbox;
 * - disputes (chargebacks), each with the payment and, when known, the order it was for.
 * Booleans are integers 0/1, the one spelling SQLite and PostgreSQL share.
 */
export const providers: HooklineMigration = {
  async up(db, { dialect }) {
    if (dialect === 'postgres') {
      await sql`alter table payments alter column order_id drop not null`.execute(db);
    } else {
      // SQLite cannot drop a NOT NULL in place: the table is rebuilt with its rows.
      await sql`alter table payments rename to payments_0005`.execute(db);
      await sql`drop index if exists payments_order_id_idx`.execute(db);
      await db.schema
        .createTable('payments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('order_id', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('amount', 'text', (c) => c.notNull())
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('status_event_at', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await sql`insert into payments (id, order_id, status, amount, currency, status_event_at, updated_at)
        select id, order_id, status, amount, currency, status_event_at, updated_at from payments_0005`.execute(db);
      await sql`drop table payments_0005`.execute(db);
      await db.schema.createIndex('payments_order_id_idx').on('payments').column('order_id').execute();
    }
    for (const table of ['payments', 'orders', 'notifications']) {
      await db.schema
        .alterTable(table)
        .addColumn('test_mode', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    }
    await db.schema
      .createTable('disputes')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('payment_id', 'text', (c) => c.notNull())
      .addColumn('order_id', 'text')
      .addColumn('amount', 'text', (c) => c.notNull())
      .addColumn('currency', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('status', 'text')
      .addColumn('evidence_due_by', 'text')
      .addColumn('test_mode', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('disputes_payment_id_idx').on('disputes').column('payment_id').execute();
  },
  async down(db) {
    await db.schema.dropTable('disputes').execute();
    for (const table of ['notifications', 'orders', 'payments']) await db.schema.alterTable(table).dropColumn('test_mode').execute();
  },
};
