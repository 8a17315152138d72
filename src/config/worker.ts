import { z } from 'zod';
import type { AgentSettings } from '../agent/types';
import { duration, LOG_LEVEL, parseEnv, positiveInt, url, type Env } from './env';
import { loadTemporalConfig, type TemporalConfig } from './temporal';
import type { LogLevel } from '../log';

const SYSTEMS = ['CRM', 'CARRIER', 'WAREHOUSE', 'INVENTORY', 'PAYMENTS'] as const;

const systemVars = Object.fromEntries(
  SYSTEMS.flatMap((s) => [
    [`${s}_BASE_URL`, url(`the ${s.toLowerCase()} API's base URL, e.g. https://${s.toLowerCase()}.example.com (npm start points it at the built-in sandbox)`)],
    [`${s}_API_TOKEN`, z.string().optional()],
  ]),
) as Record<`${(typeof SYSTEMS)[number]}_BASE_URL`, z.ZodURL> & Record<`${(typeof SYSTEMS)[number]}_API_TOKEN`, z.ZodOptional<z.ZodString>>;

const WorkerEnv = z.object({
  LOG_LEVEL,
  DATABASE_URL: z
    .string()
    .regex(/^(sqlite:|postgres(ql)?:\/\/)/, 'expected sqlite:<path> or postgres://user@host:5432/db')
    .default('sqlite:.data/hookline.db'),
  ...systemVars,
  UPSTREAM_TIMEOUT: duration('10s'),
  SMTP_URL: z.string().regex(/^smtps?:\/\//, 'expected smtp://user:pass@host:port or smtps://…').optional(),
  NOTIFY_FROM: z.string().default('hookline <hookline@localhost>'),
  AGENTS_CHAT_WEBHOOK_URL: url('a chat webhook URL (Slack-compatible)').optional(),
  RETURN_POLICY_DAYS: positiveInt(30, 'a number of days'),
  RETURN_RECEIPT_WINDOW: duration('30d'),
  RETURN_APPROVAL_TIMEOUT: duration('3d'),
  HANDOFF_UNCLAIMED_SLA: duration('15m'),
  HANDOFF_UNANSWERED_SLA: duration('1h'),
  REFUND_HANDOFF_THRESHOLD: z.coerce.number({ message: 'expected an amount' }).nonnegative().default(200),
});

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
  temporal: TemporalConfig;
}

export function loadWorkerConfig(env: Env = process.env): WorkerConfig {
  const e = parseEnv(WorkerEnv, env);
  const system = (s: (typeof SYSTEMS)[number]): SystemConfig => ({
    baseUrl: e[`${s}_BASE_URL`],
    token: e[`${s}_API_TOKEN`],
    timeoutMs: e.UPSTREAM_TIMEOUT,
  });
  return {
    logLevel: e.LOG_LEVEL,
    databaseUrl: e.DATABASE_URL,
    systems: { crm: system('CRM'), carrier: system('CARRIER'), warehouse: system('WAREHOUSE'), inventory: system('INVENTORY'), payments: system('PAYMENTS') },
    smtpUrl: e.SMTP_URL,
    notifyFrom: e.NOTIFY_FROM,
    agentsChatWebhookUrl: e.AGENTS_CHAT_WEBHOOK_URL,
    agent: {
      returnPolicyDays: e.RETURN_POLICY_DAYS,
      returnReceiptWindowMs: e.RETURN_RECEIPT_WINDOW,
      approvalTimeoutMs: e.RETURN_APPROVAL_TIMEOUT,
      handoffUnclaimedSlaMs: e.HANDOFF_UNCLAIMED_SLA,
      handoffUnansweredSlaMs: e.HANDOFF_UNANSWERED_SLA,
      refundHandoffThreshold: e.REFUND_HANDOFF_THRESHOLD,
    },
    temporal: loadTemporalConfig(env),
  };
}
