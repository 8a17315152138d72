import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest, openDatabase, upsertCustomer, type Database } from '../src/db/index.js';
import { createNotifier, type Notification } from '../src/notify/index.js';
import { freePort } from './support/processes';

interface ReceivedMail {
  from: string | undefined;
  to: string[];
  raw: string;
  /** The body, quoted-printable decoded (enough for the ASCII messages sent here). */
  text: string;
}

function bodyText(raw: string): string {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  return body
    .replace(/=\r\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .trimEnd();
}

/** A real SMTP server on 127.0.0.1 that keeps what it receives. */
async function startSmtp(
  port = 0,
  options: { rejectRecipient?: boolean } = {},
): Promise<{ url: string; port: number; mails: ReceivedMail[]; close(): Promise<void> }> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (options.rejectRecipient) {
        const error = Object.assign(new Error(`mailbox ${address.address} unavailable`), { responseCode: 550 });
        callback(error);
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const from = session.envelope.mailFrom;
        const raw = Buffer.concat(chunks).toString('utf8');
        mails.push({
          from: from ? from.address : undefined,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          text: bodyText(raw),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${bound}`,
    port: bound,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A real HTTP server standing in for a Slack-compatible incoming webhook. */
async function startChatWebhook(respond: (n: number) => number = () => 200): Promise<{
  url: string;
  posts: Array<{ contentType: string | undefined; body: unknown }>;
  close(): Promise<void>;
}> {
  const posts: Array<{ contentType: string | undefined; body: unknown }> = [];
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({
        contentType: req.headers['content-type'],
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      });
      const status = respond(posts.length);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'invalid_payload');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    // The path plays the secret token of a real incoming-webhook URL.
    url: `http://127.0.0.1:${port}/services/T000/B000/SECRET-TOKEN`,
    posts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('notifier', () => {
  let dir: string;
  let database: Database;
  const logs: Array<{ msg: string; meta?: object }> = [];
  const logger = { info: (msg: string, meta?: object) => logs.push({ msg, meta }) };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookline-notify-test-'));
    database = await openDatabase(`sqlite:${join(dir, 'kb.sqlite')}`);
    await migrateToLatest(database);
  });

  afterAll(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function shipped(overrides: Partial<Notification> = {}): Notification {
    return {
      idempotencyKey: `wf-${randomUUID()}:shipped`,
      audience: 'customer',
      customerId: 'CUST-67890',
      to: 'alice@example.com',
      subject: 'Your order ORD-12345 has shipped',
      body: 'Good news! Your order ORD-12345 has shipped with FedEx, tracking TRK-ABCDEF123.',
      ...overrides,
    };
  }

  async function rowFor(key: string) {
    return database.db.selectFrom('notifications').selectAll().where('idempotency_key', '=', key).executeTakeFirstOrThrow();
  }

  it('emails a customer, once per idempotency key', async () => {
    const smtp = await startSmtp();
    try {
      const notifier = createNotifier({
        db: database.db,
        logger,
        smtpUrl: smtp.url,
        fromAddress: 'Shop <support@shop.example>',
      });
      const n = shipped();
      const first = await notifier.send(n);
      expect(first).toMatchObject({ duplicate: false, channel: 'email' });
      expect(smtp.mails).toHaveLength(1);
      const mail = smtp.mails[0]!;
      expect(mail.from).toBe('support@shop.example');
      expect(mail.to).toEqual(['alice@example.com']);
      expect(mail.raw).toContain(`Subject: ${n.subject}`);
      expect(mail.text).toBe(n.body);
      expect(mail.raw).toContain(`X-Idempotency-Key: ${n.idempotencyKey}`);
      expect(mail.raw).toMatch(/Message-ID: <[0-9a-f]{32}@shop\.example>/);

      const second = await notifier.send(n);
      expect(second).toEqual({ id: first.id, duplicate: true, channel: 'email' });
      expect(smtp.mails).toHaveLength(1);
      expect(await rowFor(n.idempotencyKey)).toMatchObject({
        status: 'sent',
        channel: 'email',
        recipient: 'alice@example.com',
        error: null,
      });
    } finally {
      await smtp.close();
    }
  });

  it("uses the customer's stored email when none is given", async () => {
    const smtp = await startSmtp();
    try {
      const customerId = `CUST-${randomUUID()}`;
      await upsertCustomer(database.db, { id: customerId, name: 'Bob', email: 'bob@example.com' });
      const notifier = createNotifier({ db: database.db, smtpUrl: smtp.url });
      const { to: _omitted, ...withoutTo } = shipped({ customerId });
      await notifier.send(withoutTo);
      expect(smtp.mails.map((m) => m.to)).toEqual([['bob@example.com']]);

      const unknown = shipped({ customerId: 'CUST-nobody' });
      delete unknown.to;
      const error: unknown = await notifier.send(unknown).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect((error as ApplicationFailure).nonRetryable).toBe(true);
      expect(await rowFor(unknown.idempotencyKey)).toMatchObject({ status: 'failed' });
    } finally {
      await smtp.close();
    }
  });

  it('marks the row failed and throws while SMTP is down, then a retry delivers once', async () => {
    const port = await freePort();
    const notifier = createNotifier({ db: database.db, logger, smtpUrl: `smtp://127.0.0.1:${port}` });
    const n = shipped();

    const error: unknown = await notifier.send(n).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    // Connection trouble is worth retrying: a plain error, not a non-retryable failure.
    expect(error).not.toBeInstanceOf(ApplicationFailure);
    expect(await rowFor(n.idempotencyKey)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/ECONNREFUSED/),
      sent_at: null,
    });

    const smtp = await startSmtp(port);
    try {
      const retried = await notifier.send(n);
      expect(retried).toMatchObject({ duplicate: false, channel: 'email' });
      expect(await notifier.send(n)).toMatchObject({ id: retried.id, duplicate: true });
      expect(smtp.mails).toHaveLength(1);
      expect(smtp.mails[0]!.raw).toContain(n.subject);
      expect(await rowFor(n.idempotencyKey)).toMatchObject({ status: 'sent', error: null });
    } finally {
      await smtp.close();
    }
  });

  it('gives up for good when the mail server refuses the recipient', async () => {
    const smtp = await startSmtp(0, { rejectRecipient: true });
    try {
      const notifier = createNotifier({ db: database.db, smtpUrl: smtp.url });
      const n = shipped();
      const error: unknown = await notifier.send(n).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect(error).toMatchObject({ nonRetryable: true, type: 'NotificationRejected' });
      expect(await rowFor(n.idempotencyKey)).toMatchObject({ status: 'failed', error: expect.stringMatching(/550/) });
      expect(smtp.mails).toHaveLength(0);
    } finally {
      await smtp.close();
    }
  });

  it('posts agent messages to the chat webhook, once, and keeps secrets and bodies out of the logs', async () => {
    const chat = await startChatWebhook();
    try {
      const notifier = createNotifier({ db: database.db, logger, agentsChatWebhookUrl: chat.url });
      const n: Notification = {
        idempotencyKey: `wf-${randomUUID()}:handoff`,
        audience: 'agents',
        customerId: 'CUST-67890',
        to: 'ignored@example.com',
        subject: 'Handoff: INQ-98765',
        body: 'Customer disputes a refund; needs a human.',
      };
      logs.length = 0;
      const result = await notifier.send(n);
      expect(result).toMatchObject({ duplicate: false, channel: 'chat' });
      expect(await notifier.send(n)).toMatchObject({ duplicate: true, channel: 'chat' });
      expect(chat.posts).toEqual([{ contentType: 'application/json', body: { text: `${n.subject}\n${n.body}` } }]);
      expect(await rowFor(n.idempotencyKey)).toMatchObject({ status: 'sent', recipient: null, audience: 'agents' });

      expect(logs).toHaveLength(2);
      expect(logs[0]).toMatchObject({ msg: 'notification sent', meta: { channel: 'chat', duplicate: false } });
      const logged = JSON.stringify(logs);
      expect(logged).not.toContain('SECRET-TOKEN');
      expect(logged).not.toContain(n.body);
    } finally {
      await chat.close();
    }
  });

  it('retries a chat webhook 5xx but not a 4xx', async () => {
    const chat = await startChatWebhook((n) => (n === 1 ? 503 : n === 3 ? 400 : 200));
    try {
      const notifier = createNotifier({ db: database.db, agentsChatWebhookUrl: chat.url });
      const n: Notification = {
        idempotencyKey: `wf-${randomUUID()}:alert`,
        audience: 'agents',
        subject: 'Payment failed',
        body: 'PMT-ABCXYZ failed.',
      };
      const unavailable: unknown = await notifier.send(n).catch((e: unknown) => e);
      expect(unavailable).toBeInstanceOf(Error);
      expect(unavailable).not.toBeInstanceOf(ApplicationFailure);
      expect(await rowFor(n.idempotencyKey)).toMatchObject({ status: 'failed', error: expect.stringMatching(/503/) });
      expect(await notifier.send(n)).toMatchObject({ duplicate: false, channel: 'chat' });

      const rejected: unknown = await notifier.send({ ...n, idempotencyKey: `${n.idempotencyKey}:2` }).catch((e: unknown) => e);
      expect(rejected).toBeInstanceOf(ApplicationFailure);
      expect(rejected).toMatchObject({ nonRetryable: true, message: expect.stringMatching(/400: invalid_payload/) });
      expect(chat.posts).toHaveLength(3);
    } finally {
      await chat.close();
    }
  });

  it('leaves messages in the outbox when no channel is configured', async () => {
    const notifier = createNotifier({ db: database.db });
    const toCustomer = shipped();
    const toAgents: Notification = { ...shipped(), audience: 'agents' };
    expect(await notifier.send(toCustomer)).toMatchObject({ duplicate: false, channel: 'outbox' });
    expect(await notifier.send(toAgents)).toMatchObject({ duplicate: false, channel: 'outbox' });
    expect(await notifier.send(toCustomer)).toMatchObject({ duplicate: true, channel: 'outbox' });
    expect(await rowFor(toCustomer.idempotencyKey)).toMatchObject({
      status: 'sent',
      channel: 'outbox',
      recipient: 'alice@example.com',
      subject: toCustomer.subject,
      body: toCustomer.body,
      sent_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
  });
});
