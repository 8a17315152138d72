/**
 * `npm run spool -- stats | list [--limit N] | drain | park <seq> --reason … | unpark <seq> | discard <seq> --reason …`
 *
 * The intake spool holds verified events Temporal did not acknowledge in time; every receiver
 * drains it on its own as soon as Temporal answers. This is the operators' view of it, configured
 * by the receiver's own variables (SPOOL_URL or DATABASE_URL, TEMPORAL_*, HOOKLINE_TASK_QUEUE).
 */
import { parseArgs } from 'node:util';
import { loadReceiverConfig } from '../src/config/receiver';
import { createLogger } from '../src/log';
import { createIntake } from '../src/intake/direct';
import { createDrainer, openSpool, type Drainer, type SpoolStore } from '../src/spool';
import { createTemporalClient } from '../src/temporal/client';
import { forTerminal } from '../src/terminal';
import type { Logger } from '../src/log';

const USAGE = `Usage: npm run spool -- <command>

  stats              events waiting, their size, the oldest one's age, how many a drainer holds
  list [--limit N]   waiting events, oldest first (default 50)
  drain              start waiting events now, until the spool is empty or Temporal stops answering
  park <seq> --reason "…"      stop draining a row Temporal keeps refusing; it stays listed, with its error
  unpark <seq>                 let the drain take a parked row again
  discard <seq> --reason "…"   drop a row on purpose (the reason is logged); its event is then never started`;

export interface SpoolCliDeps {
  /** Opened only for a command that needs it: help and typos touch no database. */
  open(): Promise<{ spool: SpoolStore; drainer: () => Drainer }>;
  out: (line: string) => void;
  /** Where park and discard are recorded (a JSON log line each). */
  logger?: Logger;
}

export async function runSpoolCli(argv: string[], deps: SpoolCliDeps): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { limit: { type: 'string' }, reason: { type: 'string' } },
  });
  // Workflow IDs carry senders' identifiers, and errors may quote them (src/terminal.ts).
  const out = (line: string) => deps.out(forTerminal(line));
  const cell = (text: string) => forTerminal(text, { singleLine: true });
  switch (positionals[0]) {
    case 'stats': {
      const { spool } = await deps.open();
      const s = await spool.stats();
      out(`Spooled:   ${s.depth} event(s), ${s.bytes} bytes`);
      out(`Oldest:    ${s.depth === 0 ? '-' : `${(s.oldestAgeMs / 1000).toFixed(1)} s ago`}`);
      out(`Claimed:   ${s.claimed} (being started by a drainer now)`);
      out(`Parked:    ${s.parked} (kept, not drained: npm run spool -- list)`);
      return 0;
    }
    case 'list': {
      const limit = Number(values.limit ?? 50);
      if (!Number.isInteger(limit) || limit <= 0) {
        out(`--limit expects a whole number above 0.\n\n${USAGE}`);
        return 2;
      }
      const { spool } = await deps.open();
      const rows = await spool.list(limit);
      if (rows.length === 0) out('The spool is empty.');
      else {
        out(`${'SEQ'.padEnd(8)} ${'SPOOLED AT'.padEnd(24)} ${'TRIES'.padEnd(5)} ${'WORKFLOW ID'.padEnd(70)} LAST ERROR`);
        for (const r of rows)
          out(
            `${String(r.seq).padEnd(8)} ${new Date(r.spooledAt).toISOString().padEnd(24)} ${String(r.attempts).padEnd(5)} ` +
              `${cell(r.workflowId).padEnd(70)} ${r.parkedAt === null ? '' : `[parked: ${cell(r.parkReason ?? '')}] `}` +
              cell(r.lastError ?? ''),
          );
      }
      return 0;
    }
    case 'drain': {
      const drainer = (await deps.open()).drainer();
      let total = 0;
      for (;;) {
        const pass = await drainer.pass();
        total += pass.started;
        if (pass.outcome === 'empty') {
          out(`Started ${total} event(s); the spool is empty.`);
          return 0;
        }
        if (pass.outcome === 'unavailable') {
          out(
            `Started ${total} event(s), then Temporal did not answer: ${pass.error ?? 'unknown error'}. ` +
              'The receivers keep trying on their own.',
          );
          return 1;
        }
        if (pass.outcome === 'refused') {
          out(
            `Started ${total} event(s); Temporal refuses the rest: ${pass.error ?? 'unknown error'}. See them with: npm run spool -- list`,
          );
          return 1;
        }
      }
    }
    case 'park':
    case 'unpark':
    case 'discard': {
      const command = positionals[0];
      const seq = Number(positionals[1]);
      if (!Number.isInteger(seq) || seq <= 0) {
        out(`${command} needs the row's SEQ (see \`list\`).\n\n${USAGE}`);
        return 2;
      }
      const reason = values.reason?.trim();
      if (command !== 'unpark' && !reason) {
        out(`${command} needs --reason "…": it is logged with the row.\n\n${USAGE}`);
        return 2;
      }
      const { spool } = await deps.open();
      const row =
        command === 'park' ? await spool.park(seq, reason!) : command === 'unpark' ? await spool.unpark(seq) : await spool.discard(seq);
      if (!row) {
        out(`No spooled row ${seq} (drained meanwhile, or discarded).`);
        return 1;
      }
      const fields = { seq, workflowId: row.workflowId, source: row.source, eventType: row.eventType, lastError: row.lastError, reason };
      if (command === 'discard') deps.logger?.warn('spool row discarded', fields);
      else deps.logger?.info(command === 'park' ? 'spool row parked' : 'spool row unparked', fields);
      const verb = command === 'park' ? 'Parked' : command === 'unpark' ? 'Unparked' : 'Discarded';
      out(`${verb} ${seq}: ${cell(row.workflowId)}${command === 'discard' ? ' (its event will not be started)' : ''}`);
      return 0;
    }
    case undefined:
    case 'help':
      out(USAGE);
      return 0;
    default:
      out(`Unknown command ${JSON.stringify(positionals[0])}.\n\n${USAGE}`);
      return 2;
  }
}

if (require.main === module) {
  let close = async () => {};
  const open = async () => {
    const config = loadReceiverConfig();
    const { client, connection } = createTemporalClient(config.temporal);
    const logger = createLogger({ level: 'warn', bindings: { service: 'spool-cli' } });
    const intake = createIntake({
      client,
      taskQueue: config.temporal.taskQueue,
      startTimeoutMs: config.startTimeoutMs,
      quarantineKeepForMs: config.quarantineKeepForMs,
      priorities: config.temporal.priorities,
    });
    const spool = await openSpool(config.spool.url, {
      scope: `${config.temporal.namespace}/${config.temporal.taskQueue}`,
      limits: { maxEvents: config.spool.maxEvents, maxBytes: config.spool.maxBytes },
    }).catch(async (err: unknown) => {
      await connection.close();
      throw err;
    });
    close = async () => {
      await spool.close();
      await connection.close();
    };
    return { spool, drainer: () => createDrainer({ spool, intake, logger, policy: { leaseMs: config.spool.leaseMs } }) };
  };
  // Park and discard leave a line in the operators' log (stderr, JSON), apart from what is printed.
  const audit = createLogger({ level: 'info', bindings: { service: 'spool-cli' }, write: (line) => process.stderr.write(`${line}\n`) });
  runSpoolCli(process.argv.slice(2), { open, out: (line) => process.stdout.write(`${line}\n`), logger: audit })
    .then((code) => (process.exitCode = code))
    .catch((err: unknown) => {
      process.stderr.write(`spool: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    })
    .finally(() => void close());
}
