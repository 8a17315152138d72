import { Context } from '@temporalio/activity';
import { WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { EnvelopeOf } from '../src/events/envelope';
import { returnWorkflowId } from '../src/events/identity';
import { returnEventSignal, type ProcessReturnWorkflow, type ReturnEnvelope } from '../workflows/contracts/returns';

export interface RelayDeps {
  /** The only Temporal client an activity holds: to signal a return's own workflow. */
  temporal: Client;
}

/** Hands events on to the long-lived workflow they belong to. */
export function relay(deps: RelayDeps) {
  return {
    /**
     * Hands a return event to the return's own workflow, starting it if this event came first.
     * A return whose workflow already finished refuses it (REJECT_DUPLICATE): late news for a person.
     * Safe to repeat: the return workflow keeps the first copy of each event it is signalled.
     */
    async deliverReturnEvent(
      envelope: EnvelopeOf<'return.initiated'> | EnvelopeOf<'return.received'>,
    ): Promise<{ returnWorkflowId: string; delivered: boolean }> {
      const workflowId = returnWorkflowId(envelope.event.return_id);
      try {
        // By name, with its contract's types: an activity never loads workflow code.
        await deps.temporal.workflow.signalWithStart<ProcessReturnWorkflow, [ReturnEnvelope]>('processReturnWorkflow', {
          workflowId,
          taskQueue: Context.current().info.taskQueue,
          args: [envelope.event.return_id],
          signal: returnEventSignal,
          signalArgs: [envelope],
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        });
        return { returnWorkflowId: workflowId, delivered: true };
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) return { returnWorkflowId: workflowId, delivered: false };
        throw err;
      }
    },
  };
}

export type RelayActivities = ReturnType<typeof relay>;
