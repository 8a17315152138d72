/**
 * The load generator. It runs in a CHILD process (this file, forked), so its CPU and heap are not
 * counted as the receiver's or the bench's; on 2 cores it still competes with them for the CPUs,
 * and the bench prints how much it used.
 *
 * Two shapes of load:
 * - closed loop: `concurrency` requests in flight, each sent as soon as the previous one on its lane
 *   is answered. It finds the most a server answers per second; its latencies are mostly queueing.
 * - open loop: requests sent on a fixed schedule (`rate` per second) whether or not earlier ones
 *   were answered, as independent senders do. Latency is measured from each request's INTENDED send
 *   time, so a stall delays every request scheduled during it and shows in the percentiles instead
 *   of pausing the clock (no coordinated omission).
 */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { delivery, type SignedDelivery, type Stream } from './events';

export type LoadShape =
  | { kind: 'closed'; concurrency: number; events?: number; durationMs?: number; copies: number }
  | { kind: 'open'; rate: number; durationMs: number };

export interface LoadPlan {
  /** The phase's name; also part of every event id, so phases never collide. */
  label: string;
  baseUrl: string;
  secrets: Record<string, string>;
  stream: Stream;
  runTag: string;
  /** A request without an answer after this long counts as an error (`timeout`). */
  timeoutMs: number;
  shape: LoadShape;
}

export interface LoadResult {
  /** Requests sent, and the time they took from the first send to the last answer. */
  requests: number;
  wallMs: number;
  latenciesMs: number[];
  /** HTTP status → count; `error` when there was no HTTP answer at all. */
  statuses: Record<string, number>;
  /** For copies > 1: each event's statuses, to check that exactly one copy started a workflow. */
  perEvent?: number[][];
  /** The first few errors' messages. */
  errors: string[];
  /** Open loop: how late the generator itself sent requests (its own event loop's delay), p99 and max. */
  sendLagMs?: { p99: number; max: number };
}

export interface LoadProgress {
  kind: 'progress';
  label: string;
  done: number;
  elapsedMs: number;
}

// --- the child --------------------------------------------------------------------------------------

class Recorder {
  readonly latenciesMs: number[] = [];
  readonly statuses: Record<string, number> = {};
  readonly errors: string[] = [];

  add(latencyMs: number, status: number | Error): number {
    this.latenciesMs.push(latencyMs);
    const key = status instanceof Error ? 'error' : String(status);
    this.statuses[key] = (this.statuses[key] ?? 0) + 1;
    if (status instanceof Error && this.errors.length < 5) this.errors.push(status.message);
    return status instanceof Error ? 0 : status;
  }
}

/** POST over a keep-alive agent, as a real sender's HTTP client would; the status code, or the error. */
function post(agent: http.Agent, url: string, d: SignedDelivery, timeoutMs: number): Promise<number | Error> {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(d.body.length), ...d.headers } },
      (res) => {
        res.resume(); // the body is not needed, but must be drained to free the socket
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', resolve);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout: no answer within ${timeoutMs} ms`)));
    req.on('error', resolve);
    req.end(d.body);
  });
}

function progressReporter(label: string, count: () => number, started: () => number): () => void {
  const timer = setInterval(
    () => process.send!({ kind: 'progress', label, done: count(), elapsedMs: performance.now() - started() } satisfies LoadProgress),
    1000,
  );
  return () => clearInterval(timer);
}

async function closedLoop(plan: LoadPlan, shape: Extract<LoadShape, { kind: 'closed' }>): Promise<LoadResult> {
  // A storm's copies must be in flight together, so groups of `copies` run at once and fewer groups
  // run side by side: about `concurrency` requests in flight either way.
  const lanes = Math.max(1, Math.floor(shape.concurrency / shape.copies));
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(shape.concurrency, shape.copies) });
  let next = 0;
  const send = async (rec: Recorder, perEvent?: number[][]) => {
    const i = next++;
    const d = delivery(plan.stream, plan.runTag, plan.label, i, plan.secrets);
    const url = `${plan.baseUrl}/webhooks/${d.source}`;
    const statuses = await Promise.all(
      Array.from({ length: shape.copies }, async () => {
        const t = performance.now();
        const status = await post(agent, url, d, plan.timeoutMs);
        return rec.add(performance.now() - t, status);
      }),
    );
    perEvent?.push(statuses);
  };
  const runLanes = (more: () => boolean, one: () => Promise<void>) =>
    Promise.all(
      Array.from({ length: lanes }, async () => {
        while (more()) await one();
      }),
    );

  const rec = new Recorder();
  const perEvent: number[][] | undefined = shape.copies > 1 ? [] : undefined;
  const started = performance.now();
  const stopAt = shape.durationMs === undefined ? Infinity : started + shape.durationMs;
  const stopProgress = progressReporter(
    plan.label,
    () => rec.latenciesMs.length,
    () => started,
  );
  await runLanes(
    () => next < (shape.events ?? Infinity) && performance.now() < stopAt,
    () => send(rec, perEvent),
  );
  const wallMs = performance.now() - started;
  stopProgress();
  agent.destroy();
  return { requests: rec.latenciesMs.length, wallMs, latenciesMs: rec.latenciesMs, statuses: rec.statuses, perEvent, errors: rec.errors };
}

async function openLoop(plan: LoadPlan, shape: Extract<LoadShape, { kind: 'open' }>): Promise<LoadResult> {
  // No socket limit: an open-loop sender never waits for one of its own connections to be free.
  const agent = new http.Agent({ keepAlive: true });
  const total = Math.round((shape.rate * shape.durationMs) / 1000);
  const intervalMs = 1000 / shape.rate;
  const rec = new Recorder();
  const lags: number[] = [];
  const started = performance.now() + 5;
  const stopProgress = progressReporter(
    plan.label,
    () => rec.latenciesMs.length,
    () => started,
  );
  await new Promise<void>((resolve) => {
    let sent = 0;
    let answered = 0;
    const fire = (i: number, intendedAt: number) => {
      const d = delivery(plan.stream, plan.runTag, plan.label, i, plan.secrets);
      void post(agent, `${plan.baseUrl}/webhooks/${d.source}`, d, plan.timeoutMs).then((status) => {
        rec.add(performance.now() - intendedAt, status);
        if (++answered === total) resolve();
      });
    };
    // Everything that is due is sent at each tick: a late timer sends a burst, as real senders would.
    const tick = () => {
      const now = performance.now();
      while (sent < total && started + sent * intervalMs <= now) {
        const intendedAt = started + sent * intervalMs;
        lags.push(now - intendedAt);
        fire(sent++, intendedAt);
      }
      if (sent < total) setTimeout(tick, Math.max(0, started + sent * intervalMs - performance.now()));
    };
    setTimeout(tick, Math.max(0, started - performance.now()));
  });
  const wallMs = performance.now() - started;
  stopProgress();
  agent.destroy();
  lags.sort((a, b) => a - b);
  return {
    requests: rec.latenciesMs.length,
    wallMs,
    latenciesMs: rec.latenciesMs,
    statuses: rec.statuses,
    errors: rec.errors,
    sendLagMs: { p99: lags[Math.ceil(lags.length * 0.99) - 1] ?? NaN, max: lags.at(-1) ?? NaN },
  };
}

function runChild(): void {
  process.on('message', (plan: LoadPlan) => {
    (plan.shape.kind === 'closed' ? closedLoop(plan, plan.shape) : openLoop(plan, plan.shape)).then(
      (result) => process.send!({ kind: 'result', result }),
      (err: unknown) => process.send!({ kind: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
  // The bench gone (even SIGKILLed) closes the channel: never outlive it.
  process.on('disconnect', () => process.exit(0));
}

if (require.main === module) runChild();

// --- the parent's handle ----------------------------------------------------------------------------

export class LoadGenerator {
  readonly child: ChildProcess;

  constructor() {
    this.child = fork(__filename, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  }

  run(plan: LoadPlan, onProgress?: (p: LoadProgress) => void): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      const onExit = () => reject(new Error('the load generator exited'));
      const onMessage = (m: LoadProgress | { kind: 'result'; result: LoadResult } | { kind: 'error'; message: string }) => {
        if (m.kind === 'progress') return onProgress?.(m);
        this.child.off('exit', onExit);
        this.child.off('message', onMessage);
        if (m.kind === 'error') reject(new Error(`load generator: ${m.message}`));
        else resolve(m.result);
      };
      this.child.once('exit', onExit);
      this.child.on('message', onMessage);
      this.child.send(plan);
    });
  }
}
