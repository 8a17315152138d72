import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createLogger, silentLogger } from '../src/log';
import { createApp } from '../src/receiver/app';
import { cachedCheck } from '../src/receiver/cached-check';
import { createIntake } from '../src/intake/direct';
import { loadSources } from '../src/receiver/sources';
import { isReachable } from '../src/temporal/client';
import { connectTestEnv, startReceiver, testSecretsEnv, type Receiver, type ReceiverAnswer } from './support/harness';

// The receiver's edges under abuse: rate limits that rotating addresses or names cannot escape,
// names cut before they are repeated, and a /readyz that does not pass every call on to Temporal.
// Over real HTTP, on the run's real dev server; the requests below are refused before any
// workflow would start, so no worker is needed.

interface Answer {
  status: number;
  text: string;
  body: ReceiverAnswer;
  headers: Headers;
}

/** An unsigned POST as if from `from` (the receiver trusts X-Forwarded-For from 127.0.0.1). */
async function postFrom(receiver: Receiver, source: string, from: string): Promise<Answer> {
  const res = await fetch(`${receiver.url}/webhooks/${source}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
    body: '{}',
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as ReceiverAnswer, headers: res.headers };
}

describe('receiver edges over real HTTP', () => {
  let env: TestWorkflowEnvironment;
  let receiver: Receiver;
  const logs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    env = await connectTestEnv();
    receiver = await startReceiver({
      env,
      taskQueue: 'edge-nothing-starts',
      trustProxy: ['127.0.0.1'],
      sourceEnv: { WEBHOOK_RATE_LIMIT_OMS: '3/min' },
      unknownSourceRateLimit: { requests: 10, perSeconds: 3600 },
      logger: createLogger({ write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>) }),
    });
  });
  afterAll(async () => {
    await receiver?.close();
    await env?.teardown();
  });

  describe('per-sender rate limits', () => {
    it('addresses rotating inside one IPv6 /64 share one bucket; the next /64 has its own', async () => {
      const inside = ['2001:db8:abcd:12::1', '2001:db8:abcd:12::2', '2001:db8:abcd:12:ffff:ffff:ffff:fffe'];
      // Unsigned, so each answer within the limit is the verifier's 401: it took a token.
      for (const from of inside) expect((await postFrom(receiver, 'oms', from)).status, from).toBe(401);
      const rotated = await postFrom(receiver, 'oms', '2001:db8:abcd:12:1234::99');
      expect(rotated.status, rotated.text).toBe(429);
      expect(rotated.body).toMatchObject({ type: 'urn:hookline:problem:rate-limited', retryable: true });
      expect(rotated.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await postFrom(receiver, 'oms', '2001:db8:abcd:13::1')).status).toBe(401);
    });

    it('an IPv4-mapped IPv6 address is the IPv4 address', async () => {
      for (let i = 0; i < 3; i++) expect((await postFrom(receiver, 'oms', '::ffff:198.51.100.7')).status).toBe(401);
      expect((await postFrom(receiver, 'oms', '198.51.100.7')).status).toBe(429);
      expect((await postFrom(receiver, 'oms', '198.51.100.8')).status).toBe(401);
    });
  });

  describe('unknown sources', () => {
    it('are rate-limited per address, whatever names are tried', async () => {
      const from = '203.0.113.50';
      for (let i = 0; i < 10; i++) {
        const res = await postFrom(receiver, `probe-${i}`, from);
        expect(res.status, res.text).toBe(404);
        expect(res.body).toMatchObject({ type: 'urn:hookline:problem:unknown-source' });
      }
      const limited = await postFrom(receiver, 'probe-10', from);
      expect(limited.status, limited.text).toBe(429);
      expect(limited.body).toMatchObject({ type: 'urn:hookline:problem:rate-limited', retryable: true });
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // Logged as a refusal like any other, under the requested name.
      expect(logs.find((l) => l.source === 'probe-10')).toMatchObject({ msg: 'webhook', outcome: 'refused', status: 429 });
      // Its own bucket: the configured source from the same address, and another address, are unaffected.
      expect((await postFrom(receiver, 'oms', from)).status).toBe(401);
      expect((await postFrom(receiver, 'probe-11', '203.0.113.51')).status).toBe(404);
    });

    it('a long name is cut to 64 characters in the answer and the log line', async () => {
      const name = `x-${'long-name-'.repeat(800)}`;
      expect(name.length).toBeGreaterThan(8_000);
      const cut = `${name.slice(0, 64)}…`;
      const res = await postFrom(receiver, name, '203.0.113.60');
      expect(res.status, res.text.slice(0, 300)).toBe(404);
      expect(res.body.detail).toBe(`No webhook source named ${JSON.stringify(cut)} is configured.`);
      expect(res.text).not.toContain(name.slice(0, 65));
      const line = logs.find((l) => l.status === 404 && typeof l.source === 'string' && l.source.startsWith('x-long-name-'));
      expect(line).toMatchObject({ msg: 'webhook', outcome: 'refused', source: cut });
      expect(JSON.stringify(line).length).toBeLessThan(500);
    });
  });

  describe('slow senders', () => {
    // Short, so the tests are quick; production's default is 10 s (RECEIVER_REQUEST_TIMEOUT).
    const BOUND_MS = 1_500;
    let slow: Receiver;
    let port: number;
    const slowLogs: Record<string, unknown>[] = [];
    beforeAll(async () => {
      slow = await startReceiver({
        env,
        taskQueue: 'edge-nothing-starts',
        requestTimeoutMs: BOUND_MS,
        logger: createLogger({ write: (line) => slowLogs.push(JSON.parse(line) as Record<string, unknown>) }),
      });
      port = Number(new URL(slow.url).port);
    });
    afterAll(() => slow?.close());

    /** Writes `chunks` over a real socket, `gapMs` apart, and resolves once the server closes the connection. */
    function send(chunks: string[], gapMs = 0): Promise<{ raw: string; closedAfterMs: number }> {
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const socket = net.connect(port, '127.0.0.1');
        let raw = '';
        let timer: NodeJS.Timeout | undefined;
        const giveUp = setTimeout(() => {
          socket.destroy();
          reject(new Error(`still open after 30 s; received ${JSON.stringify(raw)}`));
        }, 30_000);
        socket.on('connect', () => {
          const next = (i: number) => {
            if (i >= chunks.length || socket.destroyed) return;
            socket.write(chunks[i]!);
            timer = setTimeout(() => next(i + 1), gapMs);
          };
          next(0);
        });
        socket.on('data', (d: Buffer) => (raw += d.toString('latin1')));
        socket.on('error', () => undefined);
        socket.on('close', () => {
          clearTimeout(timer);
          clearTimeout(giveUp);
          resolve({ raw, closedAfterMs: Date.now() - started });
        });
      });
    }

    function expect408(answer: { raw: string; closedAfterMs: number }): void {
      expect(answer.raw).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer.raw).toMatch(/\r\nconnection: close\r\n/i);
      expect(answer.raw).toMatch(/\r\ncontent-type: application\/problem\+json\r\n/i);
      const body = JSON.parse(answer.raw.slice(answer.raw.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
      expect(body).toMatchObject({ type: 'urn:hookline:problem:request-timeout', status: 408, retryable: true });
      // Not before the bound, and soon after it: the check runs every quarter of the bound here.
      expect(answer.closedAfterMs).toBeGreaterThanOrEqual(BOUND_MS - 50);
      expect(answer.closedAfterMs).toBeLessThan(BOUND_MS + 5_000);
    }

    it('a chunked POST whose body never comes is answered 408 and closed within the bound (fuzzing found it)', async () => {
      // The counterexample of seed -2069578895: headers announce a chunked body, then nothing.
      const answer = await send([
        'POST /webhooks/oms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      ]);
      expect408(answer);
      expect(slowLogs).toContainEqual(
        expect.objectContaining({
          msg: 'request refused',
          status: 408,
          method: 'POST',
          path: '/webhooks/oms',
          reason: 'ERR_HTTP_REQUEST_TIMEOUT',
        }),
      );
      // The request's own line and its metrics say what the sender was told (once the body's read is given up).
      await expect
        .poll(() => slowLogs.filter((l) => l.msg === 'webhook'), { timeout: 10_000 })
        .toContainEqual(
          expect.objectContaining({
            msg: 'webhook',
            source: 'oms',
            outcome: 'refused',
            status: 408,
            problem: 'urn:hookline:problem:request-timeout',
          }),
        );
      const metrics = await (await fetch(`${slow.url}/metrics`)).text();
      expect(metrics).toMatch(/hookline_webhook_refusals_total\{source="oms",problem="request-timeout"\} 1/);
      expect(slowLogs.filter((l) => l.level === 'error')).toEqual([]);
    });

    it('a body trickling in a byte at a time is cut at the bound too: it is a deadline, not an idle timer', async () => {
      const head = 'POST /webhooks/oms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n';
      expect408(await send([head, ...('{"a":"' + 'x'.repeat(90))], 100));
    });

    it('headers that never finish, and a connection that sends nothing, get the same answer', async () => {
      expect408(await send(['POST /webhooks/oms HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Slow: 1\r\n'], 200));
      expect408(await send([]));
    });

    it('on a keep-alive connection the bound starts again with each request; an idle connection closes without a 408', async () => {
      const first = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
      const stalled = await send([first, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n'], 300);
      expect(stalled.raw).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\n\{"status":"ok"\}HTTP\/1\.1 408 /);
      expect(stalled.closedAfterMs).toBeGreaterThanOrEqual(300 + BOUND_MS - 50);
      // Between requests Node's keep-alive timeout (5 s) applies: closed, nothing unasked for sent.
      const idle = await send([first]);
      expect(idle.raw).toMatch(/^HTTP\/1\.1 200 /);
      expect(idle.raw).not.toContain('408');
      expect(idle.closedAfterMs).toBeGreaterThanOrEqual(4_900);
    });

    it('a request that arrives in time is answered as usual, and the receiver keeps serving', async () => {
      const answer = await send(['GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n']);
      expect(answer.raw).toMatch(/^HTTP\/1\.1 200 /);
      expect(answer.closedAfterMs).toBeLessThan(BOUND_MS);
      expect((await fetch(`${slow.url}/healthz`)).status).toBe(200);
    });
  });

  describe('/readyz', () => {
    const servers: http.Server[] = [];
    afterAll(async () => {
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });

    /** A receiver whose Temporal check is the real one, counted. */
    async function readyReceiver(readyCacheMs: number | undefined): Promise<{ url: string; checks: () => number }> {
      let checks = 0;
      const app = createApp({
        sources: loadSources(testSecretsEnv()),
        intake: createIntake({ client: env.client, taskQueue: 'edge-readyz', startTimeoutMs: 5_000, quarantineKeepForMs: 60_000 }),
        logger: silentLogger,
        maxBodyBytes: 1024,
        retryAfterSeconds: 5,
        trustProxy: false,
        isTemporalReachable: () => {
          checks++;
          return isReachable(env.client);
        },
        ...(readyCacheMs === undefined ? {} : { readyCacheMs }),
      });
      const server = http.createServer(app);
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, checks: () => checks };
    }

    const ready = async (url: string) => {
      const res = await fetch(`${url}/readyz`);
      expect(res.status, await res.clone().text()).toBe(200);
      expect(await res.json()).toEqual({ status: 'ready', temporal: 'reachable' });
    };

    it('twenty concurrent and five repeated calls within the window ask Temporal once', async () => {
      const r = await readyReceiver(60_000);
      await Promise.all(Array.from({ length: 20 }, () => ready(r.url)));
      expect(r.checks()).toBe(1);
      for (let i = 0; i < 5; i++) await ready(r.url);
      expect(r.checks()).toBe(1);
    });

    it('asks again once the window has passed, and every time with readyCacheMs 0', async () => {
      const r = await readyReceiver(200);
      await ready(r.url);
      expect(r.checks()).toBe(1);
      // One call at a time until the 200 ms window has passed: then exactly one more check.
      await expect
        .poll(
          async () => {
            await ready(r.url);
            return r.checks();
          },
          { timeout: 10_000, interval: 50 },
        )
        .toBe(2);

      const uncached = await readyReceiver(0);
      for (let i = 0; i < 3; i++) await ready(uncached.url);
      expect(uncached.checks()).toBe(3);
    });
  });
});

describe('cachedCheck', () => {
  it('shares the call in flight with every caller, and does not remember a failure', async () => {
    let calls = 0;
    let up = false;
    const check = cachedCheck(async () => {
      calls++;
      // Settles on a later turn, so the three calls below overlap it.
      await new Promise((resolve) => setImmediate(resolve));
      if (!up) throw new Error('down');
      return 'up';
    }, 60_000);
    const failed = await Promise.allSettled([check(), check(), check()]);
    expect(failed.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : r.status))).toEqual(['down', 'down', 'down']);
    expect(calls).toBe(1);
    up = true;
    expect(await check()).toBe('up');
    expect(await check()).toBe('up');
    expect(calls).toBe(2);
  });
});
