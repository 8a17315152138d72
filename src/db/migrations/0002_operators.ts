import type { HooklineMigration } from './migration.js';

/**
 * The people who work the escalation queue, each with a credential of their own, and the inbox's
 * sessions. Tokens and session ids are stored only as SHA-256 hashes: both are 256-bit random
 * values, so a plain hash cannot be reversed and no slow password hash is needed.
 */
export const operators: HooklineMigration = {
  async up(db) {
    await db.schema
      .createTable('operators')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('operator_sessions')
      .addColumn('id_hash', 'text', (c) => c.primaryKey())
      .addColumn('operator_name', 'text', (c) => c.notNull())
      // The token the session was opened with: an operator removed and added again under the
      // same name has a new token, so no session of the old one comes back to life.
      .addColumn('operator_token_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('operator_sessions_by_operator').on('operator_sessions').column('operator_name').execute();
  },
  async down(db) {
    await db.schema.dropTable('operator_sessions').execute();
    await db.schema.dropTable('operators').execute();
  },
};
