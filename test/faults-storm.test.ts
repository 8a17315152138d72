import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { returnWorkflowId } from '../src/events/identity';
import { SAMPLES } from '../src/events/samples';
import type { ReturnState } from '../workflows/contracts/returns';
import { connectTestEnv, sendSigned, startAgent, startReceiver, testDatabases, type Agent, type Receiver } from './support/harness';

/**
 * Duplicate storms: the same signed event 50 times at once through the real receiver, and 50
 * times again after its workflow closed. Temporal's workflow ID is the dedup: one 202, the rest
 * `200 duplicate`, one workflow run, one side effect (an outbox message, a partner write).
 */

const STORM = 50;
const unique = () => randomBytes(4).toString('hex').toUpperCase();

describe('duplicate storms', () => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;

  beforeAll(async () => {
    env = await connectTestEnv();
    agent = await startAgent({ env, databaseUrl: testDatabases()[0]!.url() });
    receiver = await startReceiver({
      env,
      taskQueue: agent.taskQueue,
      // The per-sender limit (100/s by default) would answer part of a storm 429, which is its job
      // but not what this measures: lifted, every copy reaches the dedup.
      sourceEnv: { WEBHOOK_RATE_LIMIT_PAYMENTS: '10000/s', WEBHOOK_RATE_LIMIT_OMS: '10000/s', WEBHOOK_RATE_LIMIT_CARRIER: '10000/s' },
      // 50 starts at once on a loaded two-core machine: time enough that none is answered 503.
      startTimeoutMs: 30_000,
    });
  });
  afterAll(async () => {
    await receiver?.close();
    await agent?.close();
    await env?.teardown();
  });

  /** The same body, signed and sent STORM times concurrently. */
  async function storm(source: string, body: object): Promise<{ accepted: string[]; duplicates: string[]; other: number[] }> {
    const answers = await Promise.all(Array.from({ length: STORM }, () => sendSigned(receiver.url, source, body)));
    const ids = (status: number, duplicate: boolean) =>
      answers.filter((a) => a.status === status && a.body.duplicate === duplicate).map((a) => a.body.workflowId as string);
    return {
      accepted: ids(202, false),
      duplicates: ids(200, true),
      other: answers.filter((a) => a.status !== 202 && a.status !== 200).map((a) => a.status),
    };
  }

  /** Runs Temporal holds of one workflow ID, open or closed. */
  async function runsOf(workflowId: string): Promise<number> {
    let runs = 0;
    for await (const _ of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs += 1;
    return runs;
  }
  const result = <T>(workflowId: string) => env.client.workflow.getHandle(workflowId).result() as Promise<T>;
  const notifications = (key: string) => agent.db.selectFrom('notifications').select('id').where('idempotency_key', '=', key).execute();

  it(
    'a payment 50 times at once, and 50 times after its workflow closed: one workflow, one confirmation',
    { timeout: 120_000 },
    async () => {
      const paymentId = `PMT-${unique()}`;
      const orderId = `ORD-${unique()}`;
      const body = { ...SAMPLES['payment.succeeded'], payment_id: paymentId, order_id: orderId, customer_id: 'CUST-67890' };

      const first = await storm('payments', body);
      expect(first.other).toEqual([]);
      expect(first.accepted).toHaveLength(1);
      expect(first.duplicates).toHaveLength(STORM - 1);
      const id = first.accepted[0]!;
      expect(new Set(first.duplicates)).toEqual(new Set([id]));
      expect(await result(id)).toEqual({ duplicate: false, notified: 'payment-confirmed' });

      const late = await storm('payments', body);
      expect(late.other).toEqual([]);
      expect(late.accepted).toEqual([]);
      expect(new Set(late.duplicates)).toEqual(new Set([id]));
      expect(late.duplicates).toHaveLength(STORM);

      await expect.poll(() => runsOf(id), { timeout: 10_000 }).toBe(1);
      expect(await notifications(`payment:payment.succeeded:${paymentId}`)).toHaveLength(1);
      const aboutThisOrder = await agent.db.selectFrom('notifications').select('id').where('body', 'like', `%${orderId}%`).execute();
      expect(aboutThisOrder).toHaveLength(1);
      const ledger = await agent.db
        .selectFrom('processed_events')
        .select('workflow_id')
        .where('key', '=', `payment.succeeded:${paymentId}`)
        .execute();
      expect(ledger).toHaveLength(1);
    },
  );

  it(
    'a return initiated and received 50 times each at once, then again after it closed: one saga, one label, one refund',
    { timeout: 120_000 },
    async () => {
      const orderId = `ORD-${unique()}`;
      const returnId = `RET-${unique()}`;
      const delivered = await sendSigned(receiver.url, 'oms', {
        ...SAMPLES['order.status_updated'],
        order_id: orderId,
        new_status: 'delivered',
        timestamp: '2026-11-01T00:00:00Z',
        total_amount: 30,
        currency: 'USD',
      });
      await result(delivered.body.workflowId as string);
      const paid = await sendSigned(receiver.url, 'payments', {
        ...SAMPLES['payment.succeeded'],
        payment_id: `PMT-${orderId}`,
        order_id: orderId,
        amount: 30,
      });
      await result(paid.body.workflowId as string);

      const initiated = { ...SAMPLES['return.initiated'], return_id: returnId, order_id: orderId, timestamp: '2026-11-03T00:00:00Z' };
      const received = { ...SAMPLES['return.received'], return_id: returnId, order_id: orderId, timestamp: '2026-11-07T00:00:00Z' };
      const [first, arrived] = await Promise.all([storm('oms', initiated), storm('carrier', received)]);
      for (const s of [first, arrived]) {
        expect(s.other).toEqual([]);
        expect(s.accepted).toHaveLength(1);
        expect(s.duplicates).toHaveLength(STORM - 1);
      }

      const saga = returnWorkflowId(returnId);
      expect(await result<ReturnState>(saga)).toMatchObject({ status: 'refunded' });
      for (const relay of [first.accepted[0]!, arrived.accepted[0]!]) await result(relay);

      const [again, againArrived] = await Promise.all([storm('oms', initiated), storm('carrier', received)]);
      for (const s of [again, againArrived]) {
        expect(s.other).toEqual([]);
        expect(s.accepted).toEqual([]);
        expect(s.duplicates).toHaveLength(STORM);
      }

      for (const id of [saga, first.accepted[0]!, arrived.accepted[0]!]) await expect.poll(() => runsOf(id), { timeout: 10_000 }).toBe(1);
      const labelCalls = agent.sandbox.sandbox
        .calls()
        .filter(
          (c) => c.system === 'carrier' && c.method === 'POST' && c.path === '/return-labels' && c.idempotencyKey === `${saga}:label`,
        );
      expect(labelCalls).toHaveLength(1);
      expect(agent.sandbox.state.labels.filter((l) => l.return_id === returnId)).toHaveLength(1);
      expect(agent.sandbox.state.restocks.filter((r) => r.return_id === returnId)).toHaveLength(1);
      expect(agent.sandbox.state.refunds.filter((r) => r.order_id === orderId)).toHaveLength(1);
      expect(await notifications(`${saga}:refunded`)).toHaveLength(1);
    },
  );
});
