import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { returnWorkflowId } from '../src/events/identity';
import { SAMPLES } from '../src/events/samples';
import type { Actor } from '../src/handoff/permissions';
import { createHandoffService, type HandoffService } from '../src/handoff/service';
import { conversationId } from '../workflows/contracts/conversation';
import { waitingConversation } from './support/handoff';
import { sendSigned, setupAgent } from './support/harness';

/**
 * Out-of-policy returns wait for a person: approved ones carry on to a label and a refund, denied
 * ones tell the customer why, undecided ones deny themselves, and a claimed-but-silent
 * escalation reminds its assignee. Durations are short here and configurable in production.
 */
describe('return approvals by a person', () => {
  const t = setupAgent({
    operators: true,
    settings: { approvalTimeoutMs: 8_000, handoffUnansweredSlaMs: 1_500, handoffUnclaimedSlaMs: 60_000 },
  });
  let handoffs: HandoffService;
  const agent = (name: string): Actor => ({ name, role: 'agent' });
  beforeAll(() => {
    handoffs = createHandoffService(t.env.client);
  });

  /** A delivered, paid order returned 60 days later: outside the 30-day window. */
  /** `id` is the approval's conversation, `workflowId` the return's own workflow that awaits it. */
  async function lateReturn(): Promise<{ returnId: string; orderId: string; id: string; workflowId: string }> {
    const suffix = randomBytes(4).toString('hex').toUpperCase();
    const orderId = `ORD-${suffix}`;
    const returnId = `RET-${suffix}`;
    const send = async (source: string, body: object) => {
      const res = await sendSigned(t.receiver.url, source, body);
      expect(res.status).toBe(202);
      return res.body.workflowId as string;
    };
    await t.env.client.workflow
      .getHandle(
        await send('oms', {
          ...SAMPLES['order.status_updated'],
          order_id: orderId,
          new_status: 'delivered',
          timestamp: '2026-08-01T00:00:00Z',
          total_amount: 40,
          currency: 'EUR',
        }),
      )
      .result();
    await send('oms', { ...SAMPLES['return.initiated'], return_id: returnId, order_id: orderId, timestamp: '2026-09-30T00:00:00Z' });
    const workflowId = returnWorkflowId(returnId);
    const id = conversationId(workflowId, 'return-approval');
    await waitingConversation(t.env.client, id);
    return { returnId, orderId, id, workflowId };
  }

  it('an approved return completes with a label and a refund', async () => {
    const { returnId, orderId, id, workflowId } = await lateReturn();
    const waiting = await handoffs.show(id);
    expect(waiting).toMatchObject({ kind: 'return-approval', queue: 'returns', customerId: 'CUST-67890' });
    // A holding reply the person can edit and send; it promises no outcome.
    expect(waiting.suggestedReply).toMatch(/^Thank you for your patience: we are reviewing your return /);
    expect(waiting.reason).toMatch(/outside policy: requested 60 days after delivery; the window is 30 days/);
    expect(waiting.context.customer).toMatchObject({ name: 'Alice Smith', email: 'alice@example.com' });
    await handoffs.claim(id, agent('dana'));
    await handoffs.resolve(id, agent('dana'), { outcome: 'approve', note: 'loyal customer' });
    await sendSigned(t.receiver.url, 'carrier', { ...SAMPLES['return.received'], return_id: returnId, order_id: orderId });
    const state = (await t.env.client.workflow.getHandle(workflowId).result()) as {
      status: string;
      approval: { outcome: string; agent: string };
    };
    expect(state).toMatchObject({ status: 'refunded', approval: { outcome: 'approve', agent: 'dana' } });
    expect(t.agent.sandbox.state.labels.filter((l) => l.return_id === returnId)).toHaveLength(1);
    expect(t.agent.sandbox.state.refunds.find((r) => r.order_id === orderId)).toMatchObject({ amount: 40, currency: 'EUR' });
  });

  it('a denied return sends the denial with the reason and creates no label', async () => {
    const { returnId, id, workflowId } = await lateReturn();
    await handoffs.claim(id, agent('eli'));
    await handoffs.resolve(id, agent('eli'), { outcome: 'deny', note: 'worn item' });
    expect(await t.env.client.workflow.getHandle(workflowId).result()).toMatchObject({ status: 'denied' });
    const denial = await t.agent.db
      .selectFrom('notifications')
      .selectAll()
      .where('idempotency_key', '=', `${workflowId}:denied`)
      .executeTakeFirstOrThrow();
    expect(denial.body).toContain(`We can't accept return ${returnId}: worn item.`);
    expect(t.agent.sandbox.state.labels.filter((l) => l.return_id === returnId)).toHaveLength(0);
  });

  it('the resolve validator rejects an outcome that does not fit the kind', async () => {
    const { id } = await lateReturn();
    await handoffs.claim(id, agent('fay'));
    await expect(handoffs.resolve(id, agent('fay'), { outcome: 'resolved' })).rejects.toThrow(/approve, deny/);
    await handoffs.resolve(id, agent('fay'), { outcome: 'deny' });
  });

  it('over HTTP: an agent who has not claimed a return cannot approve it, whatever the body says; a lead can, unclaimed', async () => {
    const { id, returnId, orderId, workflowId } = await lateReturn();
    const [kaiName, leeName] = [`kai-${returnId.toLowerCase()}`, `lee-${returnId.toLowerCase()}`];
    const kai = (await t.operators.add(kaiName, 'agent')).token;
    const lee = (await t.operators.add(leeName, 'lead')).token;
    const resolve = (token: string, body: object) =>
      fetch(`${t.receiver.url}/handoffs/${encodeURIComponent(id)}/resolve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const refused = await resolve(kai, { outcome: 'approve' });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({
      type: 'urn:hookline:problem:forbidden',
      detail: 'approving or denying takes a lead or the agent who claimed it',
    });
    // Naming the lead in the body changes nothing.
    expect((await resolve(kai, { agent: leeName, outcome: 'approve' })).status).toBe(403);
    expect((await handoffs.show(id)).status).toBe('waiting');

    const approved = await resolve(lee, { outcome: 'approve', note: 'goodwill' });
    expect(approved.status).toBe(200);
    await sendSigned(t.receiver.url, 'carrier', { ...SAMPLES['return.received'], return_id: returnId, order_id: orderId });
    const state = (await t.env.client.workflow.getHandle(workflowId).result()) as {
      status: string;
      approval: { outcome: string; agent?: string };
    };
    expect(state).toMatchObject({ status: 'refunded', approval: { outcome: 'approve' } });
    const c = await handoffs.show(id);
    expect(c.messages.find((m) => m.text.startsWith('Resolved by'))).toMatchObject({
      author: leeName,
      text: `Resolved by ${leeName}: approve — goodwill`,
    });
  });

  it('a claimed escalation nobody answers reminds its assignee; an undecided one denies itself', async () => {
    const { id, returnId, workflowId } = await lateReturn();
    await handoffs.claim(id, agent('gus'));
    await expect
      .poll(
        async () =>
          (
            await t.agent.db
              .selectFrom('notifications')
              .select('subject')
              .where('idempotency_key', '=', `${id}:handoff:reminder:1`)
              .executeTakeFirst()
          )?.subject,
        { timeout: 10_000 },
      )
      .toBe('Reminder for gus: Return ' + returnId + ' is outside policy: requested 60 days after delivery; the window is 30 days');
    const state = (await t.env.client.workflow.getHandle(workflowId).result()) as { status: string; approval: { outcome: string } };
    expect(state).toMatchObject({ status: 'denied', approval: { outcome: 'expired' } });
    const denial = await t.agent.db
      .selectFrom('notifications')
      .selectAll()
      .where('idempotency_key', '=', `${workflowId}:denied`)
      .executeTakeFirstOrThrow();
    expect(denial.body).toContain('no approval in time');
  });
});
