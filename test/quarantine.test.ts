import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SAMPLES } from '../src/events/samples';
import { createIntake } from '../src/intake/direct';
import { createQuarantineService, ReplayRejectedError, type QuarantineService } from '../src/receiver/quarantine';
import { loadSources } from '../src/receiver/sources';
import { runQuarantineCli } from '../scripts/quarantine';
import { sendSigned, setupAgent } from './support/harness';

/** A verified event we could not process is kept where a person can see it, and replayed. */
describe('quarantine', () => {
  const t = setupAgent();
  let service: QuarantineService;
  let intake: ReturnType<typeof createIntake>;

  beforeAll(async () => {
    intake = createIntake({ client: t.env.client, taskQueue: t.agent.taskQueue, startTimeoutMs: 5000, quarantineKeepForMs: 60_000 });
    service = createQuarantineService({ client: t.env.client, intake, sources: loadSources({}), bodies: t.receiver.quarantine });
  });

  it('replays an event kept before identities came from signed data only under the signed webhook-id it had', async () => {
    // The shape quarantined events had then: the Standard Webhooks webhook-id in deliveryId.
    const msgId = `msg_${randomBytes(6).toString('hex')}`;
    const body = { ...SAMPLES['customer.inquiry.new'], inquiry_id: `INQ-${randomBytes(4).toString('hex')}` };
    const kept = await intake.quarantine({
      source: 'crm',
      identity: msgId,
      deliveryId: msgId,
      receivedAt: new Date().toISOString(),
      rawBody: JSON.stringify({ ...body, customer_id: 42 }),
      eventType: 'customer.inquiry.new',
      reason: 'body does not match the customer.inquiry.new schema',
      problems: ['customer_id: Invalid input'],
    });
    const replayed = await service.replay(kept.workflowId, { by: 'ops', body: JSON.stringify(body) });
    expect(replayed.workflowId).toBe(`crm:customer.inquiry.new:${msgId}`);
  });

  async function quarantineBadPayment(): Promise<{ id: string; paymentId: string }> {
    const paymentId = `PMT-${randomBytes(4).toString('hex')}`;
    const res = await sendSigned(t.receiver.url, 'payments', { ...SAMPLES['payment.succeeded'], payment_id: paymentId, amount: -5 });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ quarantined: true, reason: 'body does not match the payment.succeeded schema' });
    return { id: res.body.workflowId as string, paymentId };
  }

  it('refuses to replay a body that still fails, saying why, and keeps it', async () => {
    const { id } = await quarantineBadPayment();
    const err = await service.replay(id, { by: 'ops' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplayRejectedError);
    expect((err as ReplayRejectedError).problems.join('\n')).toMatch(/^amount: /m);
    expect((await service.show(id)).status).toBe('quarantined');
  });

  it('replays a corrected body into the right workflow and closes the quarantine', async () => {
    const { id, paymentId } = await quarantineBadPayment();
    const corrected = JSON.stringify({ ...SAMPLES['payment.succeeded'], payment_id: paymentId, amount: 5 });
    const result = await service.replay(id, { by: 'ops', body: corrected });
    expect(result).toEqual({ workflowId: `payments:payment.succeeded:${paymentId}`, duplicate: false });
    expect(await t.env.client.workflow.getHandle(result.workflowId).result()).toEqual({ duplicate: false, notified: 'payment-confirmed' });
    const closed = await t.env.client.workflow.getHandle(id).result();
    expect(closed).toMatchObject({ status: 'replayed', resolution: { outcome: 'replayed', workflowId: result.workflowId, by: 'ops' } });
  });

  it('the CLI lists, shows, replays and discards', async () => {
    const lines: string[] = [];
    const out = (line: string) => lines.push(line);
    const first = await quarantineBadPayment();
    const second = await quarantineBadPayment();

    await expect
      .poll(
        async () => {
          lines.length = 0;
          await runQuarantineCli(['list'], { service, out });
          return lines.join('\n');
        },
        { timeout: 15_000 },
      )
      .toContain(second.id);

    lines.length = 0;
    expect(await runQuarantineCli(['show', first.id], { service, out })).toBe(0);
    expect(lines.join('\n')).toContain('Reason:    body does not match the payment.succeeded schema');
    expect(lines.join('\n')).toContain(`"payment_id":"${first.paymentId}"`);

    lines.length = 0;
    expect(await runQuarantineCli(['replay', first.id], { service, out })).toBe(2);
    expect(lines.join('\n')).toContain('replay needs --by <your name>');

    const file = join(mkdtempSync(join(tmpdir(), 'hookline-q-')), 'fixed.json');
    writeFileSync(file, JSON.stringify({ ...SAMPLES['payment.succeeded'], payment_id: first.paymentId, amount: 7 }));
    lines.length = 0;
    expect(await runQuarantineCli(['replay', first.id, '--by', 'ops', '--body', file], { service, out })).toBe(0);
    expect(lines).toEqual([`Started payments:payment.succeeded:${first.paymentId}`]);

    lines.length = 0;
    expect(await runQuarantineCli(['discard', second.id, '--by', 'ops', '--note', 'test data'], { service, out })).toBe(0);
    expect(await t.env.client.workflow.getHandle(second.id).result()).toMatchObject({ status: 'discarded' });
    lines.length = 0;
    expect(await runQuarantineCli(['discard', second.id, '--by', 'ops'], { service, out })).toBe(1);
    expect(lines.join('\n')).toMatch(/already discarded/);
  });

  it('the CLI shows a kept body without the escape sequences and controls a sender put in it', async () => {
    const body = `not json \x1b[2J\x1b[H\rAll clear, nothing quarantined\u202e ${randomBytes(4).toString('hex')}\x1b]0;owned\x07`;
    const res = await sendSigned(t.receiver.url, 'oms', body);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ quarantined: true });
    const lines: string[] = [];
    expect(await runQuarantineCli(['show', res.body.workflowId as string], { service, out: (l) => lines.push(l) })).toBe(0);
    const shown = lines.join('\n');
    expect(shown).toContain('not json All clear, nothing quarantined');
    expect(shown).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
  });
});
