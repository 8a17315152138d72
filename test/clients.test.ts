import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createCarrierClient,
  createClients,
  createCrmClient,
  parseRetryAfter,
  UpstreamErrorType,
  type Clients,
  type ReturnItem,
} from '../src/clients';
import { sandboxClientsConfig, startSandbox, type RunningSandbox, type SandboxCall, type SandboxState } from '../src/sandbox';

const TOKEN = 'sk_sandbox_9f8e7d6c5b4a-do-not-leak';
const ITEMS: ReturnItem[] = [{ product_id: 'PROD-A', quantity: 1 }];
const LABEL_INPUT = { returnId: 'RET-54321', orderId: 'ORD-00112', customerId: 'CUST-67890', items: ITEMS };

let open: RunningSandbox;
let secured: RunningSandbox;
let clients: Clients;

beforeAll(async () => {
  [open, secured] = await Promise.all([
    startSandbox({ host: '127.0.0.1', port: 0 }),
    startSandbox({ host: '127.0.0.1', port: 0, token: TOKEN }),
  ]);
  clients = createClients(sandboxClientsConfig(open.url, { timeoutMs: 2_000 }));
});

afterAll(async () => {
  await Promise.all([open?.close(), secured?.close()]);
});

/** What a control call needs: the secured sandbox guards its control routes with its token too. */
function control(s: RunningSandbox): Record<string, string> {
  return s === secured ? { Authorization: `Bearer ${TOKEN}` } : {};
}

beforeEach(async () => {
  // Through HTTP, as other test files sharing one sandbox would.
  for (const s of [open, secured]) {
    const res = await fetch(`${s.url}/_sandbox/reset`, { method: 'POST', headers: control(s) });
    expect(res.status).toBe(204);
  }
});

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err: unknown = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

async function addFault(s: RunningSandbox, spec: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${s.url}/_sandbox/faults`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...control(s) },
    body: JSON.stringify(spec),
  });
  expect(res.status, await res.clone().text()).toBe(201);
}

async function sandboxState(s: RunningSandbox): Promise<SandboxState> {
  return (await (await fetch(`${s.url}/_sandbox/state`, { headers: control(s) })).json()) as SandboxState;
}

async function sandboxCalls(s: RunningSandbox, system?: string): Promise<SandboxCall[]> {
  const query = system ? `?system=${system}` : '';
  return (await (await fetch(`${s.url}/_sandbox/calls${query}`, { headers: control(s) })).json()) as SandboxCall[];
}

describe('CRM client', () => {
  it('returns the seed customer in the seed article’s shape, with the address a return label is made out from', async () => {
    const details = await clients.crm.getCustomerDetails('CUST-67890');
    expect(details).toEqual({
      customer_name: 'Alice Smith',
      email: 'alice@example.com',
      address: { street1: '417 Montgomery St', city: 'San Francisco', state: 'CA', zip: '94104', country: 'US' },
      last_orders: [
        { order_id: 'ORD-12345', status: 'shipped', date: '2023-10-25' },
        { order_id: 'ORD-00112', status: 'delivered', date: '2023-09-15' },
      ],
      previous_tickets: [{ ticket_id: 'TKT-001', subject: 'Return request', status: 'closed' }],
    });
  });

  it('makes up the same customer for an unseeded CUST- id every time', async () => {
    const a = await clients.crm.getCustomerDetails('CUST-55555');
    const b = await clients.crm.getCustomerDetails('CUST-55555');
    expect(a).toEqual(b);
    expect(a.customer_name).toMatch(/^\S+ \S+$/);
    expect(a.last_orders.length).toBeGreaterThan(0);
    expect(await clients.crm.getCustomerDetails('CUST-55556')).not.toEqual(a);
  });

  it('turns an unknown customer into a non-retryable not-found', async () => {
    for (const id of ['NOPE-1', 'CUST-40400']) {
      const failure = await failureOf(clients.crm.getCustomerDetails(id));
      expect(failure.type).toBe(UpstreamErrorType.NotFound);
      expect(failure.nonRetryable).toBe(true);
      expect(failure.message).toBe(`CRM GET /customers/${id}/details: 404 Not Found (no customer ${id})`);
    }
  });

  it('classifies a 503 as retryable, naming system and operation', async () => {
    await addFault(open, { system: 'crm', method: 'GET', path: '/customers/', kind: 'status', status: 503, times: 1 });
    const failure = await failureOf(clients.crm.getCustomerDetails('CUST-1'));
    expect(failure.type).toBe(UpstreamErrorType.Unavailable);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBeUndefined();
    expect(failure.message).toBe('CRM GET /customers/CUST-1/details: 503 Service Unavailable (injected fault: status 503)');
    expect(failure.details?.[0]).toMatchObject({ system: 'CRM', operation: 'GET /customers/CUST-1/details', status: 503 });
  });

  it('classifies a 429 as retryable and honours Retry-After: 7 as nextRetryDelay', async () => {
    await addFault(open, { system: 'crm', kind: 'status', status: 429, retryAfterSeconds: 7, times: 1 });
    const failure = await failureOf(clients.crm.getCustomerDetails('CUST-67890'));
    expect(failure.type).toBe(UpstreamErrorType.RateLimited);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBe(7_000);
  });

  it('times out on a hung upstream promptly, as a retryable timeout', async () => {
    const crm = createCrmClient({ baseUrl: `${open.url}/crm`, timeoutMs: 200 });
    await addFault(open, { system: 'crm', kind: 'hang', times: 1 });
    const started = performance.now();
    const failure = await failureOf(crm.getCustomerDetails('CUST-67890'));
    const elapsed = performance.now() - started;
    expect(failure.type).toBe(UpstreamErrorType.Timeout);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toBe('CRM GET /customers/CUST-67890/details: no complete response within 200 ms');
    expect(elapsed).toBeGreaterThanOrEqual(150);
    // Promptly: half the client's 10 s default, so it is the configured 200 ms that fired, with room
    // for a timer that runs late on a loaded machine.
    expect(elapsed).toBeLessThan(5_000);
  });

  it('lets the caller’s cancellation through unclassified', async () => {
    await addFault(open, { system: 'crm', kind: 'hang', times: 1 });
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    const pending = clients.crm.getCustomerDetails('CUST-67890', { signal: controller.signal }).catch((e: unknown) => e);
    // Aborted once the request hangs at the CRM (the fault took it, no answer yet), not at a guess.
    const hanging = () => open.sandbox.calls().some((c) => c.system === 'crm' && c.fault?.endsWith(':hang') && c.status === null);
    await expect.poll(hanging, { timeout: 30_000, interval: 20 }).toBe(true);
    controller.abort(reason);
    expect(await pending).toBe(reason);
  });

  it('rejects a garbage answer as a clear non-retryable error', async () => {
    const garbage: Server = createServer((req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(req.url?.includes('NOTJSON') ? '<html>oops</html>' : JSON.stringify({ customer_name: 42 }));
    });
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
    try {
      const crm = createCrmClient({ baseUrl: `http://127.0.0.1:${(garbage.address() as AddressInfo).port}` });
      const wrongShape = await failureOf(crm.getCustomerDetails('CUST-1'));
      expect(wrongShape.type).toBe(UpstreamErrorType.InvalidResponse);
      expect(wrongShape.nonRetryable).toBe(true);
      expect(wrongShape.message).toMatch(
        /^CRM GET \/customers\/CUST-1\/details: 200 OK with an unexpected body \(customer_name: .*email: /,
      );
      const notJson = await failureOf(crm.getCustomerDetails('NOTJSON'));
      expect(notJson.type).toBe(UpstreamErrorType.InvalidResponse);
      expect(notJson.message).toContain('not JSON');
    } finally {
      garbage.closeAllConnections();
      await new Promise((resolve) => garbage.close(resolve));
    }
  });
});

describe('Carrier client', () => {
  it('creates a label once per idempotency key', async () => {
    const first = await clients.carrier.createReturnLabel(LABEL_INPUT, 'wf-RET-54321:label');
    const second = await clients.carrier.createReturnLabel(LABEL_INPUT, 'wf-RET-54321:label');
    expect(second).toEqual(first);
    expect(first).toMatchObject({
      label_id: expect.stringMatching(/^LBL-/),
      tracking_number: expect.stringMatching(/^TRK-/),
      carrier: 'FedEx',
    });

    const state = await sandboxState(open);
    expect(state.labels).toHaveLength(1);
    expect(state.labels[0]).toMatchObject({ label_id: first.label_id, return_id: 'RET-54321', voided: false });
    const calls = await sandboxCalls(open, 'carrier');
    expect(calls.map((c) => [c.method, c.path, c.idempotencyKey, c.status, c.replayed ?? false])).toEqual([
      ['POST', '/return-labels', 'wf-RET-54321:label', 201, false],
      ['POST', '/return-labels', 'wf-RET-54321:label', 201, true],
    ]);

    const other = await clients.carrier.createReturnLabel(LABEL_INPUT, 'wf-RET-99999:label');
    expect(other.label_id).not.toBe(first.label_id);
  });

  it('refuses to reuse a key for a different request (422, non-retryable)', async () => {
    await clients.carrier.createReturnLabel(LABEL_INPUT, 'key-1');
    const failure = await failureOf(clients.carrier.createReturnLabel({ ...LABEL_INPUT, returnId: 'RET-OTHER' }, 'key-1'));
    expect(failure.type).toBe(UpstreamErrorType.Rejected);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.details?.[0]).toMatchObject({ status: 422 });
  });

  it('classifies a 400 as non-retryable with status and body in details', async () => {
    const failure = await failureOf(clients.carrier.createReturnLabel({ ...LABEL_INPUT, items: [] }, 'bad-1'));
    expect(failure.type).toBe(UpstreamErrorType.Rejected);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe('Carrier POST /return-labels: 400 Bad Request (items: at least one item is required)');
    expect(failure.details?.[0]).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_request' } },
    });
    expect((await sandboxState(open)).labels).toHaveLength(0);
  });

  it('fails twice with times: 2, then succeeds with the same key', async () => {
    await addFault(open, { system: 'carrier', method: 'POST', path: '/return-labels', kind: 'status', status: 503, times: 2 });
    const key = 'wf-RET-1:label';
    for (let attempt = 1; attempt <= 2; attempt++) {
      const failure = await failureOf(clients.carrier.createReturnLabel(LABEL_INPUT, key));
      expect(failure.type).toBe(UpstreamErrorType.Unavailable);
      expect(failure.nonRetryable).toBe(false);
    }
    const label = await clients.carrier.createReturnLabel(LABEL_INPUT, key);
    expect(label.label_id).toMatch(/^LBL-/);
    expect((await sandboxCalls(open, 'carrier')).map((c) => c.status)).toEqual([503, 503, 201]);
    expect((await sandboxState(open)).labels).toHaveLength(1);
    const faults = (await (await fetch(`${open.url}/_sandbox/faults`)).json()) as unknown[];
    expect(faults).toEqual([]);
  });

  it('survives a lost response: the retry with the same key gets the label created the first time', async () => {
    await addFault(open, { system: 'carrier', path: '/return-labels', kind: 'reset', phase: 'after', times: 1 });
    const failure = await failureOf(clients.carrier.createReturnLabel(LABEL_INPUT, 'wf-RET-2:label'));
    expect(failure.type).toBe(UpstreamErrorType.Unavailable);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toMatch(/^Carrier POST \/return-labels: network error/);

    const label = await clients.carrier.createReturnLabel(LABEL_INPUT, 'wf-RET-2:label');
    const state = await sandboxState(open);
    expect(state.labels).toHaveLength(1);
    expect(state.labels[0]?.label_id).toBe(label.label_id);
  });

  it('voids a label, and voiding it again is still success', async () => {
    const label = await clients.carrier.createReturnLabel(LABEL_INPUT, 'wf-RET-3:label');
    expect(await clients.carrier.voidReturnLabel(label.label_id, 'wf-RET-3:void')).toEqual({ label_id: label.label_id, status: 'voided' });
    expect(await clients.carrier.voidReturnLabel(label.label_id, 'wf-RET-3:void-again')).toEqual({
      label_id: label.label_id,
      status: 'voided',
    });
    expect((await sandboxState(open)).labels[0]).toMatchObject({ voided: true });
  });

  it('refuses to write without an idempotency key', async () => {
    const failure = await failureOf(clients.carrier.createReturnLabel(LABEL_INPUT, ''));
    expect(failure.type).toBe(UpstreamErrorType.InvalidRequest);
    expect(failure.nonRetryable).toBe(true);
    expect(await sandboxCalls(open)).toEqual([]);
  });
});

describe('Warehouse, inventory and payments clients', () => {
  it('record one effect each, however often they are retried', async () => {
    for (let i = 0; i < 2; i++) {
      const expected = await clients.warehouse.expectReturn(
        { returnId: 'RET-54321', orderId: 'ORD-00112', items: ITEMS, trackingNumber: 'TRK-1' },
        'wf-RET-54321:expect',
      );
      expect(expected).toMatchObject({ return_id: 'RET-54321', status: 'awaiting_arrival' });
      const restock = await clients.inventory.restock(
        { returnId: 'RET-54321', items: [{ product_id: 'PROD-A', quantity: 2 }] },
        'wf-RET-54321:restock',
      );
      expect(restock).toMatchObject({ return_id: 'RET-54321', status: 'applied' });
      const refund = await clients.payments.refund(
        { orderId: 'ORD-00112', paymentId: 'PMT-ABCXYZ', amount: 99.99, currency: 'USD', reason: 'Item too large' },
        'wf-RET-54321:refund',
      );
      expect(refund).toEqual({ refund_id: expect.stringMatching(/^RFN-/), status: 'succeeded' });
    }
    const state = await sandboxState(open);
    expect(state.expectedReturns).toHaveLength(1);
    expect(state.restocks).toHaveLength(1);
    expect(state.stock).toEqual({ 'PROD-A': 2 });
    expect(state.refunds).toHaveLength(1);
    expect(state.refunds[0]).toMatchObject({ amount: 99.99, currency: 'USD', payment_id: 'PMT-ABCXYZ' });
  });

  it('rejects a malformed refund without retrying', async () => {
    const failure = await failureOf(
      clients.payments.refund({ orderId: 'ORD-1', amount: -5, currency: 'usd', reason: 'x' }, 'wf-bad:refund'),
    );
    expect(failure.type).toBe(UpstreamErrorType.Rejected);
    expect(failure.nonRetryable).toBe(true);
    expect((await sandboxState(open)).refunds).toHaveLength(0);
  });
});

describe('sandbox faults', () => {
  it('matches a regex path, applies the X-Sandbox-Fault header, and clears on DELETE', async () => {
    await addFault(open, { system: 'carrier', path: '^/return-labels/[^/]+/void$', kind: 'status', status: 502 });
    const label = await clients.carrier.createReturnLabel(LABEL_INPUT, 'k-regex'); // not matched
    expect((await failureOf(clients.carrier.voidReturnLabel(label.label_id, 'k-void'))).type).toBe(UpstreamErrorType.Unavailable);
    expect((await failureOf(clients.carrier.voidReturnLabel(label.label_id, 'k-void'))).type).toBe(UpstreamErrorType.Unavailable);
    expect((await fetch(`${open.url}/_sandbox/faults`, { method: 'DELETE' })).status).toBe(204);
    await clients.carrier.voidReturnLabel(label.label_id, 'k-void');

    const viaHeader = await fetch(`${open.url}/crm/customers/CUST-67890/details`, {
      headers: { 'X-Sandbox-Fault': 'status=429; retry-after=3' },
    });
    expect(viaHeader.status).toBe(429);
    expect(viaHeader.headers.get('retry-after')).toBe('3');

    const slowStart = performance.now();
    const slow = await fetch(`${open.url}/crm/customers/CUST-67890/details`, { headers: { 'X-Sandbox-Fault': 'latency=150' } });
    expect(slow.status).toBe(200);
    expect(performance.now() - slowStart).toBeGreaterThanOrEqual(140);

    const bad = await fetch(`${open.url}/_sandbox/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ system: 'mainframe', kind: 'status' }),
    });
    expect(bad.status).toBe(400);
  });

  it('turns a reset into a retryable network error', async () => {
    const failure = await failureOf(
      (async () => {
        await addFault(open, { system: 'payments', kind: 'reset', times: 1 });
        return clients.payments.refund({ orderId: 'ORD-1', amount: 1, currency: 'USD', reason: 'r' }, 'k-reset');
      })(),
    );
    expect(failure.type).toBe(UpstreamErrorType.Unavailable);
    expect(failure.nonRetryable).toBe(false);
    expect((await sandboxState(open)).refunds).toHaveLength(0);
  });
});

describe('bearer token', () => {
  it('is required when the sandbox has one: missing → 401 → non-retryable', async () => {
    const anonymous = createClients(sandboxClientsConfig(secured.url));
    const failure = await failureOf(anonymous.crm.getCustomerDetails('CUST-67890'));
    expect(failure.type).toBe(UpstreamErrorType.Rejected);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe('CRM GET /customers/CUST-67890/details: 401 Unauthorized (missing or invalid bearer token)');

    const wrong = createClients(sandboxClientsConfig(secured.url, { token: `${TOKEN}-wrong` }));
    expect((await failureOf(wrong.carrier.createReturnLabel(LABEL_INPUT, 'k'))).details?.[0]).toMatchObject({ status: 401 });

    const authed = createClients(sandboxClientsConfig(secured.url, { token: TOKEN }));
    expect((await authed.crm.getCustomerDetails('CUST-67890')).customer_name).toBe('Alice Smith');
    expect((await sandboxCalls(secured)).map((c) => c.status)).toEqual([401, 401, 200]);
  });

  it('guards the control routes too: without it 401 and nothing changes; with it they work; health stays open', async () => {
    const authed = createClients(sandboxClientsConfig(secured.url, { token: TOKEN }));
    const label = await authed.carrier.createReturnLabel(LABEL_INPUT, 'wf-RET-guard:label');
    const fault = JSON.stringify({ system: 'crm', kind: 'status', status: 503 });
    const json = { 'Content-Type': 'application/json' };
    const attempts: [string, RequestInit][] = [
      ['/_sandbox/faults', { method: 'POST', headers: json, body: fault }],
      ['/_sandbox/faults', { method: 'POST', headers: { ...json, Authorization: `Bearer ${TOKEN}-wrong` }, body: fault }],
      ['/_sandbox/reset', { method: 'POST' }],
      ['/_sandbox/faults', { method: 'DELETE' }],
      ['/_sandbox/state', {}],
      ['/_sandbox/calls', {}],
      ['/_sandbox/faults', {}],
    ];
    for (const [path, init] of attempts) {
      const res = await fetch(`${secured.url}${path}`, init);
      expect(res.status, `${init.method ?? 'GET'} ${path}`).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: 'missing or invalid bearer token' } });
    }
    // Nothing changed: no fault was added, the reset did not happen.
    expect((await sandboxState(secured)).labels.map((l) => l.label_id)).toEqual([label.label_id]);
    expect(await (await fetch(`${secured.url}/_sandbox/faults`, { headers: control(secured) })).json()).toEqual([]);
    expect((await authed.crm.getCustomerDetails('CUST-67890')).customer_name).toBe('Alice Smith');
    // A liveness probe needs no token; it neither changes nor shows anything.
    expect((await fetch(`${secured.url}/_sandbox/health`)).status).toBe(200);

    // With the token: the same calls work.
    await addFault(secured, { system: 'crm', kind: 'status', status: 503, times: 1 });
    expect((await failureOf(authed.crm.getCustomerDetails('CUST-67890'))).details?.[0]).toMatchObject({ status: 503 });
    expect((await fetch(`${secured.url}/_sandbox/reset`, { method: 'POST', headers: control(secured) })).status).toBe(204);
    expect((await sandboxState(secured)).labels).toEqual([]);
  });

  it('never appears in an error message or its details', async () => {
    const authed = createClients(sandboxClientsConfig(secured.url, { token: TOKEN, timeoutMs: 200 }));
    const wrong = createClients(sandboxClientsConfig(secured.url, { token: `${TOKEN}x`, timeoutMs: 200 }));
    await addFault(secured, { system: 'crm', path: '/customers/CUST-67890/', kind: 'status', status: 503, times: 1 });
    await addFault(secured, { system: 'warehouse', kind: 'hang', times: 1 });
    await addFault(secured, { system: 'inventory', kind: 'reset', times: 1 });
    const failures = await Promise.all([
      failureOf(authed.crm.getCustomerDetails('CUST-67890')),
      failureOf(authed.warehouse.expectReturn({ returnId: 'R', orderId: 'O', items: ITEMS, trackingNumber: 'T' }, 'k1')),
      failureOf(authed.inventory.restock({ returnId: 'R', items: ITEMS }, 'k2')),
      failureOf(authed.carrier.createReturnLabel({ ...LABEL_INPUT, items: [] }, 'k3')),
      failureOf(authed.crm.getCustomerDetails('NOPE')),
      failureOf(wrong.payments.refund({ orderId: 'O', amount: 1, currency: 'USD', reason: 'r' }, 'k4')),
    ]);
    expect(failures.map((f) => f.type)).toEqual([
      'UpstreamUnavailable',
      'UpstreamTimeout',
      'UpstreamUnavailable',
      'UpstreamRejected',
      'UpstreamNotFound',
      'UpstreamRejected',
    ]);
    for (const failure of failures) {
      const everything = `${failure.message}\n${failure.stack ?? ''}\n${JSON.stringify(failure.details)}\n${String(failure.cause ?? '')}`;
      expect(everything).not.toContain(TOKEN);
      expect(everything).not.toContain('Bearer');
    }
  });
});

describe('redirects', () => {
  /** A real server on a free loopback port; closed after the test. */
  async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ host: string; close: () => Promise<void> }> {
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => {
        server.closeAllConnections();
        return new Promise((resolve) => server.close(() => resolve()));
      },
    };
  }

  it('follows none: a 307 or 302 is a non-retryable UpstreamRedirected naming the host, and the target receives nothing', async () => {
    const received: string[] = [];
    const target = await serve((req, res) => {
      received.push(`${req.method} ${req.url} ${req.headers['idempotency-key'] ?? ''}`);
      res.setHeader('Content-Type', 'application/json');
      res.end('{}');
    });
    const elsewhere = `http://${target.host}/collect?token=leak-me-0123`;
    const redirector = await serve((req, res) => {
      req.resume();
      // 307 for the write, so a client that followed it would resend the body and its keys.
      res.writeHead(req.method === 'POST' ? 307 : 302, { Location: elsewhere, 'Content-Type': 'text/html' });
      res.end(`<a href="${elsewhere}">moved</a>`);
    });
    try {
      const carrier = createCarrierClient({ baseUrl: `http://${redirector.host}/carrier`, token: TOKEN });
      const crm = createCrmClient({ baseUrl: `http://${redirector.host}/crm`, token: TOKEN });
      const write = await failureOf(carrier.createReturnLabel(LABEL_INPUT, 'wf-RET-redirect:label'));
      const read = await failureOf(crm.getCustomerDetails('CUST-67890'));

      expect(write.type).toBe(UpstreamErrorType.Redirected);
      expect(write.nonRetryable).toBe(true);
      expect(write.message).toBe(
        `Carrier POST /return-labels: 307 Temporary Redirect to ${target.host}; redirects are not followed (check the base URL)`,
      );
      expect(write.details?.[0]).toEqual({ system: 'Carrier', operation: 'POST /return-labels', status: 307, locationHost: target.host });
      expect(read.type).toBe(UpstreamErrorType.Redirected);
      expect(read.nonRetryable).toBe(true);
      expect(read.message).toBe(
        `CRM GET /customers/CUST-67890/details: 302 Found to ${target.host}; redirects are not followed (check the base URL)`,
      );
      for (const failure of [write, read]) {
        const everything = `${failure.message}\n${JSON.stringify(failure.details)}`;
        for (const hidden of ['/collect', 'leak-me-0123', TOKEN]) expect(everything).not.toContain(hidden);
      }
      // Followed, the redirect would have reached the target before the call returned.
      expect(received).toEqual([]);
    } finally {
      await Promise.all([target.close(), redirector.close()]);
    }
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates, and ignores the rest', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
