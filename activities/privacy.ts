import { log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import type { Kysely } from 'kysely';
import * as repo from '../src/db/repo';
import type { Schema } from '../src/db/schema';
import type { ErasureSubject, ReceiverEraser } from '../src/spool/privacy';
import { eraseSignal } from '../workflows/contracts/conversation';
import { quarantineResolvedSignal } from '../workflows/contracts/quarantine';
import { CustomerId } from '../workflows/contracts/search-attributes';

export interface PrivacyDeps {
  db: Kysely<Schema>;
  temporal: Client;
  /** The receiver's database (its spool and quarantined bodies); undefined when not reachable from here. */
  receiverEraser?: () => Promise<ReceiverEraser | undefined>;
}

/** Whom an erasure is about, as the privacy workflow names them (ids and addresses from the signed request). */
export interface ErasureInput {
  /** The privacy workflow's ID: its own spooled row is the drain's to delete. */
  requestId: string;
  subject: Omit<ErasureSubject, 'source'>;
  /** A shop's erasure: this source's every row, body and customer. */
  shopSource?: string;
}

/**
 * The erasures that reach beyond the knowledge base: the receiver's spool and quarantined bodies,
 * and the conversations still open. Each is safe to repeat (erasing twice is erasing once).
 */
export function privacy(deps: PrivacyDeps) {
  const { db, temporal } = deps;
  return {
    /**
     * Erases the subject's parked spool rows and quarantined bodies (each such quarantine is then
     * resolved as discarded, so nobody waits to replay a body that is gone). A spool row still
     * waiting to be started is an event that will run: while there is one, this erases nothing and
     * fails, retryably, until the drain has started it and deleted the row (seconds, with Temporal
     * answering), so no event is lost and none lands after the erasure with their data. Answers
     * counts, or `reached: false` when the receiver's database is not on this host (an SQLite spool
     * elsewhere: set SPOOL_URL for the worker too).
     */
    async eraseFromReceiver(input: ErasureInput): Promise<{ reached: boolean; spoolRows: number; quarantinedBodies: number }> {
      const opened = await deps.receiverEraser?.();
      if (!opened) {
        log.warn('the receiver database is not reachable from this worker: its spool and quarantined bodies were not erased', {
          requestId: input.requestId,
        });
        return { reached: false, spoolRows: 0, quarantinedBodies: 0 };
      }
      const erased = await opened.erase({ ...input.subject, source: input.shopSource }, input.requestId);
      for (const workflowId of erased.quarantined) {
        try {
          await temporal.workflow
            .getHandle(workflowId)
            .signal(quarantineResolvedSignal, { outcome: 'discarded', by: 'privacy', note: `body erased by ${input.requestId}` });
        } catch (err) {
          // Expired or resolved meanwhile: its body is gone all the same.
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
      }
      if (erased.pending > 0) {
        throw ApplicationFailure.create({
          type: 'SpooledEventsPending',
          message: `${erased.pending} spooled event(s) about the subject are still to be started; erasing once the drain has started them`,
        });
      }
      return { reached: true, spoolRows: erased.spoolRows, quarantinedBodies: erased.quarantined.length };
    },

    /**
     * Adds what the receiver's database holds about the person (spooled events, quarantined bodies)
     * to their data request's logged export, beside the knowledge base's; answers the counts (the
     * data itself stays out of the workflow's history). Safe to repeat.
     */
    async exportFromReceiver(input: {
      requestId: string;
      subject: Omit<ErasureSubject, 'source'>;
    }): Promise<{ reached: boolean; spoolRows: number; quarantinedBodies: number }> {
      const opened = await deps.receiverEraser?.();
      if (!opened) return { reached: false, spoolRows: 0, quarantinedBodies: 0 };
      const held = await opened.gather(input.subject, input.requestId);
      await repo.addToPrivacyExport(db, input.requestId, { spool_rows: held.spoolRows, quarantined_bodies: held.quarantinedBodies });
      return { reached: true, spoolRows: held.spoolRows.length, quarantinedBodies: held.quarantinedBodies.length };
    },

    /**
     * Tells every open conversation about the subject to erase what it holds of them: the person's
     * own, or, for a shop, those of every customer its deliveries were about (the event log's, read
     * before the knowledge base's erasure forgets them). Answers how many it told.
     */
    async eraseFromOpenConversations(input: { customerIds: readonly string[]; shopSource?: string }): Promise<number> {
      const everyone = input.shopSource ? (await repo.sourceSubjects(db, input.shopSource)).customerIds : [];
      // A search query is text: only ID-shaped values go into one.
      const ids = [...new Set([...input.customerIds, ...everyone])].filter((id) => /^[A-Za-z0-9._:+=-]{1,128}$/.test(id));
      let told = 0;
      for (let i = 0; i < ids.length; i += 100) {
        const batch = ids.slice(i, i + 100);
        const query =
          `WorkflowType = 'conversationWorkflow' AND ExecutionStatus = 'Running' AND ` +
          `CustomerId IN (${batch.map((id) => `'${id}'`).join(', ')})`;
        for await (const open of temporal.workflow.list({ query })) {
          const customerId = open.typedSearchAttributes.get(CustomerId);
          if (customerId === undefined) continue;
          try {
            await temporal.workflow.getHandle(open.workflowId, open.runId).signal(eraseSignal, { customerId });
            told += 1;
          } catch (err) {
            if (!(err instanceof WorkflowNotFoundError)) throw err;
          }
        }
      }
      return told;
    },
  };
}

export type PrivacyActivities = ReturnType<typeof privacy>;
