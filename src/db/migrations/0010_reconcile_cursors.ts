import type { HooklineMigration } from './migration.js';

/**
 * The reconciler's cursor per source (src/reconcile/): the `created` time (Unix seconds) up to
 * which every event the provider lists has been handed to the intake. It only moves forward, and
 * only after a whole pass was handed over, so a pass that fails leaves it where it was.
 */
export const reconcileCursors: HooklineMigration = {
  async up(db) {
    await db.schema
      .createTable('reconcile_cursors')
      .addColumn('source', 'text', (c) => c.primaryKey())
      .addColumn('created_up_to', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db) {
    await db.schema.dropTable('reconcile_cursors').execute();
  },
};
