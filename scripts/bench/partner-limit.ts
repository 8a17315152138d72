/**
 * `npm run bench -- --partner-limit`: does a burst of work reach a partner as a paced stream or as
 * a wall of 429s? (issue 26, part 3.) One run: the Temporal dev server on a SQLite file, the
 * sandbox with its CRM limited to `--rate` requests a second (it answers 429 with `Retry-After`
 * past that, as a partner does), then two rounds, each with its own task queue, receiver and
 * TWO worker processes:
 *
 *   1. without a limit of ours (PARTNER_RATE_CRM=off): only the partner's 429s and Retry-After pace the calls;
 *   2. with PARTNER_RATE_CRM set to the partner's rate: the Temporal server paces the CRM queue for both workers.
 *
 * Each round pauses the CRM's queue (rate 0), sends `--inquiries` customer inquiries (one CRM read
 * each, more on retries), waits until every one has scheduled its read, releases the queue at once
 * (the burst a flood makes, whatever this machine's speed) and waits for every decision. Printed
 * per round, from the sandbox's call log: the CRM requests, how many were answered 429, the
 * busiest second and the mean rate, and the time from the release to the last decision; then the
 * ratios.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { BUILTIN_SCHEMES } from '../../src/receiver/sources';
import { generateSecret, signWebhook } from '../../src/signatures';
import { sandboxWorkerEnv, type SandboxCall } from '../../src/sandbox';
import { SAMPLES } from '../../src/events/samples';
import { partnerTaskQueue } from '../../workflows/contracts/partners';
import { findTemporalCli } from '../temporal-cli';
import { freePort } from '../ports';
import { baseEnv, receiverEnv } from './hookline-env';
import { httpOk, ProcessGroup, spawnNode, startDevServer, waitUntil } from './processes';
import { loadAverage, machine } from './report';

const SENDERS = 32;

interface Round {
  label: string;
  requests: number;
  rejected: number;
  busiestSecond: number;
  meanPerSecond: number;
  decidedMs: number;
}

/** The most requests in any one-second window (windows start at each request). */
function busiestSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! < sorted[i]! + 1000) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

export async function partnerLimitBench(options: { inquiries: number; rate: number }): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-bench-partner-'));
  const group = new ProcessGroup();
  try {
    console.log(`hookline bench --partner-limit — ${machine()}; load average ${loadAverage()}`);
    const cli = await findTemporalCli();
    const temporal = await startDevServer({ cliPath: cli.path, store: 'file', dir, group, priorities: true });
    const client = new Client({ connection: temporal.connection, namespace: 'default' });
    const sandboxPort = await freePort();
    const sandboxUrl = `http://127.0.0.1:${sandboxPort}`;
    const start = (name: string, entry: string, childEnv: NodeJS.ProcessEnv, ready: (log: string) => Promise<boolean> | boolean) => {
      const log = join(dir, `${name}.log`);
      const child = group.add(name, spawnNode(entry, childEnv, log), name.startsWith('worker') ? 15_000 : 5_000);
      return waitUntil(`the ${name}`, child, log, () => ready(log), 120_000);
    };
    await start(
      'sandbox',
      'src/sandbox/main.ts',
      {
        ...baseEnv(temporal.address, 'unused'),
        PORT: String(sandboxPort),
        HOST: '127.0.0.1',
        SANDBOX_RATE_LIMIT_CRM: String(options.rate),
      },
      () => httpOk(`${sandboxUrl}/_sandbox/health`),
    );
    console.log(
      `partner-limit bench: dev server on a SQLite file (${cli.path}); the sandbox's CRM takes ${options.rate} requests/s ` +
        `(429 with Retry-After past that); ${options.inquiries} inquiries at once, one CRM read each; ` +
        `two worker processes per round; logs in ${dir}`,
    );

    const round = async (label: string, partnerRate: string): Promise<Round> => {
      const taskQueue = `bench-partner-${label}`;
      const env = { ...baseEnv(temporal.address, taskQueue), HOOKLINE_DEPLOYMENT_NAME: taskQueue };
      const secrets = Object.fromEntries(Object.entries(BUILTIN_SCHEMES).map(([name, scheme]) => [name, generateSecret(scheme)]));
      const receiverPort = await freePort();
      const url = `http://127.0.0.1:${receiverPort}`;
      await start(`receiver-${label}`, 'src/receiver/main.ts', { ...receiverEnv(env, receiverPort, secrets, dir), LOG_LEVEL: 'warn' }, () =>
        httpOk(`${url}/readyz`),
      );
      const workerEnv = {
        ...env,
        ...sandboxWorkerEnv(sandboxUrl),
        DATABASE_URL: `sqlite:${join(dir, `${label}.db`)}`,
        PARTNER_RATE_CRM: partnerRate,
      };
      // One after the other: the first migrates the database the second shares.
      for (const n of [1, 2]) {
        await start(`worker-${label}-${n}`, 'src/worker/main.ts', workerEnv, (log) =>
          readFileSync(log, 'utf8').includes('"worker started"'),
        );
      }
      // The burst, made real whatever the machine's speed: the CRM queue is paused (rate 0) while
      // the inquiries arrive and their workflows schedule the CRM reads, then released at once.
      const crmQueue = partnerTaskQueue(taskQueue, 'crm');
      const setRate = (requestsPerSecond: number | null) =>
        client.workflowService.updateTaskQueueConfig({
          namespace: 'default',
          taskQueue: crmQueue,
          taskQueueType: 2, // activity
          identity: 'hookline-bench',
          updateQueueRateLimit: { rateLimit: requestsPerSecond === null ? null : { requestsPerSecond }, reason: 'bench' },
        });
      await setRate(0);
      const tag = `${label}${Date.now().toString(36)}`.toUpperCase();
      const ids: string[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: SENDERS }, async () => {
          for (let i = next++; i < options.inquiries; i = next++) {
            const event = {
              ...SAMPLES['customer.inquiry.new'],
              event_id: `inq-${tag}-${i}`,
              inquiry_id: `INQ-${tag}-${i}`,
              customer_id: `CUST-${tag}X${i}`,
              summary: 'Where is my order?',
            };
            const body = Buffer.from(JSON.stringify(event));
            const res = await fetch(`${url}/webhooks/crm`, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                ...signWebhook(BUILTIN_SCHEMES.crm, body, secrets.crm!, { id: event.event_id }),
              },
              body,
            });
            const answer = (await res.json()) as { workflowId?: string };
            if (res.status !== 202 || !answer.workflowId) throw new Error(`inquiry answered ${res.status}: ${JSON.stringify(answer)}`);
            ids.push(answer.workflowId);
          }
        }),
      );
      const scheduled = async (id: string) =>
        ((await client.workflow.getHandle(id).fetchHistory()).events ?? []).some(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'enrichCustomer',
        );
      const waiting = new Set(ids);
      while (waiting.size > 0) {
        for (const id of [...waiting]) if (await scheduled(id)) waiting.delete(id);
        if (waiting.size > 0) await new Promise((r) => setTimeout(r, 1_000));
      }
      // Released: without a limit of ours (the workers poll without one too), or at the partner's rate.
      await setRate(partnerRate === 'off' ? null : Number(partnerRate));
      const began = Date.now();
      // Decided: the run completed, or it started the conversation that hands the customer to a person.
      const undecided = new Set(ids);
      let lastDecision = began;
      const deadline = Date.now() + 15 * 60_000;
      while (undecided.size > 0) {
        for (const id of [...undecided]) {
          const events = (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
          const decided = events.find(
            (e) => e.startChildWorkflowExecutionInitiatedEventAttributes || e.workflowExecutionCompletedEventAttributes,
          );
          if (decided) {
            undecided.delete(id);
            lastDecision = Math.max(
              lastDecision,
              Number(decided.eventTime!.seconds) * 1000 + Math.floor((decided.eventTime!.nanos ?? 0) / 1e6),
            );
          }
        }
        if (Date.now() > deadline) throw new Error(`${undecided.size} inquiries undecided after 15 minutes`);
        if (undecided.size > 0) await new Promise((r) => setTimeout(r, 1_000));
      }
      const calls = ((await (await fetch(`${sandboxUrl}/_sandbox/calls?system=crm`)).json()) as SandboxCall[]).filter((c) =>
        c.path.startsWith(`/customers/CUST-${tag}`),
      );
      const times = calls.map((c) => Date.parse(c.at));
      const span = Math.max(1, (Math.max(...times) - Math.min(...times)) / 1000);
      await Promise.all([group.stop(`worker-${label}-1`), group.stop(`worker-${label}-2`), group.stop(`receiver-${label}`)]);
      const result = {
        label,
        requests: calls.length,
        rejected: calls.filter((c) => c.status === 429).length,
        busiestSecond: busiestSecond(times),
        meanPerSecond: calls.length / span,
        decidedMs: lastDecision - began,
      };
      console.log(
        `  ${label.padEnd(8)} PARTNER_RATE_CRM=${partnerRate.padEnd(4)} CRM requests ${String(result.requests).padStart(5)}, ` +
          `429s ${String(result.rejected).padStart(5)}; busiest second ${result.busiestSecond} requests, ` +
          `mean ${result.meanPerSecond.toFixed(1)}/s; ` +
          `last decision ${(result.decidedMs / 1000).toFixed(1)} s after the release`,
      );
      return result;
    };

    const without = await round('off', 'off');
    const withLimit = await round('limited', String(options.rate));
    const ratio = (a: number, b: number) => (b === 0 ? `${a} vs none` : `${(a / b).toFixed(1)}×`);
    console.log(
      `  without the limit / with it: 429s ${ratio(without.rejected, withLimit.rejected)}, ` +
        `CRM requests ${ratio(without.requests, withLimit.requests)} (${without.requests} / ${withLimit.requests}), ` +
        `busiest second ${ratio(without.busiestSecond, withLimit.busiestSecond)} (${without.busiestSecond} / ${withLimit.busiestSecond} ` +
        `requests; the partner takes ${options.rate}/s), last decision ${ratio(without.decidedMs, withLimit.decidedMs)}`,
    );
    return 0;
  } finally {
    await group.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}
