import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure, defaultPayloadConverter } from '@temporalio/common';
import { runSpoolCli } from '../scripts/spool';
import type { EventEnvelope } from '../src/events/envelope';
import { returnWorkflowId } from '../src/events/identity';
import { SAMPLES } from '../src/events/samples';
import { createLogger } from '../src/log';
import { createIntake } from '../src/intake/direct';
import { createDrainer, openSpool } from '../src/spool';
import { conversationId } from '../workflows/contracts/conversation';
import { returnStateQuery, type ReturnState } from '../workflows/contracts/returns';
import { sendSigned, setupAgent } from './support/harness';
import { day, deliveredPaidOrder, notificationsFor, startTimeLimitedReturn, unique } from './support/fixtures';

/**
 * "A failed run swallows the event" (issue 18), over real HTTP with a real worker and database: a
 * run that failed or timed out is started again by the next delivery of its event (the sender's
 * redelivery, the spool's drain, the return relay's signal-with-start), never repeating an effect
 * the first run completed; a run a person cancelled or terminated stays closed, and the answer
 * says so.
 */

/** How many runs Temporal has of one workflow ID, open or closed. */
async function runsOf(client: Client, workflowId: string): Promise<number> {
  let runs = 0;
  for await (const _ of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs += 1;
  return runs;
}

describe('a failed run is run again; a closed one stays closed', () => {
  const t = setupAgent();
  const client = () => t.env.client;
  const sandbox = () => t.agent.sandbox.sandbox;

  async function deliver(source: string, body: object): Promise<string> {
    const res = await sendSigned(t.receiver.url, source, body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.workflowId as string;
  }

  /**
   * An order status whose run fails for real: the CRM refuses (403) the lookup of the customer to
   * tell, a definite refusal, so the notification fails for good and with it the run. The CRM is
   * fixed afterwards (the fault cleared), as an operator would get it fixed.
   */
  async function failedOrderRun(): Promise<{ body: object; workflowId: string }> {
    const customerId = `CUST-R${unique()}`;
    const body = { ...SAMPLES['order.status_updated'], order_id: `ORD-${unique()}`, customer_id: customerId };
    sandbox().addFault({ system: 'crm', method: 'GET', path: `/customers/${customerId}`, kind: 'status', status: 403 });
    try {
      const workflowId = await deliver('oms', body);
      const failure = await client()
        .workflow.getHandle(workflowId)
        .result()
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect((failure as WorkflowFailedError).cause).toBeInstanceOf(ActivityFailure);
      expect((failure as WorkflowFailedError).cause?.cause).toMatchObject({ type: 'UpstreamRejected', nonRetryable: true });
      expect((failure as WorkflowFailedError).cause?.cause).toBeInstanceOf(ApplicationFailure);
      expect((await client().workflow.getHandle(workflowId).describe()).status.name).toBe('FAILED');
      return { body, workflowId };
    } finally {
      sandbox().clearFaults();
    }
  }

  it(
    'a redelivery of an event whose run failed starts it again (202 rerun); the next one is a duplicate',
    { timeout: 60_000 },
    async () => {
      const { body, workflowId } = await failedOrderRun();

      const again = await sendSigned(t.receiver.url, 'oms', body);
      expect(again.status).toBe(202);
      expect(again.body).toEqual({ accepted: true, duplicate: false, rerun: true, workflowId });
      // The new run owns the status the failed one wrote (same event), so the customer is told.
      expect(await client().workflow.getHandle(workflowId).result()).toEqual({ applied: true, notified: 'order-shipped' });
      expect(await notificationsFor(t.agent.db, `${workflowId}:notify`)).toHaveLength(1);
      await expect.poll(() => runsOf(client(), workflowId), { timeout: 10_000 }).toBe(2);

      const third = await sendSigned(t.receiver.url, 'oms', body);
      expect(third.status).toBe(200);
      expect(third.body).toEqual({ accepted: true, duplicate: true, workflowId });
      expect(await runsOf(client(), workflowId)).toBe(2);
    },
  );

  it('ten redeliveries at once after a failure start one new run: one 202 rerun, nine 200 duplicates', { timeout: 60_000 }, async () => {
    const { body, workflowId } = await failedOrderRun();
    const answers = await Promise.all(Array.from({ length: 10 }, () => sendSigned(t.receiver.url, 'oms', body)));
    const reruns = answers.filter((a) => a.status === 202);
    expect(reruns).toHaveLength(1);
    expect(reruns[0]!.body).toMatchObject({ rerun: true, duplicate: false });
    for (const a of answers.filter((x) => x.status !== 202))
      expect(a).toMatchObject({ status: 200, body: { duplicate: true, workflowId } });
    expect(await client().workflow.getHandle(workflowId).result()).toEqual({ applied: true, notified: 'order-shipped' });
    await expect.poll(() => runsOf(client(), workflowId), { timeout: 10_000 }).toBe(2);
    expect(await notificationsFor(t.agent.db, `${workflowId}:notify`)).toHaveLength(1);
  });

  /** A shipment exception waits for a person: a run that is open until someone closes it. */
  async function waitingRun(): Promise<{ body: object; workflowId: string }> {
    const body = {
      ...SAMPLES['shipment.exception'],
      order_id: `ORD-${unique()}`,
      tracking_number: `TRK-${unique()}`,
      timestamp: new Date().toISOString(),
    };
    const workflowId = await deliver('carrier', body);
    const conversation = conversationId(workflowId, 'shipment-exception');
    await expect
      .poll(
        async () =>
          (
            await client()
              .workflow.getHandle(conversation)
              .describe()
              .catch(() => undefined)
          )?.status.name,
        {
          timeout: 20_000,
        },
      )
      .toBe('RUNNING');
    return { body, workflowId };
  }

  it('a run a person cancelled stays closed: a redelivery is 200 duplicate, closed: cancelled', { timeout: 60_000 }, async () => {
    const { body, workflowId } = await waitingRun();
    const handle = client().workflow.getHandle(workflowId);
    await handle.cancel();
    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((failure as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect((await handle.describe()).status.name).toBe('CANCELLED');

    const again = await sendSigned(t.receiver.url, 'carrier', body);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ accepted: true, duplicate: true, closed: 'cancelled', workflowId });
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    expect(await runsOf(client(), workflowId)).toBe(1);
  });

  it('a run a person terminated stays closed: a redelivery is 200 duplicate, closed: terminated', { timeout: 60_000 }, async () => {
    const { body, workflowId } = await waitingRun();
    const handle = client().workflow.getHandle(workflowId);
    await handle.terminate('test: closed on purpose');
    expect((await handle.describe()).status.name).toBe('TERMINATED');

    const again = await sendSigned(t.receiver.url, 'carrier', body);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ accepted: true, duplicate: true, closed: 'terminated', workflowId });
    expect(await runsOf(client(), workflowId)).toBe(1);
  });

  it('`npm run spool -- drain` starts a spooled event whose run failed again', { timeout: 60_000 }, async () => {
    const { workflowId } = await failedOrderRun();
    // The event as the receiver would have spooled it: the envelope the failed run was started with.
    const history = await client().workflow.getHandle(workflowId).fetchHistory();
    const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    const envelope = defaultPayloadConverter.fromPayload<EventEnvelope>(input!);
    const store = await openSpool(`sqlite:${join(mkdtempSync(join(tmpdir(), 'hookline-rerun-spool-')), 'spool.db')}`, {
      scope: `default/${t.agent.taskQueue}`,
      limits: { maxEvents: 10, maxBytes: 1_000_000 },
    });
    const logged: Record<string, unknown>[] = [];
    const logger = createLogger({ level: 'info', write: (line) => logged.push(JSON.parse(line) as Record<string, unknown>) });
    try {
      expect(await store.add(workflowId, { kind: 'event', envelope })).toBe(true);
      const intake = createIntake({ client: client(), taskQueue: t.agent.taskQueue, startTimeoutMs: 5_000, quarantineKeepForMs: 60_000 });
      const out: string[] = [];
      const code = await runSpoolCli(['drain'], {
        open: async () => ({ spool: store, drainer: () => createDrainer({ spool: store, intake, logger }) }),
        out: (line) => out.push(line),
      });
      expect({ code, text: out.join('\n') }).toEqual({ code: 0, text: 'Started 1 event(s); the spool is empty.' });
      expect(logged.find((l) => l.msg === 'spooled event started again: its last run had failed')).toMatchObject({ workflowId });
      expect(await client().workflow.getHandle(workflowId).result()).toEqual({ applied: true, notified: 'order-shipped' });
      await expect.poll(() => runsOf(client(), workflowId), { timeout: 10_000 }).toBe(2);
    } finally {
      await store.close();
    }
  });

  it(
    'the return relay starts a timed-out return workflow again with the events it had; no effect the first run completed is repeated',
    { timeout: 120_000 },
    async () => {
      const orderId = `ORD-${unique()}`;
      const returnId = `RET-${unique()}`;
      const workflowId = returnWorkflowId(returnId);
      await deliveredPaidOrder(deliver, client(), orderId);
      // The first run ends unfinished (TIMED_OUT) while it waits for the parcel.
      const first = await startTimeLimitedReturn(client(), t.agent.taskQueue, { returnId, orderId }, 5);
      let before: ReturnState | undefined;
      await expect
        .poll(
          async () => {
            before = await first.query(returnStateQuery).catch(() => undefined);
            return before?.status;
          },
          { timeout: 25_000, interval: 250 },
        )
        .toBe('awaiting-arrival');
      const label = before!.label!;
      expect(await notificationsFor(t.agent.db, `${workflowId}:label-sent`)).toHaveLength(1);
      await expect.poll(async () => (await first.describe()).status.name, { timeout: 45_000, interval: 500 }).toBe('TIMED_OUT');

      // The partners forget every idempotency key (Stripe does after 24 hours): only our own record
      // of completed effects can stop the label and the warehouse notice being made twice.
      sandbox().reset();
      const relayId = await deliver('carrier', {
        ...SAMPLES['return.received'],
        return_id: returnId,
        order_id: orderId,
        timestamp: day(9),
      });
      expect(await client().workflow.getHandle(relayId).result()).toEqual({ returnWorkflowId: workflowId, delivered: true });

      const after = await client().workflow.getHandle(workflowId).result();
      expect(after).toMatchObject({ status: 'refunded', label });
      const posts = (path: string) =>
        sandbox()
          .calls()
          .filter((c) => c.method === 'POST' && c.path.startsWith(path)).length;
      expect({
        labels: posts('/return-labels'),
        expected: posts('/expected-returns'),
        restocks: posts('/restocks'),
        refunds: posts('/refunds'),
      }).toEqual({ labels: 0, expected: 0, restocks: 1, refunds: 1 });
      expect(sandbox().state.refunds).toHaveLength(1);
      expect(await notificationsFor(t.agent.db, `${workflowId}:label-sent`)).toHaveLength(1);
      expect(await notificationsFor(t.agent.db, `${workflowId}:refunded`)).toHaveLength(1);
      await expect.poll(() => runsOf(client(), workflowId), { timeout: 10_000 }).toBe(2);
    },
  );

  it(
    'a return workflow a person terminated stays closed: the relay does not reopen it and tells the agents why',
    { timeout: 60_000 },
    async () => {
      const orderId = `ORD-${unique()}`;
      const returnId = `RET-${unique()}`;
      const workflowId = returnWorkflowId(returnId);
      await deliveredPaidOrder(deliver, client(), orderId);
      await deliver('oms', { ...SAMPLES['return.initiated'], return_id: returnId, order_id: orderId, timestamp: day(5) });
      const handle = client().workflow.getHandle(workflowId);
      await expect
        .poll(async () => (await handle.query(returnStateQuery).catch(() => undefined))?.status, { timeout: 20_000, interval: 250 })
        .toBe('awaiting-arrival');
      await handle.terminate('test: the customer withdrew the return');

      const relayId = await deliver('carrier', {
        ...SAMPLES['return.received'],
        return_id: returnId,
        order_id: orderId,
        timestamp: day(9),
      });
      expect(await client().workflow.getHandle(relayId).result()).toEqual({ returnWorkflowId: workflowId, delivered: false });
      const late = await t.agent.db.selectFrom('notifications').selectAll().where('idempotency_key', '=', `${relayId}:late`).execute();
      expect(late).toHaveLength(1);
      expect(late[0]!.body).toContain(`Return workflow ${workflowId} was terminated by a person`);
      expect((await handle.describe()).status.name).toBe('TERMINATED');
      expect(await runsOf(client(), workflowId)).toBe(1);
    },
  );
});
