import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { returnWorkflowId } from '../src/events/identity';
import { SAMPLES } from '../src/events/samples';
import type { HandoffRow } from '../src/handoff/service';
import type { FaultSpec, SandboxCall, SystemName } from '../src/sandbox';
import { conversationId, type Conversation } from '../workflows/contracts/conversation';
import type { InquiryResult } from '../workflows/contracts/inquiries';
import type { ReturnState } from '../workflows/contracts/returns';
import { terminateAll } from './support/handoff';
import { sendSigned, setupAgent } from './support/harness';

/**
 * Downstream faults, injected into the third-party sandbox while real webhooks flow through the
 * receiver, Temporal and the worker. A transient fault (5xx, 429 with Retry-After, a slow answer,
 * a hung or reset connection) is retried with backoff until the step succeeds, with its effect
 * made once; a permanent 4xx ends in a person's hands, never in a silently failed workflow.
 * The clients' timeout here is 2 s (the harness), the upstream retry policy starts at 500 ms.
 */

const unique = () => randomBytes(4).toString('hex').toUpperCase();
const day = (offset: number) => new Date(Date.UTC(2026, 10, 1) + offset * 86_400_000).toISOString();

describe('downstream faults', () => {
  const t = setupAgent({ operators: true });
  /** The people acting below are leads (they decide returns, claimed or not), each with their own token. */
  const tokens = new Map<string, Promise<string>>();
  const tokenOf = (name: string) => {
    if (!tokens.has(name))
      tokens.set(
        name,
        t.operators.add(name, 'lead').then((o) => o.token),
      );
    return tokens.get(name)!;
  };
  const raised: string[] = [];
  afterAll(() => terminateAll(t.env, raised));
  // A fault a failed test left unconsumed must not leak into the next one.
  afterEach(() => t.agent.sandbox.sandbox.clearFaults());

  async function deliver(source: string, body: object): Promise<string> {
    const res = await sendSigned(t.receiver.url, source, body);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.workflowId as string;
  }
  const result = <T>(workflowId: string) => t.env.client.workflow.getHandle(workflowId).result() as Promise<T>;
  const fault = (spec: FaultSpec) => t.agent.sandbox.sandbox.addFault(spec);

  /** The sandbox's log of one system's calls at one path, optionally for one idempotency key. */
  function calls(system: SystemName, method: string, path: string, idempotencyKey?: string): SandboxCall[] {
    return t.agent.sandbox.sandbox
      .calls()
      .filter(
        (c) =>
          c.system === system &&
          c.method === method &&
          c.path === path &&
          (idempotencyKey === undefined || c.idempotencyKey === idempotencyKey),
      );
  }
  /** Milliseconds between consecutive calls, as the sandbox saw them arrive. */
  const gaps = (list: SandboxCall[]) => list.slice(1).map((c, i) => Date.parse(c.at) - Date.parse(list[i]!.at));

  /** A delivered, paid order of `customerId`'s, so a return of it is within policy. */
  async function deliveredPaidOrder(customerId: string): Promise<string> {
    const orderId = `ORD-${unique()}`;
    await result(
      await deliver('oms', {
        ...SAMPLES['order.status_updated'],
        order_id: orderId,
        customer_id: customerId,
        new_status: 'delivered',
        timestamp: day(0),
        items: [{ product_id: 'PROD-A', quantity: 2 }],
        total_amount: 59.5,
        currency: 'USD',
      }),
    );
    await result(
      await deliver('payments', {
        ...SAMPLES['payment.succeeded'],
        payment_id: `PMT-${orderId}`,
        order_id: orderId,
        customer_id: customerId,
        amount: 59.5,
      }),
    );
    return orderId;
  }

  /** Starts a return of `orderId` and, unless told otherwise, reports the parcel received. */
  async function startReturn(
    orderId: string,
    customerId: string,
    options: { received?: boolean } = {},
  ): Promise<{ returnId: string; id: string }> {
    const returnId = `RET-${unique()}`;
    await deliver('oms', {
      ...SAMPLES['return.initiated'],
      return_id: returnId,
      order_id: orderId,
      customer_id: customerId,
      timestamp: day(5),
    });
    if (options.received ?? true)
      await deliver('carrier', { ...SAMPLES['return.received'], return_id: returnId, order_id: orderId, timestamp: day(9) });
    const id = returnWorkflowId(returnId);
    // The relay starts the return's own workflow a moment after the receiver answered.
    await vi.waitFor(() => t.env.client.workflow.getHandle(id).describe(), { timeout: 15_000, interval: 200 });
    return { returnId, id };
  }

  /** The operators' HTTP API, as the inbox and a helpdesk use it, as the operator the body names (default dana). */
  async function operator(
    method: 'GET' | 'POST',
    path: string,
    body?: { agent?: string; [field: string]: unknown },
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${t.receiver.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${await tokenOf(body?.agent ?? 'dana')}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  const handoffPath = (id: string, action?: string) => `/handoffs/${encodeURIComponent(id)}${action ? `/${action}` : ''}`;

  /** Waits until the conversation `id` is listed as waiting in `queue`, then returns it. */
  async function waitingEscalation(id: string, queue: string): Promise<Conversation> {
    raised.push(id);
    await vi.waitFor(
      async () => {
        const listed = await operator('GET', `/handoffs?status=waiting&queue=${queue}`);
        expect((listed.body.handoffs as HandoffRow[]).map((r) => r.id)).toContain(id);
      },
      { timeout: 20_000, interval: 250 },
    );
    const shown = await operator('GET', handoffPath(id));
    expect(shown.status).toBe(200);
    return shown.body as unknown as Conversation;
  }

  describe('transient faults are retried with backoff until the step succeeds, and its effect is made once', () => {
    it('a burst of 503s from the payment gateway: the refund is retried with growing waits and made once', async () => {
      const customerId = `CUST-${unique()}`;
      const orderId = await deliveredPaidOrder(customerId);
      fault({ system: 'payments', method: 'POST', path: '/refunds', kind: 'status', status: 503, times: 3 });
      const { id } = await startReturn(orderId, customerId);
      expect(await result<ReturnState>(id)).toMatchObject({ status: 'refunded' });

      const refunds = calls('payments', 'POST', '/refunds', `${id}:refund`);
      expect(refunds.map((c) => c.status)).toEqual([503, 503, 503, 201]);
      // The policy's backoff: 500 ms, then 1 s, then 2 s (never sooner; scheduling may add a little).
      const waits = gaps(refunds);
      expect(waits[0]).toBeGreaterThanOrEqual(450);
      expect(waits[1]).toBeGreaterThanOrEqual(950);
      expect(waits[2]).toBeGreaterThanOrEqual(1_950);
      expect(t.agent.sandbox.state.refunds.filter((r) => r.order_id === orderId)).toHaveLength(1);
    });

    it("429 with Retry-After: the next attempt waits what the warehouse asked, not the policy's 500 ms, and not much longer", async () => {
      const customerId = `CUST-${unique()}`;
      const orderId = await deliveredPaidOrder(customerId);
      fault({
        system: 'warehouse',
        method: 'POST',
        path: '/expected-returns',
        kind: 'status',
        status: 429,
        retryAfterSeconds: 3,
        times: 1,
      });
      const { id, returnId } = await startReturn(orderId, customerId);
      expect(await result<ReturnState>(id)).toMatchObject({ status: 'refunded' });

      const attempts = calls('warehouse', 'POST', '/expected-returns', `${id}:expect`);
      expect(attempts.map((c) => c.status)).toEqual([429, 201]);
      const [waited] = gaps(attempts);
      expect(waited).toBeGreaterThanOrEqual(2_950);
      expect(waited).toBeLessThan(6_000);
      expect(t.agent.sandbox.state.expectedReturns.filter((r) => r.return_id === returnId)).toHaveLength(1);
    });

    it('a reply slower than the client timeout: the label made meanwhile is replayed by its idempotency key, not made again', async () => {
      const customerId = `CUST-${unique()}`;
      const orderId = await deliveredPaidOrder(customerId);
      // The carrier makes the label at once but answers after 4 s; the client gives up at 2 s.
      fault({ system: 'carrier', method: 'POST', path: '/return-labels', kind: 'latency', delayMs: 4_000, phase: 'after', times: 1 });
      const { id, returnId } = await startReturn(orderId, customerId);
      const state = await result<ReturnState>(id);
      expect(state.status).toBe('refunded');

      const attempts = calls('carrier', 'POST', '/return-labels', `${id}:label`);
      expect(attempts).toHaveLength(2);
      expect(attempts[0]!.fault).toMatch(/latency/);
      expect(attempts[1]).toMatchObject({ status: 201, replayed: true });
      // Timed out after 2 s, then the policy's first wait of 500 ms.
      expect(gaps(attempts)[0]).toBeGreaterThanOrEqual(2_450);
      const labels = t.agent.sandbox.state.labels.filter((l) => l.return_id === returnId);
      expect(labels).toHaveLength(1);
      expect(labels[0]).toMatchObject({ label_id: state.label!.labelId, voided: false });
    });

    it('a hung connection: the client times out, the retry restocks, once', async () => {
      const customerId = `CUST-${unique()}`;
      const orderId = await deliveredPaidOrder(customerId);
      fault({ system: 'inventory', method: 'POST', path: '/restocks', kind: 'hang', times: 1 });
      const { id, returnId } = await startReturn(orderId, customerId);
      expect(await result<ReturnState>(id)).toMatchObject({ status: 'refunded' });

      const attempts = calls('inventory', 'POST', '/restocks', `${id}:restock`);
      expect(attempts.map((c) => c.status)).toEqual([null, 201]);
      expect(attempts[0]!.fault).toMatch(/hang/);
      expect(attempts[1]!.replayed).toBeUndefined();
      expect(gaps(attempts)[0]).toBeGreaterThanOrEqual(2_450);
      expect(t.agent.sandbox.state.restocks.filter((r) => r.return_id === returnId)).toHaveLength(1);
    });

    it('a connection reset after the refund went through: the retry is answered by the idempotency key; the money moves once', async () => {
      const customerId = `CUST-${unique()}`;
      const orderId = await deliveredPaidOrder(customerId);
      fault({ system: 'payments', method: 'POST', path: '/refunds', kind: 'reset', phase: 'after', times: 1 });
      const { id } = await startReturn(orderId, customerId);
      const state = await result<ReturnState>(id);
      expect(state.status).toBe('refunded');

      const attempts = calls('payments', 'POST', '/refunds', `${id}:refund`);
      expect(attempts.map((c) => c.status)).toEqual([null, 201]);
      expect(attempts[0]!.fault).toMatch(/reset/);
      expect(attempts[1]!.replayed).toBe(true);
      const refunds = t.agent.sandbox.state.refunds.filter((r) => r.order_id === orderId);
      expect(refunds).toHaveLength(1);
      expect(refunds[0]!.refund_id).toBe(state.refundId);
      const messages = await t.agent.db
        .selectFrom('notifications')
        .select('idempotency_key')
        .where('idempotency_key', '=', `${id}:refunded`)
        .execute();
      expect(messages).toHaveLength(1);
    });

    it('the CRM answering 502 twice: the inquiry is enriched on the third attempt and answered', async () => {
      // Alice has no open tickets, so her order-status question is one the agent answers itself.
      const customerId = 'CUST-67890';
      const orderId = `ORD-${unique()}`;
      await result(await deliver('oms', { ...SAMPLES['order.status_updated'], order_id: orderId, customer_id: customerId }));
      fault({ system: 'crm', method: 'GET', path: `/customers/${customerId}/details`, kind: 'status', status: 502, times: 2 });
      const before = calls('crm', 'GET', `/customers/${customerId}/details`).length;
      const id = await deliver('crm', {
        ...SAMPLES['customer.inquiry.new'],
        inquiry_id: `INQ-${unique()}`,
        customer_id: customerId,
        summary: `Where is my order ${orderId}?`,
        order_id: orderId,
      });
      raised.push(id);
      const answer = await result<InquiryResult>(id);
      expect(answer.decision).toBe('answered');
      expect(answer.reply).toContain(`Your order ${orderId} is currently shipped`);
      expect(
        calls('crm', 'GET', `/customers/${customerId}/details`)
          .slice(before)
          .map((c) => c.status),
      ).toEqual([502, 502, 200]);
    });
  });

  describe("a permanent 4xx ends in a person's hands, not in a silently failed workflow", () => {
    it('the warehouse rejects the return: the label is voided, and a person gets the return with its cause, then resolves it', async () => {
      const customerId = `CUST-${unique()}`;
      const orderId = await deliveredPaidOrder(customerId);
      fault({ system: 'warehouse', method: 'POST', path: '/expected-returns', kind: 'status', status: 400, times: 1 });
      const { id, returnId } = await startReturn(orderId, customerId, { received: false });
      const handoff = conversationId(id, 'return-failed');

      const c = await waitingEscalation(handoff, 'returns');
      expect(c).toMatchObject({ kind: 'return-failed', queue: 'returns', status: 'waiting', priority: 2, customerId });
      expect(c.suggestedReply).toMatch(/something went wrong while processing your return/);
      expect(c.reason).toBe(
        `Return ${returnId} failed at step warehouse: Warehouse POST /expected-returns: 400 Bad Request (injected fault: status 400)`,
      );
      const label = t.agent.sandbox.state.labels.find((l) => l.return_id === returnId);
      expect(c.context.facts).toMatchObject({
        returnId,
        orderId,
        step: 'warehouse',
        label: `${label?.label_id} (voided)`,
        parcel: 'not received',
        refund: 'not made (59.5 USD due)',
        cause: 'Warehouse POST /expected-returns: 400 Bad Request (injected fault: status 400)',
      });
      expect(c.context.customer?.customerId).toBe(customerId);
      // The earlier step was undone, the 400 was not retried, and the agents' channel heard of it.
      expect(label?.voided).toBe(true);
      expect(calls('warehouse', 'POST', '/expected-returns', `${id}:expect`).map((x) => x.status)).toEqual([400]);
      const row = await t.agent.db.selectFrom('returns').select('status').where('id', '=', returnId).executeTakeFirstOrThrow();
      expect(row.status).toBe('failed');
      const announced = await t.agent.db
        .selectFrom('notifications')
        .selectAll()
        .where('idempotency_key', '=', `${handoff}:handoff:opened`)
        .executeTakeFirstOrThrow();
      expect(announced).toMatchObject({ audience: 'agents' });
      expect(announced.subject).toContain(`[returns] needs a person: Return ${returnId} failed`);
      expect((await t.env.client.workflow.getHandle(id).describe()).status.name).toBe('RUNNING');

      // Only `resolved` fits this kind; then the run completes, its outcome recorded.
      expect((await operator('POST', handoffPath(handoff, 'claim'), { agent: 'dana' })).status).toBe(200);
      const wrong = await operator('POST', handoffPath(handoff, 'resolve'), { agent: 'dana', outcome: 'approve' });
      expect(wrong.status).toBe(409);
      expect(wrong.body.detail).toMatch(/outcome must be one of resolved for a return-failed escalation/);
      const resolved = await operator('POST', handoffPath(handoff, 'resolve'), {
        agent: 'dana',
        outcome: 'resolved',
        note: 'booked with the warehouse by phone',
      });
      expect(resolved.status).toBe(200);
      expect(await result<ReturnState>(id)).toMatchObject({
        status: 'failed',
        failure: { step: 'warehouse' },
        handoff: { outcome: 'resolved', agent: 'dana', note: 'booked with the warehouse by phone' },
      });
    });

    it('the payment gateway rejects the refund after the parcel arrived: nothing is undone, a person gets it', async () => {
      const customerId = `CUST-${unique()}`;
      const orderId = await deliveredPaidOrder(customerId);
      fault({ system: 'payments', method: 'POST', path: '/refunds', kind: 'status', status: 422, times: 1 });
      const { id, returnId } = await startReturn(orderId, customerId);
      const handoff = conversationId(id, 'return-failed');

      const c = await waitingEscalation(handoff, 'returns');
      expect(c.kind).toBe('return-failed');
      const label = t.agent.sandbox.state.labels.find((l) => l.return_id === returnId);
      expect(c.context.facts).toMatchObject({
        step: 'refund',
        parcel: 'received',
        label: `${label?.label_id} (used for the parcel)`,
        refund: 'not made (59.5 USD due)',
        cause: 'Payments POST /refunds: 422 Unprocessable Entity (injected fault: status 422)',
      });
      expect(label?.voided).toBe(false);
      expect(t.agent.sandbox.state.restocks.filter((r) => r.return_id === returnId)).toHaveLength(1);
      expect(t.agent.sandbox.state.refunds.filter((r) => r.order_id === orderId)).toHaveLength(0);

      await operator('POST', handoffPath(handoff, 'claim'), { agent: 'eli' });
      expect(
        (await operator('POST', handoffPath(handoff, 'resolve'), { agent: 'eli', outcome: 'resolved', note: 'refunded by hand' })).status,
      ).toBe(200);
      expect(await result<ReturnState>(id)).toMatchObject({
        status: 'failed',
        failure: { step: 'refund' },
        handoff: { outcome: 'resolved', agent: 'eli' },
      });
    });

    it('a return a person approved that then fails is handed over again, announced anew', async () => {
      const customerId = `CUST-${unique()}`;
      const orderId = await deliveredPaidOrder(customerId);
      const returnId = `RET-${unique()}`;
      const id = returnWorkflowId(returnId);
      // 60 days after delivery: outside the 30-day window, so a person decides first.
      await deliver('oms', {
        ...SAMPLES['return.initiated'],
        return_id: returnId,
        order_id: orderId,
        customer_id: customerId,
        timestamp: day(60),
      });
      const approval = conversationId(id, 'return-approval');
      const failure = conversationId(id, 'return-failed');
      expect((await waitingEscalation(approval, 'returns')).kind).toBe('return-approval');
      fault({ system: 'carrier', method: 'POST', path: '/return-labels', kind: 'status', status: 403, times: 1 });
      expect((await operator('POST', handoffPath(approval, 'resolve'), { agent: 'gus', outcome: 'approve' })).status).toBe(200);

      // The approval's conversation is done; the failure opens a second one, under its own ID.
      const c = await waitingEscalation(failure, 'returns');
      expect(c).toMatchObject({ kind: 'return-failed', status: 'waiting', context: { facts: { step: 'label', label: 'none' } } });
      expect((await operator('GET', handoffPath(approval))).body).toMatchObject({ status: 'resolved', outcome: 'approve' });
      // The return's own ID, as the Temporal UI shows it, finds its one open conversation.
      expect((await operator('GET', handoffPath(id))).body).toMatchObject({ id: failure, kind: 'return-failed' });
      // Two conversations, each announced under its own key: the outbox sent both. Listed does not
      // mean announced yet, so wait for the second announcement's row rather than reading once.
      await expect
        .poll(
          async () =>
            (
              await t.agent.db
                .selectFrom('notifications')
                .select('idempotency_key')
                .where('idempotency_key', 'in', [`${approval}:handoff:opened`, `${failure}:handoff:opened`])
                .execute()
            )
              .map((n) => n.idempotency_key)
              .sort(),
          { timeout: 15_000, interval: 250 },
        )
        .toEqual([`${approval}:handoff:opened`, `${failure}:handoff:opened`]);

      expect((await operator('POST', handoffPath(failure, 'resolve'), { agent: 'gus', outcome: 'resolved' })).status).toBe(200);
      expect(await result<ReturnState>(id)).toMatchObject({
        status: 'failed',
        approval: { outcome: 'approve' },
        failure: { step: 'label' },
        handoff: { outcome: 'resolved' },
      });
    });

    it('an inquiry from a customer the CRM does not know goes to a person instead of failing', async () => {
      const customerId = `CUST-404${unique()}`;
      const inquiryId = `INQ-${unique()}`;
      const id = await deliver('crm', {
        ...SAMPLES['customer.inquiry.new'],
        inquiry_id: inquiryId,
        customer_id: customerId,
        summary: 'Where is my order?',
      });

      const handoff = conversationId(id, 'inquiry');
      const c = await waitingEscalation(handoff, 'support');
      expect(c).toMatchObject({ kind: 'inquiry', customerId, raisedBy: id });
      expect(c.context.facts).toMatchObject({ inquiryId, channel: SAMPLES['customer.inquiry.new'].source });
      expect(c.context.facts).toHaveProperty('crm', expect.stringMatching(/: 404/));
      expect(c.reason).toMatch(new RegExp(`^the CRM could not tell who customer ${customerId} is: CRM GET .*: 404`));
      expect(c.context.customer).toBeUndefined();
      expect(c.messages[0]).toMatchObject({ from: 'customer', text: 'Where is my order?' });
      expect(calls('crm', 'GET', `/customers/${customerId}/details`).map((x) => x.status)).toEqual([404]);
      const row = await t.agent.db
        .selectFrom('inquiries')
        .select(['decision', 'decision_reason'])
        .where('id', '=', inquiryId)
        .executeTakeFirstOrThrow();
      expect(row).toEqual({ decision: 'handoff', decision_reason: c.reason });

      await operator('POST', handoffPath(handoff, 'claim'), { agent: 'fay' });
      expect((await operator('POST', handoffPath(handoff, 'resolve'), { agent: 'fay', outcome: 'resolved' })).status).toBe(200);
      expect(await result<InquiryResult>(id)).toMatchObject({ decision: 'handoff', handoff: { outcome: 'resolved', agent: 'fay' } });
    });
  });
});
