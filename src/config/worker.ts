import { isIP } from 'node:net';
import { z } from 'zod';
import type { AgentSettings } from '../agent/types';
import { DATABASE_URL, defaultDatabaseUrl, duration, LOG_LEVEL, parseEnv, positiveInt, url, type Env } from './env';
import { loadProvidersConfig, type OutboundProvidersConfig } from './providers';
import { loadPartnerRates, type PartnerRates } from './partners';
import { receiverDatabaseUrl } from '../spool/config';
import { loadTemporalConfig, type TemporalConfig } from './temporal';
import type { LogLevel } from '../log';
import type { ModelConfig } from '../llm/model';

const SYSTEMS = ['CRM', 'CARRIER', 'WAREHOUSE', 'INVENTORY', 'PAYMENTS'] as const;

const systemVars = Object.fromEntries(
  SYSTEMS.flatMap((s) => [
    [
      `${s}_BASE_URL`,
      url(
        `the ${s.toLowerCase()} API's base URL, e.g. https://${s.toLowerCase()}.example.com (npm start points it at the built-in sandbox)`,
      ),
    ],
    [`${s}_API_TOKEN`, z.string().optional()],
  ]),
) as Record<`${(typeof SYSTEMS)[number]}_BASE_URL`, z.ZodURL> & Record<`${(typeof SYSTEMS)[number]}_API_TOKEN`, z.ZodOptional<z.ZodString>>;

const slots = (fallback: number) => positiveInt(fallback, 'a number of tasks at once');

const WorkerEnv = z
  .object({
    LOG_LEVEL,
    DATABASE_URL,
    ...systemVars,
    UPSTREAM_TIMEOUT: duration('10s'),
    SMTP_URL: z
      .string()
      .regex(/^smtps?:\/\//, 'expected smtp://user:pass@host:port or smtps://…')
      .optional(),
    NOTIFY_FROM: z.string().default('hookline <hookline@localhost>'),
    AGENTS_CHAT_WEBHOOK_URL: url('a chat webhook URL (Slack-compatible)').optional(),
    RETURN_POLICY_DAYS: positiveInt(30, 'a number of days'),
    RETURN_RECEIPT_WINDOW: duration('30d'),
    RETURN_APPROVAL_TIMEOUT: duration('3d'),
    HANDOFF_UNCLAIMED_SLA: duration('15m'),
    HANDOFF_UNANSWERED_SLA: duration('1h'),
    // An amount and its currency (`200 USD`): never compared with another currency's amount. A bare
    // amount is in USD, as before thresholds carried a currency.
    REFUND_HANDOFF_THRESHOLD: z
      .string()
      .default('200 USD')
      .transform((text, ctx) => {
        const match = /^(\d+(?:\.\d+)?)(?:\s+([A-Za-z]{3}))?$/.exec(text.trim());
        if (!match) {
          ctx.addIssue({ code: 'custom', message: 'expected an amount and its currency, such as 200 USD' });
          return z.NEVER;
        }
        return { amount: Number(match[1]), currency: (match[2] ?? 'USD').toUpperCase() };
      }),
    // Off unless set: a fixed default port would stop a second worker on the same host from starting.
    WORKER_METRICS_ADDRESS: z
      .string()
      .default('off')
      .refine(
        (v) => v === 'off' || socketAddress(v) !== undefined,
        'expected ip:port to serve Prometheus metrics on, e.g. 127.0.0.1:9464 or 0.0.0.0:9464 (or off)',
      )
      .transform((v) => (v === 'off' ? undefined : v)),
    // A language model behind any OpenAI-compatible endpoint; unset, the rules and templates answer.
    LLM_BASE_URL: url('an OpenAI-compatible API base URL, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1').optional(),
    LLM_API_KEY: z.string().min(1).optional(),
    LLM_MODEL: z.string().trim().min(1).optional(),
    // Under the model profile's 2 min start-to-close (workflows/activities.ts), with room for the answer.
    LLM_TIMEOUT: duration('30s').refine((ms) => ms <= 110_000, 'expected at most 110s: one attempt of a model call has 2 minutes'),
    LLM_MAX_TOKENS: positiveInt(512, 'a number of tokens'),
    // How long a person's escalation waits for the model's suggested reply; past it, the template's goes.
    LLM_SUGGESTION_BUDGET: duration('20s'),
    // A workflow bundle prebuilt by `npm run build`; unset, the worker uses dist/workflow-bundle.js when
    // it runs compiled and that file exists, else it bundles workflows/ at start.
    WORKFLOW_BUNDLE_PATH: z.string().trim().min(1).optional(),
    // Off only to measure what versioning costs (npm run bench -- --unversioned): an unversioned
    // worker takes tasks of no deployment, so it must never share a task queue with versioned ones.
    WORKER_VERSIONING: z.enum(['on', 'off'], { message: 'expected on or off' }).default('on'),
    // How long the event log keeps its rows, whatever Temporal's retention (the worker prunes it).
    EVENT_LOG_RETENTION: duration('30d'),
    // The share of the worker's workflow-task polls that take new work from the shared queue, where
    // Temporal orders it by priority and fairness key; the rest continue the workflows the worker has
    // cached (its sticky queue, first come, first served). The SDK's 0.2 let a flood's running
    // workflows take four polls in five, so a quiet shop's new event waited behind them whatever its
    // fairness key: `npm run bench -- --flood` measured shop B's events amid shop A's flood at
    // 10–14.5 s with 0.2 and 0.8–2.3 s with 0.5 or 1 (docs/benchmarks.md).
    WORKER_NONSTICKY_POLL_RATIO: z.coerce
      .number({ message: 'expected a number between 0.1 and 1' })
      .min(0.1, 'expected a number between 0.1 and 1')
      .max(1, 'expected a number between 0.1 and 1')
      .default(0.5),
    // How many tasks of each kind the worker runs at once (the SDK's maxConcurrent… options).
    // Inside the worker, tasks wait first in, first out, where no priority reorders them: with the
    // SDK's 40 workflow tasks, an inquiry taken from the front of Temporal's queue right after a
    // flood still shared the workflow thread and the CPU with up to 39 routine ones, and its
    // workflow tasks took 0.67 s in the worker against 0.22 s with 8 (`npm run bench -- --flood`:
    // inquiries after the flood 1.95–2.49× their quiet time with 40, 0.94–1.08× with 8, the flood
    // worked off in 22–28 s instead of 10–14 s; docs/benchmarks.md). Fewer slots leave the backlog
    // in Temporal, where priorities order it. Activity and local-activity slots made no difference.
    WORKER_WORKFLOW_TASK_SLOTS: slots(8),
    WORKER_ACTIVITY_SLOTS: slots(100),
    WORKER_LOCAL_ACTIVITY_SLOTS: slots(100),
  })
  .superRefine((e, ctx) => {
    // A base URL without a model would send every inquiry to the fallback: say so at start instead.
    if (e.LLM_BASE_URL && !e.LLM_MODEL) {
      ctx.addIssue({
        code: 'custom',
        path: ['LLM_MODEL'],
        message: 'required with LLM_BASE_URL: the model to ask, e.g. gpt-4o-mini or llama3.1',
      });
    }
    if (!e.LLM_BASE_URL && (e.LLM_MODEL || e.LLM_API_KEY)) {
      ctx.addIssue({
        code: 'custom',
        path: ['LLM_BASE_URL'],
        message: 'required with LLM_MODEL or LLM_API_KEY: the OpenAI-compatible endpoint, e.g. https://api.openai.com/v1',
      });
    }
  });

/** `ip:port` or `[ipv6]:port`: the SDK's exporter binds a socket address, not a host name. */
function socketAddress(value: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  if (!match) return undefined;
  const host = match[1] ?? match[2]!;
  const port = Number(match[3]);
  if (isIP(host) === 0 || port < 1 || port > 65535) return undefined;
  return { host, port };
}

export interface SystemConfig {
  baseUrl: string;
  token?: string;
  timeoutMs: number;
}

export interface WorkerConfig {
  logLevel: LogLevel;
  databaseUrl: string;
  systems: Record<'crm' | 'carrier' | 'warehouse' | 'inventory' | 'payments', SystemConfig>;
  smtpUrl?: string;
  notifyFrom: string;
  agentsChatWebhookUrl?: string;
  agent: AgentSettings;
  /** Where the Temporal SDK serves its Prometheus metrics (`/metrics`); undefined: nowhere. */
  metricsAddress?: string;
  /** A prebuilt workflow bundle to load instead of bundling at start (WORKFLOW_BUNDLE_PATH). */
  workflowBundlePath?: string;
  /** The language model (LLM_*); undefined: the agent decides by its rules and answers from templates. */
  model?: ModelConfig;
  temporal: TemporalConfig;
  /** WORKER_VERSIONING: poll as a version of the Worker Deployment (on), or unversioned (off). */
  versioning: boolean;
  /** EVENT_LOG_RETENTION (ms): event log rows older than this are pruned. */
  eventLogRetentionMs: number;
  /** WORKER_NONSTICKY_POLL_RATIO: the share of workflow-task polls that take new work (the SDK's `nonStickyToStickyPollRatio`). */
  nonStickyPollRatio: number;
  /** WORKER_*_SLOTS: tasks of each kind the worker runs at once. */
  slots: { workflowTasks: number; activities: number; localActivities: number };
  /** The providers the agent acts through (STRIPE_*, EASYPOST_*: src/config/providers.ts). */
  providers: OutboundProvidersConfig;
  /** Each partner queue's rate (PARTNER_RATE_<PARTNER>, defaults by provider: src/config/partners.ts). */
  partnerRates: PartnerRates;
  /**
   * The receiver's own database (SPOOL_URL, else DATABASE_URL when PostgreSQL, else the data
   * directory's spool.db, as the receiver finds it) and its scope: privacy erasures reach its
   * spool rows and quarantined bodies.
   */
  receiverStore: { url: string; scope: string };
}

export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  const e = parseEnv(WorkerEnv, env);
  const temporal = loadTemporalConfig(env);
  const providers = loadProvidersConfig(env);
  const system = (s: (typeof SYSTEMS)[number]): SystemConfig => ({
    baseUrl: e[`${s}_BASE_URL`],
    token: e[`${s}_API_TOKEN`],
    timeoutMs: e.UPSTREAM_TIMEOUT,
  });
  return {
    logLevel: e.LOG_LEVEL,
    databaseUrl: e.DATABASE_URL ?? defaultDatabaseUrl(env),
    systems: {
      crm: system('CRM'),
      carrier: system('CARRIER'),
      warehouse: system('WAREHOUSE'),
      inventory: system('INVENTORY'),
      payments: system('PAYMENTS'),
    },
    smtpUrl: e.SMTP_URL,
    notifyFrom: e.NOTIFY_FROM,
    agentsChatWebhookUrl: e.AGENTS_CHAT_WEBHOOK_URL,
    agent: {
      returnPolicyDays: e.RETURN_POLICY_DAYS,
      returnReceiptWindowMs: e.RETURN_RECEIPT_WINDOW,
      approvalTimeoutMs: e.RETURN_APPROVAL_TIMEOUT,
      handoffUnclaimedSlaMs: e.HANDOFF_UNCLAIMED_SLA,
      handoffUnansweredSlaMs: e.HANDOFF_UNANSWERED_SLA,
      refundHandoffThreshold: e.REFUND_HANDOFF_THRESHOLD.amount,
      refundHandoffCurrency: e.REFUND_HANDOFF_THRESHOLD.currency,
      ...(e.LLM_BASE_URL && e.LLM_MODEL ? { model: e.LLM_MODEL, modelSuggestionBudgetMs: e.LLM_SUGGESTION_BUDGET } : {}),
    },
    metricsAddress: e.WORKER_METRICS_ADDRESS,
    workflowBundlePath: e.WORKFLOW_BUNDLE_PATH,
    versioning: e.WORKER_VERSIONING === 'on',
    ...(e.LLM_BASE_URL && e.LLM_MODEL
      ? {
          model: {
            baseUrl: e.LLM_BASE_URL,
            apiKey: e.LLM_API_KEY,
            model: e.LLM_MODEL,
            timeoutMs: e.LLM_TIMEOUT,
            maxTokens: e.LLM_MAX_TOKENS,
          },
        }
      : {}),
    temporal,
    receiverStore: { url: receiverDatabaseUrl(env), scope: `${temporal.namespace}/${temporal.taskQueue}` },
    eventLogRetentionMs: e.EVENT_LOG_RETENTION,
    nonStickyPollRatio: e.WORKER_NONSTICKY_POLL_RATIO,
    slots: {
      workflowTasks: e.WORKER_WORKFLOW_TASK_SLOTS,
      activities: e.WORKER_ACTIVITY_SLOTS,
      localActivities: e.WORKER_LOCAL_ACTIVITY_SLOTS,
    },
    providers,
    partnerRates: loadPartnerRates(env, providers),
  };
}
