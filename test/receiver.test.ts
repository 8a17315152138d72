import { createHash, createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowNotFoundError, defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { EventEnvelope, QuarantinedEvent } from '../src/events/envelope';
import { SAMPLES } from '../src/events/samples';
import { quarantineStateQuery } from '../workflows/contracts/quarantine';
import {
  connectTestEnv,
  startAgent,
  startReceiver,
  testDatabases,
  TEST_SECRETS,
  type Agent,
  type Receiver,
  type ReceiverAnswer,
} from './support/harness';

// Every signature below is made by the provider's own library (standardwebhooks, stripe,
// @octokit/webhooks-methods) or, for Shopify which ships no signer, by node:crypto as Shopify
// documents it. Never by hookline's own signWebhook: a verifier checked only against itself
// proves nothing about interoperability.

// ---------------------------------------------------------------------------------------------
// Provider peers

const stripe = new Stripe('sk_test_x');

function stripeHeaders(raw: string, secret: string, at = new Date()): Record<string, string> {
  return {
    'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: raw, secret, timestamp: Math.floor(at.getTime() / 1000) }),
  };
}

function standardHeaders(
  raw: string,
  secret: string,
  id: string,
  at = new Date(),
  prefix: 'webhook' | 'svix' = 'webhook',
): Record<string, string> {
  return {
    [`${prefix}-id`]: id,
    [`${prefix}-timestamp`]: String(Math.floor(at.getTime() / 1000)),
    [`${prefix}-signature`]: new Webhook(secret).sign(id, at, raw),
  };
}

// ESM-only package; a dynamic import keeps this CommonJS test file type-checking.
async function octokitSign(secret: string, raw: string): Promise<string> {
  const { sign } = await import('@octokit/webhooks-methods');
  return sign(secret, raw);
}

/** Shopify: base64 of HMAC-SHA256 over the raw body, keyed by the app secret as a string. */
function shopifyHmac(secret: string, raw: string): string {
  return createHmac('sha256', secret).update(raw, 'utf8').digest('base64');
}

// ---------------------------------------------------------------------------------------------
// Bodies shaped like the seed's payloads; every one unique so tests never see each other's workflows.

const uid = () => randomUUID().slice(0, 8);
const isoNow = () => new Date().toISOString();

const orderUpdated = (extra: Record<string, unknown> = {}) => ({
  ...SAMPLES['order.status_updated'],
  timestamp: isoNow(),
  order_id: `ORD-${uid()}`,
  ...extra,
});
const orderKey = (b: { order_id: string; new_status: string; timestamp: string }) => `${b.order_id}:${b.new_status}:${b.timestamp}`;

const inquiry = () => ({
  event_type: 'customer.inquiry.new',
  timestamp: isoNow(),
  inquiry_id: `INQ-${uid()}`,
  customer_id: 'CUST-67890',
  summary: 'Where is my order?',
  source: 'email',
});

const payment = (extra: Record<string, unknown> = {}) => ({
  event_type: 'payment.succeeded',
  timestamp: isoNow(),
  payment_id: `PAY-${uid()}`,
  order_id: `ORD-${uid()}`,
  customer_id: 'CUST-67890',
  amount: 49.99,
  currency: 'USD',
  ...extra,
});

/** A Stripe event envelope (`id: evt_…`, `object: 'event'`, …) carrying a hookline payment. */
const stripeEvent = (extra: Record<string, unknown> = {}) => ({
  id: `evt_${randomUUID().replace(/-/g, '').slice(0, 24)}`,
  object: 'event',
  api_version: '2024-06-20',
  livemode: false,
  ...payment(extra),
});

const delivered = () => ({
  event_type: 'shipment.delivered',
  timestamp: isoNow(),
  order_id: `ORD-${uid()}`,
  tracking_number: `TRK-${uid()}`,
  carrier: 'UPS',
});

// ---------------------------------------------------------------------------------------------
// HTTP

interface Posted {
  status: number;
  text: string;
  body: ReceiverAnswer;
  headers: Headers;
}

async function post(
  receiver: Receiver,
  source: string,
  raw: string,
  headers: Record<string, string>,
  contentType = 'application/json',
): Promise<Posted> {
  const res = await fetch(`${receiver.url}/webhooks/${source}`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...headers },
    body: raw,
  });
  const text = await res.text();
  let body: ReceiverAnswer = {};
  try {
    body = text ? (JSON.parse(text) as ReceiverAnswer) : {};
  } catch {
    // left empty: the assertions on `status`/`text` say what went wrong
  }
  return { status: res.status, text, body, headers: res.headers };
}

/** POST without Content-Length (chunked), so only the streaming body limit can stop it. */
function postChunked(receiver: Receiver, source: string, raw: string, headers: Record<string, string>): Promise<Posted> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${receiver.url}/webhooks/${source}`,
      { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const responseHeaders = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') responseHeaders.set(k, v);
          resolve({
            status: res.statusCode ?? 0,
            text,
            body: text ? (JSON.parse(text) as ReceiverAnswer) : {},
            headers: responseHeaders,
          });
        });
      },
    );
    req.on('error', reject);
    // Several writes, so the body really is streamed in chunks.
    for (let i = 0; i < raw.length; i += 256) req.write(raw.slice(i, i + 256));
    req.end();
  });
}

/** RFC 9457 problem details, with hookline's `retryable`. */
function expectProblem(res: Posted, status: number, type: string, retryable: boolean): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json\b/);
  expect(res.body).toMatchObject({ type: `urn:hookline:problem:${type}`, status, retryable });
  expect(typeof res.body.title === 'string' && res.body.title.length > 0).toBe(true);
  expect(typeof res.body.detail === 'string' && res.body.detail.length > 0).toBe(true);
}

function expectAccepted(res: Posted, workflowId?: string): string {
  expect(res.status, res.text).toBe(202);
  expect(res.body).toMatchObject({ accepted: true, duplicate: false });
  expect(typeof res.body.workflowId).toBe('string');
  if (workflowId !== undefined) expect(res.body.workflowId).toBe(workflowId);
  return res.body.workflowId as string;
}

// ---------------------------------------------------------------------------------------------
// Temporal

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    value = await read();
  }
  return value;
}

describe('receiver over real HTTP, with a real worker on the real dev server', () => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;
  const extraReceivers: Receiver[] = [];

  const GITHUB_SECRET = "github-test-secret-It's a Secret to Everybody";
  const githubEnv = {
    WEBHOOK_SOURCES: 'github',
    WEBHOOK_SCHEME_GITHUB: 'hmac-sha256-hex',
    WEBHOOK_HEADER_GITHUB: 'x-hub-signature-256',
    WEBHOOK_EVENTS_GITHUB: '*',
    WEBHOOK_SECRET_GITHUB: GITHUB_SECRET,
  };

  /** A receiver with its own configuration, closed after the file. */
  async function receiverWith(options: Omit<Parameters<typeof startReceiver>[0], 'env' | 'taskQueue'>): Promise<Receiver> {
    const r = await startReceiver({ env, taskQueue: agent.taskQueue, ...options });
    extraReceivers.push(r);
    return r;
  }

  async function expectNoWorkflow(workflowId: string): Promise<void> {
    await expect(env.client.workflow.getHandle(workflowId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  }

  /** The arguments the workflow was started with, decoded from its first history event. */
  async function startArgs(workflowId: string): Promise<unknown[]> {
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    const payloads = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
    return payloads.map((p) => defaultPayloadConverter.fromPayload(p as Payload));
  }

  async function runIds(workflowId: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const info of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) ids.push(info.runId);
    return ids;
  }

  /** Exactly one run with this ID, per visibility (eventually consistent, so polled) and per describe(). */
  async function expectExactlyOneExecution(workflowId: string): Promise<void> {
    const query = `WorkflowId = '${workflowId}'`;
    const first = await eventually(
      () => env.client.workflow.count(query).then((c) => c.count),
      (n) => n >= 1,
      30_000,
    );
    expect(first).toBe(1);
    // No pause for visibility to "catch up" with a second run: describe() reads the execution itself
    // (not the eventually consistent index) and names the newest run of the ID. Any second run is
    // that newest run, and then the listed runs (at most [first] or [first, second]) cannot equal
    // [described.runId].
    const described = await env.client.workflow.getHandle(workflowId).describe();
    expect(await runIds(workflowId)).toEqual([described.runId]);
    expect((await env.client.workflow.count(query)).count).toBe(1);
  }

  beforeAll(async () => {
    env = await connectTestEnv();
    agent = await startAgent({ env, databaseUrl: testDatabases()[0]!.url() });
    receiver = await startReceiver({ env, taskQueue: agent.taskQueue, sourceEnv: githubEnv });
  });
  afterAll(async () => {
    for (const r of extraReceivers) await r.close();
    await receiver?.close();
    await agent?.close();
    await env?.teardown();
  });

  // -------------------------------------------------------------------------------------------
  describe("each scheme accepts the provider's own signatures", () => {
    it('crm: standardwebhooks Webhook.sign, webhook-* headers; the webhook-id is the identity', async () => {
      const body = inquiry();
      const raw = JSON.stringify(body);
      const msgId = `msg_${uid()}`;
      const res = await post(receiver, 'crm', raw, standardHeaders(raw, TEST_SECRETS.crm!, msgId));
      const workflowId = expectAccepted(res, `crm:customer.inquiry.new:${msgId}`);
      const described = await env.client.workflow.getHandle(workflowId).describe();
      expect(described.type).toBe('customerInquiryWorkflow');
      expect(described.taskQueue).toBe(agent.taskQueue);
      const [envelope] = (await startArgs(workflowId)) as [EventEnvelope];
      expect(envelope).toMatchObject({ source: 'crm', identity: msgId, identityFrom: 'sender', event: { inquiry_id: body.inquiry_id } });
    });

    it('crm: the same signature under svix-* header names', async () => {
      const raw = JSON.stringify(inquiry());
      const msgId = `msg_${uid()}`;
      const res = await post(receiver, 'crm', raw, standardHeaders(raw, TEST_SECRETS.crm!, msgId, new Date(), 'svix'));
      const workflowId = expectAccepted(res, `crm:customer.inquiry.new:${msgId}`);
      expect((await env.client.workflow.getHandle(workflowId).describe()).type).toBe('customerInquiryWorkflow');
    });

    it("payments: stripe's generateTestHeaderString; the Stripe evt id is the identity", async () => {
      const body = stripeEvent();
      const raw = JSON.stringify(body);
      const res = await post(receiver, 'payments', raw, stripeHeaders(raw, TEST_SECRETS.payments!));
      const workflowId = expectAccepted(res, `payments:payment.succeeded:${body.id}`);
      expect((await env.client.workflow.getHandle(workflowId).describe()).type).toBe('paymentEventWorkflow');
      const [envelope] = (await startArgs(workflowId)) as [EventEnvelope];
      expect(envelope).toMatchObject({
        source: 'payments',
        identity: body.id,
        identityFrom: 'sender',
        event: { payment_id: body.payment_id, amount: 49.99 },
      });
    });

    it('github: @octokit/webhooks-methods sign in X-Hub-Signature-256; the unsigned X-GitHub-Delivery is only a reference', async () => {
      const body = orderUpdated();
      const raw = JSON.stringify(body);
      const delivery = randomUUID();
      const res = await post(receiver, 'github', raw, {
        'x-hub-signature-256': await octokitSign(GITHUB_SECRET, raw),
        'x-github-delivery': delivery,
        'x-github-event': 'order',
      });
      const workflowId = expectAccepted(res, `github:order.status_updated:${orderKey(body)}`);
      expect((await env.client.workflow.getHandle(workflowId).describe()).type).toBe('orderStatusWorkflow');
      const [envelope] = (await startArgs(workflowId)) as [EventEnvelope];
      expect(envelope).toMatchObject({ source: 'github', identity: orderKey(body), identityFrom: 'natural-key', deliveryRef: delivery });
    });

    it('oms: a GitHub-style sha256=<hex> from @octokit/webhooks-methods in X-Webhook-Signature', async () => {
      const body = orderUpdated();
      const raw = JSON.stringify(body);
      const res = await post(receiver, 'oms', raw, { 'X-Webhook-Signature': await octokitSign(TEST_SECRETS.oms!, raw) });
      const workflowId = expectAccepted(res, `oms:order.status_updated:${orderKey(body)}`);
      expect(await env.client.workflow.getHandle(workflowId).result()).toEqual({ applied: true, notified: 'order-shipped' });
    });

    it('carrier: Shopify-style base64 HMAC in X-Shopify-Hmac-Sha256; the unsigned X-Shopify-Webhook-Id is only a reference', async () => {
      const body = delivered();
      const raw = JSON.stringify(body);
      const webhookId = randomUUID();
      const res = await post(receiver, 'carrier', raw, {
        'X-Shopify-Hmac-Sha256': shopifyHmac(TEST_SECRETS.carrier!, raw),
        'X-Shopify-Webhook-Id': webhookId,
        'X-Shopify-Topic': 'shipments/delivered',
      });
      const workflowId = expectAccepted(res, `carrier:shipment.delivered:${body.tracking_number}:${body.timestamp}`);
      expect((await env.client.workflow.getHandle(workflowId).describe()).type).toBe('shipmentEventWorkflow');
      const [envelope] = (await startArgs(workflowId)) as [EventEnvelope];
      expect(envelope).toMatchObject({ identityFrom: 'natural-key', deliveryRef: webhookId });
    });
  });

  // -------------------------------------------------------------------------------------------
  // One way to fail per `it`, per scheme. Each sender can also produce a genuine delivery (the
  // control), so the 401s below are about the one thing each case breaks.

  interface Sender {
    source: string;
    secret: () => string;
    /** A fresh body and the workflow ID it would start if it were accepted. */
    event(): { body: Record<string, unknown>; headersExtra: Record<string, string>; workflowId: string };
    sign(raw: string, secret: string, extra: Record<string, string>, at?: Date): Promise<Record<string, string>>;
    /** The headers that carry the signature itself. */
    signatureHeaders: string[];
    timestamped: boolean;
  }

  const senders: Sender[] = [
    {
      source: 'oms',
      secret: () => TEST_SECRETS.oms!,
      event() {
        const body = orderUpdated();
        return { body, headersExtra: {}, workflowId: `oms:order.status_updated:${orderKey(body)}` };
      },
      sign: async (raw, secret) => ({ 'x-webhook-signature': await octokitSign(secret, raw) }),
      signatureHeaders: ['x-webhook-signature'],
      timestamped: false,
    },
    {
      source: 'github',
      secret: () => GITHUB_SECRET,
      event() {
        const body = orderUpdated();
        return { body, headersExtra: { 'x-github-delivery': randomUUID() }, workflowId: `github:order.status_updated:${orderKey(body)}` };
      },
      sign: async (raw, secret, extra) => ({ ...extra, 'x-hub-signature-256': await octokitSign(secret, raw) }),
      signatureHeaders: ['x-hub-signature-256'],
      timestamped: false,
    },
    {
      source: 'crm',
      secret: () => TEST_SECRETS.crm!,
      event() {
        const id = `msg_${uid()}`;
        return { body: inquiry(), headersExtra: { 'webhook-id': id }, workflowId: `crm:customer.inquiry.new:${id}` };
      },
      sign: async (raw, secret, extra, at) => standardHeaders(raw, secret, extra['webhook-id']!, at),
      signatureHeaders: ['webhook-signature'],
      timestamped: true,
    },
    {
      source: 'payments',
      secret: () => TEST_SECRETS.payments!,
      event() {
        const body = stripeEvent();
        return { body, headersExtra: {}, workflowId: `payments:payment.succeeded:${body.id}` };
      },
      sign: async (raw, secret, _extra, at) => stripeHeaders(raw, secret, at),
      signatureHeaders: ['stripe-signature'],
      timestamped: true,
    },
    {
      source: 'carrier',
      secret: () => TEST_SECRETS.carrier!,
      event() {
        const body = delivered();
        return {
          body,
          headersExtra: { 'x-shopify-webhook-id': randomUUID() },
          workflowId: `carrier:shipment.delivered:${body.tracking_number}:${body.timestamp}`,
        };
      },
      sign: async (raw, secret, extra) => ({ ...extra, 'x-shopify-hmac-sha256': shopifyHmac(secret, raw) }),
      signatureHeaders: ['x-shopify-hmac-sha256'],
      timestamped: false,
    },
  ];

  // Wrong secrets in each scheme's own format, so only the key differs.
  const WRONG_SECRETS: Record<string, string> = {
    oms: 'oms-wrong-secret-fedcba9876543210',
    github: 'not-the-github-secret',
    crm: 'whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==',
    payments: 'whsec_stripe_wrong_secret_999999',
    carrier: 'carrier-wrong-secret-0000000000000',
  };

  function expectSignatureRefused(res: Posted, reason: string, ...secrets: string[]): void {
    expectProblem(res, 401, 'invalid-signature', false);
    expect(res.body.reason).toBe(reason);
    for (const secret of secrets) {
      expect(res.text).not.toContain(secret);
      // A whsec_ secret's key material, too.
      if (secret.startsWith('whsec_')) expect(res.text).not.toContain(secret.slice('whsec_'.length));
    }
  }

  for (const sender of senders) {
    describe(`${sender.source} refuses what its sender would not send`, () => {
      it('control: a genuine delivery is accepted', async () => {
        const { body, headersExtra, workflowId } = sender.event();
        const raw = JSON.stringify(body);
        const res = await post(receiver, sender.source, raw, await sender.sign(raw, sender.secret(), headersExtra));
        expectAccepted(res, workflowId);
        await env.client.workflow.getHandle(workflowId).describe();
      });

      it('tampered body → 401 bad-signature, nothing started', async () => {
        const { body, headersExtra, workflowId } = sender.event();
        const raw = JSON.stringify(body);
        const headers = await sender.sign(raw, sender.secret(), headersExtra);
        // Same identity, one field changed after signing.
        const tampered = JSON.stringify({ ...body, customer_id: 'CUST-ATTACKER' });
        expect(tampered).not.toBe(raw);
        const res = await post(receiver, sender.source, tampered, headers);
        expectSignatureRefused(res, 'bad-signature', sender.secret());
        await expectNoWorkflow(workflowId);
      });

      it('wrong secret → 401 bad-signature, and neither secret is echoed', async () => {
        const { body, headersExtra, workflowId } = sender.event();
        const raw = JSON.stringify(body);
        const wrong = WRONG_SECRETS[sender.source]!;
        const res = await post(receiver, sender.source, raw, await sender.sign(raw, wrong, headersExtra));
        expectSignatureRefused(res, 'bad-signature', sender.secret(), wrong);
        await expectNoWorkflow(workflowId);
      });

      it('missing signature header → 401 missing-header', async () => {
        const { body, headersExtra, workflowId } = sender.event();
        const raw = JSON.stringify(body);
        const headers = await sender.sign(raw, sender.secret(), headersExtra);
        for (const name of sender.signatureHeaders) {
          expect(headers[name]).toBeDefined();
          delete headers[name];
        }
        const res = await post(receiver, sender.source, raw, headers);
        expectSignatureRefused(res, 'missing-header', sender.secret());
        await expectNoWorkflow(workflowId);
      });

      if (sender.timestamped) {
        it('stale timestamp (10 min old, validly signed) → 401 timestamp-too-old', async () => {
          const { body, headersExtra, workflowId } = sender.event();
          const raw = JSON.stringify(body);
          const res = await post(
            receiver,
            sender.source,
            raw,
            await sender.sign(raw, sender.secret(), headersExtra, new Date(Date.now() - 10 * 60_000)),
          );
          expectSignatureRefused(res, 'timestamp-too-old', sender.secret());
          await expectNoWorkflow(workflowId);
        });

        it('future timestamp (10 min ahead, validly signed) → 401 timestamp-too-new', async () => {
          const { body, headersExtra, workflowId } = sender.event();
          const raw = JSON.stringify(body);
          const res = await post(
            receiver,
            sender.source,
            raw,
            await sender.sign(raw, sender.secret(), headersExtra, new Date(Date.now() + 10 * 60_000)),
          );
          expectSignatureRefused(res, 'timestamp-too-new', sender.secret());
          await expectNoWorkflow(workflowId);
        });
      }
    });
  }

  // -------------------------------------------------------------------------------------------
  describe('secrets', () => {
    it('rotation: with WEBHOOK_SECRET_OMS=old,new a body signed with either is accepted, a third is not', async () => {
      const OLD = 'oms-old-secret-1111111111111111';
      const NEW = 'oms-new-secret-2222222222222222';
      const rotating = await receiverWith({ sourceEnv: { WEBHOOK_SECRET_OMS: `${OLD},${NEW}` } });
      for (const secret of [OLD, NEW]) {
        const body = orderUpdated();
        const raw = JSON.stringify(body);
        const res = await post(rotating, 'oms', raw, { 'x-webhook-signature': await octokitSign(secret, raw) });
        const workflowId = expectAccepted(res, `oms:order.status_updated:${orderKey(body)}`);
        await env.client.workflow.getHandle(workflowId).describe();
      }
      const raw = JSON.stringify(orderUpdated());
      const res = await post(rotating, 'oms', raw, { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) });
      expectSignatureRefused(res, 'bad-signature', OLD, NEW);
    });

    it('a source with no secret refuses every request: genuine-looking, empty-key HMAC, unsigned', async () => {
      const unsecured = await receiverWith({
        sourceEnv: { WEBHOOK_SECRET_OMS: '', WEBHOOK_SOURCES: 'plain', WEBHOOK_SCHEME_PLAIN: 'hmac-sha256-hex' },
      });
      for (const source of ['oms', 'plain']) {
        const body = orderUpdated();
        const raw = JSON.stringify(body);
        const attempts: Record<string, string>[] = [
          { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) },
          // What an empty secret would make: an HMAC anyone can compute.
          { 'x-webhook-signature': `sha256=${createHmac('sha256', '').update(raw).digest('hex')}` },
          {},
        ];
        for (const headers of attempts) {
          const res = await post(unsecured, source, raw, headers);
          expectSignatureRefused(res, 'no-secret', TEST_SECRETS.oms!);
        }
        await expectNoWorkflow(`${source}:order.status_updated:${orderKey(body)}`);
      }
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('exactly one workflow per event', () => {
    it('one event delivered 20 times concurrently → one 202, nineteen 200 duplicates, one execution', async () => {
      const body = orderUpdated();
      const raw = JSON.stringify(body);
      const headers = { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) };
      const responses = await Promise.all(Array.from({ length: 20 }, () => post(receiver, 'oms', raw, headers)));

      const statuses = responses.map((r) => r.status);
      expect(
        statuses.every((s) => s >= 200 && s < 300),
        JSON.stringify(statuses),
      ).toBe(true);
      expect(statuses.filter((s) => s === 202)).toHaveLength(1);
      expect(statuses.filter((s) => s === 200)).toHaveLength(19);
      const workflowId = `oms:order.status_updated:${orderKey(body)}`;
      for (const r of responses) {
        expect(r.body.workflowId).toBe(workflowId);
        expect(r.body.duplicate).toBe(r.status === 200);
      }
      await expectExactlyOneExecution(workflowId);
    });

    it('a redelivery after the workflow finished → 200 duplicate, same workflowId, no second run', async () => {
      const body = orderUpdated();
      const raw = JSON.stringify(body);
      const headers = { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) };
      const workflowId = expectAccepted(await post(receiver, 'oms', raw, headers));
      const handle = env.client.workflow.getHandle(workflowId);
      await handle.result();
      const before = await handle.describe();
      expect(before.status.name).toBe('COMPLETED');

      const again = await post(receiver, 'oms', raw, headers);
      expect(again.status, again.text).toBe(200);
      expect(again.body).toMatchObject({ accepted: true, duplicate: true, workflowId });
      const after = await handle.describe();
      expect(after.runId).toBe(before.runId);
      expect(after.status.name).toBe('COMPLETED');
      await expectExactlyOneExecution(workflowId);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('identity', () => {
    // The attacks a review confirmed against the running stack: the HMAC schemes sign the body
    // only, so their delivery-id headers are the sender's to choose and must name nothing.
    it('an oms delivery replayed 4 times with fresh X-GitHub-Delivery values is one event: one run, one customer message', async () => {
      const body = orderUpdated();
      const raw = JSON.stringify(body);
      const signature = { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) };
      const workflowId = expectAccepted(
        await post(receiver, 'oms', raw, { ...signature, 'x-github-delivery': randomUUID() }),
        `oms:order.status_updated:${orderKey(body)}`,
      );
      for (let i = 0; i < 4; i++) {
        const replay = await post(receiver, 'oms', raw, { ...signature, 'x-github-delivery': randomUUID() });
        expect(replay.status, replay.text).toBe(200);
        expect(replay.body).toMatchObject({ duplicate: true, workflowId });
      }
      expect(await env.client.workflow.getHandle(workflowId).result()).toEqual({ applied: true, notified: 'order-shipped' });
      await expectExactlyOneExecution(workflowId);
      const sent = await agent.db
        .selectFrom('notifications')
        .select('idempotency_key')
        .where('idempotency_key', 'like', `${workflowId}%`)
        .execute();
      expect(sent).toHaveLength(1);
    });

    it("an old carrier delivery replayed under a chosen X-Shopify-Webhook-Id cannot take the genuine event's workflow ID", async () => {
      const carrierPost = (b: Record<string, unknown>, webhookId: string) => {
        const raw = JSON.stringify(b);
        return post(receiver, 'carrier', raw, {
          'x-shopify-hmac-sha256': shopifyHmac(TEST_SECRETS.carrier!, raw),
          'x-shopify-webhook-id': webhookId,
        });
      };
      const old = delivered();
      const oldId = expectAccepted(
        await carrierPost(old, randomUUID()),
        `carrier:shipment.delivered:${old.tracking_number}:${old.timestamp}`,
      );
      const genuine = delivered();
      const genuineId = `carrier:shipment.delivered:${genuine.tracking_number}:${genuine.timestamp}`;
      // The attacker names the header after the genuine event (both its own header value and its ID).
      for (const chosen of [randomUUID(), genuineId, `${genuine.tracking_number}:${genuine.timestamp}`]) {
        const replay = await carrierPost(old, chosen);
        expect(replay.status, replay.text).toBe(200);
        expect(replay.body).toMatchObject({ duplicate: true, workflowId: oldId });
      }
      await expectNoWorkflow(genuineId);
      expectAccepted(await carrierPost(genuine, randomUUID()), genuineId);
      await expectExactlyOneExecution(oldId);
    });

    it('property: the same signed bytes under any extra header values name one workflow (every scheme)', async () => {
      const fc = await import('fast-check');
      const idHeaders = [
        'x-github-delivery',
        'x-shopify-webhook-id',
        'webhook-id',
        'svix-id',
        'x-request-id',
        'idempotency-key',
        'x-event-id',
      ];
      const cases = senders.map((sender) => ({ sender, ...sender.event() }));
      const signed = await Promise.all(
        cases.map(async (c) => {
          const raw = JSON.stringify(c.body);
          return { ...c, raw, headers: await c.sender.sign(raw, c.sender.secret(), c.headersExtra) };
        }),
      );
      const signatureNames = new Set(senders.flatMap((x) => [...x.signatureHeaders, 'webhook-id', 'webhook-timestamp']));
      await fc.assert(
        fc.asyncProperty(
          fc.nat(signed.length - 1),
          fc.dictionary(fc.constantFrom(...idHeaders), fc.stringMatching(/^[A-Za-z0-9:._-]{1,40}$/), { maxKeys: 4 }),
          async (which, extra) => {
            const c = signed[which]!;
            // Everything the signature covers stays; everything else is the attacker's choice.
            const chosen = Object.fromEntries(Object.entries(extra).filter(([name]) => !signatureNames.has(name)));
            const res = await post(receiver, c.sender.source, c.raw, { ...c.headers, ...chosen });
            expect([200, 202], res.text).toContain(res.status);
            expect(res.body.workflowId).toBe(c.workflowId);
          },
        ),
        { numRuns: 40 },
      );
      for (const c of signed) await expectExactlyOneExecution(c.workflowId);
    });

    it('redeliveries still dedupe: GitHub resends the same delivery, Standard Webhooks re-signs the same webhook-id later', async () => {
      const body = orderUpdated();
      const raw = JSON.stringify(body);
      const delivery = randomUUID();
      const github = async () => ({ 'x-hub-signature-256': await octokitSign(GITHUB_SECRET, raw), 'x-github-delivery': delivery });
      const workflowId = expectAccepted(
        await post(receiver, 'github', raw, await github()),
        `github:order.status_updated:${orderKey(body)}`,
      );
      const again = await post(receiver, 'github', raw, await github());
      expect(again.status, again.text).toBe(200);
      expect(again.body).toMatchObject({ duplicate: true, workflowId });

      const inq = JSON.stringify(inquiry());
      const msgId = `msg_${uid()}`;
      const crmId = expectAccepted(
        await post(receiver, 'crm', inq, standardHeaders(inq, TEST_SECRETS.crm!, msgId, new Date(Date.now() - 60_000))),
        `crm:customer.inquiry.new:${msgId}`,
      );
      const resent = await post(receiver, 'crm', inq, standardHeaders(inq, TEST_SECRETS.crm!, msgId));
      expect(resent.status, resent.text).toBe(200);
      expect(resent.body).toMatchObject({ duplicate: true, workflowId: crmId });
    });

    it('no sender id → the natural key (payment_id)', async () => {
      const body = payment();
      const raw = JSON.stringify(body);
      const res = await post(receiver, 'payments', raw, stripeHeaders(raw, TEST_SECRETS.payments!));
      const workflowId = expectAccepted(res, `payments:payment.succeeded:${body.payment_id}`);
      const [envelope] = (await startArgs(workflowId)) as [EventEnvelope];
      expect(envelope).toMatchObject({ identity: body.payment_id, identityFrom: 'natural-key' });
    });

    it('an event_id in the body wins over the natural key', async () => {
      const eventId = `evt-${uid()}`;
      const body = orderUpdated({ event_id: eventId });
      const raw = JSON.stringify(body);
      const res = await post(receiver, 'oms', raw, { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) });
      const workflowId = expectAccepted(res, `oms:order.status_updated:${eventId}`);
      const [envelope] = (await startArgs(workflowId)) as [EventEnvelope];
      expect(envelope).toMatchObject({ identity: eventId, identityFrom: 'sender' });
      await expectNoWorkflow(`oms:order.status_updated:${orderKey(body)}`);
    });

    it("an unsigned delivery-id header cannot replace a Stripe delivery's signed evt id (a replay stays a duplicate)", async () => {
      const body = stripeEvent();
      const raw = JSON.stringify(body);
      const headers = stripeHeaders(raw, TEST_SECRETS.payments!);
      const workflowId = expectAccepted(await post(receiver, 'payments', raw, headers), `payments:payment.succeeded:${body.id}`);
      // The same captured delivery, inside its 5-minute window, with an id header Stripe never sends.
      for (const name of ['x-github-delivery', 'webhook-id', 'x-shopify-webhook-id']) {
        const replay = await post(receiver, 'payments', raw, { ...headers, [name]: `replay-${uid()}` });
        expect(replay.status, `${name}: ${replay.text}`).toBe(200);
        expect(replay.body).toMatchObject({ duplicate: true, workflowId });
      }
      await expectExactlyOneExecution(workflowId);
    });

    it("an unsigned delivery-id header of another scheme cannot replace an oms body's event_id", async () => {
      const eventId = `evt-${uid()}`;
      const raw = JSON.stringify(orderUpdated({ event_id: eventId }));
      const headers = { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) };
      const workflowId = expectAccepted(await post(receiver, 'oms', raw, headers), `oms:order.status_updated:${eventId}`);
      const replay = await post(receiver, 'oms', raw, { ...headers, 'webhook-id': `replay-${uid()}` });
      expect(replay.status, replay.text).toBe(200);
      expect(replay.body).toMatchObject({ duplicate: true, workflowId });
    });

    it('no natural key possible (a quarantined body without ids) → the body hash', async () => {
      const raw = JSON.stringify({ event_type: 'order.status_updated', order_id: `ORD-${uid()}`, note: 'no timestamp, no status' });
      const res = await post(receiver, 'oms', raw, { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) });
      expect(res.status, res.text).toBe(202);
      expect(res.body.quarantined).toBe(true);
      const hash = createHash('sha256').update(raw).digest('hex').slice(0, 32);
      expect(res.body.workflowId).toBe(`quarantine:oms:${hash}`);
      const [event] = (await startArgs(`quarantine:oms:${hash}`)) as [QuarantinedEvent];
      expect(event.identity).toBe(hash);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('every refusal is a problem document with a status that tells the sender what to do', () => {
    it('404 for an unknown source', async () => {
      const raw = JSON.stringify(orderUpdated());
      const res = await post(receiver, 'nope', raw, { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) });
      expectProblem(res, 404, 'unknown-source', false);
    });

    it('413 when Content-Length is over maxBodyBytes, and when a chunked body grows past it', async () => {
      const small = await receiverWith({ maxBodyBytes: 1024 });
      const body = orderUpdated({ padding: 'x'.repeat(2048) });
      const raw = JSON.stringify(body);
      expect(Buffer.byteLength(raw)).toBeGreaterThan(2048);
      const headers = { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) };
      expectProblem(await post(small, 'oms', raw, headers), 413, 'body-too-large', false);
      expectProblem(await postChunked(small, 'oms', raw, headers), 413, 'body-too-large', false);
      await expectNoWorkflow(`oms:order.status_updated:${orderKey(body)}`);
      // Control: the same receiver takes a body under the limit, chunked too.
      const ok = orderUpdated();
      const okRaw = JSON.stringify(ok);
      expect(Buffer.byteLength(okRaw)).toBeLessThan(1024);
      const res = await postChunked(small, 'oms', okRaw, { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, okRaw) });
      expectAccepted(res, `oms:order.status_updated:${orderKey(ok)}`);
    });

    it('415 for a signed body sent as text/plain', async () => {
      const body = orderUpdated();
      const raw = JSON.stringify(body);
      const res = await post(receiver, 'oms', raw, { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) }, 'text/plain');
      expectProblem(res, 415, 'unsupported-media-type', false);
      await expectNoWorkflow(`oms:order.status_updated:${orderKey(body)}`);
    });

    it('429 with a numeric Retry-After once WEBHOOK_RATE_LIMIT_OMS=3/min is spent', async () => {
      const limited = await receiverWith({ sourceEnv: { WEBHOOK_RATE_LIMIT_OMS: '3/min' } });
      const bodies = Array.from({ length: 4 }, () => orderUpdated());
      const results: Posted[] = [];
      for (const body of bodies) {
        const raw = JSON.stringify(body);
        results.push(await post(limited, 'oms', raw, { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) }));
      }
      expect(results.slice(0, 3).map((r) => r.status)).toEqual([202, 202, 202]);
      const refused = results[3]!;
      expectProblem(refused, 429, 'rate-limited', true);
      const retryAfter = refused.headers.get('retry-after');
      expect(retryAfter).toMatch(/^\d+$/);
      // 3 per minute refills one token every 20 s.
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(retryAfter)).toBeLessThanOrEqual(20);
      await expectNoWorkflow(`oms:order.status_updated:${orderKey(bodies[3]!)}`);
      // The limit is per source: another source on the same receiver is unaffected.
      const raw = JSON.stringify(delivered());
      expectAccepted(
        await post(limited, 'carrier', raw, {
          'x-shopify-hmac-sha256': shopifyHmac(TEST_SECRETS.carrier!, raw),
          'x-shopify-webhook-id': randomUUID(),
        }),
      );
    });

    it('403 from 127.0.0.1 when WEBHOOK_ALLOW_IPS_OMS=10.0.0.0/8', async () => {
      const fenced = await receiverWith({ sourceEnv: { WEBHOOK_ALLOW_IPS_OMS: '10.0.0.0/8' } });
      const body = orderUpdated();
      const raw = JSON.stringify(body);
      const res = await post(fenced, 'oms', raw, { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) });
      expectProblem(res, 403, 'forbidden-address', false);
      await expectNoWorkflow(`oms:order.status_updated:${orderKey(body)}`);
    });

    it('an allowlist that includes 127.0.0.1/32 lets the delivery through', async () => {
      const open = await receiverWith({ sourceEnv: { WEBHOOK_ALLOW_IPS_OMS: '10.0.0.0/8,127.0.0.1/32' } });
      const raw = JSON.stringify(orderUpdated());
      expectAccepted(await post(open, 'oms', raw, { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) }));
    });

    it('a CIDR with an empty prefix (10.0.0.0/) fails start-up, naming the variable, instead of allowing everyone', async () => {
      await expect(receiverWith({ sourceEnv: { WEBHOOK_ALLOW_IPS_OMS: '10.0.0.0/' } })).rejects.toThrow(
        /WEBHOOK_ALLOW_IPS_OMS.*"10\.0\.0\.0\/"/,
      );
    });

    it('X-Forwarded-For counts only behind a trusted proxy', async () => {
      const sourceEnv = { WEBHOOK_ALLOW_IPS_OMS: '10.0.0.0/8' };
      const behindProxy = await receiverWith({ sourceEnv, trustProxy: ['127.0.0.1'] });
      const direct = await receiverWith({ sourceEnv });
      const send = async (r: Receiver, forwardedFor: string) => {
        const body = orderUpdated();
        const raw = JSON.stringify(body);
        const res = await post(r, 'oms', raw, {
          'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw),
          'x-forwarded-for': forwardedFor,
        });
        return { res, workflowId: `oms:order.status_updated:${orderKey(body)}` };
      };

      // Trusted proxy at 127.0.0.1 forwarding for 10.1.2.3: inside the allowlist.
      const trusted = await send(behindProxy, '10.1.2.3');
      expectAccepted(trusted.res, trusted.workflowId);
      // Same proxy forwarding for an address outside it: the forwarded address really is what is checked.
      const outside = await send(behindProxy, '192.0.2.7');
      expectProblem(outside.res, 403, 'forbidden-address', false);
      expect(outside.res.body.detail).toContain('192.0.2.7');
      // No trusted proxy: the header is the client's word and changes nothing.
      const spoofed = await send(direct, '10.1.2.3');
      expectProblem(spoofed.res, 403, 'forbidden-address', false);
      await expectNoWorkflow(spoofed.workflowId);
    });
  });

  // -------------------------------------------------------------------------------------------
  describe('quarantine: a verified event that cannot be processed is kept, not refused', () => {
    async function expectHeld(workflowId: string, raw: string, reason: string, source: string): Promise<void> {
      const handle = env.client.workflow.getHandle(workflowId);
      const described = await handle.describe();
      expect(described.type).toBe('quarantinedEventWorkflow');
      expect(described.status.name).toBe('RUNNING');
      const state = await handle.query(quarantineStateQuery);
      expect(state.status).toBe('quarantined');
      // The body is in the receiver's database, not in the workflow's input: a reference and a hash are.
      expect(state.event.rawBody).toBeUndefined();
      expect(state.event.body).toEqual({
        ref: workflowId,
        sha256: createHash('sha256').update(raw).digest('hex'),
        bytes: Buffer.byteLength(raw),
      });
      expect((await receiver.quarantine.read(workflowId))?.toString('utf8')).toBe(raw);
      expect(state.event.reason).toBe(reason);
      expect(state.event.source).toBe(source);
      const query = `HooklineStatus = "quarantined" AND WorkflowId = "${workflowId}"`;
      const found = await eventually(
        () => env.client.workflow.count(query).then((c) => c.count),
        (n) => n > 0,
        30_000,
      );
      expect(found).toBe(1);
      const ids: string[] = [];
      for await (const info of env.client.workflow.list({ query: `HooklineStatus = "quarantined" AND HooklineSource = "${source}"` }))
        ids.push(info.workflowId);
      expect(ids).toContain(workflowId);
    }

    function expectQuarantinedResponse(res: Posted, workflowId: string): void {
      expect(res.status, res.text).toBe(202);
      expect(res.body).toMatchObject({ accepted: true, duplicate: false, quarantined: true, workflowId });
      expect(typeof res.body.reason).toBe('string');
      expect(Array.isArray(res.body.problems)).toBe(true);
    }

    it('a bad amount (-5) → 202 quarantined, a problem naming amount, held and findable', async () => {
      const body = stripeEvent({ amount: -5 });
      const raw = JSON.stringify(body);
      const res = await post(receiver, 'payments', raw, stripeHeaders(raw, TEST_SECRETS.payments!));
      const workflowId = `quarantine:payments:${body.id}`;
      expectQuarantinedResponse(res, workflowId);
      const problems = res.body.problems as string[];
      expect(
        problems.some((p) => /^amount\b/.test(p)),
        JSON.stringify(problems),
      ).toBe(true);
      expect(res.body.reason).toBe('body does not match the payment.succeeded schema');
      await expectNoWorkflow(`payments:payment.succeeded:${body.id}`);
      await expectHeld(workflowId, raw, res.body.reason as string, 'payments');
      const state = await env.client.workflow.getHandle(workflowId).query(quarantineStateQuery);
      expect(state.event.problems).toEqual(problems);
      expect(state.event.eventType).toBe('payment.succeeded');
    });

    it('an unknown event_type → 202 quarantined as unknown', async () => {
      const raw = JSON.stringify({ event_type: 'order.teleported', timestamp: isoNow(), order_id: `ORD-${uid()}` });
      const res = await post(receiver, 'oms', raw, { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) });
      const workflowId = `quarantine:oms:${createHash('sha256').update(raw).digest('hex').slice(0, 32)}`;
      expectQuarantinedResponse(res, workflowId);
      expect(res.body.reason).toBe('unknown event type "order.teleported"');
      await expectHeld(workflowId, raw, res.body.reason as string, 'oms');
    });

    it('a signed body that is not JSON (sent as application/json) → 202 quarantined', async () => {
      const raw = `{"event_type": "order.status_updated", "order_id": "ORD-${uid()}", oops`;
      const res = await post(receiver, 'oms', raw, { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) });
      const workflowId = `quarantine:oms:${createHash('sha256').update(raw).digest('hex').slice(0, 32)}`;
      expectQuarantinedResponse(res, workflowId);
      expect(res.body.reason).toBe('body is not valid JSON');
      await expectHeld(workflowId, raw, 'body is not valid JSON', 'oms');
    });

    it('a type the source may not send (oms sending payment.succeeded) → 202 quarantined', async () => {
      const eventId = `evt-${uid()}`;
      const raw = JSON.stringify(payment({ event_id: eventId }));
      const res = await post(receiver, 'oms', raw, { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) });
      const workflowId = `quarantine:oms:${eventId}`;
      expectQuarantinedResponse(res, workflowId);
      expect(res.body.reason).toBe('source oms may not send payment.succeeded');
      await expectNoWorkflow(`oms:payment.succeeded:${eventId}`);
      await expectHeld(workflowId, raw, res.body.reason as string, 'oms');
    });

    it('the same quarantined delivery again → 200 duplicate of the same quarantine workflow', async () => {
      const raw = JSON.stringify({ event_type: 'order.teleported', timestamp: isoNow(), order_id: `ORD-${uid()}` });
      const headers = { 'x-webhook-signature': await octokitSign(TEST_SECRETS.oms!, raw) };
      const first = await post(receiver, 'oms', raw, headers);
      const workflowId = first.body.workflowId as string;
      expectQuarantinedResponse(first, workflowId);
      const again = await post(receiver, 'oms', raw, headers);
      expect(again.status, again.text).toBe(200);
      expect(again.body).toMatchObject({ duplicate: true, quarantined: true, workflowId });
      await expectExactlyOneExecution(workflowId);
    });
  });
});
