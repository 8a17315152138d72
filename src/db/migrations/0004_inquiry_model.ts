import type { HooklineMigration } from './migration.js';

/**
 * How an inquiry was decided: by the rules alone or with the language model, which model, what it
 * cost in tokens, and, when the model was meant to help and could not, why the rules took over.
 */
export const inquiryModel: HooklineMigration = {
  async up(db) {
    await db.schema.alterTable('inquiries').addColumn('decided_by', 'text').execute();
    await db.schema.alterTable('inquiries').addColumn('model', 'text').execute();
    await db.schema.alterTable('inquiries').addColumn('tokens_in', 'integer').execute();
    await db.schema.alterTable('inquiries').addColumn('tokens_out', 'integer').execute();
    await db.schema.alterTable('inquiries').addColumn('fallback_reason', 'text').execute();
  },
  async down(db) {
    for (const column of ['fallback_reason', 'tokens_out', 'tokens_in', 'model', 'decided_by']) {
      await db.schema.alterTable('inquiries').dropColumn(column).execute();
    }
  },
};
