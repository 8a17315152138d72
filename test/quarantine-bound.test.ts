import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { runQuarantineCli } from '../scripts/quarantine';
import { ConfigError } from '../src/config/env';
import { SAMPLES } from '../src/events/samples';
import { createIntake } from '../src/intake/direct';
import { createQuarantineService, type QuarantineService } from '../src/receiver/quarantine';
import { loadSources } from '../src/receiver/sources';
import { DEFAULT_QUARANTINE_LIMITS, loadQuarantineLimits } from '../src/spool/config';
import { quarantineStateQuery } from '../workflows/contracts/quarantine';
import { connectTestEnv, sendSigned, startAgent, startReceiver, type Agent, type Receiver, type ReceiverAnswer } from './support/harness';

/**
 * A signed sender's bad bodies are kept in quarantine, but no longer without bound: each source
 * may hold so many events and so many bytes of their bodies, counted exactly in the receiver's
 * database where the bodies now live (the quarantine workflow carries a reference and a hash).
 * Beyond the bound the sender is answered as for a full spool. Real HTTP, a real worker.
 */
describe('quarantine bounded per source', () => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;
  let service: QuarantineService;
  const started: string[] = [];
  const BIG = 250 * 1024;

  /** A genuinely signed body nobody can process: an event type that does not exist. */
  const badBody = (source: string, padding = 0) =>
    JSON.stringify({ event_type: 'order.teleported', order_id: `ORD-${randomUUID()}`, note: 'x'.repeat(padding), from: source });
  const send = async (source: string, raw: string) => {
    const res = await sendSigned(receiver.url, source, raw);
    if (typeof res.body.workflowId === 'string') started.push(res.body.workflowId);
    return res;
  };
  const expectFull = (res: { status: number; body: ReceiverAnswer; headers: Headers }, source: string) => {
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.body).toMatchObject({
      type: 'urn:hookline:problem:quarantine-full',
      status: 503,
      retryable: true,
      reason: 'quarantine-full',
    });
    expect(res.body.detail).toContain(`Source ${source} has as many events in quarantine as it may`);
  };
  const quarantineIdOf = (source: string, raw: string) =>
    `quarantine:${source}:${createHash('sha256').update(raw).digest('hex').slice(0, 32)}`;
  const exists = (workflowId: string) =>
    env.client.workflow
      .getHandle(workflowId)
      .describe()
      .then(
        () => true,
        (err: unknown) => {
          if (err instanceof WorkflowNotFoundError) return false;
          throw err;
        },
      );

  beforeAll(async () => {
    env = await connectTestEnv();
    agent = await startAgent({ env, databaseUrl: `sqlite:${join(mkdtempSync(join(tmpdir(), 'hookline-qb-')), 'kb.db')}` });
    receiver = await startReceiver({
      env,
      taskQueue: agent.taskQueue,
      quarantineEnv: { QUARANTINE_MAX_EVENTS: '50', QUARANTINE_MAX_EVENTS_OMS: '3', QUARANTINE_MAX_BYTES_CARRIER: String(BIG + 64 * 1024) },
    });
    const intake = createIntake({ client: env.client, taskQueue: agent.taskQueue, startTimeoutMs: 5_000, quarantineKeepForMs: 60_000 });
    service = createQuarantineService({ client: env.client, intake, sources: loadSources({}), bodies: receiver.quarantine });
  });
  afterAll(async () => {
    await Promise.all(
      started.map((id) =>
        env?.client.workflow
          .getHandle(id)
          .terminate('test cleanup')
          .catch(() => undefined),
      ),
    );
    await receiver?.close();
    await agent?.close();
    await env?.teardown();
  });

  it('refuses a source’s events beyond its count, as for a full spool; redeliveries and other sources go on', async () => {
    const held: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const raw = badBody('oms');
      const res = await send('oms', raw);
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ quarantined: true, workflowId: quarantineIdOf('oms', raw) });
      held.push(raw);
    }
    const beyond = badBody('oms');
    expectFull(await send('oms', beyond), 'oms');
    expect(await exists(quarantineIdOf('oms', beyond))).toBe(false);
    expect(await receiver.quarantine.read(quarantineIdOf('oms', beyond))).toBeUndefined();

    // A redelivery of a kept event takes no place: still the duplicate it is.
    const again = await send('oms', held[0]!);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ duplicate: true, quarantined: true });
    // Another source has a bound of its own.
    expect((await send('crm', badBody('crm'))).status).toBe(202);

    // Replaying one (with a corrected body) or discarding one gives its place back.
    const first = quarantineIdOf('oms', held[0]!);
    const corrected = JSON.stringify({ ...SAMPLES['order.status_updated'], order_id: `ORD-${randomUUID()}` });
    const replayed = await service.replay(first, { by: 'ops', body: corrected });
    started.push(replayed.workflowId);
    expect(await receiver.quarantine.read(first)).toBeUndefined();
    const next = badBody('oms');
    expect((await send('oms', next)).status).toBe(202);
    expectFull(await send('oms', badBody('oms')), 'oms');
    await service.discard(quarantineIdOf('oms', held[1]!), { by: 'ops', note: 'test data' });
    expect((await send('oms', badBody('oms'))).status).toBe(202);

    const metrics = await (await fetch(`${receiver.url}/metrics`)).text();
    expect(metrics).toMatch(/^hookline_quarantine_events\{source="oms"\} 3$/m);
    expect(metrics).toMatch(/^hookline_quarantine_max_events\{source="oms"\} 3$/m);
    expect(metrics).toMatch(/^hookline_webhook_refusals_total\{source="oms",problem="quarantine-full"\} 2$/m);
  });

  it('refuses beyond a source’s bytes; a small body under the bound is still kept; large bodies stay out of history', async () => {
    const big = badBody('carrier', BIG);
    const kept = await send('carrier', big);
    expect(kept.status).toBe(202);
    const workflowId = kept.body.workflowId as string;
    expectFull(await send('carrier', badBody('carrier', BIG)), 'carrier');
    const small = await send('carrier', badBody('carrier', 1_000));
    expect(small.status).toBe(202);
    expect(small.body).toMatchObject({ quarantined: true });

    // The workflow holds a reference and the hash; its whole history is a few kilobytes.
    const state = await env.client.workflow.getHandle(workflowId).query(quarantineStateQuery);
    expect(state.event.rawBody).toBeUndefined();
    expect(state.event.body).toEqual({
      ref: workflowId,
      sha256: createHash('sha256').update(big).digest('hex'),
      bytes: Buffer.byteLength(big),
    });
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    expect(JSON.stringify(history).length).toBeLessThan(16 * 1024);

    // show and replay read the body back from where the receiver keeps it.
    expect((await service.show(workflowId)).event.rawBody).toBe(big);
    const lines: string[] = [];
    expect(await runQuarantineCli(['show', workflowId], { service, out: (l) => lines.push(l) })).toBe(0);
    expect(lines).toContain(`Body:      ${Buffer.byteLength(big)} bytes, SHA-256 ${state.event.body!.sha256}`);
    expect(lines).toContain(big);
    // Replayed as it is, it is still not processable, and stays kept.
    await expect(service.replay(workflowId, { by: 'ops' })).rejects.toThrow(/unknown event type "order.teleported"/);
    expect((await service.show(workflowId)).status).toBe('quarantined');
  });

  const stores = [{ name: 'sqlite', url: () => `sqlite:${join(mkdtempSync(join(tmpdir(), 'hookline-qb-shared-')), 'spool.db')}` }];
  if (process.env.TEST_DATABASE_URL) stores.push({ name: 'postgres', url: () => process.env.TEST_DATABASE_URL! });
  it.each(stores)('holds the bound exactly when two receivers take a source’s events at once ($name)', async ({ url: storeUrl }) => {
    // Two receivers on one store (the spool's database), as receivers share a PostgreSQL one.
    const url = storeUrl();
    const spoolEnv = { SPOOL_URL: url, WEBHOOK_SPOOL_PAYMENTS: 'on' };
    const quarantineEnv = { QUARANTINE_MAX_EVENTS_PAYMENTS: '4' };
    const [a, b] = await Promise.all([0, 1].map(() => startReceiver({ env, taskQueue: agent.taskQueue, spoolEnv, quarantineEnv })));
    try {
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          sendSigned((i % 2 === 0 ? a : b)!.url, 'payments', {
            ...SAMPLES['payment.succeeded'],
            id: `evt_${randomUUID()}`,
            payment_id: `PMT-${randomUUID()}`,
            amount: -1,
          }),
        ),
      );
      for (const res of answers) if (typeof res.body.workflowId === 'string') started.push(res.body.workflowId);
      expect(answers.filter((r) => r.status === 202)).toHaveLength(4);
      expect(answers.filter((r) => r.status === 503 && r.body.reason === 'quarantine-full')).toHaveLength(8);
      expect((await a!.quarantine.usage()).get('payments')).toMatchObject({ events: 4 });
    } finally {
      await a?.close();
      await b?.close();
    }
  });

  it('reads its bounds from QUARANTINE_MAX_* and QUARANTINE_MAX_*_<SOURCE>', () => {
    const limits = loadQuarantineLimits({ QUARANTINE_MAX_BYTES: '1000', QUARANTINE_MAX_EVENTS_MY_SHOP: '7' }, ['oms', 'my-shop']);
    expect(limits.get('oms')).toEqual({ maxEvents: DEFAULT_QUARANTINE_LIMITS.maxEvents, maxBytes: 1000 });
    expect(limits.get('my-shop')).toEqual({ maxEvents: 7, maxBytes: 1000 });
    expect(() => loadQuarantineLimits({ QUARANTINE_MAX_EVENTS_OMS: 'lots' }, ['oms'])).toThrow(ConfigError);
    expect(() => loadQuarantineLimits({ QUARANTINE_MAX_EVENTS_OMS: 'lots' }, ['oms'])).toThrow(
      /QUARANTINE_MAX_EVENTS_OMS: expected a number/,
    );
  });
});
