import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { connectTestEnv, startReceiver, type Receiver } from './support/harness';

// The receiver's edges under abuse: rate limits that rotating addresses cannot escape.
// Over real HTTP, on the run's real dev server; the requests below are refused before any
// workflow would start, so no worker is needed.

interface Answer {
  status: number;
  text: string;
  body: Record<string, unknown>;
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
  return { status: res.status, text, body: JSON.parse(text) as Record<string, unknown>, headers: res.headers };
}

describe('receiver edges over real HTTP', () => {
  let env: TestWorkflowEnvironment;
  let receiver: Receiver;

  beforeAll(async () => {
    env = await connectTestEnv();
    receiver = await startReceiver({
      env,
      taskQueue: 'edge-nothing-starts',
      trustProxy: ['127.0.0.1'],
      sourceEnv: { WEBHOOK_RATE_LIMIT_OMS: '3/min' },
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
});
