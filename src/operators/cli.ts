/**
^ * `npm run operators -- add <name> --role agent|lead | list | remove <name>`: the people who work
 * the escalation queue. Each gets a token of their own, printed once, alone on the last line
 * (so `| tail -1` captures it); only its hash is stored. Every receiver reads operators from the
 * same database (DATABASE_URL), so a change takes effect on their next request, no restart.
 * It lives in src/ so the compiled image has it too: `node dist/src/operators/cli.js add …`.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DATABASE_URL, defaultDatabaseUrl, parseEnv } from '../config/env';
import { migrateToLatest, openDatabase, type Database } from '../db';
import { OPERATOR_ROLES, type OperatorRole } from '../handoff/permissions';
import { createOperatorDirectory, OperatorError, type OperatorDirectory } from './directory';

export const USAGE = `Usage: npm run operators -- <command>

  add <name> --role agent|lead   create an operator; their token is printed once, on the last line
  list                           every operator and their role
  remove <name>                  delete an operator and end their inbox sessions

An agent claims, replies to, releases and resolves what they hold; a lead may also approve or
deny returns and take over or release anyone's claim. The database: DATABASE_URL (default
hookline.db in HOOKLINE_DATA_DIR, .data), the one the receivers use.`;

class UsageError extends Error {}

/** Runs one command; `directory` opens the database only for commands that need it. */
export async function runOperatorsCli(
  argv: string[],
  deps: { directory: () => Promise<OperatorDirectory>; out: (line: string) => void; err?: (line: string) => void },
): Promise<number> {
  const { out } = deps;
  const err = deps.err ?? out;
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        strict: true,
        options: { role: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values, positionals } = parsed;
    const [command, name, ...extra] = positionals;
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    switch (command) {
      case undefined:
      case 'help':
        out(USAGE);
        return command === undefined && !values.help ? 1 : 0;
      case 'add': {
        if (!name) throw new UsageError('add needs a name, e.g. npm run operators -- add dana --role agent');
        if (!values.role) throw new UsageError(`add needs --role ${OPERATOR_ROLES.join('|')}`);
        if (!(OPERATOR_ROLES as readonly string[]).includes(values.role))
          throw new UsageError(`--role must be one of ${OPERATOR_ROLES.join(', ')} (got ${JSON.stringify(values.role)})`);
        const { operator, token } = await (await deps.directory()).add(name, values.role as OperatorRole);
        out(`Created ${operator.role} ${operator.name}. Their token is below, shown this once; hand it over privately.`);
        out(
          'They use it as HOOKLINE_OPERATOR_TOKEN for npm run handoff, as "Authorization: Bearer <token>" for the API, ' +
            'or to log in at /inbox.',
        );
        out(token);
        return 0;
      }
      case 'list': {
        if (name) throw new UsageError(`unexpected argument ${JSON.stringify(name)}`);
        const all = await (await deps.directory()).list();
        if (all.length === 0) out('No operators yet. Create one with: npm run operators -- add <name> --role lead');
        const width = Math.max(4, ...all.map((o) => o.name.length));
        if (all.length > 0) out(`${'NAME'.padEnd(width)}  ROLE   CREATED`);
        for (const o of all) out(`${o.name.padEnd(width)}  ${o.role.padEnd(5)}  ${o.createdAt}`);
        return 0;
      }
      case 'remove': {
        if (!name) throw new UsageError("remove needs the operator's name (see: npm run operators -- list)");
        if (!(await (await deps.directory()).remove(name))) {
          err(`No operator named ${name}.`);
          return 1;
        }
        out(`Removed ${name}; their token and inbox sessions no longer work.`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (e) {
    if (e instanceof UsageError) err(`${e.message}\n\n${USAGE}`);
    else if (e instanceof OperatorError) err(`Refused: ${e.message}`);
    else err(`Error: ${(e as Error).message}`);
    return 1;
  }
}

async function main(): Promise<void> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  let database: Database | undefined;
  const directory = async () => {
    const { DATABASE_URL: url = defaultDatabaseUrl() } = parseEnv(z.object({ DATABASE_URL }), process.env);
    database = await openDatabase(url);
    await migrateToLatest(database);
    // This command opens no sessions, so their lifetime does not matter here.
    return createOperatorDirectory(database.db, { sessionTtlMs: 1 });
  };
  try {
    process.exitCode = await runOperatorsCli(process.argv.slice(2), { directory, out, err });
  } finally {
    await database?.close();
  }
}

if (require.main === module) {
  void main();
}
