/**
 * `npm run bench -- --reconcile --easypost [--events 1000]`: what an EasyPost reconciliation pass
 * costs EasyPost, with and without asking the event log first (src/reconcile/listers.ts
 * `easypostLister`). EasyPost lists an Event without its body, so each one is read from
 * `GET /v2/events/{id}/payloads`, a request each: the question is how many of those a pass makes
 * for events hookline already holds. The EasyPost events stand-in (src/sandbox/easypost-events.ts)
 * holds N tracker events, 90% delivered to a receiver that took them (and recorded in the event
 * log, as the receiver does) and 10% dropped. Two dry-run passes over the same window and the same
 * SQLite event log, one whose lister is not told what the log holds and one that is: requests to
 * the stand-in per event found. A dry run starts nothing (no Temporal here), and the payload
 * requests are the same as a real pass's. The CHECK line: both passes find exactly the dropped
 * events, and the one with the lookup asks for no payload of a delivered one.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendEventLog, migrateToLatest, openDatabase } from '../../src/db';
import type { EventLogInput } from '../../src/db/repo';
import { eventWorkflowId } from '../../src/intake';
import { silentLogger } from '../../src/log';
import { createEasyPostClient } from '../../src/providers/easypost/client';
import { classifyVerified } from '../../src/receiver/classify';
import { loadSources } from '../../src/receiver/sources';
import { loadReconcileConfig } from '../../src/reconcile/config';
import { easypostLister, type Lister } from '../../src/reconcile/listers';
import { createReconciler } from '../../src/reconcile/reconciler';
import { startEasyPostEventsStandIn, type EasyPostEventObject } from '../../src/sandbox/easypost-events';
import { emptyCounts, RECONCILE_OUTCOMES, type ReconcileCounts } from '../../workflows/contracts/reconcile';
import { machine } from './report';

const EXAMPLE = JSON.parse(readFileSync(join(__dirname, '../../src/providers/easypost/examples/tracker.updated.json'), 'utf8')) as {
  result: Record<string, unknown>;
} & Record<string, unknown>;

export async function reconcileEasyPostBench(options: { events: number }): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-bench-reconcile-easypost-'));
  const standIn = await startEasyPostEventsStandIn();
  // The receiver EasyPost delivers to: takes every delivery (what it does with it is the event log's rows below).
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(202, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const endpoint = {
    url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/easypost`,
    secret: 'bench-secret-0123456789',
  };
  const database = await openDatabase(`sqlite:${join(dir, 'hookline.db')}`);
  try {
    await migrateToLatest(database);
    const env = {
      WEBHOOK_SECRET_EASYPOST: endpoint.secret,
      EASYPOST_API_KEY: 'EZTKbench0123456789',
      EASYPOST_API_BASE_URL: standIn.url,
      RECONCILE_FIRST_LOOKBACK: '2h',
    };
    const sources = loadSources(env);
    const source = sources.get('easypost')!;
    const now = Date.now();
    const dropped = new Set<string>();
    const delivered: EventLogInput[] = [];
    for (let i = 0; i < options.events; i++) {
      const suffix = randomBytes(8).toString('hex');
      const at = new Date(now - 3_500_000 + Math.floor((i * 3_400_000) / options.events)).toISOString();
      const event = {
        ...EXAMPLE,
        id: `evt_${suffix}`,
        created_at: at,
        updated_at: at,
        result: { ...EXAMPLE.result, id: `trk_${suffix}`, tracking_code: `EZ${suffix}` },
      } as unknown as EasyPostEventObject;
      const drop = i % 10 === 0;
      await standIn.send(event, endpoint, { drop });
      if (drop) {
        dropped.add(event.id);
        continue;
      }
      // What the receiver records of a delivery it accepted (src/eventlog/): the identity and workflow ID.
      const classified = classifyVerified({ source, rawBody: Buffer.from(JSON.stringify(event)), receivedAt: at });
      if (classified.kind !== 'event') throw new Error(`the example did not map: ${classified.kind}`);
      delivered.push({
        receivedAt: at,
        via: 'webhook',
        source: 'easypost',
        provider: 'easypost',
        outcome: 'accepted',
        eventType: classified.envelope.event.event_type,
        identity: classified.envelope.identity,
        workflowId: eventWorkflowId(classified.envelope),
      });
    }
    await appendEventLog(database.db, delivered);
    const config = loadReconcileConfig(env, sources.values());
    const reconcilerWith = (lister: Lister) =>
      createReconciler({
        db: database.db,
        // A dry run hands nothing over.
        intake: {
          accept: () => Promise.reject(new Error('a dry run starts nothing')),
          quarantine: () => Promise.reject(new Error('a dry run quarantines nothing')),
        },
        config,
        retentionMs: 30 * 86_400_000,
        lister: () => lister,
        logger: silentLogger,
      });
    const production = easypostLister(createEasyPostClient(config.sources.get('easypost')!.api));
    // The lister as it was: never told what the event log holds, so it reads every handled Event's payloads.
    const blind: Lister = { ...production, page: (listing, after, signal) => production.page(listing, after, signal) };
    const range = { from: Math.floor((now - 3_600_000) / 1000), to: Math.floor(now / 1000) };

    console.log(`reconcile bench (EasyPost): ${options.events} tracker events, ${dropped.size} never delivered; ${machine()}`);
    const pass = async (label: string, lister: Lister) => {
      const reconciler = reconcilerWith(lister);
      const before = { total: standIn.requests.total, payloads: standIn.requests.payloads };
      const began = process.hrtime.bigint();
      const counts: ReconcileCounts = emptyCounts();
      const plan = await reconciler.plan({ source: 'easypost', range, dryRun: true });
      for (const listing of plan.listings) {
        let startingAfter: string | undefined;
        do {
          const page = await reconciler.page({ source: 'easypost', listing, dryRun: true, ...(startingAfter ? { startingAfter } : {}) });
          counts.lookedAt += page.counts.lookedAt;
          for (const outcome of RECONCILE_OUTCOMES) counts[outcome] += page.counts[outcome];
          startingAfter = page.next;
        } while (startingAfter !== undefined);
      }
      const seconds = Number(process.hrtime.bigint() - began) / 1e9;
      // The stand-in counts its list requests (`total`) and its payload requests apart.
      const list = standIn.requests.total - before.total;
      const payloads = standIn.requests.payloads - before.payloads;
      const total = list + payloads;
      console.log(
        `${label}: looked at ${counts.lookedAt}, found ${counts.missing}, known ${counts.known} in ${seconds.toFixed(1)} s; ` +
          `${total} requests (${list} list, ${payloads} payloads) = ${(total / Math.max(1, counts.missing)).toFixed(2)} per event found`,
      );
      return { counts, total, payloads };
    };
    const without = await pass('without the event log lookup', blind);
    const withLookup = await pass('with the event log lookup   ', production);
    const ok =
      without.counts.missing === dropped.size &&
      withLookup.counts.missing === dropped.size &&
      withLookup.payloads === dropped.size &&
      without.payloads === options.events;
    console.log(
      `CHECK ${ok ? 'PASS' : 'FAIL'}: both found ${without.counts.missing} and ${withLookup.counts.missing} of ${dropped.size} dropped; ` +
        `payload requests ${without.payloads} without the lookup, ${withLookup.payloads} with it`,
    );
    return ok ? 0 : 1;
  } finally {
    await database.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await standIn.close();
  }
}
