import { join } from 'node:path';
import { z } from 'zod';
import { msToNumber } from '@temporalio/common/lib/time';

/**
 * Thrown when the environment does not describe a runnable process. Its message names every
 * offending variable and what was expected, so the operator can fix them all in one go.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export type Env = Record<string, string | undefined>;

/**
 * Parse `env` with a zod object whose keys are the variable names themselves, so an issue's
 * path is the variable to name. Empty strings count as unset: `FOO= npm start` should fall
 * back to the default, not fail validation.
 */
export function parseEnv<S extends z.ZodObject>(schema: S, env: Env): z.infer<S> {
  const cleaned: Env = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') cleaned[key] = value.trim();
  }
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const variable = String(issue.path[0] ?? '(environment)');
    const got = cleaned[variable];
    return `  ${variable}: ${issue.message}${got === undefined ? ' (not set)' : ` (got ${shownValue(variable, got)})`}`;
  });
  throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
}

/**
 * The variables whose values are secrets: the one list that decides, for every message that
 * quotes a value back. A start-up error ends up in terminals, CI logs and crash reporters, and a
 * secret that is malformed is usually still mostly the real one.
 */
export const SECRET_VARIABLES: readonly (string | RegExp)[] = [
  // Retired (operators have their own tokens now), and refused by name if set: never echoed.
  'OPERATOR_TOKEN',
  'METRICS_TOKEN',
  'SANDBOX_TOKEN',
  'TEMPORAL_API_KEY',
  'LLM_API_KEY',
  // URLs that carry credentials: a password, or a token in the path (a chat incoming webhook).
  'SMTP_URL',
  'AGENTS_CHAT_WEBHOOK_URL',
  'DATABASE_URL',
  'SPOOL_URL',
  /_API_TOKEN$/,
  // Providers' keys: STRIPE_API_KEY, EASYPOST_API_KEY.
  /_API_KEY$/,
  /^WEBHOOK_SECRET_/,
  // Shopify's Admin API access tokens, provider-wide and per source.
  /^SHOPIFY_ADMIN_TOKEN(_|$)/,
];

export function isSecretVariable(name: string): boolean {
  return SECRET_VARIABLES.some((rule) => (typeof rule === 'string' ? rule === name : rule.test(name)));
}

/**
 * `value` as a message may show it: quoted as given, or for a secret only its outline: a URL's
 * scheme and host, credentials as `***`, anything after the host as `…`; otherwise its length.
 */
export function shownValue(name: string, value: string): string {
  if (!isSecretVariable(name)) return JSON.stringify(value);
  // Only with `//` is the part before the colon surely a scheme and not the start of the secret.
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    try {
      const url = new URL(value);
      if (url.host !== '') {
        const credentials = url.username !== '' || url.password !== '' ? '***@' : '';
        const rest = url.pathname.replace(/^\/$/, '') + url.search + url.hash !== '' ? '/…' : '';
        return `${url.protocol}//${credentials}${url.host}${rest}, a secret shown only in outline`;
      }
    } catch {
      // Not a URL after all: fall through to its length.
    }
  }
  return `${value.length} characters, a secret not shown`;
}

export const port = (fallback: number) =>
  z.coerce
    .number({ message: 'expected a port number' })
    .int('expected a whole port number')
    .min(0, 'expected a port between 0 and 65535')
    .max(65535, 'expected a port between 0 and 65535')
    .default(fallback);

export const positiveInt = (fallback: number, what: string) =>
  z.coerce
    .number({ message: `expected ${what}` })
    .int(`expected ${what} as a whole number`)
    .positive(`expected ${what} greater than 0`)
    .default(fallback);

export const LOG_LEVEL = z.enum(['debug', 'info', 'warn', 'error'], { message: 'expected debug, info, warn or error' }).default('info');

export const url = (what: string) => z.url({ message: `expected ${what} as an absolute URL` });

/** A duration such as `30s`, `15m`, `2h`, `30d` or milliseconds as a number, returned in ms. */
export const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const asNumber = Number(value);
      const ms = Number.isFinite(asNumber) ? asNumber : safeMs(value);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: 'expected a duration such as 30s, 15m, 2h or 30d' });
        return z.NEVER;
      }
      return ms;
    });

function safeMs(value: string): number | undefined {
  try {
    const ms = msToNumber(value as Parameters<typeof msToNumber>[0]);
    return Number.isFinite(ms) ? ms : undefined;
  } catch {
    return undefined;
  }
}

export const csv = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? '')
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part.length > 0),
  );

/**
 * The directory for local state — the SQLite files (knowledge base, spool), `npm start`'s dev
 * secrets and its Temporal history: HOOKLINE_DATA_DIR, else `.data`. Every command asks here, so
 * with it set they all find the same files.
 */
export function dataDir(env: Env = process.env): string {
  return env.HOOKLINE_DATA_DIR?.trim() || '.data';
}

/** The knowledge base when DATABASE_URL is unset: `hookline.db` in the data directory. */
export function defaultDatabaseUrl(env: Env = process.env): string {
  return `sqlite:${join(dataDir(env), 'hookline.db')}`;
}

/** A source's name as it ends its variables: `WEBHOOK_SECRET_<SUFFIX>`, `WEBHOOK_SPOOL_<SUFFIX>` (`my-shop` → `MY_SHOP`). */
export function envSuffix(source: string): string {
  return source.toUpperCase().replace(/-/g, '_');
}

/**
 * The knowledge base, shared by the worker (its tables) and the receiver (operators and
 * sessions). Unset, {@link defaultDatabaseUrl}: the loader fills it in from the same environment.
 */
export const DATABASE_URL = z
  .string()
  .regex(/^(sqlite:|postgres(ql)?:\/\/)/, 'expected sqlite:<path> or postgres://user@host:5432/db')
  .optional();

/** `true`/`false` (also 1/0, yes/no, on/off). */
export const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], { message: 'expected true or false' })
    .optional()
    .transform((v) => (v === undefined ? fallback : ['true', '1', 'yes', 'on'].includes(v)));
