import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { SAMPLES } from '../src/events/samples';
import { returnWorkflowId } from '../src/events/identity';
import { connectTestEnv, sendSigned, startAgent, startReceiver, testDatabases, type Agent, type Receiver } from './support/harness';

/**
 * Messages go out as local activities, in the workflow task that decided them, with a few quick
 * attempts; one the fast path cannot deliver moves to an ordinary activity with the long notify
 * retries, under the same idempotency key. Here the agents' chat webhook (the outside world, a
 * real HTTP server) is down for longer than the fast path tries.
 */
describe('a message the fast path cannot deliver', () => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;
  let chat: { posts: number; close(): Promise<void>; url: string };
  const FAILURES = 4;

  beforeAll(async () => {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on('end', () => {
        chat.posts += 1;
        const status = chat.posts <= FAILURES ? 503 : 200;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'unavailable');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    chat = {
      posts: 0,
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T/B/TOKEN`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
    env = await connectTestEnv();
    agent = await startAgent({
      env,
      databaseUrl: testDatabases()[0]!.url(),
      // A return.received with no return.initiated is orphaned after this window: a message to the agents.
      settings: { returnReceiptWindowMs: 300 },
      notify: { agentsChatWebhookUrl: chat.url },
    });
    receiver = await startReceiver({ env, taskQueue: agent.taskQueue });
  });
  afterAll(async () => {
    await receiver?.close();
    await agent?.close();
    await chat?.close();
    await env?.teardown();
  });

  it('is handed to the durable path and delivered once, under the same key', { timeout: 60_000 }, async () => {
    const returnId = `RET-${randomBytes(4).toString('hex').toUpperCase()}`;
    const res = await sendSigned(receiver.url, 'carrier', { ...SAMPLES['return.received'], return_id: returnId });
    expect(res.status).toBe(202);
    const handle = env.client.workflow.getHandle(returnWorkflowId(returnId));
    await expect
      .poll(
        () =>
          handle.describe().then(
            () => true,
            () => false,
          ),
        { timeout: 15_000 },
      )
      .toBe(true);
    expect(await handle.result()).toMatchObject({ status: 'orphaned' });

    // Three quick local attempts failed, the durable activity's first failed too, its retry got through.
    expect(chat.posts).toBe(FAILURES + 1);
    const rows = await agent.db
      .selectFrom('notifications')
      .select(['status', 'channel'])
      .where('idempotency_key', '=', `${handle.workflowId}:orphaned`)
      .execute();
    expect(rows).toEqual([{ status: 'sent', channel: 'chat' }]);
    const history = await handle.fetchHistory();
    const scheduled = history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'notifyAgents');
    expect(scheduled).toHaveLength(1);
    const localFailures = history.events!.filter((e) => e.markerRecordedEventAttributes?.failure);
    expect(localFailures.length).toBeGreaterThanOrEqual(1);
  });
});
