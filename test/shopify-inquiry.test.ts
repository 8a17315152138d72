import { randomBytes, randomInt } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as repo from '../src/db/repo';
import { SAMPLES } from '../src/events/samples';
import { ticketCreatedEvent } from '../src/providers/zendesk/events';
import { SANDBOX_ZENDESK_AGENT } from '../src/sandbox';
import { generateCustomer } from '../src/sandbox/seed';
import { signWebhook } from '../src/signatures';
import { conversationId, type Conversation } from '../workflows/contracts/conversation';
import type { InquiryResult } from '../workflows/contracts/inquiries';
import { partnerTaskQueue } from '../workflows/contracts/partners';
import { waitingConversation } from './support/handoff';
import { sendSigned, type Agent, type Receiver } from './support/harness';
import { startProviderStack, stopProviderStack } from './support/providers';

/**
 * An inquiry in a shop whose store is Shopify (issue 22): the agent reads the inquiry's order from
 * Shopify's Admin GraphQL API (the sandbox's stand-in, configured as SHOPIFY_* configure it), on the
 * store's partner queue, and answers "where is my order" with the tracking Shopify has. An order
 * that is not the customer's is never stated; a Shopify that cannot answer hands the inquiry to a
 * person. Real receiver, real worker on the shared dev server, real database, real HTTP.
 */

const ZENDESK_SECRET = 'shopify-inquiry-zendesk-secret-0123456789';

/** Shopify's IDs, kept below 2^53 as in test/shopify-out.test.ts. */
const shopifyId = () => String(10_000_000_000 + randomInt(1_000_000_000));
const unique = () => randomBytes(4).toString('hex');

/**
 * A customer of the sandbox CRM's own (made up from the id, src/sandbox/seed.ts) with no open
 * ticket and no inquiry yet: the rules hand a repeat contact to a person, whatever the order says.
 */
function freshCustomer(): { id: string; email: string } {
  for (;;) {
    const id = `CUST-${unique().toUpperCase()}`;
    const crm = generateCustomer(id);
    if (crm.previous_tickets.every((t) => t.status === 'closed')) return { id, email: crm.email };
  }
}

describe('an inquiry about a Shopify order (in-process worker)', () => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;
  const raised: string[] = [];

  beforeAll(async () => {
    ({ env, agent, receiver } = await startProviderStack({ WEBHOOK_SECRET_ZENDESK: ZENDESK_SECRET }));
  });
  afterAll(() => stopProviderStack({ env, agent, receiver }, raised));

  const shopifyCalls = (operation: string) =>
    agent.sandbox.sandbox.calls().filter((c) => c.system === 'shopify' && c.operation === operation);

  /** An order Shopify holds for `email`, its parcel with UPS in transit; resolves to its name (`#1001`) and tracking number. */
  function shopifyOrder(orderId: string, email: string): { name: string; tracking: string } {
    const tracking = `1Z${randomBytes(6).toString('hex').toUpperCase()}`;
    agent.sandbox.sandbox.addShopifyOrder({
      orderId,
      customerId: shopifyId(),
      email,
      amount: '40.00',
      currency: 'USD',
      items: [{ sku: 'PROD-A', quantity: 1, title: 'Mug' }],
      fulfillments: [{ displayStatus: 'IN_TRANSIT', company: 'UPS', number: tracking }],
    });
    const name = agent.sandbox.state.shopify.orders.find((o) => o.id === `gid://shopify/Order/${orderId}`)!.name;
    return { name, tracking };
  }

  async function ask(customerId: string, fields: Record<string, unknown>): Promise<string> {
    const res = await sendSigned(receiver.url, 'crm', {
      ...SAMPLES['customer.inquiry.new'],
      inquiry_id: `INQ-${unique()}`,
      customer_id: customerId,
      ...fields,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    return res.body.workflowId as string;
  }
  const result = (workflowId: string) => env.client.workflow.getHandle(workflowId).result() as Promise<InquiryResult>;

  /** Each activity a run scheduled, with the task queue it waited on and the fairness key it was paced under. */
  async function scheduled(workflowId: string): Promise<{ name: string; taskQueue: string; fairnessKey: string }[]> {
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    return (history.events ?? []).flatMap((e) => {
      const a = e.activityTaskScheduledEventAttributes;
      return a
        ? [{ name: a.activityType?.name ?? '', taskQueue: a.taskQueue?.name ?? '', fairnessKey: a.priority?.fairnessKey ?? '' }]
        : [];
    });
  }

  /** The conversation an inquiry handed to a person, once it waits for them. */
  async function conversation(raisedBy: string): Promise<Conversation> {
    const id = conversationId(raisedBy, 'inquiry');
    raised.push(id);
    return waitingConversation(env.client, id, 30_000);
  }

  it('"where is my order #1001?" is answered with the tracking Shopify has, read on the store queue', async () => {
    const customer = freshCustomer();
    const orderId = shopifyId();
    const { name, tracking } = shopifyOrder(orderId, customer.email);
    const searchesBefore = shopifyCalls('orders').length;

    const id = await ask(customer.id, { order_id: name, summary: `Where is my order ${name}?` });
    const answer = await result(id);

    expect(answer.decision).toBe('answered');
    expect(answer.reply).toContain(`Your order ${name} is currently in transit`);
    expect(answer.reply).toContain(`travelling with UPS, tracking ${tracking}`);
    // Shopify was asked by the order's name, once; the knowledge base never had the order.
    expect(shopifyCalls('orders').length - searchesBefore).toBe(1);
    expect(await repo.getOrder(agent.db, orderId)).toBeUndefined();
    // The read waited on the store partner's queue, paced at Shopify's rate under the shop's key:
    // the CRM's inquiry reads the provider-wide shop, and shares its rate with every other source
    // that reads it, while the run itself is the CRM's (its fairness key among the workflows).
    const reads = (await scheduled(id)).filter((a) => a.name === 'storeOrder');
    expect(reads).toEqual([
      { name: 'storeOrder', taskQueue: partnerTaskQueue(agent.taskQueue, 'store'), fairnessKey: 'hookline-dev.myshopify.com' },
    ]);
    expect((await env.client.workflow.getHandle(id).describe()).priority?.fairnessKey).toBe('crm');
  });

  it("an order named by its number in the words (#1001) is found too; someone else's order, named by its id, is never stated", async () => {
    // Named in the message only: the agent finds it by its name.
    const customer = freshCustomer();
    const own = shopifyOrder(shopifyId(), customer.email);
    const byText = await result(await ask(customer.id, { summary: `Has ${own.name} shipped yet?` }));
    expect(byText.decision).toBe('answered');
    expect(byText.reply).toContain(`Your order ${own.name} is currently in transit`);
    expect(byText.reply).toContain(own.tracking);

    // Someone else's order, named by its id: Shopify has it, and nothing of it reaches the reply or the person.
    const asking = freshCustomer();
    const theirs = shopifyId();
    const other = shopifyOrder(theirs, `someone-${unique()}@example.net`);
    const readsBefore = shopifyCalls('order').length;
    const id = await ask(asking.id, { order_id: theirs, summary: `Where is my order ${theirs}?` });
    const handedOver = await conversation(id);
    expect(shopifyCalls('order').length - readsBefore).toBe(1);
    expect(handedOver.reason).toBe('the agent cannot answer this on its own');
    expect(JSON.stringify(handedOver)).not.toContain(other.tracking);
    const inquiry = await agent.db.selectFrom('inquiries').selectAll().where('customer_id', '=', asking.id).execute();
    expect(inquiry.map((i) => i.decision)).toEqual(['handoff']);
    expect(JSON.stringify(inquiry)).not.toContain(other.tracking);
  });

  it('Shopify answering 503 and then nothing is retried within its budget, and the inquiry answered', async () => {
    const customer = freshCustomer();
    const { name, tracking } = shopifyOrder(shopifyId(), customer.email);
    const sandbox = agent.sandbox.sandbox;
    const before = shopifyCalls('orders').length;
    sandbox.addFault({ system: 'shopify', path: '^/admin/api/[^/]+/graphql.json#orders$', kind: 'status', status: 503, times: 1 });
    // No answer within the client's deadline (PROVIDER_TIMEOUT 2s here).
    sandbox.addFault({ system: 'shopify', path: '^/admin/api/[^/]+/graphql.json#orders$', kind: 'hang', times: 1 });

    const answer = await result(await ask(customer.id, { order_id: name, summary: `Where is ${name}?` }));
    expect(answer.decision).toBe('answered');
    expect(answer.reply).toContain(tracking);
    expect(shopifyCalls('orders').length - before).toBe(3);
  });

  it('a Shopify that stays down hands the inquiry to a person, with the reason; the inquiry is not lost', async () => {
    const customer = freshCustomer();
    const { name, tracking } = shopifyOrder(shopifyId(), customer.email);
    // Every attempt the read's budget allows (three) answered 503.
    agent.sandbox.sandbox.addFault({
      system: 'shopify',
      path: '^/admin/api/[^/]+/graphql.json#orders$',
      kind: 'status',
      status: 503,
      times: 3,
    });

    const id = await ask(customer.id, { order_id: name, summary: `Where is ${name}?` });
    const handedOver = await conversation(id);
    expect(handedOver.reason).toMatch(/^the store \(Shopify\) could not say where order #\d+ is: .*503/);
    expect(handedOver.context.facts).toMatchObject({ orderId: name, store: expect.stringContaining('503') });
    expect(JSON.stringify(handedOver)).not.toContain(tracking);
    const inquiry = await agent.db
      .selectFrom('inquiries')
      .selectAll()
      .where('decision_reason', 'like', `%could not say where order ${name} is%`)
      .executeTakeFirst();
    expect(inquiry?.decision).toBe('handoff');
    expect(agent.sandbox.sandbox.faults()).toHaveLength(0);
  });

  it('a Zendesk ticket from a verified requester: their newest Shopify order, found by email, answered on the ticket', async () => {
    const email = `requester-${unique()}@example.com`;
    const { tracking } = shopifyOrder(shopifyId(), email);
    const id = 500_000 + randomInt(4_000_000);
    const requesterId = 30_000_000 + randomInt(9_000_000);
    const subject = 'Where is my order?';
    // The stand-in's requesters are verified, as Zendesk marks an address a customer confirmed.
    agent.sandbox.sandbox.addZendeskTicket({
      id,
      requester: { id: requesterId, email, name: 'Jo Requester' },
      subject,
      description: subject,
    });
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const raw = JSON.stringify(
      ticketCreatedEvent({
        id: String(id),
        requesterId: String(requesterId),
        subject,
        description: subject,
        status: 'new',
        channel: 'email',
        createdAt: now,
        updatedAt: now,
      }),
    );
    const searchesBefore = shopifyCalls('orders').length;
    const res = await fetch(`${receiver.url}/webhooks/zendesk`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signWebhook('zendesk', raw, ZENDESK_SECRET) },
      body: raw,
    });
    expect(res.status).toBe(202);
    const answer = await result(((await res.json()) as { workflowId: string }).workflowId);

    expect(answer.decision, answer.reason).toBe('answered');
    expect(answer.reply).toContain(tracking);
    // The knowledge base knew no order of theirs: Shopify was searched by the verified address, once.
    expect(shopifyCalls('orders').length - searchesBefore).toBe(1);
    const posted = (agent.sandbox.state.zendesk.comments[String(id)] ?? []).filter((c) => c.author_id === SANDBOX_ZENDESK_AGENT.id);
    expect(posted.map((c) => c.body)).toEqual([answer.reply]);
  });
});
