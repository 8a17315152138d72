/**
 * `npm run redrive -- quarantined [--source S] [--type T] [--since 2h] --by <name> [--dry-run] [--yes]`
 * `npm run redrive -- failed [--source S] [--type T] [--since 2h] [--order ORD-1] [--customer CUST-1] [--dry-run] [--yes]`
 *
 * Runs many events again at once, after a fix: quarantined events that pass today's schemas (the
 * same replay, and the same `--by` record, as `npm run quarantine -- replay`), or events whose run
 * failed or timed out (through `startOnce`, the path a redelivery takes, so each side effect still
 * happens once). Progress on stderr, the summary on stdout; run twice, the second run does nothing.
 */
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { loadReceiverConfig } from '../src/config/receiver';
import { appendEventLog, findEvents, openDatabase, type Database, type EventLogInput } from '../src/db';
import { idsOf } from '../src/eventlog/entry';
import { sinceOf, EventQueryError } from '../src/eventlog/search';
import type { Intake } from '../src/intake';
import { createIntake } from '../src/intake/direct';
import {
  createQuarantineService,
  outcomeOf,
  QuarantineConflictError,
  ReplayRejectedError,
  type QuarantineService,
} from '../src/receiver/quarantine';
import { openQuarantineStore } from '../src/spool/quarantine';
import { createTemporalClient } from '../src/temporal/client';
import { findFailedRuns, redrivable, runAgain } from '../src/temporal/failed-runs';
import { forTerminal } from '../src/terminal';

const USAGE = `Usage: npm run redrive -- <quarantined|failed> [filters] [--dry-run] [--yes]

  quarantined --by <name>   replay every quarantined event that passes today's schemas, under its own identity
  failed                    run again every event whose latest run failed or timed out

  --source NAME   --type EVENT_TYPE   --since 2h (or an ISO-8601 time)
  --order ORD-1   --customer CUST-1   (failed only: the event log says which runs were that order's or customer's)
  --workflow ID   (failed only, repeatable) just these workflows
  --dry-run       say what would happen, and how many, and change nothing
  --yes           go ahead with more than ${'100'} events without asking
  --limit N       look at no more than N events (default 10000)`;

/** Past this many, a redrive asks first (or needs --yes). */
export const CONFIRM_ABOVE = 100;

export interface RedriveDeps {
  quarantine: () => Promise<QuarantineService>;
  /** The Temporal client, the intake runs go through, and the event log (optional) for failed runs. */
  failed: () => Promise<{ client: Client; intake: Intake; db?: Database['db'] }>;
  /** Asks the person at the terminal; undefined when there is none (then --yes is needed). */
  confirm?: (question: string) => Promise<boolean>;
  out: (line: string) => void;
  progress: (line: string) => void;
}

export async function runRedriveCli(argv: string[], deps: RedriveDeps): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      source: { type: 'string' },
      type: { type: 'string' },
      since: { type: 'string' },
      order: { type: 'string' },
      customer: { type: 'string' },
      workflow: { type: 'string', multiple: true },
      by: { type: 'string' },
      limit: { type: 'string' },
      'dry-run': { type: 'boolean' },
      yes: { type: 'boolean' },
    },
  });
  const out = (line: string) => deps.out(forTerminal(line));
  const progress = (line: string) => deps.progress(forTerminal(line));
  const cell = (text: string) => forTerminal(text, { singleLine: true });
  const usage = (message: string) => {
    out(`${message}\n\n${USAGE}`);
    return 2;
  };
  const command = positionals[0];
  if (command === undefined || command === 'help') {
    out(USAGE);
    return 0;
  }
  if (command !== 'quarantined' && command !== 'failed') return usage(`Unknown command ${JSON.stringify(command)}.`);
  const limit = Number(values.limit ?? 10_000);
  if (!Number.isInteger(limit) || limit <= 0) return usage('--limit expects a whole number above 0.');
  let since: string | undefined;
  try {
    since = values.since === undefined ? undefined : sinceOf(values.since, new Date());
  } catch (err) {
    if (err instanceof EventQueryError) return usage(err.message);
    throw err;
  }
  const dryRun = values['dry-run'] === true;

  /** More than CONFIRM_ABOVE: --yes, or a yes at the terminal. */
  const goAhead = async (count: number, what: string): Promise<boolean> => {
    if (count <= CONFIRM_ABOVE || values.yes) return true;
    if (deps.confirm) return deps.confirm(`${what} ${count} events? [y/N] `);
    out(`${what} ${count} events? That is more than ${CONFIRM_ABOVE}: add --yes to go ahead (or --dry-run to look first).`);
    return false;
  };

  if (command === 'quarantined') {
    if (values.order !== undefined || values.customer !== undefined) {
      return usage('--order and --customer are for failed runs: a quarantined body was never read as an event.');
    }
    if (!values.by && !dryRun) return usage('quarantined needs --by <your name>, for the record (as `npm run quarantine -- replay`).');
    const service = await deps.quarantine();
    const rows = await service.list(limit, { source: values.source, eventType: values.type, since });
    progress(`${rows.length} quarantined event(s) match; judging each against today's schemas…`);
    const passing: string[] = [];
    const failing = new Map<string, number>();
    let resolved = 0;
    for (const [i, row] of rows.entries()) {
      try {
        const preview = await service.preview(row.id);
        if (preview.passes) passing.push(row.id);
        else failing.set(preview.reason, (failing.get(preview.reason) ?? 0) + 1);
      } catch (err) {
        // Replayed or discarded since the list was read (visibility lags a little): nothing to do.
        if (!(err instanceof QuarantineConflictError)) throw err;
        resolved += 1;
      }
      if ((i + 1) % 25 === 0) progress(`  judged ${i + 1}/${rows.length}`);
    }
    const stillFailing = [...failing.values()].reduce((a, b) => a + b, 0);
    const reasons = [...failing].map(([reason, n]) => `  still fails (${n}): ${cell(reason)}`);
    if (dryRun || passing.length === 0) {
      out(
        `${dryRun ? 'Dry run: would replay' : 'Nothing to replay:'} ${passing.length} of ${rows.length} quarantined event(s); ` +
          `${stillFailing} still fail, ${resolved} already resolved.`,
      );
      for (const line of reasons) out(line);
      return 0;
    }
    if (!(await goAhead(passing.length, 'Replay'))) return 1;
    const counts = { started: 0, rerun: 0, duplicate: 0, failedNow: 0, resolved: 0, errors: 0 };
    for (const [i, id] of passing.entries()) {
      try {
        const result = await service.replay(id, { by: values.by!, via: 'redrive' });
        if (result.duplicate) counts.duplicate += 1;
        else if (result.rerun) counts.rerun += 1;
        else counts.started += 1;
        progress(`[${i + 1}/${passing.length}] ${cell(id)} → ${cell(result.workflowId)} (${outcomeOf(result)})`);
      } catch (err) {
        if (err instanceof ReplayRejectedError) counts.failedNow += 1;
        else if (err instanceof QuarantineConflictError) counts.resolved += 1;
        else counts.errors += 1;
        progress(`[${i + 1}/${passing.length}] ${cell(id)}: ${cell((err as Error).message)}`);
      }
    }
    out(
      `Replayed ${counts.started + counts.rerun + counts.duplicate} of ${rows.length} quarantined event(s): ${counts.started} started, ` +
        `${counts.rerun} started again, ${counts.duplicate} already run; ${stillFailing + counts.failedNow} still fail, ` +
        `${resolved + counts.resolved} already resolved, ${counts.errors} error(s).`,
    );
    for (const line of reasons) out(line);
    return counts.errors > 0 ? 1 : 0;
  }

  // failed
  const { client, intake, db } = await deps.failed();
  let workflowIds: Set<string> | undefined = values.workflow ? new Set(values.workflow) : undefined;
  if (values.order !== undefined || values.customer !== undefined) {
    if (!db) return usage('--order and --customer read the event log: DATABASE_URL must name the knowledge base.');
    const named = workflowIds;
    workflowIds = new Set<string>();
    let before: number | undefined;
    do {
      const page = await findEvents(db, {
        ...(values.order === undefined ? {} : { orderId: values.order }),
        ...(values.customer === undefined ? {} : { customerId: values.customer }),
        ...(before === undefined ? {} : { before }),
        limit: 500,
      });
      for (const e of page.events) if (e.workflow_id && (!named || named.has(e.workflow_id))) workflowIds.add(e.workflow_id);
      before = page.next;
    } while (before !== undefined);
  }
  const found = await findFailedRuns(client, { source: values.source, eventType: values.type, since, workflowIds }, limit);
  const runs = found.filter((r) => redrivable(r.workflowType));
  const skipped = found.filter((r) => !redrivable(r.workflowType));
  progress(`${found.length} workflow(s) whose latest run failed or timed out match.`);
  for (const r of skipped) progress(`  not an event's workflow, left for a person: ${cell(r.workflowId)} (${r.workflowType})`);
  if (dryRun || runs.length === 0) {
    out(`${dryRun ? 'Dry run: would run again' : 'Nothing to run again:'} ${runs.length} event(s); ${skipped.length} skipped.`);
    for (const r of runs) out(`  ${cell(r.workflowId)} (${r.workflowType}, ${r.status}${r.closedAt ? ` ${r.closedAt}` : ''})`);
    return 0;
  }
  if (!(await goAhead(runs.length, 'Run again'))) return 1;
  const counts = { rerun: 0, duplicate: 0, closed: 0, errors: 0 };
  for (const [i, run] of runs.entries()) {
    try {
      const again = await runAgain(client, intake, run);
      const outcome = again.kind === 'event' ? outcomeOf(again.result) : again.outcome.kind === 'started' ? 'accepted' : again.outcome.kind;
      if (outcome === 'rerun' || outcome === 'accepted') counts.rerun += 1;
      else if (outcome === 'closed') counts.closed += 1;
      else counts.duplicate += 1;
      progress(`[${i + 1}/${runs.length}] ${cell(run.workflowId)}: ${outcome}`);
      if (db) {
        const entry: EventLogInput = {
          receivedAt: new Date().toISOString(),
          via: 'redrive',
          source: again.kind === 'event' ? again.envelope.source : (run.source ?? 'return'),
          provider: again.kind === 'event' ? (again.envelope.provider ?? 'hookline') : 'hookline',
          eventType: again.kind === 'event' ? again.envelope.event.event_type : run.eventType,
          identity: again.kind === 'event' ? again.envelope.identity : run.workflowId,
          workflowId: run.workflowId,
          outcome: outcome === 'rerun' || outcome === 'accepted' ? 'rerun' : outcome === 'closed' ? 'closed' : 'duplicate',
          reason: `redrive of the ${run.status} run ${run.runId}`,
          ...(again.kind === 'event' ? idsOf(again.envelope.event) : {}),
        };
        // The run is started: a log that cannot be written is reported, and changes nothing.
        await appendEventLog(db, [entry]).catch((err: unknown) => progress(`  (event log not written: ${(err as Error).message})`));
      }
    } catch (err) {
      counts.errors += 1;
      progress(`[${i + 1}/${runs.length}] ${cell(run.workflowId)}: ${cell((err as Error).message)}`);
    }
  }
  out(
    `Ran again ${counts.rerun} of ${runs.length} event(s); ${counts.duplicate} already run again or completed meanwhile, ` +
      `${counts.closed} closed by a person, ${counts.errors} error(s); ${skipped.length} skipped.`,
  );
  return counts.errors > 0 ? 1 : 0;
}

if (require.main === module) {
  const config = loadReceiverConfig();
  const { client, connection } = createTemporalClient(config.temporal);
  const intake = createIntake({
    client,
    taskQueue: config.temporal.taskQueue,
    startTimeoutMs: 30_000,
    quarantineKeepForMs: config.quarantineKeepForMs,
    priorities: config.temporal.priorities,
  });
  const closers: (() => Promise<unknown>)[] = [() => connection.close()];
  const database = async () => {
    const db = await openDatabase(config.databaseUrl);
    closers.push(() => db.close());
    return db;
  };
  const deps: RedriveDeps = {
    async quarantine() {
      const bodies = await openQuarantineStore(config.spool.url, { scope: `${config.temporal.namespace}/${config.temporal.taskQueue}` });
      closers.push(() => bodies.close());
      const db = await database();
      return createQuarantineService({
        client,
        intake,
        sources: config.sources,
        bodies,
        eventLog: (entry) => appendEventLog(db.db, [entry]),
      });
    },
    async failed() {
      return { client, intake, db: (await database()).db };
    },
    ...(process.stdin.isTTY
      ? {
          async confirm(question: string) {
            const rl = createInterface({ input: process.stdin, output: process.stderr });
            try {
              return /^y(es)?$/i.test((await rl.question(question)).trim());
            } finally {
              rl.close();
            }
          },
        }
      : {}),
    out: (line) => process.stdout.write(`${line}\n`),
    progress: (line) => process.stderr.write(`${line}\n`),
  };
  runRedriveCli(process.argv.slice(2), deps)
    .then((code) => (process.exitCode = code))
    .catch((err: unknown) => {
      process.stderr.write(`redrive: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    })
    .finally(() => void Promise.allSettled(closers.map((close) => close())));
}
