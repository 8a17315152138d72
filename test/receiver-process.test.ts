import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SAMPLES } from '../src/events/samples';
import { signWebhook } from '../src/signatures';

/**
 * `npm run receiver` as production runs it: one process configured by the environment, serving
 * HTTPS itself when given a certificate, logging one JSON line per request, and never a secret.
 */
const ROOT = resolve(__dirname, '..');
const SECRETS = {
  WEBHOOK_SECRET_OMS: `oms-${randomUUID()}`,
  WEBHOOK_SECRET_CRM: 'whsec_c2VjcmV0LWtleS1mb3ItdGhlLWNybS1zb3VyY2UtMTIzNA==',
  WEBHOOK_SECRET_PAYMENTS: `whsec_${randomUUID()}`,
  WEBHOOK_SECRET_CARRIER: `carrier-${randomUUID()}`,
};

function request(port: number, ca: Buffer, method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  return new Promise<{ status: number; body: string }>((done, fail) => {
    const req = https.request({ host: '127.0.0.1', port, method, path, headers, ca, servername: 'localhost' }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

describe('the receiver process', () => {
  let receiver: ChildProcess;
  let port: number;
  let cert: Buffer;
  let output = '';

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookline-tls-'));
    const made = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
        '-days',
        '1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { encoding: 'utf8' },
    );
    expect(made.status, made.stderr).toBe(0);
    cert = readFileSync(join(dir, 'cert.pem'));
    receiver = spawn(process.execPath, ['--import', 'tsx', 'src/receiver/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...SECRETS,
        // The system picks a free port as the receiver binds (one found free first could be taken
        // before it binds); its "receiver listening" line says which.
        PORT: '0',
        HOST: '127.0.0.1',
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        HOOKLINE_TASK_QUEUE: `receiver-process-${randomUUID()}`,
        RECEIVER_TLS_CERT_PATH: join(dir, 'cert.pem'),
        RECEIVER_TLS_KEY_PATH: join(dir, 'key.pem'),
        DATABASE_URL: `sqlite:${join(dir, 'operators.db')}`,
        SPOOL_URL: `sqlite:${join(dir, 'spool.db')}`,
        RECEIVER_REQUEST_TIMEOUT: '2s',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    receiver.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    receiver.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    // Resolved by the line itself: listening (with the port it bound), exited first, or out of time.
    const listening = await new Promise<string>((resolve, reject) => {
      const line = () => output.split('\n').find((l) => l.includes('"msg":"receiver listening"') && l.endsWith('}'));
      const timer = setTimeout(() => finish(new Error(`receiver did not start within 90 s:\n${output}`)), 90_000);
      const onData = () => {
        if (line()) finish();
      };
      const onExit = (code: number | null) => finish(new Error(`receiver exited (${code}) before it listened:\n${output}`));
      function finish(err?: Error) {
        clearTimeout(timer);
        receiver.stdout!.off('data', onData);
        receiver.off('exit', onExit);
        if (err) reject(err);
        else resolve(line()!);
      }
      receiver.stdout!.on('data', onData);
      receiver.once('exit', onExit);
      onData();
    });
    port = Number(new URL((JSON.parse(listening) as { url: string }).url).port);
  });
  afterAll(() => {
    if (receiver?.exitCode === null) receiver.kill('SIGKILL');
  });

  it('serves HTTPS with the configured certificate', async () => {
    expect(await request(port, cert, 'GET', '/healthz')).toEqual({ status: 200, body: '{"status":"ok"}' });
    expect((await request(port, cert, 'GET', '/readyz')).status).toBe(200);
  });

  it('logs one JSON line per request with source, event type, workflow ID, outcome and latency', async () => {
    const body = JSON.stringify({ ...SAMPLES['order.status_updated'], order_id: `ORD-${randomUUID().slice(0, 8)}` });
    const accepted = await request(
      port,
      cert,
      'POST',
      '/webhooks/oms',
      { 'content-type': 'application/json', ...signWebhook('hmac-sha256-hex', body, SECRETS.WEBHOOK_SECRET_OMS) },
      body,
    );
    expect(accepted.status).toBe(202);
    const workflowId = (JSON.parse(accepted.body) as { workflowId: string }).workflowId;
    const forged = await request(
      port,
      cert,
      'POST',
      '/webhooks/oms',
      { 'content-type': 'application/json', 'x-webhook-signature': 'sha256=00' },
      body,
    );
    expect(forged.status).toBe(401);

    await expect
      .poll(() => output.split('\n').filter((l) => l.includes('"msg":"webhook"')).length, { timeout: 15_000 })
      .toBeGreaterThanOrEqual(2);
    const lines = output
      .split('\n')
      .filter((l) => l.includes('"msg":"webhook"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'info',
        source: 'oms',
        eventType: 'order.status_updated',
        workflowId,
        outcome: 'accepted',
        status: 202,
        latencyMs: expect.any(Number),
      }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ source: 'oms', outcome: 'refused', status: 401, latencyMs: expect.any(Number) }),
    );
  });

  it('keeps every secret out of its logs and answers', async () => {
    const body = JSON.stringify(SAMPLES['payment.succeeded']);
    const wrong = await request(
      port,
      cert,
      'POST',
      '/webhooks/payments',
      { 'content-type': 'application/json', ...signWebhook('stripe', body, 'whsec_not-the-secret') },
      body,
    );
    expect(wrong.status).toBe(401);
    const operator = await request(port, cert, 'GET', '/handoffs', { authorization: 'Bearer nope' });
    expect(operator.status).toBe(401);
    // The refusal's line, so the output checked below holds what these requests logged.
    await expect
      .poll(() => output.split('\n').filter((l) => l.includes('"msg":"webhook"') && l.includes('"source":"payments"')).length, {
        timeout: 15_000,
      })
      .toBeGreaterThanOrEqual(1);
    for (const secret of Object.values(SECRETS)) {
      expect(output).not.toContain(secret);
      expect(wrong.body).not.toContain(secret);
      expect(operator.body).not.toContain(secret);
    }
  });

  it('answers a request whose body never arrives with 408 and closes it, over TLS, within RECEIVER_REQUEST_TIMEOUT', async () => {
    const started = Date.now();
    const raw = await new Promise<string>((done, fail) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost' }, () =>
        socket.write(
          'POST /webhooks/oms HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
        ),
      );
      let received = '';
      const giveUp = setTimeout(() => {
        socket.destroy();
        fail(new Error(`no close within 30 s; received ${JSON.stringify(received)}`));
      }, 30_000);
      socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(giveUp);
        done(received);
      });
    });
    const elapsed = Date.now() - started;
    expect(raw).toMatch(/^HTTP\/1\.1 408 /);
    expect(raw).toContain('urn:hookline:problem:request-timeout');
    expect(elapsed).toBeGreaterThanOrEqual(1_900);
    expect(elapsed).toBeLessThan(2_000 + 5_000);
  });

  it('stops cleanly on SIGTERM', async () => {
    receiver.kill('SIGTERM');
    // 'close', not 'exit': only then has everything the process wrote come down its pipes.
    const code = await new Promise<number | null>((done) => receiver.once('close', (c) => done(c)));
    expect(code).toBe(0);
    expect(output).toContain('receiver stopping');
  });
});
