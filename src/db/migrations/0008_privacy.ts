import type { HooklineMigration } from './migration.js';

/**
 * What a store's webhooks need of the knowledge base:
 * - privacy requests (Shopify's customers/data_request, customers/redact, shop/redact), each logged
 *   when done: what was asked, about whom (the store's customer id, never an address) and what was
 *   done; a data request keeps what hookline held, for a person to send, until the person is erased;
 * - a customer profile's own time (`profile_event_at`, the store's `updated_at`), so a stale
 *   profile delivered late never overwrites a newer one.
 */
export const privacy: HooklineMigration = {
  async up(db) {
    await db.schema
      .createTable('privacy_requests')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('request', 'text', (c) => c.notNull())
      .addColumn('source', 'text', (c) => c.notNull())
      .addColumn('shop_id', 'text', (c) => c.notNull())
      .addColumn('customer_id', 'text')
      .addColumn('summary_json', 'text', (c) => c.notNull())
      .addColumn('export_json', 'text')
      .addColumn('completed_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.alterTable('customers').addColumn('profile_event_at', 'text').execute();
  },
  async down(db) {
    await db.schema.alterTable('customers').dropColumn('profile_event_at').execute();
    await db.schema.dropTable('privacy_requests').execute();
  },
};
