import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import BetterSqlite3 from 'better-sqlite3';
import { migrateToLatest, openDatabase, SQLITE_BUSY_TIMEOUT_MS, type Database } from '../src/db';
import { SAMPLES } from '../src/events/samples';
import { createLogger } from '../src/log';
import { createOperatorDirectory, type OperatorDirectory } from '../src/operators/directory';
import { CredentialThrottle, FailureBackoff } from '../src/receiver/auth-throttle';
import { connectTestEnv, sendSigned, startReceiver, type Receiver } from './support/harness';
import { startReceiverProcess } from './support/processes';

const execFileAsync = promisify(execFile);
const ROOT = resolve(__dirname, '..');

/** `npm run operators -- …` as a real process on the given database. */
async function operatorsCli(databaseUrl: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, ['--import', 'tsx', 'src/operators/cli.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const lastLine = (text: string) => text.trimEnd().split('\n').at(-1)!;

async function get(url: string, path: string, headers: Record<string, string>): Promise<number> {
  return (await fetch(`${url}${path}`, { headers, redirect: 'manual' })).status;
}

function login(url: string, token: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/inbox/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ token }).toString(),
    redirect: 'manual',
  });
}

const sessionCookie = (res: Response) => res.headers.get('set-cookie')!.split(';')[0]!;

describe('operators: their own tokens, across receivers, without restarts', () => {
  let env: TestWorkflowEnvironment;
  let databaseUrl: string;
  // Two receivers, each with its own connection to the shared database, as two processes would be.
  const databases: Database[] = [];
  const receivers: Receiver[] = [];
  let a: Receiver;
  let b: Receiver;

  async function receiverOnSharedDb(
    options: { sessionTtlMs?: number; plainHttp?: boolean } = {},
  ): Promise<{ receiver: Receiver; directory: OperatorDirectory }> {
    const database = await openDatabase(databaseUrl);
    await migrateToLatest(database);
    databases.push(database);
    const directory = createOperatorDirectory(database.db, { sessionTtlMs: options.sessionTtlMs ?? 60 * 60_000 });
    const receiver = await startReceiver({
      env,
      taskQueue: 'operators-test',
      operators: directory,
      handoff: { plainHttp: options.plainHttp ?? true, sessionTtlMs: options.sessionTtlMs ?? 60 * 60_000 },
    });
    receivers.push(receiver);
    return { receiver, directory };
  }

  beforeAll(async () => {
    env = await connectTestEnv();
    databaseUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), 'hookline-operators-')), 'kb.db')}`;
    a = (await receiverOnSharedDb()).receiver;
    b = (await receiverOnSharedDb()).receiver;
  });
  afterAll(async () => {
    for (const r of receivers) await r.close();
    for (const d of databases) await d.close();
    await env?.teardown();
  });

  it('npm run operators: add prints the token alone on the last line; both receivers accept it, then refuse it once removed', async () => {
    const added = await operatorsCli(databaseUrl, 'add', 'dana', '--role', 'agent');
    expect(added.code, added.stderr).toBe(0);
    const token = lastLine(added.stdout);
    expect(token).toMatch(/^hlo_[A-Za-z0-9_-]{43}$/);
    expect(added.stdout).toContain('Created agent dana');

    for (const r of [a, b]) {
      const me = await fetch(`${r.url}/operators/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(me.status).toBe(200);
      expect(await me.json()).toEqual({ name: 'dana', role: 'agent' });
    }

    const listed = await operatorsCli(databaseUrl, 'list');
    expect(listed.stdout).toMatch(/^dana\s+agent\s+\d{4}-/m);
    expect(listed.stdout).not.toContain(token);

    const duplicate = await operatorsCli(databaseUrl, 'add', 'dana', '--role', 'lead');
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain('an operator named dana exists already');
    const badRole = await operatorsCli(databaseUrl, 'add', 'eve', '--role', 'admin');
    expect(badRole.code).toBe(1);
    expect(badRole.stderr).toContain('--role must be one of agent, lead');

    const removed = await operatorsCli(databaseUrl, 'remove', 'dana');
    expect(removed.code, removed.stderr).toBe(0);
    for (const r of [a, b]) expect(await get(r.url, '/handoffs', { authorization: `Bearer ${token}` })).toBe(401);
    expect((await operatorsCli(databaseUrl, 'remove', 'dana')).code).toBe(1);
  });

  it('sessions: random per login, valid on every receiver, ended by logout and by removing the operator', async () => {
    const token = lastLine((await operatorsCli(databaseUrl, 'add', 'sam', '--role', 'lead')).stdout);
    const first = await login(a.url, token);
    const second = await login(a.url, token);
    expect(first.status).toBe(303);
    const [c1, c2] = [sessionCookie(first), sessionCookie(second)];
    expect(c1).not.toBe(c2);
    expect(c1).not.toContain(token);
    // Opened on one receiver, honoured by the other.
    expect(await get(b.url, '/handoffs', { cookie: c1 })).toBe(200);
    expect(await get(b.url, '/inbox', { cookie: c1 })).toBe(200);

    const logout = await fetch(`${a.url}/inbox/logout`, { method: 'POST', headers: { cookie: c1 }, redirect: 'manual' });
    expect(logout.status).toBe(303);
    expect(logout.headers.get('set-cookie')).toMatch(/Max-Age=0/);
    // The old cookie, kept by someone who copied it, no longer works anywhere.
    expect(await get(a.url, '/handoffs', { cookie: c1 })).toBe(401);
    expect(await get(b.url, '/handoffs', { cookie: c1 })).toBe(401);
    expect(await get(b.url, '/handoffs', { cookie: c2 })).toBe(200);

    expect((await operatorsCli(databaseUrl, 'remove', 'sam')).code).toBe(0);
    expect(await get(a.url, '/handoffs', { cookie: c2 })).toBe(401);
    expect(await get(b.url, '/inbox', { cookie: c2 })).toBe(401);
  });

  it('removing and re-adding an operator of the same name revives none of the old sessions', async () => {
    const first = lastLine((await operatorsCli(databaseUrl, 'add', 'ria', '--role', 'agent')).stdout);
    const old = sessionCookie(await login(a.url, first));
    expect(await get(a.url, '/handoffs', { cookie: old })).toBe(200);
    expect((await operatorsCli(databaseUrl, 'remove', 'ria')).code).toBe(0);
    const second = lastLine((await operatorsCli(databaseUrl, 'add', 'ria', '--role', 'agent')).stdout);
    expect(second).not.toBe(first);
    expect(await get(a.url, '/handoffs', { cookie: old })).toBe(401);
    expect(await get(a.url, '/handoffs', { authorization: `Bearer ${first}` })).toBe(401);
    expect(await get(a.url, '/handoffs', { authorization: `Bearer ${second}` })).toBe(200);
  });

  it('cookie-authenticated actions must come from the inbox itself: cross-site requests and form posts are refused', async () => {
    const token = lastLine((await operatorsCli(databaseUrl, 'add', 'cy', '--role', 'lead')).stdout);
    const cookie = sessionCookie(await login(a.url, token));
    const post = (headers: Record<string, string>, body?: string) =>
      fetch(`${a.url}/handoffs/${encodeURIComponent('crm:customer.inquiry.new:none')}/release`, {
        method: 'POST',
        headers: { cookie, ...headers },
        body,
        redirect: 'manual',
      });
    // Another page's form or fetch: the browser names it.
    expect((await post({ origin: 'http://localhost:9999' })).status).toBe(403);
    expect((await post({ 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await post({ 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' }, '{}')).status).toBe(403);
    // A form post is never an action, whoever sends it (a bearer token too).
    expect((await post({ 'content-type': 'text/plain' }, 'x')).status).toBe(415);
    const form = await fetch(`${a.url}/handoffs/x/claim`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=b',
    });
    expect(form.status).toBe(415);
    // The inbox's own fetch (same origin) reaches the handler: no such escalation.
    expect((await post({ origin: a.url, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' }, '{}')).status).toBe(404);
    // Login CSRF: another page cannot sign this browser in.
    expect((await login(a.url, token, { origin: 'http://localhost:9999' })).status).toBe(403);
    expect((await login(a.url, token, { origin: a.url })).status).toBe(303);
  });

  it('nothing without a credential writes: with the database write-locked elsewhere, made-up logouts are answered at once', async () => {
    const token = lastLine((await operatorsCli(databaseUrl, 'add', 'lou', '--role', 'lead')).stdout);
    const real = sessionCookie(await login(a.url, token));
    // Another process (the worker, a migration, a CLI) holds the write lock: on SQLite a write
    // here would wait the busy timeout with the receiver's event loop blocked.
    const locker = new BetterSqlite3(databaseUrl.slice('sqlite:'.length));
    locker.exec('BEGIN IMMEDIATE');
    try {
      const started = Date.now();
      const timed = <T>(p: Promise<T>) => p.then((value) => ({ value, ms: Date.now() - started }));
      const madeUp = () => `hookline_session=${randomBytes(32).toString('base64url')}`;
      const logouts = Array.from({ length: 5 }, () =>
        timed(fetch(`${a.url}/inbox/logout`, { method: 'POST', headers: { cookie: madeUp() }, redirect: 'manual' }).then((r) => r.status)),
      );
      const others = [
        timed(login(a.url, `hlo_${randomBytes(32).toString('base64url')}`).then((r) => r.status)),
        timed(get(a.url, '/inbox', { cookie: madeUp() })),
        timed(get(a.url, '/handoffs', { cookie: madeUp() })),
      ];
      const webhook = timed(
        sendSigned(a.url, 'oms', { ...SAMPLES['order.status_updated'], event_id: `locked-${randomBytes(6).toString('hex')}` }).then(
          (r) => r.status,
        ),
      );
      const answers = await Promise.all([webhook, ...logouts, ...others]);
      expect(answers.map((x) => x.value)).toEqual([202, 303, 303, 303, 303, 303, 401, 401, 401]);
      // Before, each made-up logout held every request for the 5 s busy timeout, one after another.
      expect(Math.max(...answers.map((x) => x.ms))).toBeLessThan(2 * SQLITE_BUSY_TIMEOUT_MS);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    // A real session still ends on logout.
    expect(await get(b.url, '/handoffs', { cookie: real })).toBe(200);
    const out = await fetch(`${a.url}/inbox/logout`, { method: 'POST', headers: { cookie: real }, redirect: 'manual' });
    expect(out.status).toBe(303);
    expect(await get(b.url, '/handoffs', { cookie: real })).toBe(401);
  });

  it('sessions expire; the cookie is Secure unless the receiver is explicitly plain HTTP', async () => {
    // Short, but not so short that a loaded machine lets it lapse between the login and the first use.
    const { receiver: shortLived, directory } = await receiverOnSharedDb({ sessionTtlMs: 5_000, plainHttp: false });
    const { token } = await directory.add('kim', 'agent');
    const res = await login(shortLived.url, token);
    // Secure, and under the __Host- prefix, so no sibling subdomain can plant a session of its own.
    expect(res.headers.get('set-cookie')).toMatch(/^__Host-hookline_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=5; Secure$/);
    const cookie = sessionCookie(res);
    expect(await get(shortLived.url, '/handoffs', { cookie })).toBe(200);
    await vi.waitFor(async () => expect(await get(shortLived.url, '/handoffs', { cookie })).toBe(401), { timeout: 30_000, interval: 200 });

    expect((await login(a.url, token)).headers.get('set-cookie')).not.toMatch(/Secure/);
  });
});

describe('operators: one data directory for every command', () => {
  it('npm run operators with HOOKLINE_DATA_DIR writes where the receiver, also given only HOOKLINE_DATA_DIR, reads', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hookline-data-dir-'));
    const { DATABASE_URL: _unset, ...inherited } = process.env;
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', 'src/operators/cli.ts', 'add', 'noor', '--role', 'agent'],
      {
        cwd: ROOT,
        env: { ...inherited, HOOKLINE_DATA_DIR: dataDir },
      },
    );
    const token = lastLine(stdout);
    expect(existsSync(join(dataDir, 'hookline.db'))).toBe(true);
    // DATABASE_URL empty counts as unset: the receiver finds the knowledge base (and its spool) there too.
    const receiver = await startReceiverProcess({
      DATABASE_URL: '',
      HOOKLINE_DATA_DIR: dataDir,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      HOOKLINE_TASK_QUEUE: 'operators-data-dir',
    });
    try {
      const me = await fetch(`${receiver.url}/operators/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(me.status).toBe(200);
      expect(await me.json()).toEqual({ name: 'noor', role: 'agent' });
      expect(existsSync(join(dataDir, 'spool.db'))).toBe(true);
    } finally {
      await receiver.kill();
    }
  }, 120_000);
});

describe('operators: guessing tokens', () => {
  let env: TestWorkflowEnvironment;
  let database: Database;
  let receiver: Receiver;
  let token: string;
  let directory: OperatorDirectory;
  const lines: Record<string, unknown>[] = [];
  /** Tokens the receiver looked up in the database: a guess refused by the throttle never is. */
  let lookups = 0;

  beforeAll(async () => {
    env = await connectTestEnv();
    database = await openDatabase('sqlite::memory:');
    await migrateToLatest(database);
    directory = createOperatorDirectory(database.db, { sessionTtlMs: 60_000 });
    token = (await directory.add('pat', 'agent')).token;
    const counted: OperatorDirectory = {
      ...directory,
      authenticate: (t) => {
        lookups++;
        return directory.authenticate(t);
      },
    };
    receiver = await startReceiver({
      env,
      taskQueue: 'operators-test',
      operators: counted,
      trustProxy: ['loopback'],
      logger: createLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) }),
      handoff: {
        throttle: new CredentialThrottle({
          byAddress: new FailureBackoff({ freeFailures: 3, baseMs: 30_000 }),
          byCredential: new FailureBackoff({ freeFailures: 3, baseMs: 30_000 }),
        }),
      },
    });
  });
  afterAll(async () => {
    await receiver?.close();
    await database?.close();
    await env?.teardown();
  });

  const from = (ip: string, auth?: string) => ({ 'x-forwarded-for': ip, ...(auth ? { authorization: auth } : {}) });

  it('a few wrong tokens get 401, then the address waits (429, Retry-After), even a right token unseen here; others do not', async () => {
    const guesser = '203.0.113.7';
    for (let i = 0; i < 3; i++) expect(await get(receiver.url, '/handoffs', from(guesser, `Bearer hlo_${'A'.repeat(43)}`))).toBe(401);
    expect(await get(receiver.url, '/handoffs', from(guesser, 'Bearer not-even-a-token'))).toBe(401);

    const blocked = await fetch(`${receiver.url}/handoffs`, { headers: from(guesser, `Bearer ${token}`) });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThanOrEqual(25);
    expect(await blocked.json()).toMatchObject({ type: 'urn:hookline:problem:auth-throttled', retryable: true });
    // The login form is behind the same wait.
    const page = await login(receiver.url, token, { 'x-forwarded-for': guesser });
    expect(page.status).toBe(429);
    expect(await page.text()).toContain('Too many wrong credentials');

    expect(await get(receiver.url, '/handoffs', from('198.51.100.9', `Bearer ${token}`))).toBe(200);

    const refused = lines.filter((l) => l.msg === 'operator credential refused');
    expect(refused.filter((l) => l.ip === guesser).map((l) => l.reason)).toEqual([
      'unknown-token',
      'unknown-token',
      'unknown-token',
      'malformed',
      'throttled',
      'throttled',
    ]);
    expect(refused.every((l) => !JSON.stringify(l).includes(token))).toBe(true);

    const metrics = await (await fetch(`${receiver.url}/metrics`)).text();
    expect(metrics).toContain('hookline_operator_auth_failures_total{via="bearer",reason="unknown-token"} 3');
    expect(metrics).toContain('hookline_operator_auth_failures_total{via="bearer",reason="malformed"} 1');
    expect(metrics).toContain('hookline_operator_auth_failures_total{via="bearer",reason="throttled"} 1');
    expect(metrics).toContain('hookline_operator_auth_failures_total{via="login",reason="throttled"} 1');
  });

  const guess = () => `Bearer hlo_${randomBytes(32).toString('base64url')}`;

  it('an operator at the same address as a guesser keeps working; the guesses from it stay refused, and are never looked up', async () => {
    const shared = '203.0.113.20';
    const { token: lee } = await directory.add('lee', 'agent');
    // Lee works from the office: the token is now known good on this receiver.
    expect(await get(receiver.url, '/handoffs', from(shared, `Bearer ${lee}`))).toBe(200);
    // Someone behind the same NAT guesses: three free failures and the one that trips the wait, then the address waits.
    for (let i = 0; i < 4; i++) expect(await get(receiver.url, '/handoffs', from(shared, guess()))).toBe(401);
    const before = lookups;
    const refused = await Promise.all(Array.from({ length: 30 }, () => get(receiver.url, '/handoffs', from(shared, guess()))));
    expect(refused).toEqual(Array(30).fill(429));
    expect(lookups).toBe(before);

    // Lee, at the same address, is let through: by bearer token, and at the inbox's login form.
    expect(await get(receiver.url, '/handoffs', from(shared, `Bearer ${lee}`))).toBe(200);
    expect((await login(receiver.url, lee, { 'x-forwarded-for': shared })).status).toBe(303);
    // Lee's success forgives nothing of the guesser's: the next guess still waits, unlooked-up.
    const after = lookups;
    expect(await get(receiver.url, '/handoffs', from(shared, guess()))).toBe(429);
    expect(lookups).toBe(after);
  });

  it('a wrong token tried too often waits on its own, from any address; other tokens, right or wrong, do not', async () => {
    const stale = `Bearer hlo_${'B'.repeat(43)}`;
    // Each from an address of its own: only the token's own count can make it wait.
    for (let i = 1; i <= 4; i++) expect(await get(receiver.url, '/handoffs', from(`198.51.100.${40 + i}`, stale))).toBe(401);
    const waited = await fetch(`${receiver.url}/handoffs`, { headers: from('198.51.100.45', stale) });
    expect(waited.status).toBe(429);
    expect(Number(waited.headers.get('retry-after'))).toBeGreaterThanOrEqual(25);
    expect(((await waited.json()) as { detail: string }).detail).toMatch(/^This credential was wrong too many times/);
    // From that same address, another wrong token is an ordinary failure and the right one works.
    expect(await get(receiver.url, '/handoffs', from('198.51.100.45', guess()))).toBe(401);
    expect(await get(receiver.url, '/handoffs', from('198.51.100.45', `Bearer ${token}`))).toBe(200);
  });

  it('a known-good token whose operator is removed is refused, then waits with its address like any other', async () => {
    const shared = '203.0.113.30';
    const { token: kai } = await directory.add('kai', 'agent');
    expect(await get(receiver.url, '/handoffs', from('198.51.100.60', `Bearer ${kai}`))).toBe(200);
    for (let i = 0; i < 4; i++) expect(await get(receiver.url, '/handoffs', from(shared, guess()))).toBe(401);
    expect(await get(receiver.url, '/handoffs', from(shared, `Bearer ${kai}`))).toBe(200);
    expect(await directory.remove('kai')).toBe(true);
    expect(await get(receiver.url, '/handoffs', from(shared, `Bearer ${kai}`))).toBe(401);
    expect(await get(receiver.url, '/handoffs', from(shared, `Bearer ${kai}`))).toBe(429);
  });

  it('addresses rotated inside one IPv6 /64 wait together', async () => {
    // A token this receiver has not seen work, so it waits with its address.
    const { token: ivy } = await directory.add('ivy', 'agent');
    for (let i = 1; i <= 4; i++) expect(await get(receiver.url, '/handoffs', from(`2001:db8:1:2::${i.toString(16)}`, guess()))).toBe(401);
    expect(await get(receiver.url, '/handoffs', from('2001:db8:1:2:ffff::1', `Bearer ${ivy}`))).toBe(429);
    expect(await get(receiver.url, '/handoffs', from('2001:db8:1:3::1', `Bearer ${ivy}`))).toBe(200);
  });
});

describe('FailureBackoff', () => {
  it('keeps at most maxEntries addresses, however many guess', () => {
    const backoff = new FailureBackoff({ maxEntries: 1_000 });
    for (let i = 0; i < 1_000_000; i++) backoff.fail(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(backoff.size).toBeLessThanOrEqual(1_000);
  });

  it('backs off exponentially after the free failures, forgets after a quiet spell; a right credential takes back only its attempt', () => {
    let now = 0;
    const backoff = new FailureBackoff({ freeFailures: 2, baseMs: 1_000, maxMs: 8_000, forgetAfterMs: 60_000, now: () => now });
    backoff.fail('192.0.2.1');
    backoff.fail('192.0.2.1');
    expect(backoff.check('192.0.2.1')).toEqual({ ok: true });
    backoff.fail('192.0.2.1');
    expect(backoff.check('192.0.2.1')).toEqual({ ok: false, retryAfterSeconds: 1 });
    now += 1_000;
    backoff.fail('192.0.2.1');
    expect(backoff.check('192.0.2.1')).toEqual({ ok: false, retryAfterSeconds: 2 });
    for (let i = 0; i < 10; i++) backoff.fail('192.0.2.1');
    expect(backoff.check('192.0.2.1')).toEqual({ ok: false, retryAfterSeconds: 8 });
    now += 70_000;
    expect(backoff.check('192.0.2.1')).toEqual({ ok: true });
    // Forgotten: the next failure is a free one again.
    backoff.fail('192.0.2.1');
    expect(backoff.check('192.0.2.1')).toEqual({ ok: true });
    // Two wrong, then a right one: the right attempt is forgiven, the wrong ones still count.
    backoff.attempt('192.0.2.2');
    backoff.attempt('192.0.2.2');
    expect(backoff.attempt('192.0.2.2')).toEqual({ ok: true });
    backoff.forgive('192.0.2.2');
    expect(backoff.check('192.0.2.2')).toEqual({ ok: true });
    expect(backoff.attempt('192.0.2.2')).toEqual({ ok: true });
    expect(backoff.check('192.0.2.2')).toEqual({ ok: false, retryAfterSeconds: 1 });
  });

  it('counts concurrent attempts before any credential is checked: only the free ones and the one that trips the wait get through', () => {
    const backoff = new FailureBackoff({ freeFailures: 3, baseMs: 60_000 });
    // As guarded() does: attempt() for each request first, and the lookups finish later.
    const answers = Array.from({ length: 20 }, () => backoff.attempt('198.51.100.1').ok);
    expect(answers.filter(Boolean)).toHaveLength(4);
  });
});

describe('CredentialThrottle', () => {
  const right = `hlo_${'R'.repeat(43)}`;
  const wrong = (i: number) => `hlo_${String(i).padStart(43, 'W')}`;

  it('a known-good operator and guesses interleaved at one address: the operator is never refused, no more guesses pass', () => {
    // Before: the free failures and the one that trips the wait (4 here); the clock stands still.
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 200 }), fc.boolean(), (sequence, settleLate) => {
        const throttle = new CredentialThrottle({ byAddress: new FailureBackoff({ freeFailures: 3, baseMs: 60_000 }), now: () => 0 });
        // The operator's token worked once, from home.
        const first = throttle.attempt('198.51.100.1', right);
        if (!first.ok) return false;
        first.settle(true);
        let guessesAdmitted = 0;
        const pending: (() => void)[] = [];
        for (const [i, isGuess] of sequence.entries()) {
          const admitted = throttle.attempt('203.0.113.1', isGuess ? wrong(i) : right);
          if (!isGuess && !admitted.ok) return false;
          if (!admitted.ok) continue;
          if (isGuess) guessesAdmitted++;
          // Lookups may finish in any order after later attempts began (settleLate), as over HTTP.
          const settle = () => admitted.settle(!isGuess);
          if (settleLate) pending.push(settle);
          else settle();
        }
        pending.forEach((settle) => settle());
        return guessesAdmitted <= 4;
      }),
    );
  });

  it('a known-good credential that fails is forgotten; a wrong one never makes the right one wait', () => {
    let now = 0;
    const throttle = new CredentialThrottle({
      byAddress: new FailureBackoff({ freeFailures: 1, baseMs: 1_000, now: () => now }),
      byCredential: new FailureBackoff({ freeFailures: 1, baseMs: 1_000, now: () => now }),
      knownGoodForMs: 10_000,
      now: () => now,
    });
    const admit = (address: string, credential: string, right: boolean) => {
      const a = throttle.attempt(address, credential);
      if (a.ok) a.settle(right);
      return a.ok ? 'admitted' : a.waiting;
    };
    expect(admit('192.0.2.1', right, true)).toBe('admitted');
    // The same wrong credential from two addresses: its second failure trips its own wait.
    expect(admit('192.0.2.2', wrong(1), false)).toBe('admitted');
    expect(admit('192.0.2.3', wrong(1), false)).toBe('admitted');
    expect(admit('192.0.2.4', wrong(1), false)).toBe('credential');
    expect(admit('192.0.2.4', right, true)).toBe('admitted');
    // Known good, then its operator removed: refused once, then an ordinary credential at a waiting address.
    expect(admit('192.0.2.2', right, false)).toBe('admitted');
    expect(admit('192.0.2.2', right, true)).toBe('address');
    // Unused for longer than knownGoodForMs, a right token is a stranger again.
    expect(admit('192.0.2.9', right, true)).toBe('admitted');
    now += 20_000;
    for (let i = 10; i < 12; i++) admit('192.0.2.9', wrong(i), false);
    expect(admit('192.0.2.9', right, true)).toBe('address');
  });
});
