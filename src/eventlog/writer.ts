import { Counter, Gauge, type Registry } from 'prom-client';
import type { EventLogInput } from '../db/repo';
import type { Logger } from '../log';

/**
 * The receiver's side of the event log: `record` puts a row in memory and returns at once; a
 * timer writes what is queued in batches, one transaction each. So no answer ever waits on the
 * log's database, and a database that is slow, locked or down costs the receiver memory, not
 * latency — bounded memory: past `maxQueued` rows, new rows are dropped and counted
 * (`hookline_event_log_dropped_total`), never the answer held up. Dropping the newest rather than
 * the oldest keeps the queue a plain FIFO; either way the log has a hole, and the counter says how
 * large. Rows a failed write took out go back at the front and are tried again with backoff.
 */
export interface EventLogWriter {
  /** Queues one row; never throws, never waits. */
  record(entry: EventLogInput): void;
  /** Writes everything queued now (tests, shutdown); rejects when the database refuses. */
  flush(): Promise<void>;
  /** Rows waiting to be written. */
  readonly queued: number;
  /** Stops the timer after a last flush (whose failure is logged, not thrown). */
  close(): Promise<void>;
}

export interface EventLogWriterOptions {
  /** One transaction per call: src/db/repo.ts `appendEventLog`. */
  write: (rows: EventLogInput[]) => Promise<void>;
  logger: Logger;
  /** Where the queue's figures go (the receiver's /metrics). */
  registry?: Registry;
  /** How often the queue is written out (ms). Default 200. */
  flushIntervalMs?: number;
  /** Rows per transaction; a queue this long is written at once, without waiting for the timer. Default 500. */
  batchRows?: number;
  /** The queue's bound. Default 20,000 rows (a few MB): 100 s of 200 deliveries a second. */
  maxQueued?: number;
  /** The longest wait between tries while the database fails (ms). Default 5,000. */
  maxBackoffMs?: number;
}

export function createEventLogWriter(options: EventLogWriterOptions): EventLogWriter {
  const flushIntervalMs = options.flushIntervalMs ?? 200;
  const batchRows = options.batchRows ?? 500;
  const maxQueued = options.maxQueued ?? 20_000;
  const maxBackoffMs = options.maxBackoffMs ?? 5_000;
  const { logger } = options;
  const registers = options.registry ? [options.registry] : [];
  const written = new Counter({ name: 'hookline_event_log_written_total', help: 'Rows written to the event log.', registers });
  const dropped = new Counter({
    name: 'hookline_event_log_dropped_total',
    help: 'Event log rows dropped because the queue was full (the database slow or down): the log has holes.',
    registers,
  });
  const failures = new Counter({
    name: 'hookline_event_log_write_failures_total',
    help: 'Batch writes to the event log that failed (retried with backoff).',
    registers,
  });
  let queue: EventLogInput[] = [];
  new Gauge({
    name: 'hookline_event_log_queued',
    help: 'Event log rows waiting in memory to be written.',
    registers,
    collect() {
      this.set(queue.length);
    },
  });

  let writing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let failing = 0;
  let droppedSinceLogged = 0;
  let closed = false;

  /** Writes one batch; on failure puts it back at the front, as far as the bound allows. */
  async function writeBatch(): Promise<void> {
    const batch = queue.slice(0, batchRows);
    queue = queue.slice(batch.length);
    try {
      await options.write(batch);
      written.inc(batch.length);
      if (failing > 0) logger.info('event log writes again', { afterFailures: failing, droppedMeanwhile: droppedSinceLogged });
      failing = 0;
      droppedSinceLogged = 0;
    } catch (err) {
      failures.inc();
      if (failing === 0) logger.warn('event log write failed; rows kept in memory and retried', { error: (err as Error).message });
      failing += 1;
      const room = Math.max(0, maxQueued - queue.length);
      const kept = batch.slice(0, room);
      if (kept.length < batch.length) lose(batch.length - kept.length);
      queue = [...kept, ...queue];
      throw err;
    }
  }

  function lose(count: number): void {
    dropped.inc(count);
    if (droppedSinceLogged === 0) logger.warn('event log queue full: rows dropped', { maxQueued });
    droppedSinceLogged += count;
  }

  function drain(): Promise<void> {
    if (writing) return writing;
    const current = (async () => {
      while (queue.length > 0) await writeBatch();
    })();
    // Cleared after the assignment below: an empty queue settles the promise at once.
    writing = current.finally(() => {
      if (writing === done) writing = undefined;
    });
    const done = writing;
    return done;
  }

  function schedule(delayMs: number): void {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      drain().then(
        () => schedule(flushIntervalMs),
        () => schedule(Math.min(maxBackoffMs, flushIntervalMs * 2 ** Math.min(failing, 10))),
      );
    }, delayMs);
    timer.unref();
  }
  schedule(flushIntervalMs);

  return {
    record(entry) {
      if (queue.length >= maxQueued) return lose(1);
      queue.push(entry);
      // A full batch goes now (when not backing off): the queue never holds more than it must.
      if (queue.length >= batchRows && failing === 0 && writing === undefined && timer) {
        clearTimeout(timer);
        timer = undefined;
        schedule(0);
      }
    },
    async flush() {
      await writing?.catch(() => undefined);
      await drain();
    },
    get queued() {
      return queue.length;
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await this.flush().catch((err: unknown) =>
        logger.warn('event log rows lost at shutdown', { rows: queue.length, error: (err as Error).message }),
      );
    },
  };
}
