/**
 * `npm run bench:verify [-- --iterations N]`: what signature verification and body validation cost
 * per webhook, on this machine. Prints figures; asserts nothing about speed (machines differ).
 *
 * For each scheme it signs two bodies the way a genuine sender would (`signWebhook`): the seed's
 * order.status_updated sample (about 300 bytes) and a 64 KiB order, then times `verifyWebhook`
 * accepting them and refusing a well-formed signature made with the wrong secret. Then it times
 * what the receiver does next with a verified body: JSON.parse and zod's WebhookEvent.safeParse.
 *
 * Timing: a warm-up (so V8 has optimised the code), then N calls in batches of BATCH, each batch
 * timed with hrtime. mean = total time / N; p99 = the 99th percentile of the batches' per-call
 * means. One call (a few µs) is too short to time on its own without the clock dominating, so p99
 * shows a slow stretch (GC pause, preemption), not one slow call.
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { SAMPLES } from '../src/events/samples';
import { WebhookEvent } from '../src/events/schemas';
import { generateSecret, SCHEMES, signWebhook, verifyWebhook, WebhookVerificationError, type SchemeName } from '../src/signatures';
import { table } from './bench/report';

const BATCH = 50;

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '20000' } } });
const iterations = Number(values.iterations);
if (!Number.isInteger(iterations) || iterations < 1) {
  process.stderr.write(`--iterations must be a positive whole number (got ${JSON.stringify(values.iterations)})\n`);
  process.exit(2);
}

interface Timing {
  meanUs: number;
  p99Us: number;
  opsPerSec: number;
}

const warmupFor = (calls: number) => Math.max(200, Math.ceil(calls / 10));

function time(op: () => unknown, calls = iterations): Timing {
  for (let i = 0, n = warmupFor(calls); i < n; i++) op();
  const batch = Math.min(BATCH, calls);
  const perCallUs: number[] = [];
  let totalNs = 0;
  for (let done = 0; done < calls; done += batch) {
    const n = Math.min(batch, calls - done);
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) op(); // calls into crypto, JSON and zod: not something V8 can elide
    const ns = Number(process.hrtime.bigint() - start);
    totalNs += ns;
    perCallUs.push(ns / 1000 / n);
  }
  perCallUs.sort((a, b) => a - b);
  const meanUs = totalNs / 1000 / calls;
  return { meanUs, p99Us: perCallUs[Math.ceil(perCallUs.length * 0.99) - 1]!, opsPerSec: 1e6 / meanUs };
}

// --- bodies -------------------------------------------------------------------------------------

// The seed sample plus the sender's event id most senders include: ~300 bytes, as on the wire.
const order = { event_id: 'evt_01HF3Q8Z6Y2W9X7V5T3R1P0N8M', ...SAMPLES['order.status_updated'] };
const small = Buffer.from(JSON.stringify(order));

/** A valid order.status_updated with line items up to exactly 64 KiB (padded with trailing spaces, still valid JSON). */
function bigOrder(size: number): { body: Buffer; items: number } {
  const items: { product_id: string; quantity: number }[] = [];
  let length = JSON.stringify({ ...order, items }).length;
  for (let n = 0; ; n++) {
    const item = { product_id: `PROD-${String(n).padStart(6, '0')}`, quantity: 1 + (n % 5) };
    const added = JSON.stringify(item).length + (n > 0 ? 1 : 0); // and its comma
    if (length + added > size) break;
    items.push(item);
    length += added;
  }
  return { body: Buffer.from(JSON.stringify({ ...order, items }).padEnd(size, ' ')), items: items.length };
}
const big = bigOrder(64 * 1024);

const BODIES = [
  { label: `sample ${small.length} B`, body: small },
  { label: '64 KiB', body: big.body },
];

// --- output helpers -----------------------------------------------------------------------------

const us = (n: number) => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));
const ops = (n: number) => Math.round(n).toLocaleString('en-US');

// --- run ----------------------------------------------------------------------------------------

const cpu = cpus();
// Other work on the machine changes every figure; the load average says how busy it was.
const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
console.log(
  `hookline bench:verify — Node ${process.version}, ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ` +
    `${process.platform}/${process.arch}; load average ${load()}`,
);
console.log(
  `${iterations.toLocaleString('en-US')} timed calls per row after a warm-up of ${warmupFor(iterations).toLocaleString('en-US')}; ` +
    `p99 over batches of ${Math.min(BATCH, iterations)}`,
);
console.log('');

const started = Date.now();
const verifyRows: string[][] = [];
for (const scheme of SCHEMES) {
  const secret = generateSecret(scheme);
  const wrongSecret = generateSecret(scheme);
  // As the receiver calls it (webhooks.ts): a 300 s tolerance and a real clock.
  const options = { toleranceSeconds: 300, now: () => new Date() };
  for (const { label, body } of BODIES) {
    const good = signWebhook(scheme, body, secret, { id: 'msg_bench' });
    const forged = signWebhook(scheme, body, wrongSecret, { id: 'msg_bench' });
    checkOnce(scheme, body, good, forged, secret);
    const accept = time(() => verifyWebhook(scheme, body, good, [secret], options));
    const reject = time(() => {
      try {
        verifyWebhook(scheme, body, forged, [secret], options);
      } catch (err) {
        if (err instanceof WebhookVerificationError) return err;
        throw err;
      }
      throw new Error(`${scheme} accepted a forged signature`);
    });
    verifyRows.push([scheme, label, ops(accept.opsPerSec), us(accept.meanUs), us(accept.p99Us), ops(reject.opsPerSec), us(reject.meanUs)]);
  }
}
console.log('verifyWebhook (one secret configured)');
table(['scheme', 'body', 'verify ops/s', 'mean µs', 'p99 µs', 'reject ops/s', 'reject mean µs'], verifyRows);
console.log('');

/** Fail loudly rather than time the wrong path: the genuine headers must pass, the forged ones fail for bad-signature. */
function checkOnce(scheme: SchemeName, body: Buffer, good: Record<string, string>, forged: Record<string, string>, secret: string): void {
  verifyWebhook(scheme, body, good, [secret]);
  try {
    verifyWebhook(scheme, body, forged, [secret]);
  } catch (err) {
    if (err instanceof WebhookVerificationError && err.reason === 'bad-signature') return;
    throw err;
  }
  throw new Error(`${scheme} accepted a forged signature`);
}

// What the receiver does with a verified body (classifyVerified in src/receiver/classify.ts): decode, JSON.parse, safeParse.
const samples = Object.values(SAMPLES).map((event) => Buffer.from(JSON.stringify(event)));
const meanSample = Math.round(samples.reduce((n, b) => n + b.length, 0) / samples.length);
// The 64 KiB body gets a tenth of the calls: at ~2 ms each, N of them would take minutes.
const PARSE_BODIES = [
  { label: `order.status_updated sample, ${small.length} B`, bodies: [small], calls: iterations },
  { label: `all ${samples.length} seed samples in turn, mean ${meanSample} B`, bodies: samples, calls: iterations },
  {
    label: `order.status_updated, 64 KiB (${big.items.toLocaleString('en-US')} items)`,
    bodies: [big.body],
    calls: Math.ceil(iterations / 10),
  },
];
const parseRows: string[][] = [];
for (const { label, bodies, calls } of PARSE_BODIES) {
  const objects = bodies.map((b) => JSON.parse(b.toString('utf8')) as unknown);
  for (const object of objects) {
    const result = WebhookEvent.safeParse(object);
    if (!result.success) throw new Error(`${label}: a body failed validation, so we would time the error path: ${result.error.message}`);
  }
  // Cycling through several bodies makes zod see every event type, as a mixed stream would.
  let i = 0;
  const parse = time(() => JSON.parse(bodies[i++ % bodies.length]!.toString('utf8')), calls);
  const validate = time(() => WebhookEvent.safeParse(objects[i++ % objects.length]).success, calls);
  const both = time(() => WebhookEvent.safeParse(JSON.parse(bodies[i++ % bodies.length]!.toString('utf8'))).success, calls);
  parseRows.push([
    label,
    calls.toLocaleString('en-US'),
    us(parse.meanUs),
    us(validate.meanUs),
    ops(both.opsPerSec),
    us(both.meanUs),
    us(both.p99Us),
  ]);
}
console.log('JSON.parse + zod WebhookEvent.safeParse (per event)');
table(['body', 'calls', 'JSON.parse µs', 'safeParse µs', 'both ops/s', 'both mean µs', 'both p99 µs'], parseRows);
console.log('');
console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s; load average ${load()}`);
