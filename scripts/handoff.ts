/**
 * `npm run handoff -- <command>`: work the escalation queue from a terminal, as yourself. Every
 * action goes through the receiver's operators' API with your own token, so the receiver names
 * you from it (never from the command line) and the workflow's own validators decide races and
 * roles exactly as they do for the inbox.
 */
import { isIPv4 } from 'node:net';
import { parseArgs } from 'node:util';
import { ALL_OUTCOMES, type Conversation, type Outcome } from '../workflows/contracts/conversation';
import { z } from 'zod';
import { parseEnv, port, url, type Env } from '../src/config/env';
import { createHttpDesk, HandoffRequestError, OperatorAuthError, ReceiverUnavailableError } from '../src/handoff/http-desk';
import type { Actor } from '../src/handoff/permissions';
import { forTerminal, jsonForTerminal } from '../src/terminal';
import {
  HandoffConflictError,
  HandoffForbiddenError,
  HandoffNotFoundError,
  InvalidFilterError,
  LIST_STATUSES,
  type HandoffDesk,
  type HandoffRow,
  type ListStatus,
} from '../src/handoff/service';

export const USAGE = `Usage: npm run handoff -- <command> [options]

Commands:
  list [--status waiting|claimed|resolved|open|all] [--queue <queue>] [--customer <id>]
        Escalations, highest priority first, then oldest. Default status: open.
  show <id>
        One conversation: reason, customer, facts, messages.
  claim <id>
        Take an escalation (refused if someone else holds it; a lead takes it over).
  release <id>
        Give a claimed escalation back to the queue (yours; a lead may release anyone's).
  reply <id> "text" | reply <id> --suggested
        Message the customer; you must hold the claim. --suggested sends the reply the agent
        drafted (show prints it), unchanged; to edit it, copy it into "text".
  resolve <id> --outcome approve|deny|resolved [--note "..."]
        Close it. return-approval takes approve or deny (a lead, or the agent holding it);
        everything else takes resolved.
  whoami
        The operator your token belongs to.
  help
        This text.

<id> is the conversation's own ID, <raising workflow's ID>:handoff:<kind> (list shows it), or the
ID of the workflow that raised it when that names one open conversation.
Options: --json prints list and show as JSON.
You act as the operator whose token is in HOOKLINE_OPERATOR_TOKEN (npm start prints the first
lead's; a lead creates more with npm run operators -- add <name> --role agent|lead).
The receiver: HOOKLINE_URL (default http://localhost:3000).`;

const OUTCOME_VALUES: readonly Outcome[] = ALL_OUTCOMES;

export interface HandoffCliDeps {
  /** The queue as the operator whose token the CLI holds. */
  desk: HandoffDesk & { whoami(): Promise<Actor> };
  /** Normal output, one line per call. */
  out: (line: string) => void;
  /** Error output; defaults to `out`. */
  err?: (line: string) => void;
  now?: () => Date;
  /** Where the receiver is, for error messages. */
  target?: string;
}

/** A mistake in the command line: shown with a pointer to `help`, exit code 1. */
class UsageError extends Error {}

/** Runs one command and resolves to the process exit code (0 ok, 1 refused or failed). */
export async function runHandoffCli(argv: string[], given: HandoffCliDeps): Promise<number> {
  // Conversations carry what customers, partners and the model wrote: nothing reaches the
  // terminal that could act on it (src/terminal.ts).
  const deps = { ...given, out: (line: string) => given.out(forTerminal(line)) };
  const err = (line: string) => (given.err ?? given.out)(forTerminal(line));
  try {
    await run(argv, deps);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err(e.message.includes(USAGE) ? e.message : `${e.message}\nRun "npm run handoff -- help" for usage.`);
    } else if (e instanceof HandoffConflictError || e instanceof HandoffForbiddenError) {
      err(`Refused: ${e.message}`);
    } else if (e instanceof OperatorAuthError) {
      err(`Not signed in: ${e.message}`);
      err('Set HOOKLINE_OPERATOR_TOKEN to your own operator token.');
    } else if (e instanceof ReceiverUnavailableError) {
      err(`Error: ${e.message}`);
      if (deps.target) err(`Is the receiver running at ${deps.target}? (HOOKLINE_URL)`);
    } else if (e instanceof HandoffNotFoundError) {
      err(`Not found: ${e.message}`);
    } else if (e instanceof HandoffRequestError) {
      err(`Invalid request: ${e.message}`);
    } else if (e instanceof InvalidFilterError) {
      err(`Invalid filter: ${e.message}`);
    } else {
      const cause = e instanceof Error && e.cause instanceof Error ? ` (${e.cause.message})` : '';
      err(`Error: ${e instanceof Error ? e.message : String(e)}${cause}`);
    }
    return 1;
  }
}

async function run(argv: string[], deps: HandoffCliDeps): Promise<void> {
  const { desk, out } = deps;
  const now = deps.now ?? (() => new Date());
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        status: { type: 'string' },
        queue: { type: 'string' },
        customer: { type: 'string' },
        agent: { type: 'string' },
        outcome: { type: 'string' },
        note: { type: 'string' },
        suggested: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.agent !== undefined) {
    throw new UsageError(
      '--agent is gone: you act as the operator whose token is in HOOKLINE_OPERATOR_TOKEN (see: npm run handoff -- whoami).',
    );
  }
  const [command, ...rest] = positionals;

  if (command === undefined || command === 'help' || values.help) {
    if (command === undefined && !values.help) throw new UsageError(`No command given.\n\n${USAGE}`);
    out(USAGE);
    return;
  }

  const needId = () => {
    const id = rest[0];
    if (!id)
      throw new UsageError(
        `${command} needs an escalation id, e.g. npm run handoff -- ${command} crm:customer.inquiry.new:INQ-1:handoff:inquiry`,
      );
    return id;
  };
  const noExtra = (allowed: number) => {
    if (rest.length > allowed) throw new UsageError(`${command}: unexpected argument ${JSON.stringify(rest[allowed])}.`);
  };

  switch (command) {
    case 'list': {
      noExtra(0);
      const status = values.status ?? 'open';
      if (status !== 'all' && !(LIST_STATUSES as readonly string[]).includes(status)) {
        throw new UsageError(`--status must be one of ${[...LIST_STATUSES, 'all'].join(', ')} (got ${JSON.stringify(status)}).`);
      }
      const rows = await desk.list({
        ...(status === 'all' ? {} : { status: status as ListStatus }),
        ...(values.queue !== undefined ? { queue: values.queue } : {}),
        ...(values.customer !== undefined ? { customerId: values.customer } : {}),
      });
      if (values.json) out(jsonForTerminal(rows, 2));
      else for (const line of formatList(rows, status, now())) out(line);
      return;
    }
    case 'show': {
      const id = needId();
      noExtra(1);
      const conversation = await desk.show(id);
      if (values.json) out(jsonForTerminal(conversation, 2));
      else for (const line of formatConversation(conversation, now())) out(line);
      return;
    }
    case 'whoami': {
      noExtra(0);
      const me = await desk.whoami();
      out(`${me.name} (${me.role})`);
      return;
    }
    case 'claim': {
      const id = needId();
      noExtra(1);
      const c = await desk.claim(id);
      out(`Claimed ${c.id} for ${c.assignee}. Reply with: npm run handoff -- reply ${c.id} "..."`);
      return;
    }
    case 'release': {
      const id = needId();
      noExtra(1);
      const c = await desk.release(id);
      out(`Released ${c.id}; it is ${c.status} again.`);
      return;
    }
    case 'reply': {
      const id = needId();
      let text = rest.slice(1).join(' ').trim();
      if (values.suggested) {
        if (text) throw new UsageError('reply takes the text or --suggested, not both.');
        const shown = await desk.show(id);
        text = shown.suggestedReply ?? '';
        if (!text) throw new UsageError(`${id} has no suggested reply; write one: npm run handoff -- reply ${id} "…"`);
        if (shown.suggestedReplyWarning) {
          throw new UsageError(`the suggested reply is not sent as is: ${shown.suggestedReplyWarning}. Edit it and send the text instead.`);
        }
      }
      if (!text) throw new UsageError('reply needs the text to send, e.g. npm run handoff -- reply <id> "Sorry about that…"');
      const c = await desk.reply(id, text);
      out(`Reply sent to customer ${c.customerId}.`);
      return;
    }
    case 'resolve': {
      const id = needId();
      noExtra(1);
      const outcome = values.outcome;
      if (!outcome) throw new UsageError(`resolve needs --outcome ${OUTCOME_VALUES.join('|')}.`);
      if (!(OUTCOME_VALUES as readonly string[]).includes(outcome)) {
        throw new UsageError(`--outcome must be one of ${OUTCOME_VALUES.join(', ')} (got ${JSON.stringify(outcome)}).`);
      }
      const note = values.note?.trim();
      const c = await desk.resolve(id, { outcome: outcome as Outcome, ...(note ? { note } : {}) });
      out(`Resolved ${c.id}: ${c.outcome}${c.note ? ` (${c.note})` : ''}.`);
      return;
    }
    default:
      throw new UsageError(`Unknown command ${JSON.stringify(command)}.\n\n${USAGE}`);
  }
}

/** Column-aligned rows; the ID goes last because it is the long one. */
export function formatList(rows: HandoffRow[], status: string, now: Date): string[] {
  if (rows.length === 0) return [`No escalations (status ${status}).`];
  const table = [
    ['PRIORITY', 'STATUS', 'QUEUE', 'CUSTOMER', 'AGE', 'ID'],
    ...rows.map((r) => [String(r.priority), r.status, r.queue, r.customerId, age(r.startTime, now), r.id].map(cell)),
  ];
  return [...alignColumns(table), '', `${rows.length} escalation${rows.length === 1 ? '' : 's'} (status ${status}).`];
}

export function formatConversation(c: Conversation, now: Date): string[] {
  const lines: string[] = [];
  const field = (label: string, value: string | undefined) => {
    if (value) lines.push(`  ${`${label}:`.padEnd(11)} ${cell(value)}`);
  };
  lines.push(`Escalation ${cell(c.id)}`);
  field('Kind', `${c.kind} (queue ${c.queue})`);
  field('Status', c.status === 'claimed' ? `claimed by ${c.assignee}` : c.status);
  field('Priority', String(c.priority));
  field('Reason', c.reason);
  field('Opened', `${stamp(c.createdAt)} (${age(c.createdAt, now)} ago)`);
  if (c.slaDeadline) field('SLA', `${stamp(c.slaDeadline)} (${until(c.slaDeadline, now)})`);
  if (c.decideBy) field('Decide by', `${stamp(c.decideBy)} (${until(c.decideBy, now)})`);
  if (c.outcome) field('Outcome', `${c.outcome}${c.note ? ` — ${c.note}` : ''}`);

  const customer = c.context.customer;
  lines.push('', cell(customer ? `Customer ${c.customerId}: ${customer.name} <${customer.email}>` : `Customer ${c.customerId}`));
  if (customer) {
    lines.push('  Last orders:');
    if (customer.lastOrders.length === 0) lines.push('    (none)');
    else lines.push(...alignColumns(customer.lastOrders.map((o) => [o.order_id, o.status, o.date].map(cell))).map((l) => `    ${l}`));
    lines.push('  Previous tickets:');
    if (customer.previousTickets.length === 0) lines.push('    (none)');
    else
      lines.push(...alignColumns(customer.previousTickets.map((t) => [t.ticket_id, t.status, t.subject].map(cell))).map((l) => `    ${l}`));
  }
  // Every kind's facts are strings; the optional ones (an inquiry's orderId) may be absent.
  const facts = Object.entries(c.context.facts as object as Record<string, string | undefined>).flatMap(([k, v]) =>
    v === undefined ? [] : [[k, v] as const],
  );
  if (facts.length > 0) {
    lines.push('  Facts:');
    lines.push(...alignColumns(facts.map(([k, v]) => [cell(k), oneLine(cell(v))])).map((l) => `    ${l}`));
  }

  if (c.suggestedReply && c.status !== 'resolved') {
    lines.push(
      '',
      c.suggestedReplyWarning
        ? `Suggested reply — edit before sending: ${cell(c.suggestedReplyWarning)}:`
        : 'Suggested reply (npm run handoff -- reply <id> --suggested sends it):',
    );
    lines.push(`  ${forTerminal(c.suggestedReply).replace(/\n/g, '\n  ')}`);
  }

  lines.push('', 'Messages:');
  for (const m of c.messages) {
    const who = m.from === 'agent' ? (m.author ?? 'agent') : m.from === 'customer' ? 'customer' : 'system';
    // Every line of a message indented under its header, so none can pass for a message of its own.
    lines.push(`  [${stamp(m.at)}] ${cell(who)}: ${forTerminal(m.text).replace(/\n/g, '\n      ')}`);
  }
  return lines;
}

/** One line of someone else's text: a table cell, a field's value. */
function cell(text: string): string {
  return forTerminal(text, { singleLine: true });
}

function alignColumns(table: string[][]): string[] {
  const widths: number[] = [];
  for (const row of table) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return table.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

function stamp(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 100 ? `${flat.slice(0, 99)}…` : flat;
}

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${m % 60 ? ` ${m % 60}m` : ''}`;
  return `${Math.floor(h / 24)}d${h % 24 ? ` ${h % 24}h` : ''}`;
}

function age(iso: string, now: Date): string {
  return duration(now.getTime() - Date.parse(iso));
}

function until(iso: string, now: Date): string {
  const ms = Date.parse(iso) - now.getTime();
  return ms >= 0 ? `in ${duration(ms)}` : `overdue by ${duration(-ms)}`;
}

/**
 * Whether plain HTTP to `hostname` (a URL's, so already normalised: `127.1` reads 127.0.0.1,
 * `[0::1]` reads [::1]) stays on this machine: `localhost`, an IPv4 literal in 127.0.0.0/8, or
 * [::1]. A name that merely starts like one (`127.0.0.1.attacker.example`) is anybody's.
 */
function isLoopbackHost(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  return isIPv4(hostname) && hostname.startsWith('127.');
}

const CliEnv = z.object({
  HOOKLINE_URL: url('the receiver, e.g. https://hookline.example.com')
    .refine((u) => {
      const { protocol, hostname } = new URL(u);
      return protocol === 'https:' || (protocol === 'http:' && isLoopbackHost(hostname));
    }, 'expected https://…, or http:// to this machine only (your token would cross the network in clear)')
    .optional(),
  PORT: port(3000),
  HOOKLINE_OPERATOR_TOKEN: z.string().optional(),
});

/** The receiver the CLI talks to, and the token it acts with, from the environment. */
export function cliTarget(env: Env = process.env): { baseUrl: string; token?: string } {
  const e = parseEnv(CliEnv, env);
  return { baseUrl: e.HOOKLINE_URL ?? `http://localhost:${e.PORT}`, token: e.HOOKLINE_OPERATOR_TOKEN };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  let target;
  try {
    target = cliTarget();
  } catch (e) {
    err((e as Error).message);
    process.exitCode = 1;
    return;
  }
  const { baseUrl, token } = target;
  if (!token && needsReceiver(argv)) {
    err('Set HOOKLINE_OPERATOR_TOKEN to your operator token: you act as the operator it belongs to.');
    err("npm start prints the first lead's token; a lead creates more with: npm run operators -- add <name> --role agent|lead");
    process.exitCode = 1;
    return;
  }
  const desk = createHttpDesk({ baseUrl, token: token ?? '' });
  process.exitCode = await runHandoffCli(argv, { desk, out, err, target: baseUrl });
}

/** Help and usage mistakes answer without a receiver or a token. */
function needsReceiver(argv: string[]): boolean {
  const commands = ['list', 'show', 'claim', 'release', 'reply', 'resolve', 'whoami'];
  return argv.some((a) => commands.includes(a)) && !argv.includes('--help') && !argv.includes('-h') && !argv.includes('--agent');
}

if (require.main === module) {
  void main();
}
