import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../src/events/envelope';
import { openSpool, type SpoolStore } from '../src/spool';
import { mentionsSubject, openReceiverEraser, type ErasureSubject, type ReceiverEraser } from '../src/spool/privacy';
import { openQuarantineStore, type QuarantineStore } from '../src/spool/quarantine';
import { spoolTargets } from './support/spool';

/**
 * A privacy erasure in the receiver's database (src/spool/privacy.ts), on the real stores: what
 * names the person goes, what is still to start stays until it has started, and nothing else is
 * touched. End to end, through a real worker and receiver: test/shopify.test.ts.
 */

const person: ErasureSubject = {
  customerIds: ['1152921504606846977'],
  emails: ['Ann.Lee@example.com'],
  phones: ['+1-555-625-1199'],
  orderIds: ['820982911946154508'],
};

describe('which bodies name the person', () => {
  it('finds an id as a whole token, digits exact beyond 2^53, and an address in any case', () => {
    expect(mentionsSubject('{"customer":{"id":1152921504606846977}}', person)).toBe(true);
    expect(mentionsSubject('{"order_id":"820982911946154508"}', person)).toBe(true);
    expect(mentionsSubject('{"email":"ann.lee@EXAMPLE.com"}', person)).toBe(true);
    expect(mentionsSubject('not json at all, call +1-555-625-1199', person)).toBe(true);
  });
  it('does not take a longer number, a rounded one or another person for theirs', () => {
    expect(mentionsSubject('{"id":11529215046068469771}', person)).toBe(false);
    expect(mentionsSubject('{"id":1152921504606847000}', person)).toBe(false);
    expect(mentionsSubject('{"email":"bob@example.com","id":42}', person)).toBe(false);
    expect(mentionsSubject('{"email":""}', { customerIds: [''], emails: [' '], phones: [], orderIds: [] })).toBe(false);
  });
});

const envelope = (event: Record<string, unknown>): EventEnvelope => ({
  source: 'shopify',
  identity: randomUUID(),
  identityFrom: 'natural-key',
  receivedAt: new Date().toISOString(),
  event: { event_type: 'customer.updated', timestamp: new Date().toISOString(), ...event } as EventEnvelope['event'],
});

describe.each(spoolTargets())('the receiver database on $name', (target) => {
  let url: string;
  let spool: SpoolStore;
  let other: SpoolStore;
  let bodies: QuarantineStore;
  let eraser: ReceiverEraser;
  const limits = { maxEvents: 1_000, maxBytes: 10_000_000 };
  const scope = 'default/q';
  beforeAll(async () => {
    url = await target.freshUrl();
    spool = await openSpool(url, { scope, limits });
    other = await openSpool(url, { scope: 'default/another-deployment', limits });
    bodies = await openQuarantineStore(url, { scope });
    eraser = await openReceiverEraser(url, scope);
  });
  afterAll(async () => {
    await eraser?.close();
    await bodies?.close();
    await other?.close();
    await spool?.close();
  });

  it('erases nothing while an event of theirs is still to start, then their parked rows and kept bodies only', async () => {
    const theirs = envelope({ customer_id: person.customerIds[0], email: person.emails[0] });
    await spool.add('wf-pending', { kind: 'event', envelope: theirs });
    await spool.add('wf-parked', { kind: 'event', envelope: theirs });
    await spool.add('wf-someone-else', { kind: 'event', envelope: envelope({ customer_id: '7', email: 'bob@example.com' }) });
    await spool.add('wf-request', { kind: 'event', envelope: theirs });
    await other.add('wf-parked', { kind: 'event', envelope: theirs });
    const rows = await spool.list(100);
    const seq = (id: string) => rows.find((r) => r.workflowId === id)!.seq;
    await spool.park(seq('wf-parked'), 'held');
    await spool.park(seq('wf-someone-else'), 'held');
    const keep = (workflowId: string, body: string, source = 'shopify') =>
      bodies.keep({ workflowId, source, body: Buffer.from(body), expiresAt: Date.now() + 60_000 }, limits);
    await keep('q-theirs', `{"customer":{"email":"${person.emails[0]}"},"total_price":"x"}`);
    await keep('q-someone-else', '{"customer":{"email":"bob@example.com"}}');

    // A data request sees their rows (not the request's own) and their kept body, as they came.
    const held = await eraser.gather(person, 'wf-request');
    expect(held.spoolRows.map((r) => r.workflowId).sort()).toEqual(['wf-parked', 'wf-pending']);
    expect(held.spoolRows[0]!.event).toMatchObject({ event: { email: person.emails[0] } });
    expect(held.quarantinedBodies).toEqual([{ workflowId: 'q-theirs', body: expect.stringContaining('"total_price":"x"') }]);

    // Their pending row is an event that will run: nothing goes yet.
    expect(await eraser.erase(person, 'wf-request')).toEqual({ spoolRows: 0, pending: 1, quarantined: [] });
    expect((await spool.list(100)).map((r) => r.workflowId).sort()).toEqual(['wf-parked', 'wf-pending', 'wf-request', 'wf-someone-else']);
    expect(await bodies.read('q-theirs')).toBeDefined();

    // Drained; the request's own row is the drain's to delete, not waited for.
    await spool.remove([seq('wf-pending')]);
    const before = await spool.stats();
    expect(await eraser.erase(person, 'wf-request')).toEqual({ spoolRows: 1, pending: 0, quarantined: ['q-theirs'] });
    expect((await spool.list(100)).map((r) => r.workflowId).sort()).toEqual(['wf-request', 'wf-someone-else']);
    const after = await spool.stats();
    expect(after.bytes).toBeLessThan(before.bytes);
    expect(after.parked).toBe(before.parked - 1);
    expect(await bodies.read('q-theirs')).toBeUndefined();
    expect(await bodies.read('q-someone-else')).toBeDefined();
    // Another deployment's rows in the same database are not this one's to erase.
    expect(await other.list(100)).toHaveLength(1);
    // Erasing twice is erasing once.
    expect(await eraser.erase(person, 'wf-request')).toEqual({ spoolRows: 0, pending: 0, quarantined: [] });
  });

  it("a shop's erasure takes every body of its source, whoever it names", async () => {
    await bodies.keep({ workflowId: 'q-shop', source: 'store-b', body: Buffer.from('{"id":1}'), expiresAt: Date.now() + 60_000 }, limits);
    const shop = { customerIds: [], emails: [], phones: [], orderIds: [], source: 'store-b' };
    expect(await eraser.erase(shop, 'wf-shop')).toMatchObject({ quarantined: ['q-shop'] });
    expect(await bodies.read('q-someone-else')).toBeDefined();
  });

  it('a database that never held a spool row or a body has nothing to erase', async () => {
    const empty = await openReceiverEraser(await target.freshUrl(), scope);
    try {
      expect(await empty.erase(person, 'wf')).toEqual({ spoolRows: 0, pending: 0, quarantined: [] });
    } finally {
      await empty.close();
    }
  });
});
