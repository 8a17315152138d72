import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHandoffService, visibilityQuery, type HandoffRow, type HandoffService } from '../src/handoff/service';
import { OPERATOR_COOKIE } from '../src/receiver/handoffs';
import { claimUpdate, type Conversation } from '../workflows/contracts/conversation';
import type { InquiryResult } from '../workflows/contracts/inquiries';
import { CUSTOMER, raiseEscalation, terminateAll, waitForNotification, type Raised } from './support/handoff';
import { sendSigned, setupAgent, startAgent, startReceiver, testDatabases } from './support/harness';

/** Each person's own token, created in beforeAll as `npm run operators -- add` would. */
const TOKENS: Record<string, string> = {};
type Who = 'alice' | 'bob' | 'lena';

async function call(
  url: string,
  method: 'GET' | 'POST',
  path: string,
  options: { body?: unknown; as?: Who; token?: string | null; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? TOKENS[options.as ?? 'alice'] : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
    redirect: 'manual',
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { text };
  }
  return { status: res.status, body, headers: res.headers };
}

const at = (id: string, action?: string) => `/handoffs/${encodeURIComponent(id)}${action ? `/${action}` : ''}`;

describe('handoffs: the HTTP API and the service, against a real server and worker', () => {
  const t = setupAgent({ operators: true });
  let service: HandoffService;
  const raised: string[] = [];

  const escalate = async (url = t.receiver.url): Promise<Raised> => {
    const raisedNow = await raiseEscalation(url);
    raised.push(raisedNow.workflowId);
    return raisedNow;
  };
  /** Visibility is eventually consistent: wait until the row reads as expected. */
  const visible = (id: string, status: HandoffRow['status']) =>
    vi.waitFor(
      async () => {
        const rows = await service.list({ status, customerId: CUSTOMER });
        const row = rows.find((r) => r.id === id);
        expect(row, `${id} ${status} in visibility`).toBeDefined();
        return row!;
      },
      { timeout: 20_000, interval: 250 },
    );

  beforeAll(async () => {
    service = createHandoffService(t.env.client);
    TOKENS.alice = (await t.operators.add('alice', 'agent')).token;
    TOKENS.bob = (await t.operators.add('bob', 'agent')).token;
    TOKENS.lena = (await t.operators.add('lena', 'lead')).token;
  });
  afterAll(async () => {
    await terminateAll(t.env, raised);
  });

  it('an inquiry that escalates appears in the waiting queue, and its conversation is readable', async () => {
    expect(visibilityQuery({ status: 'waiting' })).toBe(
      'WorkflowType = "conversationWorkflow" AND HandoffStatus = "waiting" AND ExecutionStatus = "Running"',
    );
    const { id, workflowId } = await escalate();
    expect(id).toBe(`${workflowId}:handoff:inquiry`);
    const row = await visible(id, 'waiting');
    expect(row).toMatchObject({
      id,
      kind: 'inquiry',
      raisedBy: workflowId,
      status: 'waiting',
      queue: 'support',
      priority: 1,
      customerId: CUSTOMER,
    });

    const listed = await call(t.receiver.url, 'GET', `/handoffs?status=waiting&customerId=${CUSTOMER}&queue=support`);
    expect(listed.status).toBe(200);
    expect((listed.body.handoffs as HandoffRow[]).map((r) => r.id)).toContain(id);

    // Encoded and raw colons both reach the route; the raising workflow's ID finds its one conversation.
    for (const path of [at(id), `/handoffs/${id}`, at(workflowId)]) {
      const shown = await call(t.receiver.url, 'GET', path);
      expect(shown.status).toBe(200);
      const c = shown.body as unknown as Conversation;
      expect(c).toMatchObject({
        id,
        raisedBy: workflowId,
        kind: 'inquiry',
        status: 'waiting',
        reason: 'the customer is complaining',
        customerId: CUSTOMER,
      });
      expect(c.context.customer?.name).toBe('Alice Smith');
      expect(c.context.facts).toMatchObject({ summary: 'This is unacceptable, my order arrived broken', channel: 'email' });
      expect(c.messages[0]).toMatchObject({ from: 'customer', text: 'This is unacceptable, my order arrived broken' });
      expect(c.slaDeadline).toBeDefined();
    }
  });

  it('a claim sent the moment the conversation exists is handled, not refused: its handlers come before any await', async () => {
    const { id, workflowId } = await escalate();
    const conversation = t.env.client.workflow.getHandle(id);
    // The first moment it is addressable: the raising workflow has started it (its first task may not have run yet).
    await expect
      .poll(
        () =>
          conversation.describe().then(
            () => true,
            () => false,
          ),
        { timeout: 15_000, interval: 20 },
      )
      .toBe(true);
    const claimed = await conversation.executeUpdate(claimUpdate, { args: [{ agent: 'alice' }] });
    expect(claimed).toMatchObject({ id, raisedBy: workflowId, status: 'claimed', assignee: 'alice' });
    const { events } = await conversation.fetchHistory();
    expect(events?.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toBe(true);
    expect(events?.some((e) => e.workflowExecutionUpdateRejectedEventAttributes)).toBe(false);
  });

  it('a conversation whose raiser is terminated withdraws itself and tells the agents, rather than lingering', async () => {
    const { id, workflowId } = await escalate();
    await visible(id, 'waiting');
    await t.env.client.workflow.getHandle(workflowId).terminate('test: the raising workflow goes away');
    const withdrawn = await waitForNotification(t.agent.db, { audience: 'agents', idempotencyKey: `${id}:handoff:withdrawn` });
    expect(withdrawn.subject).toBe('[support] withdrawn: the customer is complaining');
    await expect
      .poll(async () => (await t.env.client.workflow.getHandle(id).describe()).status.name, { timeout: 10_000 })
      .toBe('CANCELLED');
    expect(await service.show(id)).toMatchObject({ status: 'resolved', outcome: 'withdrawn' });
    await visible(id, 'resolved');
    expect((await call(t.receiver.url, 'POST', at(id, 'claim'), { as: 'alice' })).status).toBe(404);
  });

  it('two agents race to claim: exactly one wins, the other gets 409 naming the winner', async () => {
    const { id } = await escalate();
    await vi.waitFor(async () => expect((await service.show(id)).status).toBe('waiting'), { timeout: 10_000 });
    const [a, b] = await Promise.all([
      call(t.receiver.url, 'POST', at(id, 'claim'), { as: 'alice' }),
      call(t.receiver.url, 'POST', at(id, 'claim'), { as: 'bob' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const [won, lost] = a.status === 200 ? [a, b] : [b, a];
    const winner = (won.body as unknown as Conversation).assignee!;
    expect(['alice', 'bob']).toContain(winner);
    expect(lost.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(lost.body).toMatchObject({
      type: 'urn:hookline:problem:conflict',
      status: 409,
      detail: `already claimed by ${winner}; a lead can take it over`,
    });

    const shown = await service.show(id);
    expect(shown).toMatchObject({ status: 'claimed', assignee: winner });
    await visible(id, 'claimed');
  });

  it('a reply from the assignee reaches the customer through the notifier; anyone else is refused', async () => {
    const { id } = await escalate();
    await vi.waitFor(async () => expect((await service.show(id)).status).toBe('waiting'), { timeout: 10_000 });
    const text = `Sorry about the broken parcel — a replacement is on its way (${randomUUID().slice(0, 8)}).`;

    const early = await call(t.receiver.url, 'POST', at(id, 'reply'), { as: 'alice', body: { text } });
    expect(early.status).toBe(409);
    expect(early.body.detail).toMatch(/claim it before replying/);

    expect((await call(t.receiver.url, 'POST', at(id, 'claim'), { as: 'alice' })).status).toBe(200);
    const intruder = await call(t.receiver.url, 'POST', at(id, 'reply'), { as: 'bob', body: { text: 'hi' } });
    expect(intruder.status).toBe(409);
    expect(intruder.body.detail).toBe('claimed by alice, not bob');
    // Naming the assignee in the body does not make bob alice.
    const posing = await call(t.receiver.url, 'POST', at(id, 'reply'), { as: 'bob', body: { agent: 'alice', text: 'hi' } });
    expect(posing.status).toBe(403);
    expect(posing.body).toMatchObject({
      type: 'urn:hookline:problem:forbidden',
      detail: 'You are signed in as bob; you cannot act as alice.',
    });

    const replied = await call(t.receiver.url, 'POST', at(id, 'reply'), { as: 'alice', body: { text } });
    expect(replied.status).toBe(200);

    const row = await waitForNotification(t.agent.db, { audience: 'customer', customerId: CUSTOMER, idempotencyKey: `${id}:reply:1` });
    expect(row.body).toContain(text);
    expect(row.body).toContain('— alice');
    const c = await service.show(id);
    expect(c.messages.some((m) => m.from === 'agent' && m.author === 'alice' && m.text === text)).toBe(true);
  });

  it('resolve completes the raising workflow with the outcome; a closed escalation is then 404', async () => {
    const { id, workflowId } = await escalate();
    await vi.waitFor(async () => expect((await service.show(id)).status).toBe('waiting'), { timeout: 10_000 });
    expect((await call(t.receiver.url, 'POST', at(id, 'claim'), { as: 'alice' })).status).toBe(200);

    const wrongOutcome = await call(t.receiver.url, 'POST', at(id, 'resolve'), { as: 'alice', body: { outcome: 'approve' } });
    expect(wrongOutcome.status).toBe(409);
    expect(wrongOutcome.body.detail).toMatch(/outcome must be one of resolved/);
    const wrongAgent = await call(t.receiver.url, 'POST', at(id, 'resolve'), { as: 'bob', body: { outcome: 'resolved' } });
    expect(wrongAgent.status).toBe(409);
    expect(wrongAgent.body.detail).toBe('claimed by alice, not bob');

    const resolved = await call(t.receiver.url, 'POST', at(id, 'resolve'), {
      as: 'alice',
      body: { outcome: 'resolved', note: 'replacement sent' },
    });
    expect(resolved.status).toBe(200);
    expect(resolved.body).toMatchObject({ status: 'resolved', outcome: 'resolved', note: 'replacement sent' });

    const result = (await t.env.client.workflow.getHandle(workflowId).result()) as InquiryResult;
    expect(result).toMatchObject({ decision: 'handoff', handoff: { outcome: 'resolved', agent: 'alice', note: 'replacement sent' } });

    const after = await call(t.receiver.url, 'POST', at(id, 'claim'), { as: 'bob' });
    expect(after.status).toBe(404);
    // The finished conversation is still readable.
    expect((await call(t.receiver.url, 'GET', at(id))).body).toMatchObject({ status: 'resolved' });
    await visible(id, 'resolved');
  });

  it('release puts a claimed escalation back to waiting, for someone else to claim', async () => {
    const { id } = await escalate();
    await vi.waitFor(async () => expect((await service.show(id)).status).toBe('waiting'), { timeout: 10_000 });
    expect((await call(t.receiver.url, 'POST', at(id, 'claim'), { as: 'alice' })).status).toBe(200);
    const notTheirs = await call(t.receiver.url, 'POST', at(id, 'release'), { as: 'bob' });
    expect(notTheirs.status).toBe(403);
    expect(notTheirs.body.detail).toBe('claimed by alice; only they or a lead can release it');

    const released = await call(t.receiver.url, 'POST', at(id, 'release'), { as: 'alice' });
    expect(released.status).toBe(200);
    expect(released.body.status).toBe('waiting');
    expect(released.body.assignee).toBeUndefined();
    await visible(id, 'waiting');

    expect((await call(t.receiver.url, 'POST', at(id, 'claim'), { as: 'bob' })).body).toMatchObject({ status: 'claimed', assignee: 'bob' });
  });

  it('roles: a lead takes over, releases claims and may resolve; an agent resolves only what they hold; actions record who', async () => {
    const { id, workflowId } = await escalate();
    await vi.waitFor(async () => expect((await service.show(id)).status).toBe('waiting'), { timeout: 10_000 });
    const unclaimed = await call(t.receiver.url, 'POST', at(id, 'resolve'), { as: 'bob', body: { outcome: 'resolved' } });
    expect(unclaimed.status).toBe(403);
    expect(unclaimed.body.detail).toBe('claim it before resolving it');

    expect((await call(t.receiver.url, 'POST', at(id, 'claim'), { as: 'alice' })).status).toBe(200);
    const takeover = await call(t.receiver.url, 'POST', at(id, 'claim'), { as: 'lena' });
    expect(takeover.status).toBe(200);
    expect(takeover.body).toMatchObject({ status: 'claimed', assignee: 'lena' });
    // alice lost the claim: she can no longer reply.
    expect((await call(t.receiver.url, 'POST', at(id, 'reply'), { as: 'alice', body: { text: 'hi' } })).status).toBe(409);

    expect((await call(t.receiver.url, 'POST', at(id, 'release'), { as: 'lena' })).status).toBe(200);
    expect((await call(t.receiver.url, 'POST', at(id, 'claim'), { as: 'bob' })).status).toBe(200);
    const leadRelease = await call(t.receiver.url, 'POST', at(id, 'release'), { as: 'lena' });
    expect(leadRelease.status).toBe(200);
    expect(leadRelease.body).toMatchObject({ status: 'waiting' });
    const leadResolve = await call(t.receiver.url, 'POST', at(id, 'resolve'), {
      as: 'lena',
      body: { outcome: 'resolved', note: 'handled by phone' },
    });
    expect(leadResolve.status).toBe(200);

    const c = leadResolve.body as unknown as Conversation;
    const actions = c.messages.filter((m) => m.from === 'system' && m.author).map((m) => [m.author, m.text]);
    expect(actions).toEqual([
      ['alice', 'Claimed by alice'],
      ['lena', 'Taken over by lena from alice'],
      ['lena', 'Released by lena'],
      ['bob', 'Claimed by bob'],
      ['lena', 'Released by lena (held by bob)'],
      ['lena', 'Resolved by lena: resolved — handled by phone'],
    ]);
    const result = (await t.env.client.workflow.getHandle(workflowId).result()) as InquiryResult;
    expect(result.handoff).toMatchObject({ outcome: 'resolved', note: 'handled by phone' });
  });

  it("GET /operators/me names the token's operator", async () => {
    expect((await call(t.receiver.url, 'GET', '/operators/me', { as: 'lena' })).body).toEqual({ name: 'lena', role: 'lead' });
    expect((await call(t.receiver.url, 'GET', '/operators/me', { as: 'bob' })).body).toEqual({ name: 'bob', role: 'agent' });
    expect((await call(t.receiver.url, 'GET', '/operators/me', { token: null })).status).toBe(401);
  });

  it('refuses without a token, with a wrong one, a removed one, and a forged cookie', async () => {
    const none = await call(t.receiver.url, 'GET', '/handoffs', { token: null });
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ type: 'urn:hookline:problem:unauthorized', status: 401 });
    expect(none.body.detail).toMatch(/npm run operators -- add/);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await call(t.receiver.url, 'GET', '/handoffs', { token: `${TOKENS.alice}x` })).status).toBe(401);
    expect((await call(t.receiver.url, 'GET', '/handoffs', { token: 'short' })).status).toBe(401);
    expect((await call(t.receiver.url, 'POST', at('x:y', 'claim'), { token: null, body: {} })).status).toBe(401);
    expect((await call(t.receiver.url, 'GET', '/handoffs', { token: null, headers: { cookie: `${OPERATOR_COOKIE}=forged` } })).status).toBe(
      401,
    );
    // A token of the right shape that nobody holds.
    const stranger = await t.operators.add(`gone-${randomUUID().slice(0, 6)}`, 'agent');
    expect((await call(t.receiver.url, 'GET', '/handoffs', { token: stranger.token })).status).toBe(200);
    await t.operators.remove(stranger.operator.name);
    expect((await call(t.receiver.url, 'GET', '/handoffs', { token: stranger.token })).status).toBe(401);
  });

  it('the inbox login sets an HttpOnly SameSite=Strict cookie that the API accepts', async () => {
    const page = await fetch(`${t.receiver.url}/inbox`);
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('data-testid="login-form"');

    const login = (token: string) =>
      fetch(`${t.receiver.url}/inbox/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
        redirect: 'manual',
      });
    const wrong = await login('not-the-token');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const right = await login(TOKENS.alice!);
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toBe('/inbox');
    const setCookie = right.headers.get('set-cookie')!;
    expect(setCookie).toMatch(new RegExp(`^${OPERATOR_COOKIE}=[^;]+;`));
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toContain(TOKENS.alice);
    const cookie = setCookie.split(';')[0]!;

    const inbox = await fetch(`${t.receiver.url}/inbox`, { headers: { cookie } });
    expect(inbox.status).toBe(200);
    expect(inbox.headers.get('content-security-policy')).toMatch(/script-src 'nonce-/);
    const html = await inbox.text();
    expect(html).toContain('data-testid="queue-table"');
    expect(html).toContain('<strong data-testid="operator-name">alice</strong>');
    expect((await call(t.receiver.url, 'GET', '/handoffs', { token: null, headers: { cookie } })).status).toBe(200);
  });

  it('answers 400 for bad input and 404 for an unknown escalation', async () => {
    const badBody = await call(t.receiver.url, 'POST', at('crm:x:y', 'claim'), { body: { agent: 42 } });
    expect(badBody.status).toBe(400);
    expect(badBody.body).toMatchObject({ type: 'urn:hookline:problem:bad-request' });
    expect(badBody.body.detail).toMatch(/agent/);
    expect((await call(t.receiver.url, 'POST', at('crm:x:y', 'claim'), { body: '{"agent":' })).status).toBe(400);
    // A body that is not the encoding it claims: the sender's mistake (a bare 400 from the parser), not a 500.
    const notGzip = await call(t.receiver.url, 'POST', at('crm:x:y', 'claim'), {
      body: { agent: 'a' },
      headers: { 'content-encoding': 'gzip' },
    });
    expect(notGzip.status).toBe(400);
    expect(notGzip.body.type).toBe('urn:hookline:problem:bad-request');
    expect((await call(t.receiver.url, 'POST', at('crm:x:y', 'resolve'), { body: { agent: 'a', outcome: 'maybe' } })).status).toBe(400);
    expect((await call(t.receiver.url, 'POST', at('crm:x:y', 'reply'), { body: { agent: 'a', text: '   ' } })).status).toBe(400);
    expect((await call(t.receiver.url, 'GET', '/handoffs?status=bogus')).status).toBe(400);
    const injection = await call(t.receiver.url, 'GET', `/handoffs?queue=${encodeURIComponent('support" OR HandoffStatus = "resolved')}`);
    expect(injection.status).toBe(400);
    expect(injection.body.detail).toMatch(/quotes/);

    const missing = await call(t.receiver.url, 'GET', at(`crm:customer.inquiry.new:nope-${randomUUID()}`));
    expect(missing.status).toBe(404);
    expect(missing.body.type).toBe('urn:hookline:problem:not-found');
    expect((await call(t.receiver.url, 'POST', at(`nope-${randomUUID()}`, 'claim'), { body: {} })).status).toBe(404);

    // A workflow that never escalated is not a handoff either.
    const order = await sendSigned(t.receiver.url, 'oms', {
      event_type: 'order.status_updated',
      timestamp: new Date().toISOString(),
      order_id: `ORD-${randomUUID().slice(0, 8)}`,
      customer_id: CUSTOMER,
      new_status: 'processing',
    });
    expect(order.status).toBe(202);
    const orderId = order.body.workflowId as string;
    await t.env.client.workflow.getHandle(orderId).result();
    const notHandoff = await call(t.receiver.url, 'GET', at(orderId));
    expect(notHandoff.status).toBe(404);
    expect(notHandoff.body.detail).toBe(`${orderId} is not an escalation`);
  });

  it('an unclaimed escalation passes its SLA: priority rises, agents are reminded, and the queue sorts by priority then age', async () => {
    const fast = await startAgent({ env: t.env, databaseUrl: testDatabases()[0]!.url(), settings: { handoffUnclaimedSlaMs: 1500 } });
    const fastReceiver = await startReceiver({ env: t.env, taskQueue: fast.taskQueue, operators: t.operators });
    try {
      // Two ordinary ones (priority 1) first, then the fast one: newer, but it will outrank them.
      // Age is the conversation's start: each one must exist before the next is raised.
      const { id: older } = await escalate();
      await visible(older, 'waiting');
      const { id: newer } = await escalate();
      await visible(newer, 'waiting');
      const { id: slow } = await escalate(fastReceiver.url);

      const raisedPriority = await vi.waitFor(
        async () => {
          const c = await service.show(slow);
          expect(c.priority).toBeGreaterThanOrEqual(2);
          return c;
        },
        { timeout: 20_000, interval: 250 },
      );
      expect(raisedPriority.status).toBe('waiting');
      expect(raisedPriority.messages.some((m) => m.from === 'system' && /Unclaimed past its SLA/.test(m.text))).toBe(true);

      const reminder = await waitForNotification(fast.db, { audience: 'agents', idempotencyKey: `${slow}:handoff:unclaimed:1` });
      expect(reminder.subject).toContain('still unclaimed');
      expect(reminder.body).toContain(slow);

      const order = await vi.waitFor(
        async () => {
          const rows = await service.list({ status: 'waiting', customerId: CUSTOMER });
          const mine = rows.filter((r) => [older, newer, slow].includes(r.id));
          expect(mine.map((r) => r.id)).toHaveLength(3);
          expect(mine[0]!.priority).toBeGreaterThanOrEqual(2);
          return mine.map((r) => r.id);
        },
        { timeout: 20_000, interval: 250 },
      );
      expect(order).toEqual([slow, older, newer]);

      // Claiming stops the re-announcements.
      expect((await call(t.receiver.url, 'POST', at(slow, 'claim'), { as: 'alice' })).status).toBe(200);
    } finally {
      await fastReceiver.close();
      await fast.close();
    }
  });
});
