import type { Client, WorkflowExecutionInfo, WorkflowExecutionStatusName } from '@temporalio/client';
import type { Kysely } from 'kysely';
import { pruneEventLog, recordRunStatus, workflowsAwaitingStatus } from '../db/repo';
import type { RunStatus, Schema } from '../db/schema';
import type { Logger } from '../log';

type RunInfo = Pick<WorkflowExecutionInfo, 'workflowId' | 'startTime' | 'status' | 'closeTime'>;

/**
 * How each logged event's run ended, filled in by the worker from Temporal's visibility: every
 * `intervalMs`, the workflows whose rows do not know yet (least recently asked first, each at most
 * once per `recheckMs`) are looked up together in one list query, and their rows updated.
 *
 * Why this and not a hook at the end of each workflow: an activity there would add history to
 * every run (and change the recorded histories), and a workflow interceptor sees neither a
 * termination nor a timeout, which only the server decides. One visibility query per pass sees
 * every way a run ends, costs the workflows nothing, and catches up after the worker was down. The
 * price is a delay of up to a pass (10 s by default, longer while more runs are open than one pass
 * asks about) before the log shows a run's end.
 *
 * The same loop prunes rows older than EVENT_LOG_RETENTION, in bounded batches, once an hour.
 */
export interface RunStatusRecorder {
  /** One pass now: resolves to how many workflows were asked about and how many were found closed. */
  pass(): Promise<{ checked: number; closed: number }>;
  /** Deletes rows past the retention; resolves to how many. */
  prune(): Promise<number>;
  stop(): Promise<void>;
}

export interface RunStatusRecorderOptions {
  db: Kysely<Schema>;
  client: Client;
  logger: Logger;
  /** EVENT_LOG_RETENTION (ms). */
  retentionMs: number;
  intervalMs?: number;
  /** Workflows asked about per pass. Default 100. */
  batch?: number;
  /** A run found open is asked about again after this long. Default 60 s. */
  recheckMs?: number;
  pruneEveryMs?: number;
  now?: () => Date;
}

const STATUS: Record<WorkflowExecutionStatusName, RunStatus | undefined> = {
  RUNNING: 'running',
  PAUSED: 'running',
  COMPLETED: 'completed',
  FAILED: 'failed',
  TIMED_OUT: 'timed-out',
  CANCELLED: 'cancelled',
  TERMINATED: 'terminated',
  CONTINUED_AS_NEW: 'continued-as-new',
  UNKNOWN: undefined,
  UNSPECIFIED: undefined,
};

/** Characters that would need escaping inside a visibility query's string literal: such IDs are described one by one. */
const UNQUOTABLE = /['"\\\n\r]/;
const PRUNE_BATCH = 5_000;

export function createRunStatusRecorder(options: RunStatusRecorderOptions): RunStatusRecorder & { start(): void } {
  const { db, client, logger } = options;
  const intervalMs = options.intervalMs ?? 10_000;
  const batch = options.batch ?? 100;
  const recheckMs = options.recheckMs ?? 60_000;
  const pruneEveryMs = options.pruneEveryMs ?? 3_600_000;
  const now = options.now ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;
  let lastPrune = 0;

  /** The latest run of each workflow Temporal still knows, by workflow ID. */
  async function latestRuns(ids: string[]): Promise<Map<string, RunInfo>> {
    const latest = new Map<string, RunInfo>();
    const keep = (info: RunInfo) => {
      const seen = latest.get(info.workflowId);
      if (!seen || seen.startTime < info.startTime) latest.set(info.workflowId, info);
    };
    const quotable = ids.filter((id) => !UNQUOTABLE.test(id));
    if (quotable.length > 0) {
      const query = `WorkflowId IN (${quotable.map((id) => `'${id}'`).join(', ')})`;
      for await (const info of client.workflow.list({ query })) keep(info);
    }
    for (const id of ids.filter((i) => UNQUOTABLE.test(i))) {
      const info = await client.workflow
        .getHandle(id)
        .describe()
        .catch(() => undefined);
      if (info) keep(info);
    }
    return latest;
  }

  async function pass(): Promise<{ checked: number; closed: number }> {
    const at = now();
    const ids = await workflowsAwaitingStatus(db, { checkedBefore: new Date(at.getTime() - recheckMs).toISOString(), limit: batch });
    if (ids.length === 0) return { checked: 0, closed: 0 };
    const runs = await latestRuns(ids);
    let closed = 0;
    for (const id of ids) {
      const info = runs.get(id);
      const status = info ? STATUS[info.status.name] : undefined;
      if (status !== undefined && status !== 'running') closed += 1;
      await recordRunStatus(db, id, {
        status,
        ...(info?.closeTime ? { closedAt: info.closeTime.toISOString() } : {}),
        checkedAt: at.toISOString(),
      });
    }
    return { checked: ids.length, closed };
  }

  async function prune(): Promise<number> {
    const before = new Date(now().getTime() - options.retentionMs).toISOString();
    let total = 0;
    for (;;) {
      const removed = await pruneEventLog(db, before, PRUNE_BATCH);
      total += removed;
      if (removed < PRUNE_BATCH || stopped) break;
    }
    if (total > 0) logger.info('event log pruned', { rows: total, before });
    return total;
  }

  async function tick(): Promise<void> {
    try {
      if (Date.now() - lastPrune >= pruneEveryMs) {
        lastPrune = Date.now();
        await prune();
      }
      // Passes back to back while there is a backlog of closed runs to record, then the interval.
      for (let i = 0; i < 10 && !stopped; i++) {
        const result = await pass();
        if (result.checked < batch) break;
      }
    } catch (err) {
      logger.warn('event log status pass failed; trying again later', { error: (err as Error).message });
    }
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().finally(schedule);
    }, intervalMs);
    timer.unref();
  }

  return {
    pass,
    prune,
    start() {
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
