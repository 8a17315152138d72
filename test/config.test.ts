import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import { loadReceiverConfig } from '../src/config/receiver';
import { loadTemporalConfig } from '../src/config/temporal';
import { loadWorkerConfig } from '../src/config/worker';
import { loadSources } from '../src/receiver/sources';
import { sandboxWorkerEnv } from '../src/sandbox';

const systems = sandboxWorkerEnv('http://127.0.0.1:4010');

describe('configuration', () => {
  it('has sensible defaults', () => {
    const receiver = loadReceiverConfig({});
    expect(receiver).toMatchObject({ port: 3000, maxBodyBytes: 262144, trustProxy: false, startTimeoutMs: 5000 });
    expect(receiver.temporal).toMatchObject({ address: 'localhost:7233', namespace: 'default', taskQueue: 'hookline' });
    expect([...receiver.sources.keys()]).toEqual(['oms', 'crm', 'payments', 'carrier']);
    expect(receiver.sources.get('payments')).toMatchObject({ scheme: 'stripe', secrets: [], toleranceSeconds: 300 });
    const worker = loadWorkerConfig(systems);
    expect(worker).toMatchObject({ databaseUrl: 'sqlite:.data/hookline.db', agent: { returnPolicyDays: 30, returnReceiptWindowMs: 30 * 86_400_000 } });
    // Metrics: the receiver's /metrics open, the worker's exporter off (a fixed port would clash).
    expect(receiver.metricsToken).toBeUndefined();
    expect(worker.metricsAddress).toBeUndefined();
  });

  it('reads the metrics settings', () => {
    expect(loadReceiverConfig({ METRICS_TOKEN: 'm'.repeat(16) }).metricsToken).toBe('m'.repeat(16));
    expect(loadWorkerConfig({ ...systems, WORKER_METRICS_ADDRESS: '0.0.0.0:9464' }).metricsAddress).toBe('0.0.0.0:9464');
    expect(loadWorkerConfig({ ...systems, WORKER_METRICS_ADDRESS: '[::1]:9464' }).metricsAddress).toBe('[::1]:9464');
    expect(loadWorkerConfig({ ...systems, WORKER_METRICS_ADDRESS: 'off' }).metricsAddress).toBeUndefined();
    expect(() => loadReceiverConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN: expected a token of at least 16 characters/);
    // The SDK's exporter binds a socket address: a host name, a missing or zero port are refused up front.
    for (const wrong of ['localhost:9464', '9464', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000']) {
      expect(() => loadWorkerConfig({ ...systems, WORKER_METRICS_ADDRESS: wrong }), wrong).toThrow(/WORKER_METRICS_ADDRESS: expected ip:port/);
    }
  });

  it('names every wrong variable and what it expected', () => {
    expect(() => loadReceiverConfig({ PORT: 'eighty', WEBHOOK_MAX_BODY_BYTES: '-1' })).toThrow(/PORT: expected a port number \(got "eighty"\)[\s\S]*WEBHOOK_MAX_BODY_BYTES/);
    expect(() => loadTemporalConfig({ TEMPORAL_ADDRESS: 'http://localhost:7233' })).toThrow(/TEMPORAL_ADDRESS: expected host:port/);
    expect(() => loadTemporalConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/nope.pem' })).toThrow(/TEMPORAL_TLS_CLIENT_CERT_PATH: expected the path of an existing/);
    expect(() => loadWorkerConfig({})).toThrow(/CRM_BASE_URL: .*\(not set\)/);
    expect(() => loadWorkerConfig({ ...systems, RETURN_RECEIPT_WINDOW: 'soon' })).toThrow(/RETURN_RECEIPT_WINDOW: expected a duration/);
    expect(() => loadSources({ WEBHOOK_SCHEME_OMS: 'md5' })).toThrow(/WEBHOOK_SCHEME_OMS: expected one of/);
    expect(() => loadSources({ WEBHOOK_ALLOW_IPS_OMS: '10.0.0.0/33' })).toThrow(/WEBHOOK_ALLOW_IPS_OMS/);
    expect(() => loadSources({ WEBHOOK_RATE_LIMIT_CRM: 'lots' })).toThrow(/WEBHOOK_RATE_LIMIT_CRM: expected requests per period/);
    expect(() => loadSources({ WEBHOOK_SOURCES: 'github' })).toThrow(/WEBHOOK_SCHEME_GITHUB: .*required for a source that is not built in/);
    expect(() => loadReceiverConfig({ WEBHOOK_MAX_BODY_BYTES: String(4 * 1024 * 1024) })).toThrow(/WEBHOOK_MAX_BODY_BYTES: expected at most 262144 bytes/);
    // The crm source verifies Standard Webhooks: its key must decode, and the message must not echo it.
    expect(() => loadSources({ WEBHOOK_SECRET_CRM: 'whsec_not base64!' })).toThrow(/WEBHOOK_SECRET_CRM: expected whsec_ followed by base64 for the standard-webhooks scheme \(the value is not shown\)$/);
  });

  it('refuses the retired shared OPERATOR_TOKEN without echoing it, and reads the operators\' settings', () => {
    const secret = 'a-shared-token-from-before-0123456789';
    let message = '';
    try {
      loadReceiverConfig({ OPERATOR_TOKEN: secret });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/OPERATOR_TOKEN: no longer used: every operator has a token of their own.*npm run operators -- add/);
    expect(message).not.toContain(secret);
    const receiver = loadReceiverConfig({});
    expect(receiver).toMatchObject({ databaseUrl: 'sqlite:.data/hookline.db', operatorSessionTtlMs: 12 * 3_600_000, plainHttp: false });
    expect(loadReceiverConfig({ RECEIVER_PLAIN_HTTP: 'true', OPERATOR_SESSION_TTL: '30m' })).toMatchObject({ plainHttp: true, operatorSessionTtlMs: 1_800_000 });
    expect(() => loadReceiverConfig({ RECEIVER_PLAIN_HTTP: 'maybe' })).toThrow(/RECEIVER_PLAIN_HTTP: expected true or false/);
  });

  it('reads per-source settings', () => {
    const sources = loadSources({
      WEBHOOK_SOURCES: 'github',
      WEBHOOK_SCHEME_GITHUB: 'hmac-sha256-hex',
      WEBHOOK_HEADER_GITHUB: 'X-Hub-Signature-256',
      WEBHOOK_SECRET_GITHUB: 'old, new',
      WEBHOOK_RATE_LIMIT_GITHUB: '600/min',
      WEBHOOK_ALLOW_IPS_GITHUB: '192.30.252.0/22,2001:db8::/32',
      WEBHOOK_EVENTS_GITHUB: '*',
    });
    const github = sources.get('github')!;
    expect(github).toMatchObject({ signatureHeader: 'x-hub-signature-256', secrets: ['old', 'new'], rateLimit: { requests: 600, perSeconds: 60 } });
    expect(github.allowlist?.contains('192.30.253.7')).toBe(true);
    expect(github.allowlist?.contains('2001:db8::1')).toBe(true);
    expect(github.allowlist?.contains('10.0.0.1')).toBe(false);
    expect(github.eventTypes.size).toBe(12);
  });
});

describe('the workflow sandbox line', () => {
  it('lint rejects Node builtins and runtime imports of activities in workflows/', async () => {
    const eslint = new ESLint();
    const probe = [
      "import { readFileSync } from 'node:fs';",
      "import { Client } from '@temporalio/client';",
      "import { createActivities } from '../activities';",
      "import type { AgentActivities } from '../activities';",
      'export const used = [readFileSync, Client, createActivities];',
      'export type Allowed = AgentActivities;',
    ].join('\n');
    const [result] = await eslint.lintText(probe, { filePath: 'workflows/probe.ts' });
    const restricted = result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.line);
    expect(restricted).toEqual([1, 2, 3]);
  });
});
