import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Kysely } from 'kysely';
import * as repo from '../src/db/repo';
import type { Schema } from '../src/db/schema';
import { workflowIdFor } from '../src/events/identity';
import type { FollowUpResult } from '../workflows/contracts/inquiries';
import {
  conversationId,
  conversationQuery,
  customerMessageSignal,
  OUTCOMES,
  resolveUpdate,
  type Conversation,
  type EarlierConversation,
  type EscalationResult,
  type RecordedConversation,
} from '../workflows/contracts/conversation';
import { decodePayloads } from './payloads';
import type { TemporalDeps } from './relay';

/** A person's decision on a conversation, as its raiser would have been given it; undefined when it has none. */
function decisionOf(conversation: Conversation): EscalationResult | undefined {
  const outcome = conversation.outcome;
  const decisions: readonly string[] = OUTCOMES[conversation.kind];
  if (outcome === undefined || !decisions.includes(outcome)) return undefined;
  return {
    outcome: outcome as EscalationResult['outcome'],
    ...(conversation.assignee ? { agent: conversation.assignee } : {}),
    ...(conversation.note ? { note: conversation.note } : {}),
  };
}

/**
 * What a rerun of a raising workflow needs to know about the conversations its earlier runs
 * started (workflows/handoff.ts): a conversation's ID is never reused, so the rerun asks what
 * became of the one under its ID.
 */
export function conversations(deps: TemporalDeps & { db: Kysely<Schema> }) {
  const { temporal, db } = deps;
  /** The completed-effects key under which a conversation's decision outlives Temporal's retention. */
  const decisionKey = (id: string) => `${id}:decision`;

  /** The last `resolve` a person made that the conversation took, read from its history: no worker replays it. */
  async function resolvedInHistory(id: string): Promise<EscalationResult | undefined> {
    const history = await temporal.workflow.getHandle(id).fetchHistory();
    const resolves = new Set<string>();
    let decided: EscalationResult | undefined;
    for (const event of history.events ?? []) {
      const accepted = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
      if (accepted?.input?.name === resolveUpdate.name && accepted.meta?.updateId) resolves.add(accepted.meta.updateId);
      const completed = event.workflowExecutionUpdateCompletedEventAttributes;
      const updateId = completed?.meta?.updateId;
      const success = completed?.outcome?.success?.payloads;
      if (updateId && resolves.has(updateId) && success) {
        const [conversation] = await decodePayloads(temporal, success);
        decided = decisionOf(conversation as Conversation) ?? decided;
      }
    }
    return decided;
  }

  return {
    /**
     * A customer's follow-up to the open conversation of their inquiry: signalled when one is open
     * (a repeat of the signal is harmless, the conversation keeps each message id once), else not
     * delivered, with why.
     */
    async deliverFollowUp(input: {
      source: string;
      inquiryId: string;
      messageId: string;
      text: string;
      at: string;
    }): Promise<FollowUpResult> {
      const id = inquiryConversationId(input.source, input.inquiryId);
      const handle = temporal.workflow.getHandle(id);
      try {
        const { status } = await handle.describe();
        if (status.name !== 'RUNNING')
          return { delivered: false, conversationId: id, reason: `the conversation is ${status.name.toLowerCase()}` };
        const conversation = await handle.query(conversationQuery);
        if (conversation.status === 'resolved') return { delivered: false, conversationId: id, reason: 'the conversation is resolved' };
        await handle.signal(customerMessageSignal, { messageId: input.messageId, text: input.text, at: input.at });
        return { delivered: true, conversationId: id, reason: `added to the conversation (${conversation.status})` };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return { delivered: false, conversationId: id, reason: 'no person holds the inquiry' };
        throw err;
      }
    },

    /**
     * What became of the conversation under `id`: completed, its result (a person's decision, or
     * expiry on its deadline) is the rerun's; closed otherwise (withdrawn when its raiser failed,
     * terminated, failed), a person's `resolve` taken before it closed still counts, else there was
     * no decision. One that still runs is on its way out (its raiser closed, which cancels it):
     * retried until it has recorded itself withdrawn, so a person cannot decide the old one while
     * the rerun asks again.
     */
    /**
     * What hookline's own records say of the conversation under `id`, for a rerun that may come
     * after Temporal's retention deleted it: `held` while Temporal still has it (starting it is
     * refused and {@link earlierConversation} reads it); `forgotten` when Temporal does not but
     * hookline announced it (its `opened` notice is in the outbox, whose keys are never reused), with
     * the decision recorded when it had one; `unused` otherwise. Starting a forgotten one again
     * would reuse its notification keys, and the outbox would swallow its announcement and replies.
     */
    async recordedConversation(id: string): Promise<RecordedConversation> {
      try {
        await temporal.workflow.getHandle(id).describe();
        return { state: 'held' };
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
      const decided = await repo.findCompletedEffect(db, decisionKey(id));
      if (decided) return { state: 'forgotten', result: decided.result as EscalationResult };
      const announced = await repo.findNotification(db, `${id}:handoff:opened`);
      return announced ? { state: 'forgotten' } : { state: 'unused' };
    },

    /** Records a conversation's decision for as long as its raiser could be run again (see recordedConversation). */
    async recordDecision(input: { id: string; result: EscalationResult }): Promise<void> {
      await repo.recordCompletedEffect(db, {
        key: decisionKey(input.id),
        effect: 'conversation-decision',
        result: input.result,
        workflowId: input.id,
      });
    },

    async earlierConversation(id: string): Promise<EarlierConversation> {
      const handle = temporal.workflow.getHandle(id);
      const status = (await handle.describe()).status.name;
      if (status === 'COMPLETED') return { status, result: (await handle.result()) as EscalationResult };
      if (status === 'RUNNING') {
        const conversation = await handle.query(conversationQuery);
        if (conversation.status !== 'resolved') {
          throw new Error(`conversation ${id} is still open (${conversation.status}); its raiser has closed, so it is being withdrawn`);
        }
        const result = decisionOf(conversation);
        return result ? { status, result } : { status };
      }
      const result = await resolvedInHistory(id);
      Context.current().log.info('earlier conversation read', { conversationId: id, status, decided: result !== undefined });
      return result ? { status, result } : { status };
    },
  };
}

/**
 * The conversation an inquiry raised: its inquiry workflow is named by its source and its
 * identity, which for an inquiry read from a helpdesk ticket is its inquiry id (src/providers/zendesk/map.ts).
 */
export function inquiryConversationId(source: string, inquiryId: string): string {
  return conversationId(workflowIdFor(source, 'customer.inquiry.new', inquiryId), 'inquiry');
}

export type ConversationActivities = ReturnType<typeof conversations>;
