import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { SAMPLES } from '../src/events/samples';
import { migrateToLatest, openDatabase, type Database } from '../src/db';
import { createLogger } from '../src/log';
import { createOperatorDirectory } from '../src/operators/directory';
import { createReceiverMetrics } from '../src/receiver/metrics';
import { sandboxWorkerEnv, startSandbox, type RunningSandbox } from '../src/sandbox';
import { raiseEscalation, terminateAll } from './support/handoff';
import { connectTestEnv, sendSigned, startReceiver, type Receiver } from './support/harness';
import { freePort, startWorkerProcess, type Child } from './support/processes';

/**
 * Observability as an operator sees it: the receiver's `GET /metrics` counting what it answered,
 * the worker process's Temporal SDK metrics on their own Prometheus port, and log lines about an
 * event that carry its workflow ID. Real HTTP, the run's real dev server, a real worker process.
 */

const METRICS_TOKEN = `metrics-${randomUUID()}`;
const uid = () => randomUUID().slice(0, 8);
const orderUpdated = () => ({ ...SAMPLES['order.status_updated'], order_id: `ORD-${uid()}`, timestamp: new Date().toISOString() });

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format's sample lines (label values here never hold quotes or commas). */
function parseExposition(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

/** The one sample with exactly this name and these labels (an absent series reads as undefined). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  const found = samples.filter(
    (s) =>
      s.name === name &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v) &&
      Object.keys(s.labels).length === Object.keys(labels).length,
  );
  expect(found.length, `${name}${JSON.stringify(labels)} appears at most once`).toBeLessThanOrEqual(1);
  return found[0]?.value;
}

function captureLogs(): { lines: Record<string, unknown>[]; logger: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: createLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) }) };
}

async function scrape(url: string, token?: string): Promise<{ status: number; type: string | null; text: string; headers: Headers }> {
  const res = await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text(), headers: res.headers };
}

describe('the receiver’s GET /metrics and its log lines', () => {
  let env: TestWorkflowEnvironment;
  let receiver: Receiver;
  const logs = captureLogs();
  /** No worker runs them: they are terminated afterwards, leaving nothing open on the shared server. */
  const started: string[] = [];

  beforeAll(async () => {
    env = await connectTestEnv();
    // No worker on this queue: the receiver's answers only need Temporal to accept the starts.
    receiver = await startReceiver({ env, taskQueue: `metrics-${randomUUID()}`, logger: logs.logger, metricsToken: METRICS_TOKEN });
  });
  afterAll(async () => {
    await terminateAll(env, started);
    await receiver?.close();
    await env?.teardown();
  });

  it('requires METRICS_TOKEN as a bearer token when it is set', async () => {
    for (const token of [undefined, 'not-the-metrics-token']) {
      const refused = await scrape(receiver.url, token);
      expect(refused.status).toBe(401);
      expect(refused.type).toMatch(/^application\/problem\+json\b/);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="hookline-metrics"');
      expect(JSON.parse(refused.text)).toMatchObject({ type: 'urn:hookline:problem:metrics-unauthorized', status: 401, retryable: false });
      expect(refused.text).not.toContain('hookline_webhook');
    }
    const allowed = await scrape(receiver.url, METRICS_TOKEN);
    expect(allowed.status).toBe(200);
    expect(allowed.type).toMatch(/^text\/plain; version=0\.0\.4\b/);
  });

  it('counts each request by source and outcome, signature failures, duplicates and quarantined events, with ack latency', async () => {
    const body = orderUpdated();
    const accepted = await sendSigned(receiver.url, 'oms', body);
    expect(accepted.status).toBe(202);
    const duplicate = await sendSigned(receiver.url, 'oms', body);
    expect(duplicate.body).toMatchObject({ duplicate: true, workflowId: accepted.body.workflowId });
    const forged = await sendSigned(receiver.url, 'oms', orderUpdated(), { secret: 'not-the-oms-secret' });
    expect(forged.status).toBe(401);
    const unsigned = await fetch(`${receiver.url}/webhooks/crm`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(unsigned.status).toBe(401);
    const quarantined = await sendSigned(receiver.url, 'oms', { event_type: 'order.teleported', order_id: `ORD-${uid()}` });
    expect(quarantined.body).toMatchObject({ quarantined: true, duplicate: false });
    started.push(String(accepted.body.workflowId), String(quarantined.body.workflowId));
    // A made-up source: counted, but under one fixed label, so nobody can grow the scrape.
    const nowhere = await fetch(`${receiver.url}/webhooks/made-up-${uid()}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(nowhere.status).toBe(404);

    const { status, text } = await scrape(receiver.url, METRICS_TOKEN);
    expect(status).toBe(200);
    expect(text).not.toContain('made-up-');
    const samples = parseExposition(text);
    const requests = (source: string, outcome: string) => valueOf(samples, 'hookline_webhook_requests_total', { source, outcome });
    expect({
      accepted: requests('oms', 'accepted'),
      duplicate: requests('oms', 'duplicate'),
      quarantined: requests('oms', 'quarantined'),
      refused: requests('oms', 'refused'),
    }).toEqual({ accepted: 1, duplicate: 1, quarantined: 1, refused: 1 });
    expect(requests('crm', 'refused')).toBe(1);
    // Configured sources have their series from the start, at zero.
    expect(requests('payments', 'accepted')).toBe(0);
    expect(requests('_unknown', 'refused')).toBe(1);

    expect(valueOf(samples, 'hookline_webhook_signature_failures_total', { source: 'oms', reason: 'bad-signature' })).toBe(1);
    expect(valueOf(samples, 'hookline_webhook_signature_failures_total', { source: 'crm', reason: 'missing-header' })).toBe(1);
    expect(valueOf(samples, 'hookline_webhook_refusals_total', { source: 'oms', problem: 'invalid-signature' })).toBe(1);
    expect(valueOf(samples, 'hookline_webhook_refusals_total', { source: '_unknown', problem: 'unknown-source' })).toBe(1);
    expect(valueOf(samples, 'hookline_webhook_quarantined_total', { source: 'oms', reason: 'unknown-event-type' })).toBe(1);

    for (const outcome of ['accepted', 'duplicate', 'quarantined', 'refused']) {
      const labels = { source: 'oms', outcome };
      expect(valueOf(samples, 'hookline_webhook_ack_seconds_count', labels), outcome).toBe(1);
      expect(valueOf(samples, 'hookline_webhook_ack_seconds_bucket', { ...labels, le: '+Inf' }), outcome).toBe(1);
      expect(valueOf(samples, 'hookline_webhook_ack_seconds_bucket', { ...labels, le: '10' }), `${outcome} within 10 s`).toBe(1);
      expect(valueOf(samples, 'hookline_webhook_ack_seconds_sum', labels)).toBeGreaterThan(0);
    }
    // The accepted one waited for Temporal: its latency is real, not a constant.
    expect(valueOf(samples, 'hookline_webhook_ack_seconds_bucket', { source: 'oms', outcome: 'accepted', le: '0.001' })).toBe(0);

    // Every line about an event names its workflow; a refused, unverified body has none to name.
    const webhookLines = logs.lines.filter((l) => l.msg === 'webhook' && l.source === 'oms');
    expect(webhookLines.map((l) => [l.outcome, l.workflowId])).toEqual([
      ['accepted', accepted.body.workflowId],
      ['duplicate', accepted.body.workflowId],
      ['refused', undefined],
      ['quarantined', quarantined.body.workflowId],
    ]);
  });

  it('counts a refusal when Temporal is unreachable, and logs it against the event’s workflow ID', async () => {
    // Nothing listens on this port: every start fails, and the receiver must say 503. No gRPC
    // retries, so no retry timer outlives the test and fires on the closed connection.
    const connection = Connection.lazy({ address: `127.0.0.1:${await freePort()}`, interceptors: [] });
    const down = await startReceiver({
      env: { client: new Client({ connection }) },
      taskQueue: 'nowhere',
      startTimeoutMs: 1_000,
      logger: logs.logger,
    });
    try {
      const body = orderUpdated();
      const res = await sendSigned(down.url, 'oms', body);
      expect(res.status).toBe(503);
      const workflowId = `oms:order.status_updated:${body.order_id}:${body.new_status}:${body.timestamp}`;
      const failure = logs.lines.find((l) => l.msg === 'temporal unavailable');
      expect(failure).toMatchObject({ level: 'error', source: 'oms', workflowId });
      const refusal = logs.lines.find((l) => l.msg === 'webhook' && l.problem === 'urn:hookline:problem:temporal-unavailable');
      expect(refusal).toMatchObject({ outcome: 'refused', status: 503, workflowId });

      // Without METRICS_TOKEN the endpoint is open.
      const { status, text } = await scrape(down.url);
      expect(status).toBe(200);
      const samples = parseExposition(text);
      expect(valueOf(samples, 'hookline_webhook_refusals_total', { source: 'oms', problem: 'temporal-unavailable' })).toBe(1);
      expect(valueOf(samples, 'hookline_webhook_requests_total', { source: 'oms', outcome: 'refused' })).toBe(1);
      expect(valueOf(samples, 'hookline_webhook_requests_total', { source: 'oms', outcome: 'accepted' })).toBe(0);
    } finally {
      await down.close();
      await connection.close();
    }
  });

  it('adds the process’s own metrics when asked (as src/receiver/main.ts does)', async () => {
    const metrics = createReceiverMetrics({ sources: ['oms'], processMetrics: true });
    const names = new Set(parseExposition(await metrics.registry.metrics()).map((s) => s.name));
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'hookline_webhook_requests_total',
    ]) {
      expect(names, name).toContain(name);
    }
  });
});

describe('the worker process’s Temporal SDK metrics', () => {
  let env: TestWorkflowEnvironment;
  let sandbox: RunningSandbox;
  let worker: Child | undefined;
  let receiver: Receiver;
  let metricsUrl: string;
  let workerEnv: Record<string, string>;
  const taskQueue = `worker-metrics-${randomUUID()}`;
  let operatorToken: string;
  let operatorsDb: Database | undefined;
  const receiverLogs = captureLogs();
  const raised: string[] = [];

  beforeAll(async () => {
    env = await connectTestEnv();
    sandbox = await startSandbox({ port: 0 });
    const metricsAddress = `127.0.0.1:${await freePort()}`;
    metricsUrl = `http://${metricsAddress}/metrics`;
    workerEnv = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: inject('temporalNamespace'),
      HOOKLINE_TASK_QUEUE: taskQueue,
      DATABASE_URL: `sqlite:${join(mkdtempSync(join(tmpdir(), 'hookline-metrics-')), 'kb.db')}`,
      ...sandboxWorkerEnv(sandbox.url),
      WORKER_METRICS_ADDRESS: metricsAddress,
      // The sandbox's OpenAI-compatible endpoint, so the model's metrics show too.
      LLM_BASE_URL: `${sandbox.url}/llm/v1`,
      LLM_MODEL: 'sandbox-model',
      LOG_LEVEL: 'debug',
    };
    worker = await startWorkerProcess(workerEnv);
    operatorsDb = await openDatabase('sqlite::memory:');
    await migrateToLatest(operatorsDb);
    const operators = createOperatorDirectory(operatorsDb.db, { sessionTtlMs: 60_000 });
    operatorToken = (await operators.add('dana', 'agent')).token;
    receiver = await startReceiver({ env, taskQueue, operators, logger: receiverLogs.logger });
  }, 120_000);
  afterAll(async () => {
    await terminateAll(env, raised);
    await worker?.kill('SIGTERM');
    await receiver?.close();
    await operatorsDb?.close();
    await sandbox?.close();
    await env?.teardown();
  });

  it('serves them for Prometheus once it ran a workflow, and logs the URL at start-up', { timeout: 90_000 }, async () => {
    const startedLine = worker!.lines.find((l) => l.includes('"worker started"'));
    const started = startedLine ? (JSON.parse(startedLine) as Record<string, unknown>) : undefined;
    expect(started).toMatchObject({ service: 'worker', taskQueue, metrics: metricsUrl });

    const body = orderUpdated();
    const sent = await sendSigned(receiver.url, 'oms', body);
    expect(sent.status).toBe(202);
    const workflowId = String(sent.body.workflowId);
    await env.client.workflow.getHandle(workflowId).result();

    const completed = async () => {
      const samples = parseExposition(await (await fetch(metricsUrl)).text());
      return samples.find(
        (s) =>
          s.name === 'temporal_workflow_completed' && s.labels.task_queue === taskQueue && s.labels.workflow_type === 'orderStatusWorkflow',
      )?.value;
    };
    await expect.poll(completed, { timeout: 30_000, interval: 500 }).toBe(1);
    const samples = parseExposition(await (await fetch(metricsUrl)).text());
    const names = new Set(samples.map((s) => s.name));
    // Polls, activity executions and their latency: what the SDK's dashboards chart. An order's
    // steps are local activities (workflows/activities.ts), which have their own latency series.
    for (const name of [
      'temporal_request',
      'temporal_local_activity_execution_latency_count',
      'temporal_workflow_task_execution_latency_count',
    ]) {
      expect(names, name).toContain(name);
    }

    // Each activity's wait to start, by its priority: an order update is routine (3), its steps local.
    expect(
      samples.some(
        (s) =>
          s.name === 'hookline_activity_schedule_to_start_count' &&
          s.labels.task_queue === taskQueue &&
          s.labels.priority === '3' &&
          s.labels.local === 'true' &&
          s.value > 0,
      ),
    ).toBe(true);

    // The worker's lines about this event — the SDK's activity lines and the notifier's — name its workflow.
    const about = worker!.lines.filter((l) => l.includes(body.order_id)).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(about.some((l) => l.msg === 'notification sent')).toBe(true);
    for (const line of about) expect(line, JSON.stringify(line)).toMatchObject({ workflowId });
  });

  it(
    'counts the model’s calls, tokens and latency, and logs the inquiry’s path without the customer’s words',
    { timeout: 60_000 },
    async () => {
      const summary = 'Where is my parcel? My secret word is pumpernickel';
      const sent = await sendSigned(receiver.url, 'crm', {
        ...SAMPLES['customer.inquiry.new'],
        inquiry_id: `INQ-${randomUUID().slice(0, 8)}`,
        customer_id: 'CUST-11111',
        summary,
        message: undefined,
      });
      expect(sent.status).toBe(202);
      const workflowId = String(sent.body.workflowId);
      raised.push(workflowId);
      const model = async () => parseExposition(await (await fetch(metricsUrl)).text()).filter((s) => s.name.startsWith('hookline_model_'));
      const value = (
        samples: { name: string; labels: Record<string, string>; value: number }[],
        name: string,
        labels: Record<string, string>,
      ) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value ?? 0;
      // Each series appears once its call has been measured: wait for all of them, not the first.
      const measured = async () => {
        const samples = await model();
        return {
          calls: value(samples, 'hookline_model_calls', { step: 'understand', outcome: 'ok' }) >= 1,
          tokensIn: value(samples, 'hookline_model_tokens', { step: 'understand', direction: 'in' }) > 0,
          tokensOut: value(samples, 'hookline_model_tokens', { step: 'understand', direction: 'out' }) > 0,
          latency: samples.some((s) => s.name.startsWith('hookline_model_latency') && s.labels.step === 'understand'),
        };
      };
      await expect
        .poll(measured, { timeout: 30_000, interval: 500 })
        .toEqual({ calls: true, tokensIn: true, tokensOut: true, latency: true });

      const decided = await expect
        .poll(() => worker!.lines.find((l) => l.includes('"inquiry decided"') && l.includes(workflowId)), { timeout: 30_000 })
        .toBeDefined()
        .then(
          () =>
            JSON.parse(worker!.lines.find((l) => l.includes('"inquiry decided"') && l.includes(workflowId))!) as Record<string, unknown>,
        );
      expect(decided).toMatchObject({ decidedBy: 'model', model: 'sandbox-model', intent: 'order_status' });
      expect(decided.tokensIn).toEqual(expect.any(Number));
      // Personal data stays out of log lines: not the customer's words, nor their name.
      for (const line of worker!.lines.filter((l) => l.includes(workflowId))) {
        expect(line).not.toContain('pumpernickel');
        expect(line).not.toContain('Bob Jones');
        expect(line).not.toContain('bob.jones@example.com');
      }
    },
  );

  it(
    'names the workflow on an escalation’s lines: the agents’ notification in the worker, the claim in the receiver',
    { timeout: 60_000 },
    async () => {
      // The conversation's own workflow: the claim addresses it, and it sends the agents' notification.
      const { id: workflowId } = await raiseEscalation(receiver.url);
      raised.push(workflowId);
      // The conversation is claimable once the workflow has raised it.
      await expect
        .poll(
          async () =>
            (
              await fetch(`${receiver.url}/handoffs/${encodeURIComponent(workflowId)}/claim`, {
                method: 'POST',
                headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' },
                body: JSON.stringify({}),
              })
            ).status,
          { timeout: 30_000, interval: 250 },
        )
        .toBe(200);
      expect(receiverLogs.lines.find((l) => l.msg === 'handoff claimed')).toMatchObject({ workflowId, operator: 'dana', role: 'agent' });

      const toAgents = () =>
        worker!.lines
          .filter((l) => l.includes('"notification sent"') && l.includes('"audience":"agents"'))
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .filter((l) => String(l.idempotencyKey).startsWith(workflowId));
      await expect.poll(() => toAgents().length, { timeout: 15_000 }).toBeGreaterThan(0);
      for (const line of toAgents()) expect(line).toMatchObject({ workflowId, activityType: 'notifyAgents' });
    },
  );

  it('a second worker on the same metrics address stops at once, naming the variable', async () => {
    // startWorkerProcess rejects with the process's last lines when it exits before it is ready.
    await expect(startWorkerProcess(workerEnv)).rejects.toThrow(
      /WORKER_METRICS_ADDRESS: could not serve metrics on 127\.0\.0\.1:\d+: .*Address already in use/,
    );
  });
});
