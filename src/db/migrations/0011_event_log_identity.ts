import type { HooklineMigration } from './migration.js';

/**
 * The event log by source and identity: a reconciliation pass asks, for every page a provider
 * lists, which of its event ids the log already holds (src/reconcile/reconciler.ts `knownIds`), so
 * that it need not read their bodies again (EasyPost's payloads, a request each). Without the index
 * each page would scan the whole log, which is kept for weeks.
 */
export const eventLogIdentity: HooklineMigration = {
  async up(db) {
    await db.schema.createIndex('event_log_source_identity').on('event_log').columns(['source', 'identity']).execute();
  },
  async down(db) {
    await db.schema.dropIndex('event_log_source_identity').execute();
  },
};
