import { join } from 'node:path';
import { envSuffix } from '../../src/config/env';

/** What every hookline process needs, and nothing else from this shell: a stray TEMPORAL_API_KEY must not leak in. */
export function baseEnv(temporalAddress: string, taskQueue: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    HOOKLINE_TASK_QUEUE: taskQueue,
    LOG_LEVEL: 'info',
    // To compare the workers' settings, e.g. their poll split or slots
    // (`WORKER_NONSTICKY_POLL_RATIO=0.2 npm run bench -- --flood`, `WORKER_WORKFLOW_TASK_SLOTS=8 …`).
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => /^WORKER_(NONSTICKY_POLL_RATIO|\w+_SLOTS)$/.test(name))),
  };
}

export function receiverEnv(base: NodeJS.ProcessEnv, port: number, secrets: Record<string, string>, dir: string): NodeJS.ProcessEnv {
  // The spool in the run's directory: on as by default, used only when Temporal does not answer (--outage).
  const env: NodeJS.ProcessEnv = { ...base, HOST: '127.0.0.1', PORT: String(port), SPOOL_URL: `sqlite:${join(dir, 'spool.db')}` };
  // Operators live in the database; the bench signs in nobody, so a file of the run's will do.
  env.DATABASE_URL ??= `sqlite:${join(dir, 'operators.db')}`;
  for (const [name, secret] of Object.entries(secrets)) {
    env[`WEBHOOK_SECRET_${envSuffix(name)}`] = secret;
    // All load comes from 127.0.0.1: at the default 100/s per sender address we would measure the limiter.
    env[`WEBHOOK_RATE_LIMIT_${envSuffix(name)}`] = '1000000/s';
  }
  return env;
}
