/**
 * `npm run reconcile -- <source> [--since 6h | --from <time> --to <time>] [--dry-run]`
 *
 * A backfill by hand, after an outage: asks the source's provider for every event in the range and
 * hands the ones hookline lacks to the intake, exactly as the source's scheduled passes do — it
 * starts the same workflow (reconcileWorkflow) on the worker, which does the work durably; this
 * command follows it. Progress on stderr, the summary on stdout. A backfill moves no cursor, and
 * running it twice starts nothing the second time. Without a range: one pass as the schedule runs it.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { loadTemporalConfig } from '../src/config/temporal';
import { EventQueryError, sinceOf } from '../src/eventlog/search';
import { createTemporalClient } from '../src/temporal/client';
import { forTerminal } from '../src/terminal';
import {
  reconcileProgressQuery,
  type ReconcileRequest,
  type ReconcileSummary,
  type ReconcileWorkflow,
} from '../workflows/contracts/reconcile';

const USAGE = `Usage: npm run reconcile -- <source> [--since 6h | --from <time> --to <time>] [--dry-run]

  --since 6h          events created in the last six hours (a duration, or an ISO-8601 time)
  --from T --to T     events created between two ISO-8601 times (--to defaults to now)
  --dry-run           count what hookline lacks; start nothing
  (no range)          one pass from the source's cursor, as its schedule runs it

The lookback may not reach past EVENT_LOG_RETENTION (the record of what hookline accepted) nor past
what the provider keeps (Stripe: 30 days). A worker must be running: it does the work.`;

export interface ReconcileCliDeps {
  client: Client;
  taskQueue: string;
  out: (line: string) => void;
  progress: (line: string) => void;
  now?: () => Date;
  /** How often progress is asked for (ms). Default 1000. */
  pollMs?: number;
}

const seconds = (iso: string) => Math.floor(new Date(iso).getTime() / 1000);

function counts(s: ReconcileSummary): string {
  const parts = [
    `looked at ${s.lookedAt}`,
    `already known ${s.known}`,
    s.dryRun ? `missing ${s.missing}` : `started ${s.started}`,
    `quarantined ${s.quarantined}`,
    `failed ${s.failed}`,
  ];
  if (s.ignored > 0) parts.push(`ignored ${s.ignored}`);
  // `?? 0`: a pass run by a worker from before the outcome existed.
  if ((s.awaiting ?? 0) > 0) parts.push(`awaiting delivery ${s.awaiting}`);
  // No body anywhere (EasyPost's finished, never attempted): in the event log, `npm run events -- find --outcome unreadable`.
  if ((s.unreadable ?? 0) > 0) parts.push(`unreadable ${s.unreadable} (see npm run events -- find --outcome unreadable)`);
  return parts.join(', ');
}

export async function runReconcileCli(argv: string[], deps: ReconcileCliDeps): Promise<number> {
  const now = deps.now ?? (() => new Date());
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { since: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    });
  } catch (err) {
    deps.out(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const usage = (message: string) => {
    deps.out(forTerminal(`${message}\n\n${USAGE}`));
    return 2;
  };
  const source = positionals[0];
  if (source === undefined || source === 'help') return usage('Name the source to reconcile.');
  if (values.since !== undefined && (values.from !== undefined || values.to !== undefined))
    return usage('--since or --from/--to, not both.');
  if (values.to !== undefined && values.from === undefined) return usage('--to needs --from.');
  let range: ReconcileRequest['range'];
  try {
    if (values.since !== undefined) range = { from: seconds(sinceOf(values.since, now())) };
    if (values.from !== undefined) {
      range = { from: seconds(sinceOf(values.from, now())), ...(values.to ? { to: seconds(sinceOf(values.to, now())) } : {}) };
    }
  } catch (err) {
    if (err instanceof EventQueryError) return usage(err.message.replace(/^since: /, ''));
    throw err;
  }
  const request: ReconcileRequest = { source, ...(range ? { range } : {}), ...(values['dry-run'] ? { dryRun: true } : {}) };
  const workflowId = `reconcile-backfill:${source}:${randomUUID()}`;
  const handle = await deps.client.workflow.start<ReconcileWorkflow>('reconcileWorkflow', {
    taskQueue: deps.taskQueue,
    workflowId,
    args: [request],
  });
  deps.progress(forTerminal(`reconcile ${source}: ${workflowId}`));
  let last = '';
  let latest: ReconcileSummary | undefined;
  const timer = setInterval(() => {
    handle
      .query(reconcileProgressQuery)
      .then((s) => {
        latest = s ?? latest;
        const line = s ? `… ${s.pages} page(s): ${counts(s)}` : '… planning';
        if (line !== last) deps.progress(forTerminal(line));
        last = line;
      })
      .catch(() => undefined);
  }, deps.pollMs ?? 1_000);
  try {
    const summary = await handle.result();
    const window = `${new Date(summary.from * 1000).toISOString()} – ${new Date(summary.to * 1000).toISOString()}`;
    deps.out(forTerminal(`${source}${summary.dryRun ? ' (dry run)' : ''}, ${window}: ${counts(summary)}`));
    return summary.failed > 0 ? 1 : 0;
  } catch (err) {
    const cause = err instanceof WorkflowFailedError ? (err.cause?.cause ?? err.cause) : err;
    const sofar = latest ? ` (so far: ${counts(latest)})` : '';
    deps.out(forTerminal(`reconcile ${source} failed: ${cause instanceof Error ? cause.message : String(cause)}${sofar}`));
    return 1;
  } finally {
    clearInterval(timer);
  }
}

if (require.main === module) {
  const temporal = loadTemporalConfig();
  const { client, connection } = createTemporalClient(temporal);
  runReconcileCli(process.argv.slice(2), {
    client,
    taskQueue: temporal.taskQueue,
    out: (line) => process.stdout.write(`${line}\n`),
    progress: (line) => process.stderr.write(`${line}\n`),
  })
    .then((code) => (process.exitCode = code))
    .catch((err: unknown) => {
      process.stderr.write(`reconcile: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    })
    .finally(() => void connection.close().catch(() => undefined));
}
