import type { HooklineMigration } from './migration.js';

/**
 * A carrier's trackers (an EasyPost Tracker), one row per tracking number: where the shipment
 * stands, by the carrier's own clock (`status_event_at`: an older delivery never moves it back),
 * and the order or return it belongs to when the knowledge base knows it. A tracker for a tracking
 * number hookline has not seen is recorded all the same, without an order. The indexes find an
 * order's or a return label's tracking number, which is how a tracker is linked to them.
 */
export const trackers: HooklineMigration = {
  async up(db) {
    await db.schema
      .createTable('trackers')
      .addColumn('tracking_number', 'text', (c) => c.primaryKey())
      .addColumn('carrier', 'text', (c) => c.notNull())
      .addColumn('order_id', 'text')
      .addColumn('return_id', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('status_detail', 'text')
      .addColumn('eta', 'text')
      .addColumn('status_event_at', 'text', (c) => c.notNull())
      .addColumn('status_owner', 'text')
      .addColumn('test_mode', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('orders_tracking_number_idx').on('orders').column('tracking_number').execute();
    await db.schema.createIndex('returns_tracking_number_idx').on('returns').column('tracking_number').execute();
  },
  async down(db) {
    await db.schema.dropIndex('returns_tracking_number_idx').execute();
    await db.schema.dropIndex('orders_tracking_number_idx').execute();
    await db.schema.dropTable('trackers').execute();
  },
};
