import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cliTarget, runHandoffCli, USAGE } from '../scripts/handoff';
import { createHttpDesk } from '../src/handoff/http-desk';
import { createHandoffService, type HandoffService } from '../src/handoff/service';
import type { InquiryResult } from '../workflows/contracts/inquiries';
import { CUSTOMER, raiseEscalation, terminateAll, waitForNotification, type Raised } from './support/handoff';
import { setupAgent } from './support/harness';

const execFileAsync = promisify(execFile);

describe('handoff CLI', () => {
  const t = setupAgent({ operators: true });
  let service: HandoffService;
  const raised: string[] = [];
  const tokens: Record<string, string> = {};

  /** Runs one command in-process, as `who` over the receiver's real HTTP API; returns its exit code and what it printed. */
  async function cliAs(who: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const desk = createHttpDesk({ baseUrl: t.receiver.url, token: tokens[who] ?? who });
    const code = await runHandoffCli(argv, { desk, out: (l) => out.push(l), err: (l) => err.push(l), target: t.receiver.url });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }
  const cli = (...argv: string[]) => cliAs('alice', ...argv);

  async function escalate(options: { summary?: string } = {}): Promise<Raised> {
    const escalation = await raiseEscalation(t.receiver.url, { source: 'chat', ...options });
    raised.push(escalation.workflowId);
    return escalation;
  }

  beforeAll(async () => {
    service = createHandoffService(t.env.client);
    tokens.alice = (await t.operators.add('alice', 'agent')).token;
    tokens.bob = (await t.operators.add('bob', 'agent')).token;
  });
  afterAll(async () => {
    await terminateAll(t.env, raised);
  });

  it('shows the suggested reply and sends it with --suggested', async () => {
    const { id } = await escalate();
    const shown = await vi.waitFor(
      async () => {
        const r = await cli('show', id);
        expect(r.code).toBe(0);
        expect(r.out).toContain('Suggested reply');
        return r.out;
      },
      { timeout: 20_000, interval: 250 },
    );
    const suggested = (await service.show(id)).suggestedReply!;
    expect(suggested).toMatch(/^Thanks for reaching out, Alice\. /);
    expect(shown).toContain(suggested);
    expect((await cli('reply', id, 'typed text', '--suggested')).err).toContain('the text or --suggested, not both');
    expect((await cli('claim', id)).code).toBe(0);
    const sent = await cli('reply', id, '--suggested');
    expect(sent.code, sent.err).toBe(0);
    const c = await service.show(id);
    expect(c.messages.filter((m) => m.from === 'agent').map((m) => m.text)).toEqual([suggested]);
  });

  it('lists, shows, claims, replies and resolves an escalation', async () => {
    const { id, workflowId } = await escalate();

    const listed = await vi.waitFor(
      async () => {
        const r = await cli('list', '--status', 'waiting', '--customer', CUSTOMER);
        expect(r.code).toBe(0);
        expect(r.out).toContain(id);
        return r.out;
      },
      { timeout: 20_000, interval: 250 },
    );
    const lines = listed.split('\n');
    expect(lines[0]).toMatch(/^PRIORITY\s+STATUS\s+QUEUE\s+CUSTOMER\s+AGE\s+ID$/);
    const row = lines.find((l) => l.endsWith(id))!;
    expect(row).toMatch(new RegExp(`^1\\s+waiting\\s+support\\s+${CUSTOMER}\\s+\\S+\\s+`));
    // Aligned: every row's ID starts in the header's ID column.
    expect(row.indexOf(id)).toBe(lines[0]!.indexOf('ID'));

    const shown = await vi.waitFor(
      async () => {
        const r = await cli('show', id);
        expect(r.code).toBe(0);
        expect(r.out).toContain('Status:     waiting');
        return r.out;
      },
      { timeout: 10_000 },
    );
    expect(shown).toContain(`Escalation ${id}`);
    expect(shown).toMatch(/channel\s+chat/);
    // The raising workflow's ID, as the Temporal UI shows it, names the same conversation.
    expect((await cli('show', workflowId)).out).toContain(`Escalation ${id}`);
    expect(shown).toContain('Reason:     the customer is complaining');
    expect(shown).toContain(`Customer ${CUSTOMER}: Alice Smith <alice@example.com>`);
    expect(shown).toMatch(/ORD-12345\s+shipped\s+2023-10-25/);
    expect(shown).toMatch(/customer: This is unacceptable, my order arrived broken/);

    expect((await cli('whoami')).out).toBe('alice (agent)');
    const claimed = await cli('claim', id);
    expect(claimed).toMatchObject({ code: 0 });
    expect(claimed.out).toContain(`Claimed ${id} for alice`);

    const stolen = await cliAs('bob', 'claim', id);
    expect(stolen.code).toBe(1);
    expect(stolen.err).toBe('Refused: already claimed by alice; a lead can take it over');

    const text = `We are sending a replacement today (${randomUUID().slice(0, 8)}).`;
    const replied = await cli('reply', id, text);
    expect(replied.code).toBe(0);
    expect(replied.out).toContain(`sent to customer ${CUSTOMER}`);
    const notification = await waitForNotification(t.agent.db, { audience: 'customer', customerId: CUSTOMER, bodyLike: `%${text}%` });
    expect(notification.idempotency_key).toBe(`${id}:reply:1`);
    expect((await cli('show', id)).out).toContain(`alice: ${text}`);

    const wrong = await cli('resolve', id, '--outcome', 'deny');
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/^Refused: outcome must be one of resolved/);

    const resolved = await cli('resolve', id, '--outcome', 'resolved', '--note', 'replacement shipped');
    expect(resolved.code).toBe(0);
    expect(resolved.out).toBe(`Resolved ${id}: resolved (replacement shipped).`);

    const result = (await t.env.client.workflow.getHandle(workflowId).result()) as InquiryResult;
    expect(result).toMatchObject({ decision: 'handoff', handoff: { outcome: 'resolved', agent: 'alice', note: 'replacement shipped' } });

    const closed = await cliAs('bob', 'claim', id);
    expect(closed.code).toBe(1);
    expect(closed.err).toMatch(/^Not found: /);
  });

  it('prints what a customer wrote without anything that could rewrite what the operator sees', async () => {
    // Clears the screen, homes the cursor, overwrites the line, reverses the rest, hides a link
    // and, after a line break, forges a field of its own.
    const summary =
      'This is unacceptable, my order arrived broken\x1b[2J\x1b[H\rRefund approved by lead \u202eDENIED\u202c ' +
      '\x1b]8;;https://evil.example\x07click here\x1b]8;;\x07\nStatus:     resolved';
    const { id } = await escalate({ summary });
    const shown = await vi.waitFor(
      async () => {
        const r = await cli('show', id);
        expect(r.code).toBe(0);
        expect(r.out).toContain('customer: This is unacceptable');
        return r.out;
      },
      { timeout: 20_000, interval: 250 },
    );
    expect(shown).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
    expect(shown).toContain('customer: This is unacceptable, my order arrived brokenRefund approved by lead DENIED click here');
    // The forged field stays inside the message, indented under it: one Status line, the real one.
    expect(shown.split('\n').filter((l) => l.startsWith('  Status:'))).toEqual(['  Status:     waiting']);
    expect(shown).toContain('\n      Status:     resolved');

    // --json keeps the customer's text exactly, escaped where a terminal would act on it.
    const json = await cli('show', id, '--json');
    expect(json.out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
    const conversation = JSON.parse(json.out) as { messages: { from: string; text: string }[] };
    expect(conversation.messages.find((m) => m.from === 'customer')?.text).toBe(summary);
  });

  it('reads its receiver from HOOKLINE_URL, and will not send a token in clear to another machine', () => {
    expect(cliTarget({})).toEqual({ baseUrl: 'http://localhost:3000', token: undefined });
    expect(cliTarget({ HOOKLINE_URL: 'https://hookline.example.com', HOOKLINE_OPERATOR_TOKEN: 'hlo_x' })).toEqual({
      baseUrl: 'https://hookline.example.com',
      token: 'hlo_x',
    });
    expect(cliTarget({ HOOKLINE_URL: 'http://127.0.0.1:3001' }).baseUrl).toBe('http://127.0.0.1:3001');
    expect(() => cliTarget({ HOOKLINE_URL: 'http://hookline.example.com' })).toThrow(
      /HOOKLINE_URL: expected https:\/\/…, or http:\/\/ to this machine only/,
    );
    // Plain HTTP only to a loopback literal or localhost, however it is spelled; never to a name
    // that merely starts like one.
    for (const local of [
      'http://localhost:3000',
      'http://LOCALHOST',
      'http://127.0.0.1',
      'http://127.255.0.9:1',
      'http://127.1',
      'http://[::1]:3000',
      'http://[0:0::1]',
    ]) {
      expect(cliTarget({ HOOKLINE_URL: local }).baseUrl, local).toBe(local);
    }
    for (const remote of [
      'http://127.0.0.1.attacker.example',
      'http://127.attacker.example',
      'http://localhost.attacker.example',
      'http://attacker.example#@127.0.0.1',
      'http://127.0.0.1@attacker.example',
      'http://128.0.0.1',
      'http://0.0.0.0',
      'http://[::ffff:7f00:1]',
      'http://[::2]',
    ]) {
      expect(() => cliTarget({ HOOKLINE_URL: remote }), remote).toThrow(/to this machine only/);
    }
  });

  it('explains mistakes and exits 1', async () => {
    const help = await cli('help');
    expect(help).toMatchObject({ code: 0, out: USAGE });

    const nothing = await cli();
    expect(nothing.code).toBe(1);
    expect(nothing.err).toContain('No command given.');

    const unknown = await cli('frobnicate');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('Unknown command "frobnicate".');
    expect(unknown.err).toContain('Usage: npm run handoff -- <command>');

    // Who acts comes from the token, never the command line.
    const posing = await cli('claim', 'crm:customer.inquiry.new:INQ-1', '--agent', 'bob');
    expect(posing.code).toBe(1);
    expect(posing.err).toContain('--agent is gone: you act as the operator whose token is in HOOKLINE_OPERATOR_TOKEN');

    const stranger = await cliAs(`hlo_${'x'.repeat(43)}`, 'list');
    expect(stranger.code).toBe(1);
    expect(stranger.err).toMatch(/^Not signed in: /);

    expect((await cli('claim')).err).toContain('claim needs an escalation id');
    expect((await cli('reply', 'x:y')).err).toContain('reply needs the text to send');
    expect((await cli('resolve', 'x:y')).err).toContain('resolve needs --outcome approve|deny|resolved');
    expect((await cli('resolve', 'x:y', '--outcome', 'maybe')).err).toContain('--outcome must be one of approve, deny, resolved');
    expect((await cli('list', '--status', 'pending')).err).toContain('--status must be one of');
    expect((await cli('list', '--queue', 'support"')).err).toMatch(/^Invalid filter: .*quotes/);
    expect((await cli('list', '--frob')).err).toMatch(/Unknown option '--frob'/);

    const missing = await cli('show', `crm:customer.inquiry.new:nope-${randomUUID()}`);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^Not found: /);
  });

  it('runs as a real process: npx tsx scripts/handoff.ts', async () => {
    const { id } = await escalate();
    await vi.waitFor(async () => expect((await service.list({ status: 'waiting', customerId: CUSTOMER })).map((r) => r.id)).toContain(id), {
      timeout: 20_000,
      interval: 250,
    });
    const root = join(__dirname, '..');
    const childEnv = { ...process.env, HOOKLINE_URL: t.receiver.url, HOOKLINE_OPERATOR_TOKEN: tokens.bob };
    const { stdout } = await execFileAsync('npx', ['tsx', 'scripts/handoff.ts', 'list', '--customer', CUSTOMER], {
      cwd: root,
      env: childEnv,
      timeout: 50_000,
    });
    expect(stdout).toMatch(/^PRIORITY\s+STATUS/);
    expect(stdout).toContain(id);
    const claimed = await execFileAsync('npx', ['tsx', 'scripts/handoff.ts', 'claim', id], { cwd: root, env: childEnv, timeout: 50_000 });
    expect(claimed.stdout).toContain(`Claimed ${id} for bob`);

    const { HOOKLINE_OPERATOR_TOKEN: _dropped, ...noToken } = childEnv;
    const failed = await execFileAsync('npx', ['tsx', 'scripts/handoff.ts', 'release', id], {
      cwd: root,
      env: noToken,
      timeout: 50_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('Set HOOKLINE_OPERATOR_TOKEN to your operator token');
  }, 120_000);
});
