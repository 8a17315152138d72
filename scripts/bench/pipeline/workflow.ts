/**
 * The one-activity pipeline's only workflow (a benchmark peer, not product code): it records the
 * event and completes. Bundled by ./worker.ts at start; imports only types from outside.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { PipelineActivities, PipelineEvent } from './activity';

const { recordEvent } = proxyActivities<PipelineActivities>({ startToCloseTimeout: '15s' });

export async function pipelineEventWorkflow(event: PipelineEvent): Promise<void> {
  await recordEvent(event);
}
