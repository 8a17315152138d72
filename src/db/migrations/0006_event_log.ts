import type { HooklineMigration } from './migration.js';

/**
 * The event log: one row per delivery the receiver took (and per event a reconciliation or a
 * redrive handed to the intake), with how it was answered and, once its run closes, how the run
 * ended. IDs only, never a body: the bodies stay in Temporal and the spool. Kept for
 * EVENT_LOG_RETENTION whatever Temporal's own retention is, so "what happened to this order's
 * events" has an answer after Temporal has forgotten the runs.
 */
export const eventLog: HooklineMigration = {
  async up(db, { dialect }) {
    await db.schema
      .createTable('event_log')
      .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
        dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
      )
      .addColumn('received_at', 'text', (c) => c.notNull())
      .addColumn('via', 'text', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('provider', 'text', (c) => c.notNull())
      .addColumn('event_type', 'text')
      .addColumn('identity', 'text')
      .addColumn('workflow_id', 'text')
      .addColumn('delivery_ref', 'text')
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('order_id', 'text')
      .addColumn('customer_id', 'text')
      .addColumn('test_mode', 'integer')
      .addColumn('run_status', 'text')
      .addColumn('run_closed_at', 'text')
      .addColumn('checked_at', 'text')
      .execute();
    await db.schema.createIndex('event_log_received').on('event_log').columns(['received_at']).execute();
    await db.schema.createIndex('event_log_order').on('event_log').columns(['order_id', 'received_at']).execute();
    await db.schema.createIndex('event_log_customer').on('event_log').columns(['customer_id', 'received_at']).execute();
    await db.schema.createIndex('event_log_workflow').on('event_log').columns(['workflow_id']).execute();
    // The status recorder's work list: rows whose run is not known to be closed, least recently checked first.
    await db.schema.createIndex('event_log_open').on('event_log').columns(['run_status', 'checked_at']).execute();
  },
  async down(db) {
    await db.schema.dropTable('event_log').execute();
  },
};
