import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { SAMPLES } from '../src/events/samples';
import { returnWorkflowId } from '../src/events/identity';
import { createHandoffService } from '../src/handoff/service';
import { conversationId, parseConversationId } from '../workflows/contracts/conversation';
import { AUTO_UPGRADE_TYPES, WORKFLOW_VERSIONING } from '../workflows/contracts/versioning';
import { bundleBuildB } from './support/builds';
import { waitingInService } from './support/handoff';
import { sendSigned, setupAgent } from './support/harness';

/**
 * Determinism guard. Histories recorded from real runs are replayed against the current workflow
 * code: a change that would break running workflows fails here, not in production.
 * `test/histories/*.json` are committed recordings (re-record with RECORD_HISTORIES=1 when a
 * change is meant to be incompatible, together with a versioning plan; record a new workflow's or
 * path's alone with RECORD_HISTORIES=<name>,…); fresh runs are replayed too.
 *
 * The release gate: `test/histories/releases/<release>/` keeps, per release and never overwritten,
 * the histories of every auto-upgrade type (workflows/contracts/versioning.ts), whose open runs move
 * to the next build. Every release's are replayed against the current code, so a command change
 * without `patched()` fails here. Record a release's with RECORD_RELEASE=<release> (a new folder).
 */
const HISTORIES = join(__dirname, 'histories');
const RELEASES = join(HISTORIES, 'releases');
const unique = () => randomBytes(4).toString('hex').toUpperCase();

/**
 * A history does not record its own workflow ID, but a workflow that escalated derives its
 * conversation's ID from it, and replay checks that ID: read it back from the child it started.
 */
function recordedWorkflowId(json: { events: Record<string, { workflowId?: string } | undefined>[] }): string | undefined {
  for (const event of json.events) {
    const child = event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
    const raisedBy = child === undefined ? undefined : parseConversationId(child)?.raisedBy;
    if (raisedBy) return raisedBy;
  }
  return undefined;
}

describe('replay', () => {
  const t = setupAgent();

  const replay = (history: Parameters<typeof Worker.runReplayHistory>[1], workflowId: string) =>
    Worker.runReplayHistory({ workflowBundle: { code: inject('workflowBundle') } }, history, workflowId);

  const release = process.env.RECORD_RELEASE;
  if (release) {
    // A release's recordings are what its open workflows looked like: kept, never rewritten.
    if (existsSync(join(RELEASES, release))) throw new Error(`RECORD_RELEASE: test/histories/releases/${release} exists already`);
    mkdirSync(join(RELEASES, release), { recursive: true });
  }

  it('replays fresh histories of every pattern against the current code', async () => {
    const orderId = `ORD-${unique()}`;
    const returnId = `RET-${unique()}`;
    const send = async (source: string, body: object) => {
      const res = await sendSigned(t.receiver.url, source, body);
      expect(res.status).toBe(202);
      return res.body.workflowId as string;
    };
    const ids = {
      order: await send('oms', {
        ...SAMPLES['order.status_updated'],
        order_id: orderId,
        new_status: 'delivered',
        timestamp: '2026-11-01T00:00:00Z',
        total_amount: 20,
        currency: 'USD',
      }),
      payment: await send('payments', { ...SAMPLES['payment.succeeded'], payment_id: `PMT-${orderId}`, order_id: orderId, amount: 20 }),
      inquiry: await send('crm', {
        ...SAMPLES['customer.inquiry.new'],
        inquiry_id: `INQ-${unique()}`,
        order_id: orderId,
        summary: 'Where is my order?',
      }),
    };
    for (const id of Object.values(ids)) await t.env.client.workflow.getHandle(id).result();
    // An inquiry a person takes: the raising workflow and its conversation (a child workflow).
    const escalation = await send('crm', {
      ...SAMPLES['customer.inquiry.new'],
      inquiry_id: `INQ-${unique()}`,
      summary: 'This is unacceptable, my order arrived broken',
    });
    const conversation = conversationId(escalation, 'inquiry');
    const handoffs = createHandoffService(t.env.client);
    const lead = { name: 'dana', role: 'lead' } as const;
    await waitingInService(handoffs, conversation);
    await handoffs.claim(conversation, lead);
    await handoffs.reply(conversation, lead, 'A replacement ships today.');
    await handoffs.resolve(conversation, lead, { outcome: 'resolved', note: 'replacement sent' });
    expect(await t.env.client.workflow.getHandle(escalation).result()).toMatchObject({ handoff: { outcome: 'resolved' } });
    // A chargeback on the order's payment: linked to the order, resolved by a person before its deadline.
    const dispute = await send('payments', {
      ...SAMPLES['payment.disputed'],
      dispute_id: `DSP-${unique()}`,
      payment_id: `PMT-${orderId}`,
      evidence_due_by: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    });
    const chargeback = conversationId(dispute, 'chargeback');
    await waitingInService(handoffs, chargeback);
    await handoffs.claim(chargeback, lead);
    await handoffs.resolve(chargeback, lead, { outcome: 'resolved', note: 'evidence submitted' });
    expect(await t.env.client.workflow.getHandle(dispute).result()).toMatchObject({ orderId, handoff: { outcome: 'resolved' } });
    await send('oms', { ...SAMPLES['return.initiated'], return_id: returnId, order_id: orderId, timestamp: '2026-11-03T00:00:00Z' });
    await send('carrier', { ...SAMPLES['return.received'], return_id: returnId, order_id: orderId });
    const returnHandle = t.env.client.workflow.getHandle(returnWorkflowId(returnId));
    await expect
      .poll(
        () =>
          returnHandle.describe().then(
            () => true,
            () => false,
          ),
        { timeout: 15_000 },
      )
      .toBe(true);
    expect(await returnHandle.result()).toMatchObject({ status: 'refunded' });

    // A return the store runs itself (its status told to the customer), and a privacy request (a person's data gathered).
    const storeReturn = await send('oms', { ...SAMPLES['return.status_changed'], return_id: `RET-${unique()}`, order_id: orderId });
    const privacy = await send('crm', { ...SAMPLES['privacy.requested'], request_id: `DR-${unique()}`, order_ids: [orderId] });
    // And a person's erasure: the receiver's copies, the open conversations, then the knowledge base.
    const erasure = await send('crm', {
      ...SAMPLES['privacy.requested'],
      request: 'customer-redact',
      customer_id: `CUST-${unique()}`,
      request_id: undefined,
      order_ids: [`ORD-${unique()}`],
    });
    for (const id of [storeReturn, privacy, erasure]) await t.env.client.workflow.getHandle(id).result();

    // A carrier's scan for an order (out for delivery: the customer is told), and a return parcel
    // on a label no return is known for (a carrier's tracker names the label, not the return).
    const shipment = await send('carrier', {
      ...SAMPLES['shipment.in_transit'],
      order_id: `ORD-${unique()}`,
      tracking_number: `TRK-${unique()}`,
      timestamp: '2026-11-02T00:00:00Z',
    });
    const { return_id: _, ...received } = SAMPLES['return.received'];
    const returnLabel = await send('carrier', { ...received, order_id: undefined, tracking_number: `TRK-${unique()}` });
    expect(await t.env.client.workflow.getHandle(shipment).result()).toMatchObject({ notified: 'order-out-for-delivery' });
    expect(await t.env.client.workflow.getHandle(returnLabel).result()).toEqual({ returnWorkflowId: null, delivered: false });

    // An event hookline cannot process, held in quarantine (still open: its history so far is what an
    // upgraded build must replay).
    const quarantined = await sendSigned(t.receiver.url, 'payments', {
      ...SAMPLES['payment.succeeded'],
      payment_id: `PMT-${unique()}`,
      amount: -5,
    });
    expect(quarantined.body).toMatchObject({ quarantined: true });
    const quarantine = quarantined.body.workflowId as string;
    await expect
      .poll(async () => (await t.env.client.workflow.getHandle(quarantine).fetchHistory()).events?.length, { timeout: 15_000 })
      .toBeGreaterThan(3);

    const all = {
      ...ids,
      return: returnHandle.workflowId,
      escalation,
      conversation,
      dispute,
      shipment,
      'return-label': returnLabel,
      'store-return': storeReturn,
      privacy,
      'privacy-erasure': erasure,
      quarantine,
    };
    // RECORD_HISTORIES=1 records them all; a list (RECORD_HISTORIES=shipment,return-label) only those.
    const record = (name: string) => process.env.RECORD_HISTORIES === '1' || (process.env.RECORD_HISTORIES ?? '').split(',').includes(name);
    for (const [name, id] of Object.entries(all)) {
      const history = await t.env.client.workflow.getHandle(id).fetchHistory();
      await replay(history, id);
      const json = JSON.stringify(JSON.parse(historyToJSON(history)), null, 2) + '\n';
      // The quarantine's run is still open: its history is only a release's, never a committed recording.
      if (record(name) && name !== 'quarantine') {
        mkdirSync(HISTORIES, { recursive: true });
        writeFileSync(join(HISTORIES, `${name}.json`), json);
      }
      const type = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name as keyof typeof WORKFLOW_VERSIONING;
      if (release && WORKFLOW_VERSIONING[type] === 'AUTO_UPGRADE') writeFileSync(join(RELEASES, release, `${name}.json`), json);
    }
  });

  it('replays the committed recordings against the current code', async () => {
    const files = readdirSync(HISTORIES).filter((f) => f.endsWith('.json'));
    // Every pattern, plus an escalation: its raising workflow and its conversation, replayed apart.
    expect(files).toEqual(
      expect.arrayContaining([
        'order.json',
        'payment.json',
        'inquiry.json',
        'return.json',
        'escalation.json',
        'conversation.json',
        'dispute.json',
        'store-return.json',
        'privacy.json',
        'shipment.json',
        'return-label.json',
      ]),
    );
    for (const file of files) {
      const json = JSON.parse(readFileSync(join(HISTORIES, file), 'utf8'));
      await replay(historyFromJSON(json), recordedWorkflowId(json) ?? `recorded-${file}`);
    }
  });

  /** Every release's recordings: the auto-upgrade types' histories the current code must still replay. */
  const releases = () =>
    readdirSync(RELEASES, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  const releaseHistories = () =>
    releases().flatMap((release) =>
      readdirSync(join(RELEASES, release))
        .filter((f) => f.endsWith('.json'))
        .map((file) => {
          const json = JSON.parse(readFileSync(join(RELEASES, release, file), 'utf8'));
          const type = json.events[0].workflowExecutionStartedEventAttributes.workflowType.name as string;
          return { release, file, type, json, workflowId: recordedWorkflowId(json) ?? `release-${release}-${file}` };
        }),
    );

  it('release gate: replays every release’s histories of every auto-upgrade type against the current code', async () => {
    const histories = releaseHistories();
    const latest = releases().at(-1)!;
    // The newest release covers every type whose open runs move to the next build.
    expect(new Set(histories.filter((h) => h.release === latest).map((h) => h.type))).toEqual(new Set(AUTO_UPGRADE_TYPES));
    for (const h of histories) await replay(historyFromJSON(h.json), h.workflowId);
  });

  it('release gate: a command change to processReturnWorkflow and the conversation fails it unless patched()', async () => {
    const changed = releaseHistories().filter((h) => h.type === 'processReturnWorkflow' || h.type === 'conversationWorkflow');
    expect(new Set(changed.map((h) => h.type))).toEqual(new Set(['processReturnWorkflow', 'conversationWorkflow']));
    const replayOn = (code: string, h: (typeof changed)[number]) =>
      Worker.runReplayHistory({ workflowBundle: { code } }, historyFromJSON(h.json), h.workflowId);
    const [unpatched, patched] = [await bundleBuildB({ patched: false }), await bundleBuildB({ patched: true })];
    for (const h of changed) {
      await expect(replayOn(unpatched, h), `${h.release}/${h.file} on the unpatched change`).rejects.toThrow(/[Nn]ondetermin/);
      await replayOn(patched, h);
    }
  });

  it('fails when the code no longer matches a recorded history', async () => {
    // Proof the replays above can fail: the order workflow's recorded history, replayed as if its
    // code were a different workflow's, schedules other activities and must be rejected.
    const json = JSON.parse(readFileSync(join(HISTORIES, 'order.json'), 'utf8'));
    json.events[0].workflowExecutionStartedEventAttributes.workflowType.name = 'customerUpdatedWorkflow';
    await expect(replay(historyFromJSON(json), 'swapped-code')).rejects.toThrow(/[Nn]ondetermin/);
  });
});
