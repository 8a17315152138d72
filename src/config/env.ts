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
    return `  ${variable}: ${issue.message}${got === undefined ? ' (not set)' : ` (got ${JSON.stringify(got)})`}`;
  });
  throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
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

/** The knowledge base, shared by the worker (its tables) and the receiver (operators and sessions). */
export const DATABASE_URL = z
  .string()
  .regex(/^(sqlite:|postgres(ql)?:\/\/)/, 'expected sqlite:<path> or postgres://user@host:5432/db')
  .default('sqlite:.data/hookline.db');

/** `true`/`false` (also 1/0, yes/no, on/off). */
export const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], { message: 'expected true or false' })
    .optional()
    .transform((v) => (v === undefined ? fallback : ['true', '1', 'yes', 'on'].includes(v)));
