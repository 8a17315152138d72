import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import EasyPost from '@easypost/api';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as repo from '../src/db/repo';
import { returnWorkflowId } from '../src/events/identity';
import { SAMPLES } from '../src/events/samples';
import { isDelay } from '../src/providers/easypost/map';
import type { QuarantineService } from '../src/receiver/quarantine';
import { signWebhook, verifyWebhook, WebhookVerificationError, type VerificationFailure } from '../src/signatures';
import { conversationId, conversationQuery } from '../workflows/contracts/conversation';
import { terminateAll } from './support/handoff';
import {
  connectTestEnv,
  quarantineServiceFor,
  sendSigned,
  startAgent,
  startReceiver,
  testDatabases,
  type Agent,
  type Receiver,
} from './support/harness';

/**
 * EasyPost's own events (src/providers/easypost/examples/, EasyPost's published bodies) through
 * real HTTP, the real receiver, a real worker and the real database. EasyPost publishes two
 * `tracker.updated` bodies (in transit, delivered) and no exception, delay, out-for-delivery or
 * return-label one: those are the published bodies with only the fields that make the case changed
 * (see `derived`), never written whole by hand.
 */

// Not ASCII on purpose: EasyPost keys the HMAC with the secret normalised to NFKD.
const SECRET = 'easypost_provider_test_s\u00e9cret_0123456789';
const EXAMPLES = join(__dirname, '..', 'src', 'providers', 'easypost', 'examples');
const example = (file: string) => readFileSync(join(EXAMPLES, file));
const VECTOR = JSON.parse(example('signature-test-vector.json').toString('utf8')) as {
  header: string;
  signature: string;
  secret: string;
  bodyFile: string;
};
const easypostClient = new EasyPost('EZTK_not_a_key'); // no request is made: Utils.validateWebhook only

type Detail = { status: string; datetime: string; message?: string | null };
type Tracker = Record<string, unknown> & {
  tracking_code: string;
  status: string;
  updated_at: string;
  est_delivery_date?: string | null;
  is_return?: boolean;
  tracking_details: Detail[];
};
type TrackerEvent = Record<string, unknown> & { id: string; mode: string; previous_attributes?: Record<string, unknown>; result: Tracker };

/**
 * A published body with a fresh event id (a new event here) and `edit`'s changes: the only way the
 * cases EasyPost publishes no body for are made. JSON.stringify keeps the weights as floats
 * (614.4, 17.6), so `validateWebhook`'s weight rewrite leaves these bodies alone.
 */
function derived(file: 'tracker.updated.json' | 'tracker.updated-delivered.json', edit: (e: TrackerEvent) => void): Buffer {
  const e = JSON.parse(example(file).toString('utf8')) as TrackerEvent;
  e.id = `evt_${randomBytes(8).toString('hex')}`;
  edit(e);
  return Buffer.from(JSON.stringify(e));
}

const idOf = (body: Buffer) => (JSON.parse(body.toString('utf8')) as TrackerEvent).id;
const trackingNumber = () => `EZ${randomBytes(5).toString('hex').toUpperCase()}`;

/**
 * POSTs bytes to /webhooks/easypost signed by hookline's EasyPost signer, after checking that
 * `@easypost/api`'s own validateWebhook accepts the same headers: every delivery here is one
 * EasyPost's client library takes as genuine.
 */
async function deliver(url: string, body: Buffer, headers?: Record<string, string>) {
  const signed = headers ?? signWebhook('easypost', body, SECRET);
  if (!headers) expect(() => easypostClient.Utils.validateWebhook(body, signed, SECRET)).not.toThrow();
  const res = await fetch(`${url}/webhooks/easypost`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signed },
    body: new Uint8Array(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function failure(fn: () => unknown): VerificationFailure | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof WebhookVerificationError) return err.reason;
    throw err;
  }
}

describe("EasyPost's scheme: X-Hmac-Signature over the raw body, NFKD secret", () => {
  const vectorBody = example(VECTOR.bodyFile);

  it("verifies EasyPost's published signed test vector", () => {
    expect(VECTOR.header.toLowerCase()).toBe('x-hmac-signature');
    expect(() => verifyWebhook('easypost', vectorBody, { [VECTOR.header]: VECTOR.signature }, [VECTOR.secret])).not.toThrow();
    // The same secret typed decomposed (NFD) is the same key: EasyPost normalises it, and so do we.
    const nfd = VECTOR.secret.normalize('NFD');
    expect(nfd).not.toBe(VECTOR.secret);
    expect(() => verifyWebhook('easypost', vectorBody, { 'x-hmac-signature': VECTOR.signature }, [nfd])).not.toThrow();
    // And our signer makes exactly EasyPost's signature.
    expect(signWebhook('easypost', vectorBody, VECTOR.secret)).toEqual({ 'x-hmac-signature': VECTOR.signature });
  });

  it("@easypost/api's validateWebhook accepts what hookline signs, for both published bodies and a derived one", () => {
    for (const body of [
      example('tracker.updated.json'),
      example('tracker.updated-delivered.json'),
      derived('tracker.updated.json', () => {}),
    ]) {
      const event = easypostClient.Utils.validateWebhook(body, signWebhook('easypost', body, SECRET), SECRET) as { description: string };
      expect(event.description).toBe('tracker.updated');
    }
  });

  it('an integer weight is where validateWebhook and the raw bytes part: hookline verifies the bytes, as the vector does', () => {
    // validateWebhook HMACs `"weight": 17` as `17.0` (easypost-node issue 467); EasyPost's bodies write floats.
    const body = Buffer.from(example('tracker.updated.json').toString('utf8').replace('"weight":614.4', '"weight":614'));
    const ours = signWebhook('easypost', body, SECRET);
    expect(() => verifyWebhook('easypost', body, ours, [SECRET])).not.toThrow();
    expect(() => easypostClient.Utils.validateWebhook(body, ours, SECRET)).toThrow(/did not originate from EasyPost/);
  });

  it('one clear reason per way to fail', () => {
    const headers = signWebhook('easypost', vectorBody, SECRET);
    const verify = (h: Record<string, string>, secrets = [SECRET]) => failure(() => verifyWebhook('easypost', vectorBody, h, secrets));
    expect(verify(headers)).toBeUndefined();
    expect(verify({})).toBe('missing-header');
    expect(verify({ 'x-hmac-signature': headers['x-hmac-signature']!.replace('hmac-sha256-hex=', 'sha256=') })).toBe('malformed-header');
    expect(verify({ 'x-hmac-signature': 'hmac-sha256-hex=abc' })).toBe('malformed-header');
    expect(verify({ 'x-hmac-signature': VECTOR.signature })).toBe('bad-signature');
    expect(verify(headers, [])).toBe('no-secret');
    // A source may rename the header (WEBHOOK_HEADER_<SOURCE>): then only that one is read.
    const renamed = signWebhook('easypost', vectorBody, SECRET, { signatureHeader: 'X-Carrier-Signature' });
    expect(Object.keys(renamed)).toEqual(['x-carrier-signature']);
    const withHeader = (h: Record<string, string>) =>
      failure(() => verifyWebhook('easypost', vectorBody, h, [SECRET], { signatureHeader: 'X-Carrier-Signature' }));
    expect(withHeader(renamed)).toBeUndefined();
    expect(withHeader(headers)).toBe('missing-header');
    // Rotation: the old secret and the new one both verify while both are configured.
    expect(verify(headers, ['another_secret_of_enough_bytes', SECRET])).toBeUndefined();
    // One byte of the body changed.
    const tampered = Buffer.from(vectorBody.toString('utf8').replace('"evt_1"', '"evt_2"'));
    expect(failure(() => verifyWebhook('easypost', tampered, headers, [SECRET]))).toBe('bad-signature');
  });

  it('a delay is a later estimated delivery than previous_attributes held', () => {
    const at = (before: string | undefined, now: string | null) => ({
      previous_attributes: before === undefined ? {} : { est_delivery_date: before },
      result: { est_delivery_date: now },
    });
    expect(isDelay(at('2024-08-05T00:00:00Z', '2024-08-07T00:00:00Z'))).toBe(true);
    expect(isDelay(at('2024-08-05T00:00:00Z', '2024-08-04T00:00:00Z'))).toBe(false);
    expect(isDelay(at('2024-08-05T00:00:00Z', '2024-08-05T00:00:00Z'))).toBe(false);
    expect(isDelay(at(undefined, '2024-08-07T00:00:00Z'))).toBe(false);
  });
});

describe('EasyPost: its tracker.updated events run as hookline events', () => {
  let env: TestWorkflowEnvironment;
  let agent: Agent;
  let receiver: Receiver;
  let quarantine: QuarantineService;
  const raised: string[] = [];
  const sourceEnv = { WEBHOOK_SECRET_EASYPOST: SECRET };

  beforeAll(async () => {
    env = await connectTestEnv();
    agent = await startAgent({ env, databaseUrl: testDatabases()[0]!.url() });
    receiver = await startReceiver({ env, taskQueue: agent.taskQueue, sourceEnv });
    quarantine = quarantineServiceFor(env, receiver, agent.taskQueue, sourceEnv);
  });
  afterAll(async () => {
    await terminateAll(env, raised);
    await receiver?.close();
    await agent?.close();
    await env?.teardown();
  });

  const result = (workflowId: unknown) => env.client.workflow.getHandle(workflowId as string).result();

  /** An order the order system said shipped with `tracking`, for Alice (the sandbox CRM's customer), before EasyPost's dates. */
  async function shippedOrder(tracking: string): Promise<string> {
    const orderId = `ORD-${randomBytes(4).toString('hex')}`;
    const res = await sendSigned(receiver.url, 'oms', {
      ...SAMPLES['order.status_updated'],
      order_id: orderId,
      new_status: 'shipped',
      tracking_number: tracking,
      carrier: 'FedEx',
      timestamp: '2024-07-31T12:00:00Z',
    });
    expect(res.status).toBe(202);
    await result(res.body.workflowId);
    return orderId;
  }

  const customerMessage = (workflowId: unknown) =>
    agent.db
      .selectFrom('notifications')
      .selectAll()
      .where('idempotency_key', '=', `${workflowId as string}:notify`)
      .executeTakeFirst();

  it('in_transit: the published example as is runs; its tracker is kept without an order; a redelivery is a duplicate', async () => {
    const body = example('tracker.updated.json');
    const first = await deliver(receiver.url, body);
    expect(first).toMatchObject({
      status: 202,
      body: { accepted: true, duplicate: false, workflowId: 'easypost:shipment.in_transit:evt_1' },
    });
    // Tracking code "1" belongs to no order hookline knows: recorded, nobody to tell, nothing fails.
    expect(await result(first.body.workflowId)).toEqual({ applied: true, notified: null });
    expect(await repo.getTracker(agent.db, '1')).toMatchObject({
      carrier: 'FedEx',
      status: 'in_transit',
      status_detail: 'arrived_at_facility',
      eta: '2024-08-05',
      order_id: null,
      status_event_at: '2024-08-02T19:26:51.000Z',
      test_mode: 0,
    });
    // EasyPost retries with the same signed bytes: one event.
    expect(await deliver(receiver.url, body)).toMatchObject({ status: 200, body: { duplicate: true, workflowId: first.body.workflowId } });
  });

  it('a known order: out for delivery then delivered, each told once; an older event retried later never moves it back', async () => {
    const tracking = trackingNumber();
    const orderId = await shippedOrder(tracking);

    // Derived from the published in-transit body: the tracking code, the status and when.
    const outForDelivery = derived('tracker.updated.json', (e) => {
      Object.assign(e.result, { tracking_code: tracking, status: 'out_for_delivery', updated_at: '2024-08-05T08:00:00Z' });
    });
    const out = await deliver(receiver.url, outForDelivery);
    expect(out.body.workflowId).toBe(`easypost:shipment.in_transit:${idOf(outForDelivery)}`);
    expect(await result(out.body.workflowId)).toEqual({ applied: true, notified: 'order-out-for-delivery' });
    expect((await customerMessage(out.body.workflowId))?.body).toContain(`Your order ${orderId} is out for delivery today with FedEx`);

    // Derived from the published delivered body: the tracking code, live mode and when.
    const delivered = derived('tracker.updated-delivered.json', (e) => {
      e.mode = 'production';
      Object.assign(e.result, { tracking_code: tracking, mode: 'production', updated_at: '2024-08-05T15:00:00Z' });
    });
    const done = await deliver(receiver.url, delivered);
    expect(done.body.workflowId).toBe(`easypost:shipment.delivered:${idOf(delivered)}`);
    expect(await result(done.body.workflowId)).toEqual({ applied: true, notified: 'order-delivered' });
    expect(await customerMessage(done.body.workflowId)).toMatchObject({ customer_id: 'CUST-67890', test_mode: 0 });

    // An in-transit event from before the delivery, delivered late (a new event id, EasyPost's older updated_at).
    const stale = derived('tracker.updated.json', (e) => {
      Object.assign(e.result, { tracking_code: tracking, updated_at: '2024-08-03T10:00:00Z' });
    });
    const late = await deliver(receiver.url, stale);
    expect(late.status).toBe(202);
    expect(await result(late.body.workflowId)).toEqual({ applied: false, notified: null });
    expect(await repo.getOrder(agent.db, orderId)).toMatchObject({ status: 'delivered', status_event_at: '2024-08-05T15:00:00.000Z' });
    expect(await repo.getTracker(agent.db, tracking)).toMatchObject({ status: 'delivered', order_id: orderId });
    expect(await customerMessage(late.body.workflowId)).toBeUndefined();
  });

  it("delivered: EasyPost's published test-mode example is recorded as a test, its unknown tracker without an order", async () => {
    const res = await deliver(receiver.url, example('tracker.updated-delivered.json'));
    expect(res).toMatchObject({ status: 202, body: { workflowId: 'easypost:shipment.delivered:evt_qatAiJDM' } });
    expect(await result(res.body.workflowId)).toEqual({ applied: true, notified: null });
    expect(await repo.getTracker(agent.db, 'EZ4000000004')).toMatchObject({ carrier: 'UPS', status: 'delivered', test_mode: 1 });
  });

  it('a test tracker never changes a live order: its message stays in the outbox, marked', async () => {
    const tracking = trackingNumber();
    const orderId = await shippedOrder(tracking);
    // Derived from the published delivered body (a test tracker): the tracking code, and a time after the order shipped.
    const body = derived('tracker.updated-delivered.json', (e) => {
      Object.assign(e.result, { tracking_code: tracking, updated_at: '2024-08-05T15:00:00Z' });
    });
    const res = await deliver(receiver.url, body);
    expect(await result(res.body.workflowId)).toEqual({ applied: true, notified: 'order-delivered' });
    expect(await repo.getOrder(agent.db, orderId)).toMatchObject({ status: 'shipped', test_mode: 0 });
    expect(await repo.getTracker(agent.db, tracking)).toMatchObject({ status: 'delivered', test_mode: 1, order_id: orderId });
    expect(await customerMessage(res.body.workflowId)).toMatchObject({ channel: 'outbox', test_mode: 1 });
  });

  it('a later est_delivery_date than previous_attributes held is a delay, told with the new date', async () => {
    const tracking = trackingNumber();
    const orderId = await shippedOrder(tracking);
    // Derived from the published in-transit body: the tracking code, the new date and the previous one.
    const body = derived('tracker.updated.json', (e) => {
      e.previous_attributes = { est_delivery_date: '2024-08-05T00:00:00Z' };
      Object.assign(e.result, { tracking_code: tracking, est_delivery_date: '2024-08-07T00:00:00Z' });
    });
    const res = await deliver(receiver.url, body);
    expect(res.body.workflowId).toBe(`easypost:shipment.delayed:${idOf(body)}`);
    expect(await result(res.body.workflowId)).toEqual({ applied: true, notified: 'order-delayed' });
    const message = await customerMessage(res.body.workflowId);
    expect(message?.body).toContain(`your order ${orderId} is running late (Arrived at FedEx location)`);
    expect(await repo.getOrder(agent.db, orderId)).toMatchObject({ status: 'delayed', eta: '2024-08-07' });
  });

  it.each(['return_to_sender', 'failure', 'error', 'cancelled'])(
    '%s: an exception, handed to a person in the shipping queue',
    async (status) => {
      const tracking = trackingNumber();
      // A known order for one of them; the others belong to no order hookline knows, and nothing fails.
      const orderId = status === 'return_to_sender' ? await shippedOrder(tracking) : undefined;
      // Derived from the published in-transit body: the tracking code and the status.
      const body = derived('tracker.updated.json', (e) => {
        Object.assign(e.result, { tracking_code: tracking, status, status_detail: 'unknown' });
      });
      const res = await deliver(receiver.url, body);
      expect(res.status).toBe(202);
      const workflowId = res.body.workflowId as string;
      expect(workflowId).toBe(`easypost:shipment.exception:${idOf(body)}`);
      raised.push(workflowId);
      const conversation = await vi.waitFor(
        () => env.client.workflow.getHandle(conversationId(workflowId, 'shipment-exception')).query(conversationQuery),
        { timeout: 15_000 },
      );
      expect(conversation).toMatchObject({
        kind: 'shipment-exception',
        queue: 'shipping',
        customerId: orderId ? 'CUST-67890' : 'unknown',
        context: { facts: { orderId: orderId ?? 'unknown', trackingNumber: tracking, carrier: 'FedEx', exception: status } },
      });
      expect(await repo.getTracker(agent.db, tracking)).toMatchObject({ status, order_id: orderId ?? null });
    },
  );

  it("delivered on a return label (is_return) is the return received: the return's own workflow restocks and refunds", async () => {
    const orderId = `ORD-${randomBytes(4).toString('hex')}`;
    const returnId = `RET-${randomBytes(4).toString('hex')}`;
    const recent = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
    for (const event of [
      {
        ...SAMPLES['order.status_updated'],
        order_id: orderId,
        new_status: 'delivered',
        timestamp: recent(5),
        items: [{ product_id: 'PROD-A', quantity: 1 }],
        total_amount: 40,
        currency: 'USD',
      },
      { ...SAMPLES['payment.succeeded'], payment_id: `PMT-${orderId}`, order_id: orderId, amount: 40 },
    ]) {
      const res = await sendSigned(receiver.url, event.event_type === 'payment.succeeded' ? 'payments' : 'oms', event);
      await result(res.body.workflowId);
    }
    const initiated = await sendSigned(receiver.url, 'oms', {
      ...SAMPLES['return.initiated'],
      return_id: returnId,
      order_id: orderId,
      timestamp: recent(1),
    });
    expect(initiated.status).toBe(202);
    // The return's label, bought from the carrier: its tracking number is what EasyPost's tracker names.
    const label = await vi.waitFor(
      async () => {
        const row = await repo.getReturn(agent.db, returnId);
        expect(row?.status).toBe('label-sent');
        return row!.tracking_number!;
      },
      { timeout: 15_000 },
    );
    // Derived from the published delivered body: the label's tracking code, is_return, live mode and when.
    const body = derived('tracker.updated-delivered.json', (e) => {
      e.mode = 'production';
      Object.assign(e.result, { tracking_code: label, is_return: true, mode: 'production', updated_at: new Date().toISOString() });
    });
    const res = await deliver(receiver.url, body);
    expect(res.body.workflowId).toBe(`easypost:return.received:${idOf(body)}`);
    expect(await result(res.body.workflowId)).toEqual({ returnWorkflowId: returnWorkflowId(returnId), delivered: true });
    const state = (await env.client.workflow.getHandle(returnWorkflowId(returnId)).result()) as { status: string; refundId: string };
    expect(state.status).toBe('refunded');
    expect(agent.sandbox.state.restocks.filter((r) => r.return_id === returnId)).toHaveLength(1);
    expect(agent.sandbox.state.refunds.filter((r) => r.order_id === orderId)).toHaveLength(1);
  });

  it('a return parcel on a label no return is known for goes to the agents, and nothing fails', async () => {
    const tracking = trackingNumber();
    // Derived from the published delivered body: the tracking code and is_return.
    const body = derived('tracker.updated-delivered.json', (e) => {
      Object.assign(e.result, { tracking_code: tracking, is_return: true });
    });
    const res = await deliver(receiver.url, body);
    expect(await result(res.body.workflowId)).toEqual({ returnWorkflowId: null, delivered: false });
    const told = await agent.db
      .selectFrom('notifications')
      .selectAll()
      .where('idempotency_key', '=', `${res.body.workflowId as string}:unmatched`)
      .executeTakeFirstOrThrow();
    expect(told).toMatchObject({ audience: 'agents' });
    expect(told.subject).toBe(`[test] Return parcel ${tracking} delivered, but no return is known for it`);
  });

  it('a forged signature is 401, and nothing starts', async () => {
    const body = derived('tracker.updated.json', () => {});
    const forged = signWebhook('easypost', body, 'someone_else_entirely_0123456789');
    expect(await deliver(receiver.url, body, forged)).toMatchObject({ status: 401, body: { reason: 'bad-signature' } });
    expect(await deliver(receiver.url, body, {})).toMatchObject({ status: 401, body: { reason: 'missing-header' } });
    const started = await env.client.workflow.list({ query: `WorkflowId = 'easypost:shipment.in_transit:${idOf(body)}'` });
    for await (const _ of started) expect.unreachable('a workflow started for a forged delivery');
  });

  it('a description hookline does not handle, or a status with nothing to do, is answered ignored', async () => {
    const ignoredSeries = async () => {
      const text = await (await fetch(`${receiver.url}/metrics`)).text();
      const count = (type: string) =>
        Number(new RegExp(`^hookline_webhook_ignored_total\\{provider="easypost",type="${type}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
      return { created: count('tracker\\.created'), updated: count('tracker\\.updated'), other: count('other') };
    };
    const before = await ignoredSeries();
    const madeUp = derived('tracker.updated.json', (e) => {
      e.description = `made.up.${randomBytes(4).toString('hex')}`;
    });
    expect((await deliver(receiver.url, madeUp)).body).toMatchObject({ accepted: true, ignored: true });
    const created = derived('tracker.updated.json', (e) => {
      e.description = 'tracker.created';
    });
    expect(await deliver(receiver.url, created)).toEqual({ status: 200, body: { accepted: true, ignored: true, type: 'tracker.created' } });
    const preTransit = derived('tracker.updated.json', (e) => {
      e.result.status = 'pre_transit';
    });
    expect(await deliver(receiver.url, preTransit)).toEqual({
      status: 200,
      body: { accepted: true, ignored: true, type: 'tracker.updated' },
    });
    expect(await ignoredSeries()).toEqual({ created: before.created + 1, updated: before.updated + 1, other: before.other + 1 });
  });

  it('a broken body is quarantined with its provider and type, and replays once fixed', async () => {
    const body = derived('tracker.updated.json', (e) => {
      (e.result as Record<string, unknown>).tracking_code = 1234;
    });
    const res = await deliver(receiver.url, body);
    expect(res).toMatchObject({ status: 202, body: { quarantined: true, reason: 'body does not match the tracker.updated schema' } });
    expect((res.body.problems as string[]).join('\n')).toMatch(/^result\.tracking_code: /m);
    const id = res.body.workflowId as string;
    expect((await quarantine.show(id)).event).toMatchObject({ provider: 'easypost', eventType: 'tracker.updated', source: 'easypost' });

    const fixed = JSON.parse(body.toString('utf8')) as TrackerEvent;
    fixed.result.tracking_code = trackingNumber();
    const replayed = await quarantine.replay(id, { by: 'ops', body: JSON.stringify(fixed) });
    expect(replayed.workflowId).toBe(`easypost:shipment.in_transit:${fixed.id}`);
    expect(await result(replayed.workflowId)).toEqual({ applied: true, notified: null });
    expect(await repo.getTracker(agent.db, fixed.result.tracking_code)).toMatchObject({ status: 'in_transit' });
  });
});
