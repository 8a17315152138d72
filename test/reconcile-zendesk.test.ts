import { randomInt } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEventLog } from '../src/db';
import { workflowIdFor } from '../src/events/identity';
import { createEventLogWriter, type EventLogWriter } from '../src/eventlog/writer';
import { silentLogger } from '../src/log';
import { createZendeskClient } from '../src/providers/zendesk/client';
import { EXAMPLE_TICKET, ticketCreatedEvent, type TicketForEvent } from '../src/providers/zendesk/events';
import { ConfigError } from '../src/config/env';
import { loadReconcileConfig } from '../src/reconcile/config';
import { listerFor, zendeskLister, type Lister } from '../src/reconcile/listers';
import { type Reconciler } from '../src/reconcile/reconciler';
import { loadSources } from '../src/receiver/sources';
import { startSandbox, type RunningSandbox } from '../src/sandbox';
import { signWebhook } from '../src/signatures';
import type { ReconcileRequest } from '../workflows/contracts/reconcile';
import { startReconcileWorker, type ReconcileWorker } from './support/reconcile';
import { connectTestEnv, startAgent, startReceiver, testDatabases, type Agent, type Receiver } from './support/harness';

/**
 * Zendesk's side of reconciliation (issue 24): tickets created while their webhook never reached
 * hookline are found in the cursor-based incremental ticket export and started once, under the
 * workflow ID their `ticket.created` webhook has.
 */

// A source of its own (its own Zendesk account: a stand-in of its own), so no other test's tickets mix in.
const SOURCE = 'helpdesk-recon';
const SECRET = 'zendesk-reconcile-test-signing-secret-0123';
const SOURCE_ENV = {
  WEBHOOK_SOURCES: SOURCE,
  WEBHOOK_PROVIDER_HELPDESK_RECON: 'zendesk',
  WEBHOOK_SECRET_HELPDESK_RECON: SECRET,
};
const REQUESTER = { id: Number(EXAMPLE_TICKET.requesterId), email: 'jane.doe@example.com', name: 'Jane Doe' };
const nowSeconds = () => Math.floor(Date.now() / 1000);
const inquiryWorkflowId = (ticketId: string) => workflowIdFor(SOURCE, 'customer.inquiry.new', `ZD-${ticketId}`);

describe('reconciliation: Zendesk tickets whose webhook never arrived are found in the incremental export and run once', () => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;
  let eventLog: EventLogWriter;
  /** The source's Zendesk account: its export is what the reconciler reads. */
  let zendesk: RunningSandbox;
  let reconcileWorker: ReconcileWorker;
  let reconciler: Reconciler;
  const perPage = { value: 1000 };

  beforeAll(async () => {
    env = await connectTestEnv();
    // The inquiries' runs ask Zendesk about the requester: the agent's sandbox, as ZENDESK_* would say.
    agent = await startAgent({ env, databaseUrl: testDatabases()[0]!.url(), providers: true });
    eventLog = createEventLogWriter({ write: (rows) => appendEventLog(agent.db, rows), logger: silentLogger, flushIntervalMs: 50 });
    receiver = await startReceiver({ env, taskQueue: agent.taskQueue, sourceEnv: SOURCE_ENV, eventLog });
    // One request a second, as a token bucket: paging quickly is answered 429 with Retry-After.
    zendesk = await startSandbox({ port: 0, rateLimits: { zendesk: 1 } });
    // Only the tickets a test opens: not the stand-in's seeded example.
    zendesk.state.zendesk.tickets.splice(0);
    const reconcileEnv = {
      ...SOURCE_ENV,
      ZENDESK_SUBDOMAIN: 'hookline-sandbox',
      ZENDESK_EMAIL: 'agent@hookline.example',
      ZENDESK_API_TOKEN: 'zendesk-reconcile-token',
      ZENDESK_API_BASE_URL: `${zendesk.url}/zendesk`,
    };
    const config = loadReconcileConfig(reconcileEnv, loadSources(reconcileEnv).values());
    expect(config.sources.get(SOURCE)).toMatchObject({ provider: 'zendesk', zendesk: { subdomain: 'hookline-sandbox' } });
    const api = config.sources.get(SOURCE)!;
    const client = createZendeskClient({
      subdomain: api.zendesk!.subdomain,
      email: api.zendesk!.email,
      apiToken: api.api.apiKey,
      baseUrl: api.api.baseUrl!,
      timeoutMs: 2_000,
    });
    // The worker's own lister for the source; the paging test asks for small pages instead.
    const production = listerFor(api);
    const lister: Lister = {
      ...production,
      page: (listing, after, signal) =>
        (perPage.value === 1000 ? production : zendeskLister(client, { perPage: perPage.value })).page(listing, after, signal),
    };
    reconcileWorker = await startReconcileWorker({ env, agent, config, lister: () => lister });
    reconciler = reconcileWorker.reconciler;
  });

  afterAll(async () => {
    await reconcileWorker?.close();
    await eventLog?.close();
    await receiver?.close();
    await zendesk?.close();
    await agent?.close();
  });

  const pass = (request: ReconcileRequest) => reconcileWorker.pass(request);

  /** A customer opens a ticket `ageSeconds` ago, in the source's Zendesk (and the agent's, which the inquiry's run asks). */
  function openTicket(ageSeconds: number): TicketForEvent {
    const id = randomInt(1_000_000, 9_000_000_000);
    const createdAt = new Date((nowSeconds() - ageSeconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const ticket = { id, requester: REQUESTER, subject: `Order question ${id}`, description: `Where is my order? (${id})`, createdAt };
    zendesk.sandbox.addZendeskTicket(ticket);
    agent.sandbox.sandbox.addZendeskTicket(ticket);
    const record = zendesk.state.zendesk.tickets.find((t) => t.id === id)!;
    return {
      id: String(id),
      requesterId: String(REQUESTER.id),
      subject: record.subject,
      description: record.description,
      status: record.status,
      channel: record.via.channel,
      createdAt: record.created_at,
      updatedAt: record.updated_at,
    };
  }

  /** Zendesk's webhook for the ticket's creation, signed as Zendesk signs it. */
  async function deliver(ticket: TicketForEvent): Promise<{ status: number; body: Record<string, unknown> }> {
    const body = JSON.stringify(ticketCreatedEvent(ticket));
    const res = await fetch(`${receiver.url}/webhooks/${SOURCE}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signWebhook('zendesk', body, SECRET) },
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** The event log's rows for a ticket's inquiry, oldest first. */
  async function rowsOf(ticket: TicketForEvent) {
    await eventLog.flush();
    return agent.db
      .selectFrom('event_log')
      .select(['via', 'outcome', 'workflow_id'])
      .where('source', '=', SOURCE)
      .where('workflow_id', '=', inquiryWorkflowId(ticket.id))
      .orderBy('id')
      .execute();
  }

  it('6 tickets, 2 webhooks never delivered: the pass starts those 2 under the webhook’s workflow ID, the other 4 are known', async () => {
    const tickets = Array.from({ length: 6 }, (_, i) => openTicket(600 - i * 10));
    const dropped = new Set([tickets[1]!.id, tickets[4]!.id]);
    for (const ticket of tickets.filter((t) => !dropped.has(t.id))) expect((await deliver(ticket)).status).toBe(202);
    // One never delivered and deleted since (spam): no inquiry to start.
    const deleted = openTicket(590);
    zendesk.state.zendesk.tickets.find((t) => String(t.id) === deleted.id)!.status = 'deleted';
    // Opened half a minute ago: Zendesk's export does not list it yet, so the pass must not move past it.
    const recent = openTicket(30);

    const summary = await pass({ source: SOURCE });
    expect(summary).toMatchObject({ lookedAt: 6, known: 4, started: 2, quarantined: 0, failed: 0 });
    expect(summary.to).toBeLessThanOrEqual(nowSeconds() - 60);
    expect(summary.to).toBeLessThan(Date.parse(recent.createdAt) / 1000);
    expect(await reconciler.cursorOf(SOURCE)).toBe(summary.to);
    for (const ticket of tickets) {
      expect(await rowsOf(ticket)).toEqual([
        { via: dropped.has(ticket.id) ? 'reconcile' : 'webhook', outcome: 'accepted', workflow_id: inquiryWorkflowId(ticket.id) },
      ]);
    }
    expect(await rowsOf(recent)).toEqual([]);
    expect(await rowsOf(deleted)).toEqual([]);

    // A dropped webhook Zendesk retries after the pass: the receiver computes the workflow ID the
    // reconciler started, and nothing runs twice.
    const late = tickets[1]!;
    const answer = await deliver(late);
    expect(answer.body).toMatchObject({ duplicate: true, workflowId: inquiryWorkflowId(late.id) });
    expect(await rowsOf(late)).toEqual([
      { via: 'reconcile', outcome: 'accepted', workflow_id: inquiryWorkflowId(late.id) },
      { via: 'webhook', outcome: 'duplicate', workflow_id: inquiryWorkflowId(late.id) },
    ]);

    // A backfill over the same tickets (the schedule's next pass reaches back only RECONCILE_OVERLAP
    // before its cursor): all six known, nothing started again.
    const again = await pass({ source: SOURCE, range: { from: nowSeconds() - 700, to: Date.parse(recent.createdAt) / 1000 - 1 } });
    expect(again).toMatchObject({ lookedAt: 6, known: 6, started: 0 });
  });

  it('a backlog over several pages of the export, answered 429 with Retry-After between them: each ticket found once', async () => {
    perPage.value = 3;
    const from = nowSeconds() - 3000;
    const tickets = Array.from({ length: 11 }, (_, i) => openTicket(2900 - i * 5));
    const before = zendesk.sandbox.calls().filter((c) => c.system === 'zendesk').length;
    const summary = await pass({ source: SOURCE, range: { from, to: nowSeconds() - 2000 } });
    perPage.value = 1000;
    expect(summary).toMatchObject({ lookedAt: 11, known: 0, started: 11, failed: 0 });
    expect(summary.pages).toBeGreaterThanOrEqual(4);
    for (const ticket of tickets) {
      expect(await rowsOf(ticket)).toEqual([{ via: 'reconcile', outcome: 'accepted', workflow_id: inquiryWorkflowId(ticket.id) }]);
    }
    const calls = zendesk.sandbox
      .calls()
      .filter((c) => c.system === 'zendesk')
      .slice(before);
    // The stand-in's rate limit answered some of them 429: the pass went on after Retry-After.
    expect(calls.some((c) => c.status === 429)).toBe(true);
  });
});

describe('which Zendesk sources are reconciled', () => {
  const base = { ...SOURCE_ENV, ZENDESK_SUBDOMAIN: 'acme', ZENDESK_EMAIL: 'agent@acme.example', ZENDESK_API_TOKEN: 'token-0123456789' };
  const load = (env: Record<string, string>) => loadReconcileConfig(env, loadSources(env).values());

  it('with its ZENDESK_* credentials, every RECONCILE_EVERY_<SOURCE>; without a token, or off, not at all', () => {
    expect(load({ ...base, RECONCILE_EVERY_HELPDESK_RECON: '10m' }).sources.get(SOURCE)).toMatchObject({
      provider: 'zendesk',
      everyMs: 600_000,
      api: { apiKey: 'token-0123456789' },
      zendesk: { subdomain: 'acme', email: 'agent@acme.example' },
    });
    const { ZENDESK_API_TOKEN: _token, ...noToken } = base;
    expect(load(noToken).sources.has(SOURCE)).toBe(false);
    expect(load({ ...base, RECONCILE_EVERY_HELPDESK_RECON: 'off' }).sources.has(SOURCE)).toBe(false);
    // Per source first: another account's credentials.
    expect(load({ ...base, ZENDESK_SUBDOMAIN_HELPDESK_RECON: 'other' }).sources.get(SOURCE)?.zendesk?.subdomain).toBe('other');
    expect(() => load({ ...base, ZENDESK_EMAIL: '' })).toThrow(ConfigError);
    expect(() => load({ ...base, ZENDESK_EMAIL: '' })).toThrow(/ZENDESK_EMAIL/);
  });

  it('the stand-in refuses a start_time less than a minute old, as Zendesk does, and the lister never asks for one', async () => {
    const sandbox = await startSandbox({ port: 0 });
    try {
      const client = createZendeskClient({
        subdomain: 'x',
        email: 'agent@hookline.example',
        apiToken: 'token-0123456789',
        baseUrl: `${sandbox.url}/zendesk`,
      });
      await expect(client.incrementalTickets({ startTime: nowSeconds() - 10 })).rejects.toThrow(/400/);
      const page = await client.incrementalTickets({ startTime: nowSeconds() - 3600 });
      expect(page).toMatchObject({ end_of_stream: true, after_cursor: expect.any(String) });
      expect(zendeskLister(client).lagSeconds).toBe(60);
    } finally {
      await sandbox.close();
    }
  });
});
