import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import { z } from 'zod';
import { isSecretVariable, parseEnv } from '../src/config/env';
import { loadReceiverConfig } from '../src/config/receiver';
import { loadTemporalConfig } from '../src/config/temporal';
import { DEFAULT_PRIORITIES, priorityOf } from '../src/events/priorities';
import { loadWorkerConfig } from '../src/config/worker';
import { devSecretsEnv, loadOrCreateDevSecrets } from '../src/dev/secrets';
import { loadSources } from '../src/receiver/sources';
import { EVENT_TYPES } from '../src/events/schemas';
import { sandboxWorkerEnv } from '../src/sandbox';

const systems = sandboxWorkerEnv('http://127.0.0.1:4010');

describe('configuration', () => {
  it('has sensible defaults', () => {
    const receiver = loadReceiverConfig({});
    expect(receiver).toMatchObject({ port: 3000, maxBodyBytes: 262144, trustProxy: false, startTimeoutMs: 5000 });
    // Unset: the router's own default for names that are not configured sources.
    expect(receiver.unknownSourceRateLimit).toBeUndefined();
    expect(loadReceiverConfig({ WEBHOOK_UNKNOWN_SOURCE_RATE_LIMIT: '10/s' }).unknownSourceRateLimit).toEqual({
      requests: 10,
      perSeconds: 1,
    });
    expect(receiver.temporal).toMatchObject({ address: 'localhost:7233', namespace: 'default', taskQueue: 'hookline' });
    expect([...receiver.sources.keys()]).toEqual(['oms', 'crm', 'payments', 'carrier']);
    expect(receiver.sources.get('payments')).toMatchObject({ scheme: 'stripe', secrets: [], toleranceSeconds: 300 });
    const worker = loadWorkerConfig(systems);
    // Versioned unless measured otherwise, in the deployment every worker joins.
    expect(worker).toMatchObject({ versioning: true, temporal: { deploymentName: 'hookline' } });
    expect(worker).toMatchObject({
      databaseUrl: 'sqlite:.data/hookline.db',
      agent: { returnPolicyDays: 30, returnReceiptWindowMs: 30 * 86_400_000 },
    });
    // Metrics: the receiver's /metrics open, the worker's exporter off (a fixed port would clash).
    expect(receiver.metricsToken).toBeUndefined();
    expect(worker.metricsAddress).toBeUndefined();
  });

  it("finds the receiver's database (its spool and quarantined bodies) as the receiver does, for privacy erasures", () => {
    expect(loadWorkerConfig(systems).receiverStore).toEqual({ url: 'sqlite:.data/spool.db', scope: 'default/hookline' });
    expect(loadWorkerConfig({ ...systems, HOOKLINE_DATA_DIR: '/srv/h', HOOKLINE_TASK_QUEUE: 'q' }).receiverStore).toEqual({
      url: 'sqlite:/srv/h/spool.db',
      scope: 'default/q',
    });
    expect(loadWorkerConfig({ ...systems, DATABASE_URL: 'postgres://h/db' }).receiverStore.url).toBe('postgres://h/db');
    expect(loadWorkerConfig({ ...systems, DATABASE_URL: 'postgres://h/db', SPOOL_URL: 'postgres://s/spool' }).receiverStore.url).toBe(
      'postgres://s/spool',
    );
    expect(() => loadWorkerConfig({ ...systems, SPOOL_URL: 'mysql://x' })).toThrow(/SPOOL_URL/);
  });

  it('reads the language model settings, all or nothing', () => {
    expect(loadWorkerConfig(systems).model).toBeUndefined();
    const withModel = loadWorkerConfig({ ...systems, LLM_BASE_URL: 'http://127.0.0.1:11434/v1', LLM_MODEL: 'llama3.1' });
    expect(withModel.model).toEqual({ baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.1', timeoutMs: 30_000, maxTokens: 512 });
    // How long a person's escalation waits for the model's suggestion: 20 s unless LLM_SUGGESTION_BUDGET says.
    expect(withModel.agent).toMatchObject({ model: 'llama3.1', modelSuggestionBudgetMs: 20_000 });
    expect(
      loadWorkerConfig({ ...systems, LLM_BASE_URL: 'http://127.0.0.1:11434/v1', LLM_MODEL: 'llama3.1', LLM_SUGGESTION_BUDGET: '90s' }).agent
        .modelSuggestionBudgetMs,
    ).toBe(90_000);
    expect(() => loadWorkerConfig({ ...systems, LLM_SUGGESTION_BUDGET: 'soon' })).toThrow(/LLM_SUGGESTION_BUDGET/);
    expect(() => loadWorkerConfig({ ...systems, LLM_BASE_URL: 'https://api.openai.com/v1' })).toThrow(
      /LLM_MODEL: required with LLM_BASE_URL/,
    );
    expect(() => loadWorkerConfig({ ...systems, LLM_MODEL: 'gpt-4o-mini' })).toThrow(/LLM_BASE_URL: required with LLM_MODEL/);
    // The key is a secret: a start-up error shows its length, never its value.
    let message = '';
    try {
      loadWorkerConfig({ ...systems, LLM_API_KEY: 'sk-live-0123456789abcdef' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/LLM_BASE_URL: required/);
    expect(message).not.toContain('sk-live-0123456789abcdef');
  });

  it('reads the metrics settings', () => {
    expect(loadReceiverConfig({ METRICS_TOKEN: 'm'.repeat(16) }).metricsToken).toBe('m'.repeat(16));
    expect(loadWorkerConfig({ ...systems, WORKER_METRICS_ADDRESS: '0.0.0.0:9464' }).metricsAddress).toBe('0.0.0.0:9464');
    expect(loadWorkerConfig({ ...systems, WORKER_METRICS_ADDRESS: '[::1]:9464' }).metricsAddress).toBe('[::1]:9464');
    expect(loadWorkerConfig({ ...systems, WORKER_METRICS_ADDRESS: 'off' }).metricsAddress).toBeUndefined();
    expect(() => loadReceiverConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN: expected a token of at least 16 characters/);
    // The SDK's exporter binds a socket address: a host name, a missing or zero port are refused up front.
    for (const wrong of ['localhost:9464', '9464', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000']) {
      expect(() => loadWorkerConfig({ ...systems, WORKER_METRICS_ADDRESS: wrong }), wrong).toThrow(
        /WORKER_METRICS_ADDRESS: expected ip:port/,
      );
    }
  });

  it('priorities: the documented defaults, PRIORITY_<EVENT_TYPE> and WEBHOOK_WEIGHT_<SOURCE> over them, bad values named', () => {
    const defaults = loadTemporalConfig({}).priorities;
    expect(defaults.byEventType).toEqual(DEFAULT_PRIORITIES);
    expect(priorityOf(defaults, 'customer.inquiry.new', 'crm')).toEqual({ priorityKey: 1, fairnessKey: 'crm', fairnessWeight: 1 });
    expect(priorityOf(defaults, undefined, 'oms').priorityKey).toBe(5);
    const set = loadTemporalConfig({ PRIORITY_ORDER_STATUS_UPDATED: '2', WEBHOOK_WEIGHT_SHOP_B: '0.5' }).priorities;
    expect(priorityOf(set, 'order.status_updated', 'shop-b')).toEqual({ priorityKey: 2, fairnessKey: 'shop-b', fairnessWeight: 0.5 });
    expect(set.byEventType['customer.updated']).toBe(4);
    expect(() => loadTemporalConfig({ PRIORITY_CUSTOMER_UPDATED: '0', WEBHOOK_WEIGHT_OMS: 'heavy' })).toThrow(
      new RegExp(
        'PRIORITY_CUSTOMER_UPDATED: expected a priority key from 1 \\(first\\) to 5 \\(last\\) \\(got "0"\\)[\\s\\S]*' +
          'WEBHOOK_WEIGHT_OMS: expected a weight from 0.001 to 1000',
      ),
    );
  });

  it('names every wrong variable and what it expected', () => {
    expect(() => loadReceiverConfig({ PORT: 'eighty', WEBHOOK_MAX_BODY_BYTES: '-1' })).toThrow(
      /PORT: expected a port number \(got "eighty"\)[\s\S]*WEBHOOK_MAX_BODY_BYTES/,
    );
    expect(() => loadTemporalConfig({ TEMPORAL_ADDRESS: 'http://localhost:7233' })).toThrow(/TEMPORAL_ADDRESS: expected host:port/);
    expect(() => loadTemporalConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/nope.pem' })).toThrow(
      /TEMPORAL_TLS_CLIENT_CERT_PATH: expected the path of an existing/,
    );
    expect(() => loadWorkerConfig({})).toThrow(/CRM_BASE_URL: .*\(not set\)/);
    // Temporal writes a version as deployment:build, so a name with a colon could not be read back.
    expect(() => loadTemporalConfig({ HOOKLINE_DEPLOYMENT_NAME: 'hook:line' })).toThrow(/HOOKLINE_DEPLOYMENT_NAME: expected letters/);
    expect(() => loadWorkerConfig({ ...systems, WORKER_VERSIONING: 'maybe' })).toThrow(/WORKER_VERSIONING: expected on or off/);
    expect(() => loadWorkerConfig({ ...systems, RETURN_RECEIPT_WINDOW: 'soon' })).toThrow(/RETURN_RECEIPT_WINDOW: expected a duration/);
    expect(() => loadWorkerConfig({ ...systems, WORKER_NONSTICKY_POLL_RATIO: '2' })).toThrow(
      /WORKER_NONSTICKY_POLL_RATIO: expected a number between 0.1 and 1/,
    );
    expect(() => loadWorkerConfig({ ...systems, WORKER_NONSTICKY_POLL_RATIO: 'half' })).toThrow(/WORKER_NONSTICKY_POLL_RATIO/);
    // New work gets half the polls unless set: the SDK's 0.2 starved a quiet shop behind a flood's running workflows.
    expect(loadWorkerConfig(systems).nonStickyPollRatio).toBe(0.5);
    expect(loadWorkerConfig({ ...systems, WORKER_NONSTICKY_POLL_RATIO: '0.2' }).nonStickyPollRatio).toBe(0.2);
    // Eight workflow tasks at once unless set, so an urgent one does not queue inside the worker behind 39 routine ones.
    expect(loadWorkerConfig(systems).slots).toEqual({ workflowTasks: 8, activities: 100, localActivities: 100 });
    expect(loadWorkerConfig({ ...systems, WORKER_WORKFLOW_TASK_SLOTS: '40', WORKER_LOCAL_ACTIVITY_SLOTS: '20' }).slots).toMatchObject({
      workflowTasks: 40,
      localActivities: 20,
    });
    expect(() => loadWorkerConfig({ ...systems, WORKER_ACTIVITY_SLOTS: '0' })).toThrow(
      /WORKER_ACTIVITY_SLOTS: expected a number of tasks at once greater than 0/,
    );
    expect(() => loadWorkerConfig({ ...systems, WORKER_WORKFLOW_TASK_SLOTS: 'many' })).toThrow(
      /WORKER_WORKFLOW_TASK_SLOTS: expected a number/,
    );
    expect(() => loadSources({ WEBHOOK_SCHEME_OMS: 'md5' })).toThrow(/WEBHOOK_SCHEME_OMS: expected one of/);
    expect(() => loadSources({ WEBHOOK_ALLOW_IPS_OMS: '10.0.0.0/33' })).toThrow(/WEBHOOK_ALLOW_IPS_OMS/);
    expect(() => loadSources({ WEBHOOK_RATE_LIMIT_CRM: 'lots' })).toThrow(/WEBHOOK_RATE_LIMIT_CRM: expected requests per period/);
    expect(() => loadReceiverConfig({ WEBHOOK_UNKNOWN_SOURCE_RATE_LIMIT: 'lots' })).toThrow(
      /WEBHOOK_UNKNOWN_SOURCE_RATE_LIMIT: expected requests per period such as 60\/min.* \(got "lots"\)/,
    );
    expect(() => loadSources({ WEBHOOK_SOURCES: 'github' })).toThrow(/WEBHOOK_SCHEME_GITHUB: .*required for a source that is not built in/);
    expect(() => loadReceiverConfig({ WEBHOOK_MAX_BODY_BYTES: String(4 * 1024 * 1024) })).toThrow(
      /WEBHOOK_MAX_BODY_BYTES: expected at most 262144 bytes/,
    );
    // The crm source verifies Standard Webhooks: its key must decode, and the message must not echo it.
    expect(() => loadSources({ WEBHOOK_SECRET_CRM: 'whsec_not base64!' })).toThrow(
      /WEBHOOK_SECRET_CRM: expected whsec_ followed by base64 for the standard-webhooks scheme \(the value is not shown\)$/,
    );
  });

  it("refuses the retired shared OPERATOR_TOKEN without echoing it, and reads the operators' settings", () => {
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
    expect(loadReceiverConfig({ RECEIVER_PLAIN_HTTP: 'true', OPERATOR_SESSION_TTL: '30m' })).toMatchObject({
      plainHttp: true,
      operatorSessionTtlMs: 1_800_000,
    });
    expect(() => loadReceiverConfig({ RECEIVER_PLAIN_HTTP: 'maybe' })).toThrow(/RECEIVER_PLAIN_HTTP: expected true or false/);
  });

  it('bounds how long a request may take to arrive: 10 s unless RECEIVER_REQUEST_TIMEOUT says otherwise', () => {
    expect(loadReceiverConfig({}).requestTimeoutMs).toBe(10_000);
    expect(loadReceiverConfig({ RECEIVER_REQUEST_TIMEOUT: '30s' }).requestTimeoutMs).toBe(30_000);
    expect(() => loadReceiverConfig({ RECEIVER_REQUEST_TIMEOUT: 'soon' })).toThrow(/RECEIVER_REQUEST_TIMEOUT: expected a duration/);
  });

  it('finds every local file in one data directory: HOOKLINE_DATA_DIR, else .data', () => {
    const dir = '/var/lib/hookline';
    expect(loadReceiverConfig({ HOOKLINE_DATA_DIR: dir })).toMatchObject({
      databaseUrl: 'sqlite:/var/lib/hookline/hookline.db',
      spool: { url: 'sqlite:/var/lib/hookline/spool.db' },
    });
    expect(loadWorkerConfig({ ...systems, HOOKLINE_DATA_DIR: dir }).databaseUrl).toBe('sqlite:/var/lib/hookline/hookline.db');
    expect(loadReceiverConfig({}).spool.url).toBe('sqlite:.data/spool.db');
    // DATABASE_URL, when set, wins.
    expect(loadReceiverConfig({ HOOKLINE_DATA_DIR: dir, DATABASE_URL: 'sqlite:/elsewhere/kb.db' }).databaseUrl).toBe(
      'sqlite:/elsewhere/kb.db',
    );
  });

  it('reads per-source settings', () => {
    const sources = loadSources({
      WEBHOOK_SOURCES: 'github',
      WEBHOOK_SCHEME_GITHUB: 'hmac-sha256-hex',
      WEBHOOK_HEADER_GITHUB: 'X-Hub-Signature-256',
      WEBHOOK_SECRET_GITHUB: 'old-github-secret-1, new-github-secret-2',
      WEBHOOK_RATE_LIMIT_GITHUB: '600/min',
      WEBHOOK_ALLOW_IPS_GITHUB: '192.30.252.0/22,2001:db8::/32',
      WEBHOOK_EVENTS_GITHUB: '*',
    });
    const github = sources.get('github')!;
    expect(github).toMatchObject({
      signatureHeader: 'x-hub-signature-256',
      secrets: ['old-github-secret-1', 'new-github-secret-2'],
      rateLimit: { requests: 600, perSeconds: 60 },
    });
    expect(github.allowlist?.contains('192.30.253.7')).toBe(true);
    expect(github.allowlist?.contains('2001:db8::1')).toBe(true);
    expect(github.allowlist?.contains('10.0.0.1')).toBe(false);
    expect(github.eventTypes.size).toBe(EVENT_TYPES.length);
  });
});

/** The message `load` throws, which must exist. */
function messageOf(load: () => unknown): string {
  try {
    load();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error('expected the configuration to be refused');
}

describe('secrets in configuration errors', () => {
  // Each malformed value still holds most of a real secret; none of it may be printed.
  const cases: { variable: string; load: () => unknown; hidden: string[]; shown: RegExp }[] = [
    {
      variable: 'METRICS_TOKEN',
      load: () => loadReceiverConfig({ METRICS_TOKEN: 'mt-s3cr3t' }),
      hidden: ['mt-s3cr3t'],
      shown: /METRICS_TOKEN: expected a token of at least 16 characters \(got 9 characters, a secret not shown\)/,
    },
    {
      variable: 'SMTP_URL',
      load: () => loadWorkerConfig({ ...systems, SMTP_URL: 'http://mailer:smtp-pa55word@mail.example.com:587/relay?auth=smtp-t0ken' }),
      hidden: ['mailer', 'smtp-pa55word', 'relay', 'smtp-t0ken'],
      shown: /SMTP_URL: expected smtp:.* \(got http:\/\/\*\*\*@mail\.example\.com:587\/…, a secret shown only in outline\)/,
    },
    {
      // No scheme, so not even an outline: the length only.
      variable: 'AGENTS_CHAT_WEBHOOK_URL',
      load: () => loadWorkerConfig({ ...systems, AGENTS_CHAT_WEBHOOK_URL: 'hooks.example.com/services/T000/B000/chat-s3cr3t' }),
      hidden: ['hooks.example.com', 'chat-s3cr3t'],
      shown: /AGENTS_CHAT_WEBHOOK_URL: expected a chat webhook URL .* \(got 48 characters, a secret not shown\)/,
    },
    {
      variable: 'DATABASE_URL',
      load: () => loadWorkerConfig({ ...systems, DATABASE_URL: 'mysql://app:db-pa55word@db.internal:3306/kb' }),
      hidden: ['app:', 'db-pa55word', '/kb'],
      shown:
        /DATABASE_URL: expected sqlite:<path> or postgres:.* \(got mysql:\/\/\*\*\*@db\.internal:3306\/…, a secret shown only in outline\)/,
    },
    {
      // No loader can refuse these today (any string is a token); the rule must hold when one does.
      variable: 'CRM_API_TOKEN',
      load: () =>
        parseEnv(z.object({ CRM_API_TOKEN: z.string().startsWith('sk_', 'expected an sk_ token') }), { CRM_API_TOKEN: 'pk_crm-s3cr3t' }),
      hidden: ['pk_crm-s3cr3t'],
      shown: /CRM_API_TOKEN: expected an sk_ token \(got 13 characters, a secret not shown\)/,
    },
    {
      variable: 'WEBHOOK_SECRET_GITHUB',
      load: () =>
        parseEnv(z.object({ WEBHOOK_SECRET_GITHUB: z.string().min(64, 'expected 64 characters') }), { WEBHOOK_SECRET_GITHUB: 'gh-s3cr3t' }),
      hidden: ['gh-s3cr3t'],
      shown: /WEBHOOK_SECRET_GITHUB: expected 64 characters \(got 9 characters, a secret not shown\)/,
    },
  ];

  for (const { variable, load, hidden, shown } of cases) {
    it(`a malformed ${variable} is named, its value is not`, () => {
      const message = messageOf(load);
      expect(message).toMatch(shown);
      for (const part of hidden) expect(message).not.toContain(part);
    });
  }

  it('decides what is secret in one list: tokens, credentialed URLs, every *_API_TOKEN and WEBHOOK_SECRET_*', () => {
    for (const name of [
      'OPERATOR_TOKEN',
      'METRICS_TOKEN',
      'SANDBOX_TOKEN',
      'TEMPORAL_API_KEY',
      'SMTP_URL',
      'AGENTS_CHAT_WEBHOOK_URL',
      'DATABASE_URL',
      'SPOOL_URL',
      'PAYMENTS_API_TOKEN',
      'ANY_NEW_API_TOKEN',
      'WEBHOOK_SECRET_OMS',
      'WEBHOOK_SECRET_MY_SHOP',
    ]) {
      expect(isSecretVariable(name), name).toBe(true);
    }
    for (const name of ['PORT', 'CRM_BASE_URL', 'WEBHOOK_SCHEME_OMS', 'TEMPORAL_ADDRESS', 'API_TOKEN_HINT'])
      expect(isSecretVariable(name), name).toBe(false);
    // What is not secret is still quoted as given, so the operator sees the typo.
    expect(messageOf(() => loadReceiverConfig({ PORT: 'eighty' }))).toContain('(got "eighty")');
  });
});

describe('webhook secrets', () => {
  const base64Key = (bytes: number) => `whsec_${Buffer.alloc(bytes, 7).toString('base64')}`;

  it('refuses a secret shorter than 16 bytes, measured as each scheme keys its HMAC, without showing it', () => {
    const refused: [Record<string, string>, RegExp, string][] = [
      [
        { WEBHOOK_SECRET_OMS: 'oms-short-15byt' },
        /WEBHOOK_SECRET_OMS: expected secrets of at least 16 bytes, such as 32 random bytes \(got 15 bytes; the value is not shown\)/,
        'oms-short-15byt',
      ],
      // Rotation: every secret in the list must be long enough; the short one is pointed at.
      [
        { WEBHOOK_SECRET_CARRIER: 'carrier-long-enough-secret,tiny' },
        /WEBHOOK_SECRET_CARRIER: .*\(got secret 2 of 2: 4 bytes; the value is not shown\)/,
        'tiny',
      ],
      // Standard Webhooks keys with the base64-decoded bytes: 20 characters of base64 are 15 bytes.
      [
        { WEBHOOK_SECRET_CRM: base64Key(15) },
        /WEBHOOK_SECRET_CRM: expected secrets of at least 16 bytes of key \(base64-decoded, after whsec_\).*\(got 15 bytes;/,
        base64Key(15).slice(6),
      ],
      // Stripe keys with the string itself, but whsec_ is the same in every one of them.
      [
        { WEBHOOK_SECRET_PAYMENTS: 'whsec_stripe-15-bytes' },
        /WEBHOOK_SECRET_PAYMENTS: expected secrets of at least 16 bytes after whsec_.*\(got 15 bytes;/,
        'stripe-15-bytes',
      ],
    ];
    for (const [env, message, secret] of refused) {
      const thrown = messageOf(() => loadSources(env));
      expect(thrown).toMatch(message);
      expect(thrown).not.toContain(secret);
    }
    // Exactly 16 is enough, in each measure.
    const sources = loadSources({
      WEBHOOK_SECRET_OMS: 'oms-secret-16byt',
      WEBHOOK_SECRET_CRM: base64Key(16),
      WEBHOOK_SECRET_PAYMENTS: 'whsec_stripe-16-bytes!',
    });
    expect(sources.get('crm')?.secrets).toEqual([base64Key(16)]);
  });

  it('refuses one secret on two sources, naming both variables and neither value', () => {
    const shared = 'the-same-secret-on-two-sources';
    const thrown = messageOf(() => loadSources({ WEBHOOK_SECRET_OMS: shared, WEBHOOK_SECRET_CARRIER: `carrier-own-secret-123,${shared}` }));
    expect(thrown).toContain(
      'WEBHOOK_SECRET_OMS and WEBHOOK_SECRET_CARRIER: expected a different secret per source (one is configured on both, ' +
        "so either sender's signature would pass as the other's; the value is not shown)",
    );
    expect(thrown).not.toContain(shared);
    // The same Standard Webhooks key written with and without its optional whsec_ prefix is the same key.
    const key = base64Key(24);
    const same = messageOf(() =>
      loadSources({
        WEBHOOK_SECRET_CRM: key,
        WEBHOOK_SOURCES: 'helpdesk',
        WEBHOOK_SCHEME_HELPDESK: 'standard-webhooks',
        WEBHOOK_SECRET_HELPDESK: key.slice('whsec_'.length),
      }),
    );
    expect(same).toMatch(/WEBHOOK_SECRET_CRM and WEBHOOK_SECRET_HELPDESK: expected a different secret per source/);
    expect(same).not.toContain(key.slice('whsec_'.length));
    // Control: distinct secrets load.
    expect(loadSources({ WEBHOOK_SECRET_OMS: shared, WEBHOOK_SECRET_CARRIER: 'carrier-own-secret-123' }).get('carrier')?.secrets).toEqual([
      'carrier-own-secret-123',
    ]);
  });

  it("npm start's generated dev secrets are long enough and distinct", () => {
    const { secrets } = loadOrCreateDevSecrets(join(mkdtempSync(join(tmpdir(), 'hookline-dev-')), 'dev-secrets.json'));
    const env = devSecretsEnv(secrets, {});
    const sources = loadSources(env);
    const configured = [...sources.values()].flatMap((s) => s.secrets);
    // The seed's four and a source of each provider (enabled by the secret npm start generates for it).
    expect([...sources.keys()]).toEqual(['oms', 'crm', 'payments', 'carrier', 'shopify', 'stripe', 'easypost', 'zendesk']);
    expect(configured).toHaveLength(8);
    expect(new Set(configured).size).toBe(8);
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
