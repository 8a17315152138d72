import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import { returnWorkflowId } from '../src/events/identity';
import { startOnce } from '../src/temporal/start-once';
import { eraseSignal } from '../workflows/contracts/conversation';
import { decodePayloads } from './payloads';
import { returnEventSignal, type ProcessReturnWorkflow, type ReturnDelivery, type ReturnEnvelope } from '../workflows/contracts/returns';

/** The Temporal client, for the only activities that hold one: the relay and the conversations' lookup. */
export interface TemporalDeps {
  temporal: Client;
}

/** Hands events on to the long-lived workflow they belong to. */
export function relay(deps: TemporalDeps) {
  const { temporal } = deps;

  /**
   * The return events a run had been given (in its start or by signal), so that a new run
   * replacing a failed one starts from all of them, not only from the event that came last.
   */
  async function eventsOf(workflowId: string, runId: string): Promise<ReturnEnvelope[]> {
    const history = await temporal.workflow.getHandle(workflowId, runId).fetchHistory();
    const events: ReturnEnvelope[] = [];
    for (const event of history.events ?? []) {
      const started = event.workflowExecutionStartedEventAttributes;
      if (started) {
        // The start's arguments: the return ID, then what an earlier rerun carried.
        const args = await decodePayloads(temporal, started.input?.payloads ?? []);
        if (Array.isArray(args[1])) events.push(...(args[1] as ReturnEnvelope[]));
      }
      const signalled = event.workflowExecutionSignaledEventAttributes;
      if (signalled?.signalName === returnEventSignal.name) {
        events.push(...((await decodePayloads(temporal, signalled.input?.payloads ?? [])) as ReturnEnvelope[]));
      }
    }
    return events;
  }

  return {
    /**
     * Hands a return event to the return's own workflow, starting it if this event came first,
     * and starting it again if its last run failed or timed out, with every event that run had
     * (src/temporal/start-once.ts). A return whose workflow completed, or that a person cancelled
     * or terminated, refuses it: late news for a person. Safe to repeat: the return workflow keeps
     * the first copy of each event it is given.
     */
    async deliverReturnEvent(envelope: ReturnEnvelope): Promise<ReturnDelivery & { returnWorkflowId: string }> {
      const returnId = envelope.event.return_id;
      // The relay workflow finds the return of a label's parcel before it gets here.
      if (returnId === undefined) throw ApplicationFailure.nonRetryable('a return event without its return_id', 'ReturnUnknown');
      const workflowId = returnWorkflowId(returnId);
      const outcome = await startOnce(temporal, workflowId, async ({ reusePolicy, replaces }) =>
        // By name, with its contract's types: an activity never loads workflow code.
        temporal.workflow.signalWithStart<ProcessReturnWorkflow, [ReturnEnvelope]>('processReturnWorkflow', {
          workflowId,
          taskQueue: Context.current().info.taskQueue,
          args: [returnId, replaces ? await eventsOf(workflowId, replaces.runId) : []],
          signal: returnEventSignal,
          signalArgs: [envelope],
          workflowIdReusePolicy: reusePolicy,
          // The return event's own (this activity inherited it from the relay): a return's
          // long-lived workflow runs at the priority of the event that started it.
          priority: Context.current().info.priority,
        }),
      );
      switch (outcome.kind) {
        case 'started':
          return { returnWorkflowId: workflowId, delivered: true };
        case 'rerun':
          return { returnWorkflowId: workflowId, delivered: true, rerun: true };
        case 'closed':
          return { returnWorkflowId: workflowId, delivered: false, closed: outcome.by };
        case 'duplicate':
          // Refused while closed, open a moment later: another event started a new run in between.
          // The next attempt's signal-with-start reaches it.
          if (outcome.open) throw new Error(`return workflow ${workflowId} was started again meanwhile; delivering again`);
          // Refused although not closed by a person: the return's workflow completed.
          return { returnWorkflowId: workflowId, delivered: false };
      }
    },

    /**
     * Tells every open conversation about the customer to erase what it holds of theirs (a privacy
     * erasure), found by the conversations' CustomerId search attribute. Safe to repeat: erasing
     * twice is erasing once, and a conversation that closed meanwhile has nothing left to erase in.
     * Answers how many it told.
     */
    async eraseFromConversations(input: { customerId: string }): Promise<number> {
      // A search query is text: only an ID-shaped value goes into one.
      if (!/^[A-Za-z0-9._:+=-]{1,128}$/.test(input.customerId)) return 0;
      const query = `WorkflowType = 'conversationWorkflow' AND ExecutionStatus = 'Running' AND CustomerId = '${input.customerId}'`;
      let told = 0;
      for await (const open of temporal.workflow.list({ query })) {
        try {
          await temporal.workflow.getHandle(open.workflowId, open.runId).signal(eraseSignal, { customerId: input.customerId });
          told += 1;
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
      }
      return told;
    },
  };
}

export type RelayActivities = ReturnType<typeof relay>;
