import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  ActivityFailure,
  CancellationScope,
  ChildWorkflowFailure,
  executeChild,
  log,
  ParentClosePolicy,
  patched,
  WorkflowIdReusePolicy,
  workflowInfo,
} from '@temporalio/workflow';
import type { CustomerContext } from '../src/agent/types';
import { conversations, lookups } from './activities';
import { tellAgents } from './agents-channel';
import {
  CONVERSATION_WORKFLOW_TYPE,
  conversationId,
  type ConversationWorkflow,
  type EscalationRequest,
  type EscalationRequestOf,
  type EscalationResult,
  type HandoffFacts,
  type HandoffKind,
} from './contracts/conversation';
import { CustomerId, HandoffPriority, HandoffQueue, HandoffStatus } from './contracts/search-attributes';

/**
 * How a workflow raises an escalation and what it needs around it. The conversation's messages,
 * types, outcomes and IDs are its contract (workflows/contracts/conversation.ts).
 */

/**
 * A holding reply for a person to start from when the raising workflow drafted none: what can be
 * said truthfully from the facts, promising nothing (no refund, no date). Pure, so the
 * conversation computes it on the spot and a replay sees the same.
 */
export function defaultSuggestedReply(request: { [K in HandoffKind]: { kind: K; facts: HandoffFacts[K] } }[HandoffKind]): string {
  switch (request.kind) {
    case 'inquiry':
      return 'Thank you for your message. A colleague is looking into it and will get back to you shortly.';
    case 'return-approval':
      return `Thank you for your patience: we are reviewing your return ${request.facts.returnId} and will let you know the outcome.`;
    case 'shipment-exception':
      return (
        `We are sorry: the carrier reported a problem with the parcel for your order ${request.facts.orderId}. ` +
        'We are looking into it and will update you.'
      );
    case 'return-failed':
      return (
        `We are sorry: something went wrong while processing your return ${request.facts.returnId}. ` +
        'A colleague is putting it right and will be in touch.'
      );
    case 'chargeback':
      // The dispute is answered to the gateway; what the customer hears is a person's call.
      return 'Thank you for getting in touch. We have been told about a dispute of your payment and are looking into it.';
  }
}

/**
 * The CRM's view of the customer for the person who picks the escalation up. Escalating must not
 * depend on the CRM answering, so a lookup that fails for good leaves the context out.
 */
export async function customerContextFor(customerId: string): Promise<CustomerContext | undefined> {
  try {
    return await lookups.enrichCustomer(customerId);
  } catch (err) {
    log.warn('escalating without CRM context', { customerId, error: (err as Error).message });
    return undefined;
  }
}

/**
 * What a person should read about a failure: for a failed activity, the activity's own error
 * (`warehouse POST /expected-returns: 400 Bad Request (…)`), not the wrapper's "Activity task failed".
 */
export function failureCause(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** The `patched()` ID of escalations that, in a rerun, take over what became of an earlier run's conversation. */
const RERUN_TAKES_OVER = 'escalation-rerun-takes-over-earlier-conversation';
/**
 * The `patched()` ID of escalations that record each decision in hookline's database and, before
 * each round, ask those records about a conversation Temporal may have forgotten (its retention).
 */
const ROUNDS_OUTLIVE_RETENTION = 'escalation-rounds-outlive-retention';

/**
 * Hand the case to a person and wait for the outcome: starts the conversation as a child workflow
 * under {@link conversationId} and awaits its result. The conversation owns its handlers, search
 * attributes, SLA timers and notifications.
 *
 * Parent close policy REQUEST_CANCEL: if this workflow is cancelled, terminated or times out, the
 * conversation is asked to cancel, records itself withdrawn, tells the agents' channel and ends;
 * it neither lingers in the queue for a case nobody awaits (ABANDON) nor vanishes unannounced
 * (TERMINATE). The ID is never reused (REJECT_DUPLICATE), like the raising workflows' own IDs,
 * so a conversation's notification keys are its own for good.
 *
 * A rerun (this workflow's earlier run failed or timed out, and a redelivery started it again)
 * finds the earlier run's conversation under the ID. What became of it decides: decided (a person
 * resolved it, or it expired on its deadline), its result is this run's too, and nobody is asked
 * or told again; ended without a decision (withdrawn when the earlier run failed), the case goes
 * to a person again as the next round (`conversationId(…, round)`), announced under that round's
 * own keys.
 *
 * Temporal forgets a closed conversation after the namespace's retention, and a rerun may come
 * later than that (a reconciled event, a late redelivery). Starting the forgotten ID again would
 * reuse its notification keys, which the outbox never sends twice: the person would not be told,
 * nor the customer get their reply. So each decision is also recorded in hookline's database, and
 * each round first asks those records: a forgotten conversation's recorded decision is this run's;
 * one forgotten without a decision is skipped for the next round.
 *
 * A conversation that ends without a decision while this workflow goes on (someone terminated or
 * cancelled it, or it failed) does not take this workflow down with it: the case goes on as
 * undecided (outcome `expired`, with `abandoned` saying why), and the agents' channel hears that a
 * case was left without a person, naming it, so someone still looks at it.
 */
export async function escalate<K extends HandoffKind>(request: EscalationRequestOf<K>): Promise<EscalationResult<K>> {
  const raisedBy = workflowInfo().workflowId;
  // Runs from before decisions were recorded neither ask nor record, and replay so.
  const recorded = patched(ROUNDS_OUTLIVE_RETENTION);
  const decided = async (workflowId: string, result: EscalationResult<K>): Promise<EscalationResult<K>> => {
    if (recorded && result.abandoned === undefined) await conversations.recordDecision({ id: workflowId, result });
    return result;
  };
  for (let round = 1; ; round++) {
    const workflowId = conversationId(raisedBy, request.kind, round);
    if (recorded) {
      const record = await conversations.recordedConversation(workflowId);
      if (record.state === 'forgotten') {
        if (record.result) {
          log.info('escalation decided in an earlier run that Temporal no longer holds; taking its recorded decision', {
            conversationId: workflowId,
            outcome: record.result.outcome,
          });
          return record.result as EscalationResult<K>;
        }
        log.info('earlier conversation forgotten by Temporal, undecided; asking a person again', {
          conversationId: workflowId,
          next: conversationId(raisedBy, request.kind, round + 1),
        });
        continue;
      }
    }
    try {
      return await decided(workflowId, await converse(workflowId, request));
    } catch (err) {
      // Runs from before reruns took over an earlier conversation failed here, and replay so.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError) || !patched(RERUN_TAKES_OVER)) throw err;
      const earlier = await conversations.earlierConversation(workflowId);
      if (earlier.result) {
        log.info('escalation decided in an earlier run; taking its decision', {
          conversationId: workflowId,
          outcome: earlier.result.outcome,
        });
        return await decided(workflowId, earlier.result as EscalationResult<K>);
      }
      log.info('earlier conversation ended without a decision; asking a person again', {
        conversationId: workflowId,
        status: earlier.status,
        next: conversationId(raisedBy, request.kind, round + 1),
      });
    }
  }
}

/** One conversation under `workflowId`, awaited; see {@link escalate}. */
async function converse<K extends HandoffKind>(workflowId: string, request: EscalationRequestOf<K>): Promise<EscalationResult<K>> {
  const raisedBy = workflowInfo().workflowId;
  try {
    const result = await executeChild<ConversationWorkflow>(CONVERSATION_WORKFLOW_TYPE, {
      workflowId,
      args: [request as EscalationRequest],
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      // Listed from the moment it starts, before its first workflow task runs.
      typedSearchAttributes: [
        { key: HandoffStatus, value: 'waiting' },
        { key: HandoffQueue, value: request.queue },
        { key: HandoffPriority, value: request.priority ?? 1 },
        { key: CustomerId, value: request.customerId },
      ],
    });
    return result as EscalationResult<K>;
  } catch (err) {
    // This workflow's own cancellation is its own to handle; anything but the child's end is not ours to judge.
    if (!(err instanceof ChildWorkflowFailure) || CancellationScope.current().consideredCancelled) throw err;
    const abandoned = `conversation ${workflowId} ended without a decision: ${err.cause?.message ?? err.message}`;
    log.error('escalation abandoned', { conversationId: workflowId, error: abandoned });
    await tellAgents('abandoned', {
      idempotencyKey: `${workflowId}:abandoned`,
      subject: `[${request.queue}] no longer in the queue, undecided: ${request.reason}`,
      body: `${abandoned}. ${raisedBy} goes on as if nobody decided; look at it in the Temporal UI and put it right.`,
    });
    return { outcome: 'expired', abandoned };
  }
}
