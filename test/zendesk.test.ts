import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadProvidersConfig } from '../src/config/providers';
import type { Database } from '../src/db';
import * as repo from '../src/db/repo';
import { PROVIDERS } from '../src/providers';
import { commentAddedEvent, ticketCreatedEvent, type TicketForEvent } from '../src/providers/zendesk/events';
import { createZendeskClient } from '../src/providers/zendesk/client';
import { SANDBOX_ZENDESK_AGENT, startSandbox, type RunningSandbox, type SandboxControl } from '../src/sandbox';
import { signWebhook, verifyWebhook, WebhookVerificationError, type VerificationFailure } from '../src/signatures';
import { conversationQuery, type Conversation } from '../workflows/contracts/conversation';
import type { InquiryResult } from '../workflows/contracts/inquiries';
import { unique } from './support/fixtures';
import { terminateAll } from './support/handoff';
import {
  connectTestEnv,
  sendSigned,
  startAgent,
  startReceiver,
  testDatabases,
  testOperators,
  type Agent,
  type Receiver,
} from './support/harness';
import { startWorkerProcess, type Child } from './support/processes';
import { startKillableStack, stopKillableStack, type KillableStack } from './support/killable';

/**
 * Zendesk (issue 23): tickets in through Zendesk's signed event webhooks, the agent's answers back
 * on the ticket through Zendesk's API (the sandbox's stand-in, in Zendesk's shapes). Real receiver,
 * real worker (in-process, and as a process killed mid-post), real Temporal, real database, real HTTP.
 */

const SECRET = 'zendesk-test-signing-secret-0123456789';
const sourceEnv = { WEBHOOK_SECRET_ZENDESK: SECRET };
const VECTOR = JSON.parse(
  readFileSync(join(__dirname, '..', 'src', 'providers', 'zendesk', 'examples', 'signature-test-vector.json'), 'utf8'),
) as {
  secret: string;
  timestamp: string;
  body: string;
  signature: string;
};

/** The documented formula, computed here with Node's crypto as Zendesk's Node example does: the peer of our signer. */
function zendeskSignature(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret)
    .update(timestamp + body)
    .digest('base64');
}

function headers(body: string, options: { secret?: string; at?: Date } = {}): Record<string, string> {
  const timestamp = (options.at ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    'x-zendesk-webhook-signature': zendeskSignature(options.secret ?? SECRET, timestamp, body),
    'x-zendesk-webhook-signature-timestamp': timestamp,
  };
}

async function deliver(receiverUrl: string, body: unknown, options: { secret?: string; at?: Date; raw?: string } = {}) {
  const raw = options.raw ?? JSON.stringify(body);
  const res = await fetch(`${receiverUrl}/webhooks/zendesk`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers(raw, options) },
    body: raw,
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

let ticketSeq = 0;
/** A ticket the stand-in knows, opened by a requester of its own (so no earlier ticket of theirs makes it a repeat contact). */
function openTicket(sandbox: SandboxControl, subject: string, description = subject): TicketForEvent {
  const id = 500_000 + Math.floor(Math.random() * 400_000) * 10 + (ticketSeq++ % 10);
  const requesterId = 30_000_000 + Math.floor(Math.random() * 9_000_000);
  const email = `customer-${unique()}@example.com`;
  sandbox.addZendeskTicket({ id, requester: { id: requesterId, email, name: 'Jo Requester' }, subject, description });
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    id: String(id),
    requesterId: String(requesterId),
    subject,
    description,
    status: 'new',
    channel: 'email',
    createdAt: now,
    updatedAt: now,
  };
}

const commentsOf = (sandbox: RunningSandbox, ticketId: string) => sandbox.state.zendesk.comments[ticketId] ?? [];
const agentComments = (sandbox: RunningSandbox, ticketId: string) =>
  commentsOf(sandbox, ticketId).filter((c) => c.author_id === SANDBOX_ZENDESK_AGENT.id);
const ticketStatus = (sandbox: RunningSandbox, ticketId: string) =>
  sandbox.state.zendesk.tickets.find((t) => String(t.id) === ticketId)?.status;

describe("the zendesk scheme: Zendesk's formula, its published example, and every way to fail", () => {
  const body = Buffer.from('{"type":"zen:event-type:ticket.created"}');
  const now = new Date('2026-01-01T12:00:00Z');
  const verify = (h: Record<string, string>, secrets = [SECRET], at = now) => verifyWebhook('zendesk', body, h, secrets, { now: () => at });
  const failure = (fn: () => unknown): VerificationFailure | undefined => {
    try {
      fn();
      return undefined;
    } catch (err) {
      expect(err).toBeInstanceOf(WebhookVerificationError);
      return (err as WebhookVerificationError).reason;
    }
  };
  const signed = (secret = SECRET, at = now) => headers(body.toString('utf8'), { secret, at });

  it('accepts a delivery signed over the timestamp then the body, as Zendesk documents it, and signs the same way', () => {
    expect(verify(signed()).signedAt).toEqual(now);
    const ours = signWebhook('zendesk', body, SECRET, { timestamp: now });
    expect(ours).toEqual(signed());
  });

  it("refuses Zendesk's published example, which reproduces only over the body then the timestamp (examples/README.md)", () => {
    const raw = Buffer.from(VECTOR.body);
    const h = { 'x-zendesk-webhook-signature': VECTOR.signature, 'x-zendesk-webhook-signature-timestamp': VECTOR.timestamp };
    const at = () => new Date(VECTOR.timestamp);
    expect(
      createHmac('sha256', VECTOR.secret)
        .update(VECTOR.body + VECTOR.timestamp)
        .digest('base64'),
    ).toBe(VECTOR.signature);
    expect(failure(() => verifyWebhook('zendesk', raw, h, [VECTOR.secret], { now: at }))).toBe('bad-signature');
    // The same bytes, signed in the documented order with the example's secret, pass.
    const documented = { ...h, 'x-zendesk-webhook-signature': zendeskSignature(VECTOR.secret, VECTOR.timestamp, VECTOR.body) };
    expect(verifyWebhook('zendesk', raw, documented, [VECTOR.secret], { now: at }).signedAt).toEqual(new Date(VECTOR.timestamp));
  });

  it.each(['x-zendesk-webhook-signature', 'x-zendesk-webhook-signature-timestamp'])(
    'refuses a delivery without %s: missing-header',
    (name) => {
      const h = signed();
      delete h[name];
      expect(failure(() => verify(h))).toBe('missing-header');
    },
  );

  it.each([
    ['a hex signature', { 'x-zendesk-webhook-signature': 'ab'.repeat(32) }],
    ['a Unix timestamp', { 'x-zendesk-webhook-signature-timestamp': String(now.getTime() / 1000) }],
    ['a timestamp with an offset', { 'x-zendesk-webhook-signature-timestamp': '2026-01-01T13:00:00+01:00' }],
  ])('refuses %s: malformed-header', (_what, change) => {
    expect(failure(() => verify({ ...signed(), ...change }))).toBe('malformed-header');
  });

  it('refuses another secret, a changed body and a changed timestamp: bad-signature', () => {
    expect(failure(() => verify(signed('another-secret-0123456789')))).toBe('bad-signature');
    expect(failure(() => verifyWebhook('zendesk', Buffer.from(`${body} `), signed(), [SECRET], { now: () => now }))).toBe('bad-signature');
    const moved = { ...signed(), 'x-zendesk-webhook-signature-timestamp': '2026-01-01T12:00:01Z' };
    expect(failure(() => verify(moved))).toBe('bad-signature');
  });

  it('refuses an old and a future timestamp, after the signature; accepts a rotated secret', () => {
    expect(failure(() => verify(signed(SECRET, new Date(now.getTime() - 301_000))))).toBe('timestamp-too-old');
    expect(failure(() => verify(signed(SECRET, new Date(now.getTime() + 301_000))))).toBe('timestamp-too-new');
    expect(verify(signed('the-new-secret-0123456789'), ['the-new-secret-0123456789', SECRET]).signedAt).toEqual(now);
  });
});

describe("the Zendesk client against the stand-in: Zendesk's answers classified where they arise", () => {
  let sandbox: RunningSandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0 });
  });
  afterAll(async () => {
    await sandbox?.close();
  });
  const client = (token = 'hooklinesandboxzendesktoken') =>
    createZendeskClient({ subdomain: 'x', email: SANDBOX_ZENDESK_AGENT.email, apiToken: token, baseUrl: `${sandbox.url}/zendesk` });

  it('authenticates as email/token with the API token; a 429 carries its Retry-After as the next retry delay', async () => {
    expect(await client().me()).toMatchObject({ id: String(SANDBOX_ZENDESK_AGENT.id), role: 'agent' });
    sandbox.sandbox.addFault({
      system: 'zendesk',
      method: 'GET',
      path: '/api/v2/users/me',
      kind: 'status',
      status: 429,
      retryAfterSeconds: 7,
      times: 1,
    });
    await expect(client().me()).rejects.toMatchObject({ type: 'UpstreamRateLimited', nonRetryable: false, nextRetryDelay: 7000 });
  });

  it('a missing user is not found for good; a PUT repeated with its key is answered from it, not applied twice', async () => {
    await expect(client().user('123')).rejects.toMatchObject({ type: 'UpstreamNotFound', nonRetryable: true });
    const ticket = openTicket(sandbox.sandbox, 'Client test');
    const update = { comment: { body: 'Once only', public: true }, status: 'pending' as const };
    const key = `client-test-${unique()}`;
    await client().updateTicket(ticket.id, update, { idempotencyKey: key });
    await client().updateTicket(ticket.id, update, { idempotencyKey: key });
    expect(agentComments(sandbox, ticket.id).map((c) => c.body)).toEqual(['Once only']);
    expect(
      sandbox.sandbox
        .calls()
        .filter((c) => c.idempotencyKey === key)
        .map((c) => c.replayed ?? false),
    ).toEqual([false, true]);
    // The same key with another change is refused: never a second comment under it.
    await expect(client().updateTicket(ticket.id, { ...update, status: 'open' }, { idempotencyKey: key })).rejects.toMatchObject({
      type: 'UpstreamRejected',
    });
  });

  it('a change carries its key in the audit metadata; a retry that looks first finds it when Zendesk ignores the key', async () => {
    const ticket = openTicket(sandbox.sandbox, 'Audit test');
    const update = { comment: { body: 'Only once, key or no key', public: true }, status: 'pending' as const };
    const key = `audit-test-${unique()}`;
    sandbox.sandbox.zendeskIgnoresUpdateKeys(true);
    try {
      const first = await client().updateTicket(ticket.id, update, { idempotencyKey: key, lookFirst: true });
      // In Zendesk's shape: the request's `ticket.metadata` is the audit's `metadata.custom`.
      const audits = sandbox.state.zendesk.audits[ticket.id] ?? [];
      expect(audits.at(-1)).toMatchObject({ id: Number(first.auditId), metadata: { custom: { hookline_effect: key } } });
      expect(await client().findUpdate(ticket.id, key)).toEqual({ auditId: first.auditId });
      expect(await client().findUpdate(ticket.id, `${key}:other`)).toBeUndefined();

      const retry = await client().updateTicket(ticket.id, update, { idempotencyKey: key, lookFirst: true });
      expect(retry).toMatchObject({ alreadyApplied: true, auditId: first.auditId, ticket: { status: 'pending' } });
      expect(agentComments(sandbox, ticket.id).map((c) => c.body)).toEqual(['Only once, key or no key']);
      // Without looking first, a Zendesk that ignores the key applies the repeat: the doubt this guards against.
      await client().updateTicket(ticket.id, update, { idempotencyKey: key });
      expect(agentComments(sandbox, ticket.id)).toHaveLength(2);
    } finally {
      sandbox.sandbox.zendeskIgnoresUpdateKeys(false);
    }
  });

  it("finds a change past the first page of a ticket's audits (Zendesk's cursor pagination, 100 a page)", async () => {
    const ticket = openTicket(sandbox.sandbox, 'Many audits');
    for (let i = 0; i < 120; i++) {
      await client().updateTicket(ticket.id, { status: i % 2 === 0 ? 'open' : 'pending' }, { idempotencyKey: `many-${ticket.id}-${i}` });
    }
    expect(sandbox.state.zendesk.audits[ticket.id]).toHaveLength(121);
    const before = sandbox.sandbox.calls().length;
    expect(await client().findUpdate(ticket.id, `many-${ticket.id}-110`)).toBeDefined();
    const pages = sandbox.sandbox
      .calls()
      .slice(before)
      .filter((c) => c.path === `/api/v2/tickets/${ticket.id}/audits`);
    expect(pages).toHaveLength(2);
  });

  it('audits that cannot be read to their end (a cursor that does not move) fail the look for good, and nothing is written', async () => {
    // Zendesk answering "more" with the cursor it was asked from: whether the change was made is unknown.
    const requests: string[] = [];
    const stuck = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ audits: [], meta: { has_more: true, after_cursor: 'same' } }));
    });
    await new Promise<void>((resolve) => stuck.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = stuck.address() as AddressInfo;
      const zendesk = createZendeskClient({
        subdomain: 'x',
        email: 'a@b.c',
        apiToken: 'token-12345678',
        baseUrl: `http://127.0.0.1:${port}`,
      });
      const err = await zendesk
        .updateTicket('35436', { comment: { body: 'Once', public: true } }, { idempotencyKey: 'stuck-1', lookFirst: true })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toMatchObject({ type: 'UpstreamInvalidResponse', nonRetryable: true });
      expect((err as Error).message).toMatch(/could not be read to their end/);
      expect(requests.every((r) => r.startsWith('GET /api/v2/tickets/35436/audits'))).toBe(true);
      expect(requests).toHaveLength(2);
    } finally {
      await new Promise((resolve) => stuck.close(resolve));
    }
  });
});

describe('Zendesk tickets through the agent (in-process worker)', () => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;
  const raised: string[] = [];
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    env = await connectTestEnv();
    agent = await startAgent({ env, databaseUrl: testDatabases()[0]!.url(), providers: true });
    const operators = testOperators(agent);
    tokens.alice = (await operators.add(`alice-${unique().toLowerCase()}`, 'agent')).token;
    receiver = await startReceiver({ env, taskQueue: agent.taskQueue, sourceEnv, operators });
  });
  afterAll(async () => {
    await terminateAll(env, raised);
    await receiver?.close();
    await agent?.close();
    await env?.teardown();
  });

  const api = async (path: string, body?: unknown) => {
    const res = await fetch(`${receiver.url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${tokens.alice}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as Conversation;
  };

  it("a question about the customer's order is answered on the ticket: one public comment, the ticket pending", async () => {
    const ticket = openTicket(agent.sandbox.sandbox, 'Where is my order?', 'Hi, where is my order? It has not arrived yet.');
    // The store knows the requester by their (verified) email, with an order on its way.
    const email = agent.sandbox.state.zendesk.users.find((u) => String(u.id) === ticket.requesterId)!.email;
    const storeCustomer = `CUST-${unique()}`;
    const orderId = `ORD-${unique()}`;
    await repo.upsertCustomer(agent.db, { id: storeCustomer, name: 'Jo Requester', email });
    await repo.applyOrderStatus(agent.db, { orderId, status: 'shipped', eventAt: new Date(), customerId: storeCustomer, carrier: 'UPS' });

    const res = await deliver(receiver.url, ticketCreatedEvent(ticket));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const workflowId = res.body.workflowId as string;
    // The ticket names the inquiry and its workflow, not the webhook's event id.
    expect(workflowId).toBe(`zendesk:customer.inquiry.new:ZD-${ticket.id}`);
    const result = (await env.client.workflow.getHandle(workflowId).result()) as InquiryResult;
    expect(result.decision, result.reason).toBe('answered');

    const posted = agentComments(agent.sandbox, ticket.id);
    expect(posted).toHaveLength(1);
    expect(posted[0]).toMatchObject({ public: true, body: result.reply });
    expect(result.reply).toContain(orderId);
    expect(ticketStatus(agent.sandbox, ticket.id)).toBe('pending');
    // Enriched from Zendesk: the requester, and their tickets.
    const paths = agent.sandbox.sandbox
      .calls()
      .filter((c) => c.system === 'zendesk')
      .map((c) => `${c.method} ${c.path}`);
    expect(paths).toEqual(
      expect.arrayContaining([`GET /api/v2/users/${ticket.requesterId}`, `GET /api/v2/users/${ticket.requesterId}/tickets/requested`]),
    );
    // Not by email as well.
    expect(await agent.db.selectFrom('notifications').select('id').where('idempotency_key', '=', `${workflowId}:reply`).execute()).toEqual(
      [],
    );

    // The same ticket again (Zendesk retrying, or a replay of the captured delivery): deduplicated.
    const again = await deliver(receiver.url, ticketCreatedEvent(ticket));
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ workflowId, duplicate: true });
    expect(agentComments(agent.sandbox, ticket.id)).toHaveLength(1);
  });

  it("a complaint goes to a person: the ticket opens, a follow-up joins, the API's reply lands on it, resolving solves it", async () => {
    const ticket = openTicket(agent.sandbox.sandbox, 'Broken on arrival', 'This is unacceptable, my order arrived broken.');
    const res = await deliver(receiver.url, ticketCreatedEvent(ticket));
    expect(res.status).toBe(202);
    const workflowId = res.body.workflowId as string;
    raised.push(workflowId);
    const id = `${workflowId}:handoff:inquiry`;
    const handle = env.client.workflow.getHandle(id);
    await vi.waitFor(async () => expect((await handle.query(conversationQuery)).status).toBe('waiting'), { timeout: 30_000 });
    expect(ticketStatus(agent.sandbox, ticket.id)).toBe('open');
    // The person sees which ticket it is, as text like every fact.
    expect((await handle.query(conversationQuery)).context.facts).toMatchObject({ zendeskTicketId: ticket.id, channel: 'email' });
    // The team sees why in Zendesk, as an internal note, not as a message to the customer.
    expect(agentComments(agent.sandbox, ticket.id)).toEqual([
      expect.objectContaining({ public: false, body: expect.stringContaining('complaining') }),
    ]);

    await api(`/handoffs/${encodeURIComponent(id)}/claim`, {});
    // The customer writes again on the ticket; the team's own comments come back as events too and are not follow-ups.
    const followUp = commentAddedEvent(ticket, {
      id: '77001',
      body: 'Also the box was wet.',
      isPublic: true,
      author: { id: ticket.requesterId, isStaff: false, name: 'Jo Requester' },
    });
    const followed = await deliver(receiver.url, followUp);
    expect(followed.status, JSON.stringify(followed.body)).toBe(202);
    await env.client.workflow.getHandle(followed.body.workflowId as string).result();
    const staff = commentAddedEvent(ticket, {
      id: '77002',
      body: 'Looking',
      isPublic: true,
      author: { id: '9', isStaff: true, name: 'Team' },
    });
    expect((await deliver(receiver.url, staff)).body).toMatchObject({ ignored: true });
    await vi.waitFor(async () => {
      const texts = (await handle.query(conversationQuery)).messages.filter((m) => m.from === 'customer').map((m) => m.text);
      expect(texts).toEqual(['This is unacceptable, my order arrived broken.', 'Also the box was wet.']);
    });
    // The same follow-up delivered again joins once.
    expect((await deliver(receiver.url, followUp)).body).toMatchObject({ duplicate: true });

    await api(`/handoffs/${encodeURIComponent(id)}/reply`, { text: 'So sorry: a replacement is on its way.' });
    await vi.waitFor(
      () =>
        expect(
          agentComments(agent.sandbox, ticket.id)
            .filter((c) => c.public)
            .map((c) => c.body),
        ).toEqual(['So sorry: a replacement is on its way.']),
      {
        timeout: 20_000,
      },
    );
    expect(ticketStatus(agent.sandbox, ticket.id)).toBe('pending');

    await api(`/handoffs/${encodeURIComponent(id)}/resolve`, { outcome: 'resolved' });
    const result = (await env.client.workflow.getHandle(workflowId).result()) as InquiryResult;
    expect(result.handoff?.outcome).toBe('resolved');
    expect(ticketStatus(agent.sandbox, ticket.id)).toBe('solved');
    expect(agentComments(agent.sandbox, ticket.id).filter((c) => c.public)).toHaveLength(1);
  });

  it('a helpdesk that does not answer does not hold up the person: the ticket follows when Zendesk answers', async () => {
    const ticket = openTicket(agent.sandbox.sandbox, 'Awful', 'This is the worst service.');
    agent.sandbox.sandbox.addFault({ system: 'zendesk', method: 'PUT', path: `/api/v2/tickets/${ticket.id}`, kind: 'hang', times: 1 });
    const res = await deliver(receiver.url, ticketCreatedEvent(ticket));
    expect(res.status).toBe(202);
    raised.push(res.body.workflowId as string);
    const handle = env.client.workflow.getHandle(`${res.body.workflowId as string}:handoff:inquiry`);
    await vi.waitFor(async () => expect((await handle.query(conversationQuery)).status).toBe('waiting'), { timeout: 10_000 });
    // Zendesk has not taken the change yet (its request hangs until the activity's heartbeat times out).
    expect(ticketStatus(agent.sandbox, ticket.id)).toBe('new');
    await vi.waitFor(() => expect(ticketStatus(agent.sandbox, ticket.id)).toBe('open'), { timeout: 40_000, interval: 250 });
    expect(agentComments(agent.sandbox, ticket.id)).toHaveLength(1);
  });

  it('a forged or stale delivery is refused; a follow-up with no conversation open reaches none', async () => {
    const ticket = openTicket(agent.sandbox.sandbox, 'Forged');
    const body = ticketCreatedEvent(ticket);
    expect((await deliver(receiver.url, body, { secret: 'not-the-secret-0123456789' })).status).toBe(401);
    expect((await deliver(receiver.url, body, { at: new Date(Date.now() - 10 * 60_000) })).status).toBe(401);
    // Signed over other bytes than those sent.
    const raw = JSON.stringify(body);
    const res = await fetch(`${receiver.url}/webhooks/zendesk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers(raw) },
      body: raw.replace('Forged', 'Forgeb'),
    });
    expect(res.status).toBe(401);
    expect(agent.sandbox.sandbox.calls().some((c) => c.path.includes(ticket.id))).toBe(false);

    const lonely = commentAddedEvent(ticket, {
      id: '88001',
      body: 'Hello?',
      isPublic: true,
      author: { id: ticket.requesterId, isStaff: false, name: 'Jo' },
    });
    const answered = await deliver(receiver.url, lonely);
    expect(answered.status).toBe(202);
    expect(await env.client.workflow.getHandle(answered.body.workflowId as string).result()).toMatchObject({ delivered: false });
  });
});

describe('the agent posts its answer once under a worker killed mid-post', () => {
  const taskQueue = `zendesk-${unique()}`;
  let stack: KillableStack;
  let sandbox: RunningSandbox;
  let database: Database;
  let client: Client;
  let worker: Child;
  let receiver: Receiver;
  let env: Record<string, string>;

  beforeAll(async () => {
    stack = await startKillableStack({ taskQueue, sourceEnv });
    ({ sandbox, database, client, worker, receiver, env } = stack);
  });
  // The worker a test started last is the one to kill.
  afterAll(() => stopKillableStack({ ...stack, worker }));

  it(
    "SIGKILL after Zendesk took the comment, its Idempotency-Key ignored: one public comment, the retry finds it in the ticket's audits",
    { timeout: 180_000 },
    async () => {
      const ticket = openTicket(sandbox.sandbox, 'Where is my order?', 'Where is my order? Any tracking?');
      const email = sandbox.state.zendesk.users.find((u) => String(u.id) === ticket.requesterId)!.email;
      const storeCustomer = `CUST-${unique()}`;
      await repo.upsertCustomer(database.db, { id: storeCustomer, name: 'Jo Requester', email });
      await repo.applyOrderStatus(database.db, {
        orderId: `ORD-${unique()}`,
        status: 'shipped',
        eventAt: new Date(),
        customerId: storeCustomer,
      });

      // Zendesk's documentation names the Idempotency-Key for creates only: here it ignores it on
      // updates, so only the audit's metadata can tell the retry the comment is there.
      sandbox.sandbox.zendeskIgnoresUpdateKeys(true);
      // Zendesk applies the update, and its answer never comes back.
      sandbox.sandbox.addFault({
        system: 'zendesk',
        method: 'PUT',
        path: `/api/v2/tickets/${ticket.id}`,
        kind: 'hang',
        phase: 'after',
        times: 1,
      });
      try {
        const res = await sendSigned(receiver.url, 'zendesk', ticketCreatedEvent(ticket), { scheme: 'zendesk', secret: SECRET });
        expect(res.status, JSON.stringify(res.body)).toBe(202);
        const workflowId = res.body.workflowId as string;
        await expect.poll(() => sandbox.sandbox.faults().length, { timeout: 30_000, interval: 50 }).toBe(0);
        await worker.kill('SIGKILL');
        expect(agentComments(sandbox, ticket.id)).toHaveLength(1);
        expect(await repo.findCompletedEffect(database.db, `${workflowId}:reply`)).toBeUndefined();

        worker = await startWorkerProcess(env);
        const result = (await client.workflow.getHandle(workflowId).result()) as InquiryResult;
        expect(result.decision, result.reason).toBe('answered');
        const posted = agentComments(sandbox, ticket.id);
        expect(posted).toHaveLength(1);
        expect(posted[0]).toMatchObject({ public: true, body: result.reply });
        expect(ticketStatus(sandbox, ticket.id)).toBe('pending');
        const zendeskCalls = sandbox.sandbox
          .calls()
          .filter((c) => c.system === 'zendesk' && c.path.startsWith(`/api/v2/tickets/${ticket.id}`));
        // One PUT (the one whose answer was lost); the retry read the audits and found it there.
        expect(zendeskCalls.filter((c) => c.method === 'PUT')).toHaveLength(1);
        expect(zendeskCalls.some((c) => c.method === 'GET' && c.path === `/api/v2/tickets/${ticket.id}/audits`)).toBe(true);
        expect(await repo.findCompletedEffect(database.db, `${workflowId}:reply`)).toMatchObject({ effect: 'zendesk.update-ticket' });
      } finally {
        sandbox.sandbox.zendeskIgnoresUpdateKeys(false);
      }
    },
  );
});

describe("Zendesk's API credentials (src/config/providers.ts)", () => {
  it('needs all three together, and is required when Zendesk webhooks are on, naming the variables', () => {
    expect(() => loadProvidersConfig({ ZENDESK_SUBDOMAIN: 'acme' })).toThrow(/ZENDESK_EMAIL: required with ZENDESK_SUBDOMAIN/);
    expect(() => loadProvidersConfig({ WEBHOOK_SECRET_ZENDESK: SECRET })).toThrow(/ZENDESK_API_TOKEN: required: tickets come from Zendesk/);
    expect(() => loadProvidersConfig({ WEBHOOK_SOURCES: 'help', WEBHOOK_PROVIDER_HELP: 'zendesk' })).toThrow(
      /WEBHOOK_PROVIDER_HELP is set/,
    );
    const config = loadProvidersConfig({ ZENDESK_SUBDOMAIN: 'acme', ZENDESK_EMAIL: 'ops@acme.com', ZENDESK_API_TOKEN: 'abcdef0123456789' });
    expect(config.zendesk).toMatchObject({ subdomain: 'acme', email: 'ops@acme.com', apiToken: 'abcdef0123456789' });
    expect(config.zendesk?.baseUrl).toBeUndefined();
  });
});

describe("hookline's own format names no helpdesk ticket", () => {
  it('quarantines an inquiry or follow-up that names one: only Zendesk itself may make the agent write on a ticket', () => {
    const handled = PROVIDERS.hookline.handles['customer.inquiry.new'];
    const event = {
      event_type: 'customer.inquiry.new',
      timestamp: '2026-01-01T00:00:00Z',
      inquiry_id: 'INQ-1',
      customer_id: 'CUST-1',
      summary: 'Hello',
      source: 'email',
      ticket: { system: 'zendesk', id: '1' },
    };
    const parsed = handled.schema.parse(event);
    expect(() => handled.map(parsed, { source: 'crm', rawBody: Buffer.from(JSON.stringify(event)) })).toThrow(
      /only the helpdesk names a ticket/,
    );
    const { ticket: _ticket, ...plain } = event;
    expect(handled.map(handled.schema.parse(plain), { source: 'crm', rawBody: Buffer.from('x') })).toMatchObject({ identity: 'INQ-1' });
  });
});
