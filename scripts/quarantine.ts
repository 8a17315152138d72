/**
 * `npm run quarantine -- list | show <id> | replay <id> [--body file.json] --by <name> | discard <id> --by <name> [--note "…"]`
 *
 * Verified events hookline could not process wait in quarantine for a person. `replay` runs the
 * kept body (or a corrected one) through today's schemas and starts its workflow.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadTemporalConfig } from '../src/config/temporal';
import { createIntake } from '../src/intake/direct';
import {
  createQuarantineService,
  QuarantineConflictError,
  QuarantineNotFoundError,
  ReplayRejectedError,
  type QuarantineService,
} from '../src/receiver/quarantine';
import { loadSources } from '../src/receiver/sources';
import { loadSpoolConfig } from '../src/spool/config';
import { openQuarantineStore } from '../src/spool/quarantine';
import { createTemporalClient } from '../src/temporal/client';
import { forTerminal } from '../src/terminal';

const USAGE = `Usage: npm run quarantine -- <command>

  list                                        quarantined events, newest first
  show <id>                                   the reason, the schema problems and the raw body
  replay <id> --by <name> [--body file.json]  process it now (with a corrected body, if given)
  discard <id> --by <name> [--note "why"]     drop it, keeping the record`;

export async function runQuarantineCli(argv: string[], deps: { service: QuarantineService; out: (line: string) => void }): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { by: { type: 'string' }, body: { type: 'string' }, note: { type: 'string' } },
  });
  const [command, id] = positionals;
  const { service } = deps;
  // What a sender wrote (the body, its event type) reaches the terminal only as text (src/terminal.ts).
  const out = (line: string) => deps.out(forTerminal(line));
  const cell = (text: string) => forTerminal(text, { singleLine: true });
  const needId = () => {
    if (!id) throw new UsageError(`${command} needs the quarantined workflow's ID (see \`list\`).`);
    return id;
  };
  const needBy = () => {
    if (!values.by) throw new UsageError(`${command} needs --by <your name>, for the record.`);
    return values.by;
  };
  try {
    switch (command) {
      case 'list': {
        const rows = await service.list();
        if (rows.length === 0) out('No quarantined events.');
        else {
          out(`${'ID'.padEnd(60)} ${'SOURCE'.padEnd(10)} ${'EVENT TYPE'.padEnd(26)} RECEIVED`);
          for (const r of rows)
            out(`${cell(r.id).padEnd(60)} ${cell(r.source ?? '').padEnd(10)} ${cell(r.eventType ?? '').padEnd(26)} ${r.startTime}`);
        }
        return 0;
      }
      case 'show': {
        const s = await service.show(needId());
        out(`Status:    ${s.status}`);
        out(`Source:    ${cell(s.event.source)}   event type: ${cell(s.event.eventType ?? '(none)')}   received: ${s.event.receivedAt}`);
        out(`Reason:    ${cell(s.event.reason)}`);
        for (const p of s.event.problems) out(`  - ${cell(p)}`);
        out(`Body:${s.event.body ? `      ${s.event.body.bytes} bytes, SHA-256 ${s.event.body.sha256}` : ''}`);
        out(s.event.rawBody ?? '(no longer kept)');
        return 0;
      }
      case 'replay': {
        const result = await service.replay(needId(), { by: needBy(), body: values.body ? readFileSync(values.body, 'utf8') : undefined });
        out(`${result.duplicate ? 'Already processed as' : 'Started'} ${result.workflowId}`);
        return 0;
      }
      case 'discard': {
        await service.discard(needId(), { by: needBy(), note: values.note });
        out(`Discarded ${id}`);
        return 0;
      }
      case undefined:
      case 'help':
        out(USAGE);
        return 0;
      default:
        throw new UsageError(`Unknown command ${JSON.stringify(command)}.`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      out(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof ReplayRejectedError) {
      out(err.message);
      for (const p of err.problems) out(`  - ${cell(p)}`);
      return 1;
    }
    if (err instanceof QuarantineNotFoundError || err instanceof QuarantineConflictError) {
      out(err.message);
      return 1;
    }
    throw err;
  }
}

class UsageError extends Error {}

if (require.main === module) {
  const temporal = loadTemporalConfig();
  const sources = loadSources();
  const { client, connection } = createTemporalClient(temporal);
  const intake = createIntake({
    client,
    taskQueue: temporal.taskQueue,
    startTimeoutMs: 10_000,
    quarantineKeepForMs: 30 * 86_400_000,
    priorities: temporal.priorities,
  });
  // The bodies are where the receivers keep them: the spool's database (SPOOL_URL, as they resolve it).
  const bodies = openQuarantineStore(loadSpoolConfig(process.env, sources.keys()).url, {
    scope: `${temporal.namespace}/${temporal.taskQueue}`,
  });
  bodies
    .then((store) => {
      const service = createQuarantineService({ client, intake, sources, bodies: store });
      return runQuarantineCli(process.argv.slice(2), { service, out: (line) => process.stdout.write(`${line}\n`) });
    })
    .then((code) => (process.exitCode = code))
    .catch((err: unknown) => {
      process.stderr.write(`quarantine: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    })
    .finally(() => {
      void bodies.then((store) => store.close()).catch(() => undefined);
      void connection.close();
    });
}
