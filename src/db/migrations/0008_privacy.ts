import type { HooklineMigration } from './migration.js';

/**
 * What a store's webhooks need of the knowledge base:
 * - privacy requests (Shopify's customers/data_request, customers/redact, shop/redact), each logged
 *   when done: what was asked, about whom (the store's customer id, never an address) and what was
 *   done; a data request keeps what hookline held, for a person to send, until the person is erased;
 * - a customer profile's own time (`profile_event_at`, the store's `updated_at`), so a stale
 *   profile delivered late never overwrites a newer one;
 * - returns a store runs itself (Shopify's), with how far each has got (`status_rank`), so a stale
 *   status delivered late never moves one back nor tells the customer old news.
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
    await db.schema
      .createTable('store_returns')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('order_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('status_rank', 'integer', (c) => c.notNull())
      .addColumn('status_owner', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('store_returns_order_id_idx').on('store_returns').column('order_id').execute();
  },
  async down(db) {
    await db.schema.dropTable('store_returns').execute();
    await db.schema.alterTable('customers').dropColumn('profile_event_at').execute();
    await db.schema.dropTable('privacy_requests').execute();
  },
};
