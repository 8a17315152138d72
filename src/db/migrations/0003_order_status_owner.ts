import type { HooklineMigration } from './migration.js';

/**
 * The run that applied an order's current status (`workflowId/runId`). A retry of that run that
 * finds its own write already there (its first attempt committed and lost the answer, or a local
 * activity ran again after a worker crash, starting over at attempt 1) knows it applied the
 * status; another run that finds the same row is a redelivery.
 */
export const orderStatusOwner: HooklineMigration = {
  async up(db) {
    await db.schema.alterTable('orders').addColumn('status_owner', 'text').execute();
  },
  async down(db) {
    await db.schema.alterTable('orders').dropColumn('status_owner').execute();
  },
};
