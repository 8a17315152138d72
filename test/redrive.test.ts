import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { runRedriveCli, type RedriveDeps } from '../scripts/redrive';
import { runSpoolCli } from '../scripts/spool';
import { appendEventLog } from '../src/db';
import type { EnvelopeOf, EventEnvelope } from '../src/events/envelope';
import { returnWorkflowId } from '../src/events/identity';
import { SAMPLES } from '../src/events/samples';
import { silentLogger } from '../src/log';
import { createIntake } from '../src/intake/direct';
import { createQuarantineService } from '../src/receiver/quarantine';
import { loadSources } from '../src/receiver/sources';
import { createDrainer, openSpool } from '../src/spool';
import type { ProcessReturnWorkflow, ReturnEnvelope } from '../workflows/contracts/returns';
import { sendSigned, setupAgent, startReceiver, testSecretsEnv, type Receiver } from './support/harness';
import { day, deliveredPaidOrder, unique } from './support/fixtures';

/**
 * Bulk redrive over real HTTP, a real worker, Temporal and database: 50 quarantined events replayed
 * once after the fix that lets them pass, then nothing the second time; failed and timed-out runs
 * run again through startOnce with no second refund; and a spool row that blocks the drain parked.
 */

async function runsOf(client: Client, workflowId: string): Promise<number> {
  let runs = 0;
  for await (const _ of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs += 1;
  return runs;
}

describe('bulk redrive', () => {
  const t = setupAgent();
  const client = () => t.env.client;

  function cli(deps: Partial<RedriveDeps>) {
    const out: string[] = [];
    const progress: string[] = [];
    const run = (argv: string[]) =>
      runRedriveCli(argv, {
        quarantine: () => Promise.reject(new Error('not wired')),
        failed: () => Promise.reject(new Error('not wired')),
        ...deps,
        out: (line) => out.push(line),
        progress: (line) => progress.push(line),
      });
    return { run, out, progress };
  }

  it('replays 50 quarantined events that pass after a fix: 50 workflows once; a second run starts none', { timeout: 180_000 }, async () => {
    // A source of its own (no other test's quarantine shares it), allowed one event type at first.
    const source = `rd${unique().toLowerCase()}`;
    const suffix = source.toUpperCase();
    const secret = `redrive-secret-${unique()}-0123456789`;
    const before = {
      WEBHOOK_SOURCES: source,
      [`WEBHOOK_SCHEME_${suffix}`]: 'hmac-sha256-hex',
      [`WEBHOOK_SECRET_${suffix}`]: secret,
      [`WEBHOOK_EVENTS_${suffix}`]: 'order.status_updated',
    };
    const receiver: Receiver = await startReceiver({ env: t.env, taskQueue: t.agent.taskQueue, sourceEnv: before });
    try {
      const orders = Array.from({ length: 50 }, () => `ORD-Q${unique()}`);
      for (const orderId of orders) {
        const res = await sendSigned(
          receiver.url,
          source,
          { ...SAMPLES['payment.succeeded'], payment_id: `PMT-${orderId}`, order_id: orderId },
          { secret, scheme: 'hmac-sha256-hex' },
        );
        expect(res.body.quarantined, JSON.stringify(res.body)).toBe(true);
      }
      // The fix: the source may now send payments. The replay reads the bodies where the receiver keeps them.
      const fixed = loadSources({ ...testSecretsEnv(), ...before, [`WEBHOOK_EVENTS_${suffix}`]: '*' });
      const intake = createIntake({ client: client(), taskQueue: t.agent.taskQueue, startTimeoutMs: 10_000, quarantineKeepForMs: 60_000 });
      const service = createQuarantineService({
        client: client(),
        intake,
        sources: fixed,
        bodies: receiver.quarantine,
        eventLog: (entry) => appendEventLog(t.agent.db, [entry]),
      });
      const { run, out, progress } = cli({ quarantine: async () => service });
      await expect.poll(async () => (await service.list(100, { source })).length, { timeout: 30_000, interval: 500 }).toBe(50);

      expect(await run(['quarantined', '--source', source, '--dry-run'])).toBe(0);
      expect(out.pop()).toBe('Dry run: would replay 50 of 50 quarantined event(s); 0 still fail, 0 already resolved.');

      expect(await run(['quarantined', '--source', source])).toBe(2);
      expect(out.join('\n')).toContain('quarantined needs --by <your name>');

      expect(await run(['quarantined', '--source', source, '--by', 'dana'])).toBe(0);
      expect(out.pop()).toBe(
        'Replayed 50 of 50 quarantined event(s): 50 started, 0 started again, 0 already run; 0 still fail, 0 already resolved, 0 error(s).',
      );
      expect(progress.filter((l) => /^\[\d+\/50\] /.test(l))).toHaveLength(50);
      const workflowIds = orders.map((o) => `${source}:payment.succeeded:PMT-${o}`);
      for (const id of workflowIds) {
        await client().workflow.getHandle(id).result();
        expect(await runsOf(client(), id)).toBe(1);
      }
      const replayed = await t.agent.db
        .selectFrom('event_log')
        .selectAll()
        .where('source', '=', source)
        .where('via', '=', 'redrive')
        .execute();
      expect(replayed).toHaveLength(50);
      expect(replayed[0]!.reason).toMatch(/^replayed from quarantine:.* by dana$/);

      // Again: whatever visibility still lists, every one is resolved now, and nothing starts.
      out.length = 0;
      expect(await run(['quarantined', '--source', source, '--by', 'dana'])).toBe(0);
      expect(out[0]).toMatch(/^Nothing to replay: 0 of \d+ quarantined event\(s\); 0 still fail, \d+ already resolved\.$/);
      for (const id of workflowIds.slice(0, 5)) expect(await runsOf(client(), id)).toBe(1);
    } finally {
      await receiver.close();
    }
  });

  it(
    'runs failed and timed-out runs again through startOnce: no second refund, and a second redrive does nothing',
    { timeout: 240_000 },
    async () => {
      const sandbox = t.agent.sandbox.sandbox;
      // 1. An order status whose run failed for real (the CRM refused), then the CRM fixed.
      const customerId = `CUST-R${unique()}`;
      const orderFailed = `ORD-F${unique()}`;
      sandbox.addFault({ system: 'crm', method: 'GET', path: `/customers/${customerId}`, kind: 'status', status: 403 });
      const sent = await sendSigned(t.receiver.url, 'oms', {
        ...SAMPLES['order.status_updated'],
        order_id: orderFailed,
        customer_id: customerId,
      });
      const failedId = sent.body.workflowId as string;
      await expect(client().workflow.getHandle(failedId).result()).rejects.toBeInstanceOf(WorkflowFailedError);
      // The event log knows this order's events (the receiver's writer, as in production).
      await appendEventLog(t.agent.db, [
        {
          receivedAt: new Date().toISOString(),
          via: 'webhook',
          source: 'oms',
          provider: 'hookline',
          outcome: 'accepted',
          workflowId: failedId,
          orderId: orderFailed,
        },
      ]);

      // 2. A return whose run timed out after its refund was made: the payment partner took the
      //    refund and never answered, until the run's time limit ended it.
      const orderId = `ORD-${unique()}`;
      const returnId = `RET-${unique()}`;
      const returnWf = returnWorkflowId(returnId);
      const deliver = async (source: string, body: object) => (await sendSigned(t.receiver.url, source, body)).body.workflowId as string;
      await deliveredPaidOrder(deliver, client(), orderId);
      const envelope = <T extends 'return.initiated' | 'return.received'>(type: T, ts: string): EnvelopeOf<T> =>
        ({
          source: type === 'return.initiated' ? 'oms' : 'carrier',
          identity: `${returnId}:${type}`,
          identityFrom: 'natural-key',
          receivedAt: new Date().toISOString(),
          event: { ...SAMPLES[type], return_id: returnId, order_id: orderId, timestamp: ts },
        }) as EnvelopeOf<T>;
      sandbox.addFault({ system: 'payments', method: 'POST', path: '/refunds', kind: 'hang', phase: 'after' });
      const events: ReturnEnvelope[] = [envelope('return.initiated', day(5)), envelope('return.received', day(9))];
      await client().workflow.start<ProcessReturnWorkflow>('processReturnWorkflow', {
        workflowId: returnWf,
        taskQueue: t.agent.taskQueue,
        args: [returnId, events],
        workflowExecutionTimeout: '25s',
      });
      await expect.poll(() => sandbox.state.refunds.length, { timeout: 25_000, interval: 250 }).toBe(1);
      await expect
        .poll(async () => (await client().workflow.getHandle(returnWf).describe()).status.name, { timeout: 60_000, interval: 500 })
        .toBe('TIMED_OUT');
      sandbox.clearFaults();

      const intake = createIntake({ client: client(), taskQueue: t.agent.taskQueue, startTimeoutMs: 10_000, quarantineKeepForMs: 60_000 });
      const { run, out } = cli({ failed: async () => ({ client: client(), intake, db: t.agent.db }) });
      await expect
        .poll(
          async () => {
            out.length = 0;
            await run(['failed', '--workflow', failedId, '--workflow', returnWf, '--dry-run']);
            return out[0];
          },
          { timeout: 20_000, interval: 500 },
        )
        .toBe('Dry run: would run again 2 event(s); 0 skipped.');
      // The event log's order filter finds the failed order's run alone.
      out.length = 0;
      await run(['failed', '--order', orderFailed, '--dry-run']);
      expect(out).toEqual(['Dry run: would run again 1 event(s); 0 skipped.', expect.stringContaining(failedId)]);

      out.length = 0;
      expect(await run(['failed', '--workflow', failedId, '--workflow', returnWf])).toBe(0);
      expect(out.pop()).toBe(
        'Ran again 2 of 2 event(s); 0 already run again or completed meanwhile, 0 closed by a person, 0 error(s); 0 skipped.',
      );
      expect(await client().workflow.getHandle(failedId).result()).toEqual({ applied: true, notified: 'order-shipped' });
      expect(await client().workflow.getHandle(returnWf).result()).toMatchObject({ status: 'refunded' });
      // The refund was made once: the new run's call carried the same idempotency key.
      expect(sandbox.state.refunds).toHaveLength(1);
      expect(await runsOf(client(), returnWf)).toBe(2);

      out.length = 0;
      expect(await run(['failed', '--workflow', failedId, '--workflow', returnWf])).toBe(0);
      expect(out[0]).toBe('Nothing to run again: 0 event(s); 0 skipped.');
      expect(await runsOf(client(), failedId)).toBe(2);
      expect(sandbox.state.refunds).toHaveLength(1);
    },
  );

  it(
    'a spool row that stalls the drain, once parked, no longer blocks it; it stays listed; discard drops it',
    { timeout: 60_000 },
    async () => {
      const store = await openSpool(`sqlite:${join(mkdtempSync(join(tmpdir(), 'hookline-park-')), 'spool.db')}`, {
        scope: `default/${t.agent.taskQueue}`,
        limits: { maxEvents: 10, maxBytes: 1_000_000 },
      });
      try {
        // Spooled by an older version, for an event type no route knows any more: its start can never be made.
        const poison = {
          source: 'oms',
          identity: `gone-${unique()}`,
          identityFrom: 'natural-key',
          receivedAt: new Date().toISOString(),
          event: { event_type: 'order.teleported', order_id: 'ORD-X' },
        } as unknown as EventEnvelope;
        const good: EventEnvelope = {
          source: 'oms',
          identity: `ORD-${unique()}:shipped`,
          identityFrom: 'natural-key',
          receivedAt: new Date().toISOString(),
          event: { ...SAMPLES['order.status_updated'], order_id: `ORD-${unique()}` },
        };
        const goodId = `oms:order.status_updated:${good.identity}`;
        expect(await store.add(`oms:order.teleported:${poison.identity}`, { kind: 'event', envelope: poison })).toBe(true);
        expect(await store.add(goodId, { kind: 'event', envelope: good })).toBe(true);
        const intake = createIntake({ client: client(), taskQueue: t.agent.taskQueue, startTimeoutMs: 5_000, quarantineKeepForMs: 60_000 });
        // One start at a time, oldest first: the order the drain tries rows in, made deterministic.
        const drainer = () => createDrainer({ spool: store, intake, logger: silentLogger, policy: { concurrency: 1 } });
        const out: string[] = [];
        const logged: string[] = [];
        const logger = { ...silentLogger, info: (msg: string) => logged.push(msg), warn: (msg: string) => logged.push(msg) };
        const spool = (argv: string[]) =>
          runSpoolCli(argv, { open: async () => ({ spool: store, drainer }), out: (l) => out.push(l), logger });

        const stalled = await drainer().pass();
        expect(stalled.started).toBe(0);
        expect((await store.stats()).depth).toBe(2);

        const [poisonRow] = await store.list(1);
        expect(await spool(['park', String(poisonRow!.seq)])).toBe(2);
        expect(await spool(['park', String(poisonRow!.seq), '--reason', 'event type removed in v2'])).toBe(0);
        expect(logged).toContain('spool row parked');
        expect(await spool(['drain'])).toBe(0);
        expect(out.pop()).toBe('Started 1 event(s); the spool is empty.');
        await client().workflow.getHandle(goodId).result();
        expect(await store.stats()).toMatchObject({ depth: 0, parked: 1 });
        out.length = 0;
        await spool(['list']);
        expect(out[1]).toContain('[parked: event type removed in v2]');

        expect(await spool(['discard', String(poisonRow!.seq), '--reason', 'test traffic'])).toBe(0);
        expect(logged).toContain('spool row discarded');
        expect(await store.stats()).toMatchObject({ depth: 0, parked: 0, bytes: 0 });
      } finally {
        await store.close();
      }
    },
  );
});
