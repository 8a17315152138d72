import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { openDatabase, type Database } from '../src/db';
import { createHandoffService, type HandoffRow } from '../src/handoff/service';
import { createOperatorDirectory } from '../src/operators/directory';
import { sandboxWorkerEnv, startSandbox, type RunningSandbox } from '../src/sandbox';
import { conversationQuery, type Conversation } from '../workflows/contracts/conversation';
import { raiseEscalation, terminateAll, waitForNotification } from './support/handoff';
import { connectTestEnv, startAgent, startReceiver, testDatabases, type Agent, type Receiver } from './support/harness';
import { freePort, startWorkerProcess, type Child } from './support/processes';

/**
 * The agents' chat webhook refuses every message for good (a revoked Slack URL answers 404), the
 * worker is a real process configured with it, and the chat endpoint is a real HTTP server.
 * Telling the channel is best effort: conversations still open, stay in the queue and can be
 * worked; the refusal is in the outbox, the conversation, the log and the worker's metrics.
 */
describe('a chat webhook that answers 404 to every message', () => {
  let env: TestWorkflowEnvironment;
  let sandbox: RunningSandbox;
  let worker: Child | undefined;
  let receiver: Receiver;
  let database: Database | undefined;
  let token: string;
  let metricsUrl: string;
  const taskQueue = `chat-404-${randomUUID()}`;
  const raised: string[] = [];
  const chat = { posts: [] as string[], url: '', close: async () => {} };

  const api = async (method: string, path: string, body?: object) => {
    const res = await fetch(`${receiver.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const listed = async (query: string) => ((await api('GET', `/handoffs${query}`)).body.handoffs as HandoffRow[]).map((r) => r.id);

  beforeAll(async () => {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        chat.posts.push(body);
        // What Slack answers for a webhook whose app was removed.
        res.writeHead(404, { 'content-type': 'text/plain' }).end('no_service');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    chat.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/REVOKED`;
    chat.close = () => new Promise<void>((resolve) => server.close(() => resolve()));

    env = await connectTestEnv();
    sandbox = await startSandbox({ port: 0 });
    const databaseUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), 'hookline-chat-404-')), 'kb.db')}`;
    const metricsAddress = `127.0.0.1:${await freePort()}`;
    metricsUrl = `http://${metricsAddress}/metrics`;
    worker = await startWorkerProcess({
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: inject('temporalNamespace'),
      HOOKLINE_TASK_QUEUE: taskQueue,
      DATABASE_URL: databaseUrl,
      ...sandboxWorkerEnv(sandbox.url),
      AGENTS_CHAT_WEBHOOK_URL: chat.url,
      WORKER_METRICS_ADDRESS: metricsAddress,
    });
    // The worker migrated it; the receiver reads its operators from it, as in production.
    database = await openDatabase(databaseUrl);
    const operators = createOperatorDirectory(database.db, { sessionTtlMs: 60_000 });
    token = (await operators.add(`lead-${randomUUID().slice(0, 8)}`, 'lead')).token;
    receiver = await startReceiver({ env, taskQueue, operators });
  }, 120_000);
  afterAll(async () => {
    await terminateAll(env, raised);
    await worker?.kill('SIGTERM');
    await receiver?.close();
    await database?.close();
    await sandbox?.close();
    await chat.close();
    await env?.teardown();
  });

  it(
    'opens the conversation anyway: it stays open, is listed, claimed and resolved, and its raiser completes',
    { timeout: 90_000 },
    async () => {
      const { id, workflowId } = await raiseEscalation(receiver.url);
      raised.push(workflowId);
      const conversation = env.client.workflow.getHandle(id);

      // The opening announcement was refused for good, and the conversation recorded it and went on.
      await expect
        .poll(async () => (await conversation.query(conversationQuery).catch(() => undefined))?.channelNotTold, { timeout: 30_000 })
        .toBe('chat webhook answered 404: no_service');
      expect(chat.posts.some((p) => p.includes(id))).toBe(true);
      const state: Conversation = await conversation.query(conversationQuery);
      expect(state.status).toBe('waiting');
      expect(state.messages.map((m) => m.text)).toContain("Agents' channel not told (opened): chat webhook answered 404: no_service");
      expect((await conversation.describe()).status.name).toBe('RUNNING');

      // The outbox is the durable record: the message is there, marked as not delivered, with why.
      const outbox = await waitForNotification(database!.db, { audience: 'agents', idempotencyKey: `${id}:handoff:opened` });
      expect(outbox).toMatchObject({ channel: 'chat', status: 'failed' });
      expect(outbox.error).toMatch(/404/);

      // The queue has it, and a person can work it over HTTP.
      await expect.poll(() => listed('?status=waiting'), { timeout: 20_000 }).toContain(id);
      expect((await api('POST', `/handoffs/${encodeURIComponent(id)}/claim`)).status).toBe(200);
      const resolved = await api('POST', `/handoffs/${encodeURIComponent(id)}/resolve`, { outcome: 'resolved', note: 'called her' });
      expect(resolved.status).toBe(200);
      expect(await env.client.workflow.getHandle(workflowId).result()).toMatchObject({
        decision: 'handoff',
        handoff: { outcome: 'resolved', note: 'called her' },
      });

      // Logged by the worker, and counted on its metrics.
      expect(worker!.lines.some((l) => l.includes('agents channel not told') && l.includes(`${id}:handoff:opened`))).toBe(true);
      const counted = async () => {
        const text = await (await fetch(metricsUrl)).text();
        return text
          .split('\n')
          .filter((l) => l.startsWith('hookline_agents_channel_failures{') && l.includes('notice="opened"') && l.includes(taskQueue))
          .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
      };
      await expect.poll(counted, { timeout: 20_000, interval: 500 }).toBeGreaterThanOrEqual(1);
    },
  );

  it('a conversation ended by hand leaves the queue, and its raiser goes on and says so', { timeout: 90_000 }, async () => {
    const { id, workflowId } = await raiseEscalation(receiver.url);
    raised.push(workflowId);
    await expect.poll(() => listed('?status=waiting'), { timeout: 20_000 }).toContain(id);

    // Someone with cluster access terminates the conversation: it keeps HandoffStatus "waiting".
    await env.client.workflow.getHandle(id).terminate('cleaning up by hand');
    const result = (await env.client.workflow.getHandle(workflowId).result()) as { handoff?: { outcome: string; abandoned?: string } };
    expect(result.handoff).toMatchObject({ outcome: 'expired' });
    expect(result.handoff?.abandoned).toMatch(/^conversation .* ended without a decision: /);
    expect(result.handoff?.abandoned).toContain(id);

    // The agents hear of it (here only the outbox does: the channel refuses), naming the case.
    const told = await waitForNotification(database!.db, { audience: 'agents', idempotencyKey: `${id}:abandoned` });
    expect(told.body).toContain(workflowId);
    expect(told.status).toBe('failed');

    // Not open any more, so not in the queue, whatever status it last published.
    const waiting = await listed('?status=waiting');
    expect(waiting).not.toContain(id);
    expect(await listed('')).not.toContain(id);
  });
});

/**
 * The chat webhook is down (503 on every try), so the opening announcement goes on to the durable
 * notify path and keeps retrying. It runs beside the conversation: a person's decision is not held
 * up by it, and once the conversation is over the announcement still trying is cancelled.
 */
describe('a chat webhook that is down for longer than a person takes to decide', () => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;
  const raised: string[] = [];
  const chat = { posts: 0, url: '', close: async () => {} };

  beforeAll(async () => {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on('end', () => {
        chat.posts += 1;
        res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    chat.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T/B/DOWN`;
    chat.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
    env = await connectTestEnv();
    agent = await startAgent({ env, databaseUrl: testDatabases()[0]!.url(), notify: { agentsChatWebhookUrl: chat.url } });
    receiver = await startReceiver({ env, taskQueue: agent.taskQueue });
  });
  afterAll(async () => {
    await terminateAll(env, raised);
    await receiver?.close();
    await agent?.close();
    await chat.close();
    await env?.teardown();
  });

  it('resolves and completes while the announcement still retries, then cancels it', { timeout: 90_000 }, async () => {
    const { id, workflowId } = await raiseEscalation(receiver.url);
    raised.push(workflowId);
    const conversation = env.client.workflow.getHandle(id);
    // The fast path gave up and handed the announcement to the durable notify activity.
    const durableAnnouncement = async () =>
      (await conversation.fetchHistory()).events!.some(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'notifyAgents',
      );
    await expect.poll(durableAnnouncement, { timeout: 60_000, interval: 500 }).toBe(true);

    const handoffs = createHandoffService(env.client);
    const lead = { name: 'dana', role: 'lead' } as const;
    await handoffs.claim(id, lead);
    await handoffs.resolve(id, lead, { outcome: 'resolved' });
    expect(await env.client.workflow.getHandle(workflowId).result()).toMatchObject({ handoff: { outcome: 'resolved' } });
    expect((await conversation.describe()).status.name).toBe('COMPLETED');
    const events = (await conversation.fetchHistory()).events!;
    expect(events.some((e) => e.activityTaskCancelRequestedEventAttributes)).toBe(true);
    expect(chat.posts).toBeGreaterThanOrEqual(3);
  });
});
