import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log';
import { TemporalUnavailableError, type Intake } from '../intake';
import type { SpooledRow, SpoolStore } from './store';

/** How the drain loop paces itself. */
export interface DrainPolicy {
  /** Rows claimed per pass. */
  batch: number;
  /** Starts in flight at once within a pass. */
  concurrency: number;
  /** A drainer's claim on a row lasts this long; a killed drainer's rows are taken over after it. */
  leaseMs: number;
  /** How often an idle drainer looks for rows other receivers (or an earlier run) left. */
  idlePollMs: number;
  /** The first wait after Temporal did not answer, doubled per failure up to `maxBackoffMs`. */
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_DRAIN_POLICY: DrainPolicy = {
  batch: 128,
  concurrency: 32,
  leaseMs: 30_000,
  idlePollMs: 1_000,
  initialBackoffMs: 250,
  maxBackoffMs: 10_000,
};

/**
 * What one pass found: rows started, nothing to do, Temporal (or the spool) not answering, or
 * Temporal answering but refusing every row it was asked (a start that can never succeed as is:
 * the rows stay, with the error, for `npm run spool -- list`).
 */
export type PassOutcome = 'drained' | 'empty' | 'unavailable' | 'refused';

export interface DrainDecision {
  /** Consecutive passes that found Temporal unavailable. */
  failures: number;
  delayMs: number;
  /** Whether a new spooled event may cut the wait short (not while backing off). */
  wakeable: boolean;
}

/**
 * The drain loop's one decision, kept pure so its schedule is tested without a server: after a
 * pass that started rows, go again at once; after an empty one, idle; after a failure, back off
 * exponentially with jitter (`random` in [0, 1)), between half and all of the capped delay, so
 * several receivers that lost Temporal together do not retry in lockstep.
 */
export function nextDrain(outcome: PassOutcome, failures: number, policy: DrainPolicy, random: () => number = Math.random): DrainDecision {
  switch (outcome) {
    case 'drained':
      return { failures: 0, delayMs: 0, wakeable: true };
    case 'empty':
      return { failures: 0, delayMs: policy.idlePollMs, wakeable: true };
    case 'unavailable':
    case 'refused': {
      const capped = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.min(failures, 30));
      return { failures: failures + 1, delayMs: Math.round(capped * (0.5 + random() / 2)), wakeable: false };
    }
  }
}

export interface Drainer {
  /** This process's claim name in the spool's `claimed_by`. */
  readonly owner: string;
  /** Starts the loop. */
  start(): void;
  /** A new row was spooled: drain it now unless the loop is backing off. */
  wake(): void;
  /** One pass now, outside the loop (the operators' `npm run spool -- drain`). */
  pass(): Promise<{ outcome: PassOutcome; started: number; error?: string }>;
  /** Finishes the pass in flight (its unstarted rows are released), then stops. */
  stop(): Promise<void>;
}

export interface DrainerOptions {
  spool: SpoolStore;
  /** The same intake the receiver uses: the same workflow, arguments, search attributes and policies. */
  intake: Intake;
  logger: Logger;
  policy?: Partial<DrainPolicy>;
  /** Called after every pass with its outcome, so the intake knows whether Temporal answers. */
  onPass?: (outcome: PassOutcome) => void;
  /** Rows removed after Temporal acknowledged them (counted in /metrics). */
  onDrained?: (count: number) => void;
}

export function createDrainer(options: DrainerOptions): Drainer {
  const policy = { ...DEFAULT_DRAIN_POLICY, ...options.policy };
  const { spool, intake, logger } = options;
  const owner = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  let running = false;
  /** Set by stop(): a pass in flight launches no more starts and gives its remaining rows back. */
  let stopping = false;
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;
  let wakeable = true;
  let pending = false;

  async function startRow(row: SpooledRow): Promise<void> {
    const result = row.start.kind === 'event' ? await intake.accept(row.start.envelope) : await intake.quarantine(row.start.event);
    // The sender was answered 202 long ago; what became of the event is the log's to say.
    if (result.rerun) logger.info('spooled event started again: its last run had failed', { workflowId: result.workflowId });
    if (result.closed)
      logger.info('spooled event not run: a person closed its run', { workflowId: result.workflowId, closed: result.closed });
  }

  async function pass(): Promise<{ outcome: PassOutcome; started: number; error?: string }> {
    let rows: SpooledRow[];
    try {
      rows = await spool.claim(owner, policy.batch, policy.leaseMs);
    } catch (err) {
      return { outcome: 'unavailable', started: 0, error: `spool: ${(err as Error).message}` };
    }
    if (rows.length === 0) return { outcome: 'empty', started: 0 };

    const done: number[] = [];
    let failure: string | undefined;
    let refused: string | undefined;
    let next = 0;
    // A small pool of starts; the first unavailability stops new ones, so a Temporal that is down
    // costs one start timeout per pass, not one per row.
    const workers = Array.from({ length: Math.min(policy.concurrency, rows.length) }, async () => {
      while (failure === undefined && !stopping && next < rows.length) {
        const row = rows[next++]!;
        try {
          // A duplicate (the workflow already exists) counts as done: Temporal has the event. So
          // does a rerun of a failed run, and a run a person closed (it stays closed).
          await startRow(row);
          done.push(row.seq);
        } catch (err) {
          // A refusal is this row's alone: the pass goes on with the others.
          if (err instanceof TemporalUnavailableError && !err.transient) refused = err.message;
          else failure = err instanceof TemporalUnavailableError ? err.message : `unexpected: ${(err as Error).message}`;
        }
      }
    });
    await Promise.all(workers);

    const started = new Set(done);
    const rest = rows.filter((row) => !started.has(row.seq)).map((row) => row.seq);
    try {
      // Counted as this call removed them: a row another drainer deleted first is not ours.
      const removed = await spool.remove(done);
      if (removed > 0) options.onDrained?.(removed);
      await spool.release(owner, rest, failure ?? refused);
    } catch (err) {
      // The rows stay claimed until the lease ends and are then started again: Temporal answers
      // "already started" for those it has, so nothing runs twice.
      logger.warn('spool bookkeeping failed', { error: (err as Error).message, started: done.length });
    }
    if (failure !== undefined) return { outcome: 'unavailable', started: done.length, error: failure };
    if (done.length === 0 && refused !== undefined) return { outcome: 'refused', started: 0, error: refused };
    return { outcome: 'drained', started: done.length };
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (running) {
      const result = await pass();
      options.onPass?.(result.outcome);
      if (result.started > 0) logger.info('spool drained', { started: result.started, owner });
      if (result.outcome === 'unavailable' && failures === 0) logger.warn('spool drain waiting for Temporal', { error: result.error });
      if (result.outcome === 'refused' && failures === 0)
        logger.error('spool drain: Temporal refuses the remaining rows', { error: result.error });
      const decision = nextDrain(result.outcome, failures, policy);
      failures = decision.failures;
      wakeable = decision.wakeable;
      if (decision.delayMs > 0 && running) {
        if (wakeable && pending) {
          pending = false;
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, decision.delayMs);
          function done() {
            clearTimeout(timer);
            wakeUp = undefined;
            resolve();
          }
          wakeUp = done;
        });
      }
      pending = false;
    }
  }

  return {
    owner,
    start() {
      if (running) return;
      running = true;
      stopping = false;
      wakeable = true;
      loop = run().catch((err: unknown) => logger.error('spool drainer stopped', { error: (err as Error).stack ?? String(err) }));
      logger.info('spool drainer started', { owner, batch: policy.batch, leaseMs: policy.leaseMs });
    },
    wake() {
      if (!wakeable) return;
      pending = true;
      wakeUp?.();
    },
    pass,
    async stop() {
      running = false;
      stopping = true;
      wakeUp?.();
      await loop;
    },
  };
}
