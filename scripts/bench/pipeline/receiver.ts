/**
 * The one-activity pipeline's receiver (issue 12's peer; a benchmark, not product code): the least
 * a Temporal intake must do. It verifies the signature exactly as hookline does (the same
 * verifyWebhook, each sender's scheme and secret), parses the JSON, derives the workflow ID from
 * the event's signed identity, and starts the workflow with the two search attributes hookline
 * sets (HooklineSource, HooklineEventType) and hookline's ID policies. 202 once Temporal has
 * acknowledged the start, 200 when it already had the event, 503 otherwise. No schema, no rate
 * limit, no spool, no log line per request, no metrics.
 *
 * Env: PORT, TEMPORAL_ADDRESS, PIPELINE_TASK_QUEUE, PIPELINE_SECRETS (JSON: source name → secret).
 */
import express from 'express';
import { Client, Connection, WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { bodyHash, senderEventId, workflowIdFor } from '../../../src/events/identity';
import { BUILTIN_SOURCES } from '../../../src/receiver/sources';
import { verifyWebhook, WebhookVerificationError } from '../../../src/signatures';
import { HooklineEventType, HooklineSource } from '../../../workflows/contracts/search-attributes';
import type { PipelineEvent } from './activity';

async function main(): Promise<void> {
  const taskQueue = process.env.PIPELINE_TASK_QUEUE ?? 'pipeline-bench';
  const secrets = JSON.parse(process.env.PIPELINE_SECRETS ?? '{}') as Record<string, string>;
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const client = new Client({ connection, namespace: 'default' });

  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.post('/webhooks/:source', express.raw({ type: () => true, limit: 256 * 1024 }), async (req, res) => {
    const source = req.params.source;
    const scheme = BUILTIN_SOURCES[source]?.scheme;
    const secret = secrets[source];
    if (!scheme || !secret) return void res.status(404).json({ error: 'unknown source' });
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let signedId: string | undefined;
    let event: { event_type?: unknown; event_id?: unknown };
    try {
      signedId = verifyWebhook(scheme, raw, req.headers, [secret]).signedId;
      event = JSON.parse(raw.toString('utf8')) as typeof event;
    } catch (err) {
      if (err instanceof WebhookVerificationError) return void res.status(401).json({ error: err.reason });
      return void res.status(400).json({ error: 'not JSON' });
    }
    const eventType = typeof event.event_type === 'string' ? event.event_type : 'unknown';
    const workflowId = workflowIdFor(source, eventType, senderEventId(signedId, event) ?? bodyHash(raw));
    const input: PipelineEvent = { workflowId, source, eventType, body: raw.toString('utf8') };
    try {
      await client.workflow.start('pipelineEventWorkflow', {
        workflowId,
        taskQueue,
        args: [input],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
        typedSearchAttributes: [
          { key: HooklineSource, value: source },
          { key: HooklineEventType, value: eventType },
        ],
      });
      res.status(202).json({ accepted: true, workflowId });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return void res.status(200).json({ duplicate: true, workflowId });
      res.status(503).json({ error: (err as Error).message });
    }
  });

  const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => server.close(() => void connection.close().finally(() => process.exit(0))));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
