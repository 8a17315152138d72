import type { HooklineMigration } from './migration.js';

/**
 * The external effects completed for an event, by the idempotency key the activity sent with it
 * (`<workflow ID>:label`, `…:refund`). The key names the event's step, not the run, so a run that
 * replaces a failed one finds what the first run completed and does not do it again, however long
 * after: partners forget idempotency keys (Stripe after 24 hours) or keep none.
 */
export const completedEffects: HooklineMigration = {
  async up(db) {
    await db.schema
      .createTable('completed_effects')
      .addColumn('idempotency_key', 'text', (c) => c.primaryKey())
      .addColumn('effect', 'text', (c) => c.notNull())
      .addColumn('result_json', 'text', (c) => c.notNull())
      .addColumn('workflow_id', 'text')
      .addColumn('completed_at', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db) {
    await db.schema.dropTable('completed_effects').execute();
  },
};
