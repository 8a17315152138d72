/**
 * `npm run events -- find [--order ORD-1] [--customer CUST-1] [--type …] [--source …] [--outcome …]
 *  [--status …] [--since 2h] [--limit N] [--before CURSOR] [--json]`
 *
 * What happened to an order's (a customer's, a source's) events: every delivery hookline took,
 * how it was answered and how its run ended, from the event log in the knowledge base
 * (DATABASE_URL), newest first. The same filters as `GET /events`.
 */
import { parseArgs } from 'node:util';
import { DATABASE_URL, defaultDatabaseUrl, parseEnv } from '../src/config/env';
import { findEvents, openDatabase, type Database } from '../src/db';
import { eventFilter, EventQueryError, eventView } from '../src/eventlog/search';
import { forTerminal } from '../src/terminal';
import { z } from 'zod';

const USAGE = `Usage: npm run events -- find [filters] [--json]

  --order ORD-1        events naming this order        --customer CUST-1   events naming this customer
  --type TYPE          e.g. order.status_updated       --source NAME       oms, crm, payments, carrier, …
  --outcome WORD       accepted, rerun, queued, duplicate, closed, quarantined, ignored, refused, unreadable
  --status WORD        how the run ended: running, completed, failed, timed-out, cancelled, terminated
  --since 2h           received in the last 2 hours (or an ISO-8601 time)
  --limit N            rows per page (default 50, at most 500); --before CURSOR for the next page
  --json               one JSON object per line`;

export async function runEventsCli(argv: string[], deps: { open: () => Promise<Database>; out: (line: string) => void }): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      order: { type: 'string' },
      customer: { type: 'string' },
      type: { type: 'string' },
      source: { type: 'string' },
      outcome: { type: 'string' },
      status: { type: 'string' },
      since: { type: 'string' },
      limit: { type: 'string' },
      before: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  // IDs and reasons come from senders: printed as text only (src/terminal.ts).
  const out = (line: string) => deps.out(forTerminal(line));
  const cell = (text: string | null, width: number) => forTerminal(text ?? '', { singleLine: true }).padEnd(width);
  if (positionals[0] === undefined || positionals[0] === 'help') {
    out(USAGE);
    return 0;
  }
  if (positionals[0] !== 'find') {
    out(`Unknown command ${JSON.stringify(positionals[0])}.\n\n${USAGE}`);
    return 2;
  }
  const { json, ...query } = values;
  let filter;
  try {
    filter = eventFilter(query);
  } catch (err) {
    if (!(err instanceof EventQueryError)) throw err;
    out(`${err.message}\n\n${USAGE}`);
    return 2;
  }
  const database = await deps.open();
  try {
    const page = await findEvents(database.db, filter);
    if (json) {
      for (const row of page.events) deps.out(JSON.stringify(eventView(row)));
      return 0;
    }
    if (page.events.length === 0) {
      out('No events match.');
      return 0;
    }
    out(
      `${'RECEIVED'.padEnd(20)} ${'SOURCE'.padEnd(9)} ${'TYPE'.padEnd(24)} ${'OUTCOME'.padEnd(11)} ${'RUN'.padEnd(10)} ` +
        `${'ORDER'.padEnd(14)} ${'CUSTOMER'.padEnd(12)} ${'WORKFLOW ID'.padEnd(60)} REASON`,
    );
    for (const e of page.events) {
      out(
        `${e.received_at.slice(0, 19).replace('T', ' ').padEnd(20)} ${cell(e.source, 9)} ${cell(e.event_type, 24)} ` +
          `${e.outcome.padEnd(11)} ${(e.run_status ?? '').padEnd(10)} ${cell(e.order_id, 14)} ${cell(e.customer_id, 12)} ` +
          `${cell(e.workflow_id, 60)} ${cell(e.reason, 0)}`,
      );
    }
    out(
      page.next === undefined
        ? `${page.events.length} event(s).`
        : `${page.events.length} event(s) shown; older ones: add --before ${page.next}`,
    );
    return 0;
  } finally {
    await database.close();
  }
}

if (require.main === module) {
  const env = parseEnv(z.object({ DATABASE_URL }), process.env);
  runEventsCli(process.argv.slice(2), {
    open: () => openDatabase(env.DATABASE_URL ?? defaultDatabaseUrl(process.env)),
    out: (line) => process.stdout.write(`${line}\n`),
  })
    .then((code) => (process.exitCode = code))
    .catch((err: unknown) => {
      process.stderr.write(`events: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    });
}
