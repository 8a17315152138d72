import { beforeAll, describe, expect, it } from 'vitest';
import { WorkflowNotFoundError } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { conversations } from '../activities';
import type { EnvelopeOf } from '../src/events/envelope';
import { returnWorkflowId } from '../src/events/identity';
import { SAMPLES } from '../src/events/samples';
import { eventWorkflowId } from '../src/intake';
import {
  claimUpdate,
  CONVERSATION_WORKFLOW_TYPE,
  conversationId,
  conversationQuery,
  parseConversationId,
  resolveUpdate,
  type Conversation,
  type ConversationWorkflow,
  type EscalationRequest,
} from '../workflows/contracts/conversation';
import type { InquiryResult } from '../workflows/contracts/inquiries';
import { returnStateQuery, type ReturnState } from '../workflows/contracts/returns';
import { CUSTOMER, waitForNotification } from './support/handoff';
import { sendSigned, setupAgent } from './support/harness';
import { day, deliveredPaidOrder, notificationsFor, startTimeLimitedReturn, unique } from './support/fixtures';

/**
 * A rerun of a workflow that had escalated (issue 18's follow-up), over real HTTP with a real
 * worker and database. The first run's conversation keeps its ID for good, so the rerun cannot
 * start it again: a decision a person made is reused (nobody is asked twice, nothing announced
 * again), and a conversation that ended without one (withdrawn when its raiser timed out) is put
 * to a person again under the next round's ID, announced under keys of its own.
 *
 * A first run ends unfinished for real here by a time limit the test gives it (TIMED_OUT) while it
 * waits for a person or a parcel: hookline sets none, and its activities no longer give up, so a
 * timeout is the way to end a run undone (test/rerun.test.ts does the same).
 */
describe('a rerun of a workflow that had escalated', () => {
  const t = setupAgent({ operators: true });
  const client = () => t.env.client;
  let lead: { name: string; token: string };

  beforeAll(async () => {
    const name = `lee-${unique().toLowerCase()}`;
    lead = { name, token: (await t.operators.add(name, 'lead')).token };
  });

  /** The operators' API as the lead calls it (the inbox and `npm run handoff` use the same routes). */
  async function api(method: 'GET' | 'POST', path: string, body?: object): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${t.receiver.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${lead.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  const at = (id: string, action?: string) => `/handoffs/${encodeURIComponent(id)}${action ? `/${action}` : ''}`;

  const conversationOf = (id: string): Promise<Conversation | undefined> =>
    client()
      .workflow.getHandle(id)
      .query(conversationQuery)
      .catch(() => undefined);
  const statusOf = async (id: string) =>
    (
      await client()
        .workflow.getHandle(id)
        .describe()
        .catch(() => undefined)
    )?.status.name;

  async function deliver(source: string, body: object): Promise<string> {
    const res = await sendSigned(t.receiver.url, source, body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.workflowId as string;
  }

  /** Temporal's retention: the closed conversation deleted as the namespace's retention would, waited for until gone. */
  async function forget(workflowId: string): Promise<void> {
    await client().workflowService.deleteWorkflowExecution({ namespace: t.env.namespace ?? 'default', workflowExecution: { workflowId } });
    // Deleting is asynchronous: a completed run went in milliseconds here, a cancelled one in about 30 s.
    await expect.poll(() => statusOf(workflowId), { timeout: 90_000, interval: 250 }).toBeUndefined();
  }

  it.each([
    { forgotten: false, when: 'while Temporal still holds it' },
    { forgotten: true, when: 'after Temporal’s retention deleted it' },
  ])(
    'an inquiry whose conversation was withdrawn when the run timed out is put to a person again, announced anew, $when; the API finds it',
    { timeout: 180_000 },
    async ({ forgotten }) => {
      const messageId = `msg_${unique()}`;
      const body = {
        event_type: 'customer.inquiry.new',
        timestamp: new Date().toISOString(),
        inquiry_id: `INQ-${unique()}`,
        customer_id: CUSTOMER,
        summary: 'This is unacceptable, my order arrived broken',
        source: 'email',
      } as const;
      // The envelope the receiver makes of this delivery (its identity is the signed message id).
      const envelope: EnvelopeOf<'customer.inquiry.new'> = {
        source: 'crm',
        identity: messageId,
        identityFrom: 'sender',
        receivedAt: new Date().toISOString(),
        event: body,
      };
      const workflowId = eventWorkflowId(envelope);
      const first = conversationId(workflowId, 'inquiry');
      const firstRun = await client().workflow.start('customerInquiryWorkflow', {
        workflowId,
        taskQueue: t.agent.taskQueue,
        args: [envelope],
        workflowExecutionTimeout: '12s',
      });
      await expect.poll(async () => (await conversationOf(first))?.status, { timeout: 10_000, interval: 250 }).toBe('waiting');
      await waitForNotification(t.agent.db, { audience: 'agents', idempotencyKey: `${first}:handoff:opened` });
      await expect.poll(async () => (await firstRun.describe()).status.name, { timeout: 20_000, interval: 500 }).toBe('TIMED_OUT');
      // The raiser's end withdrew the conversation (parent close policy REQUEST_CANCEL).
      await expect.poll(() => statusOf(first), { timeout: 10_000, interval: 250 }).toBe('CANCELLED');
      expect((await conversationOf(first))?.outcome).toBe('withdrawn');
      if (forgotten) await forget(first);

      // The CRM delivers the inquiry again: the timed-out run is run again.
      const again = await sendSigned(t.receiver.url, 'crm', body, { id: messageId });
      expect(again.status, JSON.stringify(again.body)).toBe(202);
      expect(again.body).toEqual({ accepted: true, duplicate: false, rerun: true, workflowId });

      // The case is a person's again, in a conversation of the next round, and the channel hears of it.
      const second = conversationId(workflowId, 'inquiry', 2);
      expect(second).toBe(`${first}:2`);
      expect(parseConversationId(second)).toEqual({ raisedBy: workflowId, kind: 'inquiry', round: 2 });
      await expect.poll(async () => (await conversationOf(second))?.status, { timeout: 20_000, interval: 250 }).toBe('waiting');
      const opened = await waitForNotification(t.agent.db, { audience: 'agents', idempotencyKey: `${second}:handoff:opened` });
      expect(opened.body).toContain(`Escalation ${second}`);
      expect(await notificationsFor(t.agent.db, `${first}:handoff:opened`)).toHaveLength(1);

      // The operators' API (the inbox's and the CLI's) lists it and finds it by the raiser's ID.
      await expect
        .poll(
          async () => {
            const { body: listed } = await api('GET', `/handoffs?status=open&customerId=${CUSTOMER}`);
            return (listed.handoffs as { id: string; kind: string; raisedBy: string }[]).find((r) => r.id === second);
          },
          { timeout: 15_000, interval: 250 },
        )
        .toEqual(expect.objectContaining({ id: second, kind: 'inquiry', raisedBy: workflowId }));
      const byRaiser = await api('GET', at(workflowId));
      expect(byRaiser).toMatchObject({ status: 200, body: { id: second, status: 'waiting', raisedBy: workflowId } });
      if (forgotten) {
        // Its ID was not taken again: a second round 1 would have had its announcement swallowed.
        expect(await statusOf(first)).toBeUndefined();
      } else {
        // The withdrawn one can still be read, for the record.
        expect(await api('GET', at(first))).toMatchObject({ status: 200, body: { id: first, outcome: 'withdrawn' } });
      }

      expect((await api('POST', at(workflowId, 'claim'), {})).status).toBe(200);
      expect((await api('POST', at(second, 'resolve'), { outcome: 'resolved', note: 'replaced the order' })).status).toBe(200);
      const result = (await client().workflow.getHandle(workflowId).result()) as InquiryResult;
      expect(result).toMatchObject({ decision: 'handoff', handoff: { outcome: 'resolved', agent: lead.name, note: 'replaced the order' } });
    },
  );

  it.each([
    { forgotten: false, when: 'while Temporal still holds the conversation' },
    { forgotten: true, when: 'after Temporal’s retention deleted the conversation' },
  ])(
    'a return whose approval a person gave, and whose run then timed out, is rerun with that approval $when: nobody is asked again',
    { timeout: 210_000 },
    async ({ forgotten }) => {
      const orderId = `ORD-${unique()}`;
      const returnId = `RET-${unique()}`;
      const workflowId = returnWorkflowId(returnId);
      const approval = conversationId(workflowId, 'return-approval');
      await deliveredPaidOrder(deliver, client(), orderId);
      // Asked for 60 days after delivery: outside the 30-day window, so a person must approve it.
      const first = await startTimeLimitedReturn(client(), t.agent.taskQueue, { returnId, orderId }, 60);
      await expect.poll(async () => (await conversationOf(approval))?.status, { timeout: 15_000, interval: 250 }).toBe('waiting');
      expect((await api('POST', at(approval, 'claim'), {})).status).toBe(200);
      expect(await api('POST', at(approval, 'resolve'), { outcome: 'approve', note: 'loyal customer' })).toMatchObject({
        status: 200,
        body: { outcome: 'approve' },
      });
      let before: ReturnState | undefined;
      await expect
        .poll(
          async () => {
            before = await first.query(returnStateQuery).catch(() => undefined);
            return before?.status;
          },
          { timeout: 20_000, interval: 250 },
        )
        .toBe('awaiting-arrival');
      await expect.poll(async () => (await first.describe()).status.name, { timeout: 45_000, interval: 500 }).toBe('TIMED_OUT');
      expect(await statusOf(approval)).toBe('COMPLETED');
      if (forgotten) await forget(approval);

      // The parcel arrives: the relay runs the return again, which carries on from the approval.
      const relayId = await deliver('carrier', {
        ...SAMPLES['return.received'],
        return_id: returnId,
        order_id: orderId,
        timestamp: day(70),
      });
      expect(await client().workflow.getHandle(relayId).result()).toEqual({ returnWorkflowId: workflowId, delivered: true });
      const after = (await client().workflow.getHandle(workflowId).result()) as ReturnState;
      expect(after).toMatchObject({
        status: 'refunded',
        label: before!.label,
        approval: { outcome: 'approve', agent: lead.name, note: 'loyal customer' },
      });
      // One conversation, announced once: the person was not asked again.
      const next = await client()
        .workflow.getHandle(conversationId(workflowId, 'return-approval', 2))
        .describe()
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(next).toBeInstanceOf(WorkflowNotFoundError);
      if (forgotten) expect(await statusOf(approval)).toBeUndefined();
      expect(await notificationsFor(t.agent.db, `${approval}:handoff:opened`)).toHaveLength(1);
      expect(t.agent.sandbox.state.refunds.filter((r) => r.order_id === orderId)).toHaveLength(1);
    },
  );

  it('a rerun reads an earlier conversation: still open, not over yet; completed, its result; terminated undecided, none', async () => {
    const read = (id: string) =>
      new MockActivityEnvironment().run(conversations({ temporal: client(), db: t.agent.db }).earlierConversation, id);
    const request: EscalationRequest = {
      kind: 'shipment-exception',
      queue: 'shipping',
      reason: 'a parcel was lost',
      customerId: CUSTOMER,
      facts: { orderId: `ORD-${unique()}`, trackingNumber: `TRK-${unique()}`, carrier: 'FedEx', exception: 'lost', description: '' },
      unclaimedSlaMs: 60_000,
      unansweredSlaMs: 60_000,
    };
    const open = async () => {
      const id = conversationId(`test:rerun:${unique()}`, 'shipment-exception');
      const handle = await client().workflow.start<ConversationWorkflow>(CONVERSATION_WORKFLOW_TYPE, {
        workflowId: id,
        taskQueue: t.agent.taskQueue,
        args: [request],
      });
      await expect.poll(async () => (await conversationOf(id))?.status, { timeout: 10_000, interval: 250 }).toBe('waiting');
      return handle;
    };

    const decided = await open();
    // Still open: the activity fails and is retried until it closes (a rerun's is being withdrawn),
    // so nobody is asked twice at once.
    await expect(read(decided.workflowId)).rejects.toThrow(/still open \(waiting\)/);
    await decided.executeUpdate(claimUpdate, { args: [{ agent: 'dana' }] });
    await decided.executeUpdate(resolveUpdate, { args: [{ agent: 'dana', outcome: 'resolved', note: 'reshipped' }] });
    await decided.result();
    expect(await read(decided.workflowId)).toEqual({
      status: 'COMPLETED',
      result: { outcome: 'resolved', agent: 'dana', note: 'reshipped' },
    });

    const undecided = await open();
    await undecided.executeUpdate(claimUpdate, { args: [{ agent: 'eli' }] });
    await undecided.terminate('test: ended without a decision');
    expect(await read(undecided.workflowId)).toEqual({ status: 'TERMINATED' });
  });
});
