import { Kysely, PostgresDialect, sql, type Generated, type Selectable } from 'kysely';
import { ImmediateSqliteDialect, openPostgresPool, openSqliteHandle } from '../db/database';
import type { EventEnvelope, QuarantinedEvent } from '../events/envelope';
import { TemporalUnavailableError } from '../intake';

/**
 * The intake spool: verified events Temporal did not acknowledge in time, kept durably until a
 * drainer has started them. One table, `hookline_spool`, created by the spool itself rather than
 * by the knowledge base's migrations: the spool belongs to the receiver (which has no other
 * database and must not run the worker's migrations), it may live in a different database from
 * the knowledge base (an SQLite file of its own by default), and it must be writable on the
 * request path while the worker holds the knowledge base's write lock.
 */

/** What a spooled row stands for: the start the receiver could not get acknowledged. */
export type SpooledStart = { kind: 'event'; envelope: EventEnvelope } | { kind: 'quarantine'; event: QuarantinedEvent };

export interface SpoolEntry {
  seq: number;
  workflowId: string;
  source: string;
  eventType: string | null;
  spooledAt: number;
  attempts: number;
  claimedBy: string | null;
  claimedUntil: number;
  lastError: string | null;
  bytes: number;
  /** Set while an operator has parked the row (`npm run spool -- park`): no drainer takes it. */
  parkedAt: number | null;
  parkReason: string | null;
}

export interface SpooledRow extends SpoolEntry {
  start: SpooledStart;
}

export interface SpoolStats {
  depth: number;
  bytes: number;
  /** Milliseconds since the oldest row was spooled; 0 when empty. */
  oldestAgeMs: number;
  claimed: number;
  /** Rows parked by an operator: kept and counted against the bounds, but not in `depth` and never drained. */
  parked: number;
}

/** Why the spool would not take an event; the receiver then answers 503 as without a spool. */
export const SpoolRefusal = { full: 'spool-full', writeFailed: 'spool-write-failed' } as const;
export type SpoolRefusal = (typeof SpoolRefusal)[keyof typeof SpoolRefusal];

/**
 * Neither Temporal nor the spool holds the event. A TemporalUnavailableError, so every path that
 * answers 503 for an unavailable Temporal answers it here too, with the reason added.
 */
export class SpoolRefusedError extends TemporalUnavailableError {
  constructor(
    workflowId: string,
    readonly reason: SpoolRefusal,
    message: string,
    options?: ErrorOptions,
  ) {
    super(workflowId, message, options);
  }
}

export interface SpoolLimits {
  maxEvents: number;
  maxBytes: number;
}

export interface SpoolStore {
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * Writes the start durably (committed; fsync'd on SQLite) and resolves `true`, or `false` when
   * this workflow ID is already spooled (a redelivery). Throws SpoolRefusedError when full or when
   * the write fails: the caller must not acknowledge the event then.
   */
  add(workflowId: string, start: SpooledStart, receivedAt?: number): Promise<boolean>;
  /** Leases up to `limit` unclaimed (or expired) rows to `owner`, oldest first. */
  claim(owner: string, limit: number, leaseMs: number): Promise<SpooledRow[]>;
  /** Gives rows back unstarted (Temporal did not answer), so any drainer may take them again. */
  release(owner: string, seqs: number[], error?: string): Promise<void>;
  /** Deletes rows whose start Temporal acknowledged (or reported as already started); resolves to how many this call removed. */
  remove(seqs: number[]): Promise<number>;
  stats(): Promise<SpoolStats>;
  list(limit: number): Promise<SpoolEntry[]>;
  /** Stops the drain from taking the row, keeping it (and its error) in sight; undefined when there is no such row. */
  park(seq: number, reason: string): Promise<SpoolEntry | undefined>;
  /** Lets the drain take a parked row again. */
  unpark(seq: number): Promise<SpoolEntry | undefined>;
  /** Deletes the row on purpose (the caller logs why); resolves to what it was. */
  discard(seq: number): Promise<SpoolEntry | undefined>;
  close(): Promise<void>;
}

interface SpoolTable {
  seq: Generated<number>;
  /** `<namespace>/<task queue>`: receivers of another deployment sharing the database never drain our rows. */
  scope: string;
  workflow_id: string;
  kind: 'event' | 'quarantine';
  source: string;
  event_type: string | null;
  payload: string;
  bytes: number;
  spooled_at: number;
  attempts: Generated<number>;
  claimed_by: string | null;
  claimed_until: Generated<number>;
  last_error: string | null;
  parked_at: number | null;
  park_reason: string | null;
}

/**
 * One row (id 1): the whole table's count and bytes, kept in step by every insert and delete in
 * the same transaction, so checking the bounds costs one row, not a scan of a deep spool.
 */
interface TotalsTable {
  id: number;
  events: number;
  bytes: number;
}

interface SpoolSchema {
  hookline_spool: SpoolTable;
  hookline_spool_totals: TotalsTable;
}

export const SPOOL_TABLE = 'hookline_spool';

/**
 * Opens (and creates if needed) the spool named by `url`: `sqlite:<path>` or `postgres://…`.
 * `scope` separates deployments that share one database.
 */
export async function openSpool(url: string, options: { scope: string; limits: SpoolLimits }): Promise<SpoolStore> {
  return createStore(await openReceiverDatabase<SpoolSchema>(url), options);
}

/** The receiver's own database, shared by whatever in this process opened the same URL. */
export interface ReceiverDatabase<DB> {
  db: Kysely<DB>;
  dialect: 'sqlite' | 'postgres';
  /** Lets go of it; the last user's close closes it. */
  close(): Promise<void>;
}

const opened = new Map<string, { database: Promise<Omit<ReceiverDatabase<unknown>, 'close'>>; users: number }>();

/**
 * The receiver's own database at `url` (`sqlite:<path>` or `postgres://…`), as the spool and the
 * quarantined bodies use it: every commit durable before an answer goes out, and quick to fail.
 * One handle per URL in a process: Kysely serialises a handle's transactions, but two handles on
 * one SQLite file would not wait for each other; the second one's write would block the event
 * loop in SQLite's busy wait while the first one's transaction needs that loop to finish.
 */
export async function openReceiverDatabase<DB>(url: string): Promise<ReceiverDatabase<DB>> {
  let entry = opened.get(url);
  if (!entry) {
    const database = openFresh(url);
    entry = { database, users: 0 };
    opened.set(url, entry);
    database.catch(() => opened.delete(url));
  }
  const shared = entry;
  shared.users += 1;
  const { db, dialect } = await shared.database.catch((error: unknown) => {
    shared.users -= 1;
    throw error;
  });
  let closed = false;
  return {
    db: db as Kysely<DB>,
    dialect,
    async close() {
      if (closed) return;
      closed = true;
      shared.users -= 1;
      if (shared.users > 0) return;
      opened.delete(url);
      await db.destroy();
    },
  };
}

async function openFresh(url: string): Promise<Omit<ReceiverDatabase<unknown>, 'close'>> {
  if (url.startsWith('sqlite:')) return { db: openSqlite(url.slice('sqlite:'.length)), dialect: 'sqlite' };
  if (/^postgres(ql)?:\/\//i.test(url)) return { db: await openPostgres(url), dialect: 'postgres' };
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? '(none)';
  throw new Error(`Unsupported spool URL scheme ${scheme}; expected sqlite:<path> or postgres://user@host/db`);
}

function openSqlite(path: string): Kysely<unknown> {
  if (path === '' || path === ':memory:')
    throw new Error('The spool needs a file (sqlite:<path>): an in-memory spool would not survive the process.');
  // FULL, not the knowledge base's NORMAL: a 202 promises the event survives a power loss, so
  // every commit is fsync'd before the answer goes out.
  return new Kysely<unknown>({ dialect: new ImmediateSqliteDialect({ database: openSqliteHandle(path, 'FULL') }) });
}

async function openPostgres(url: string): Promise<Kysely<unknown>> {
  // On the request path: a PostgreSQL that does not answer must turn into a prompt 503.
  const pool = await openPostgresPool(url, {
    max: 8,
    connectionTimeoutMillis: 3_000,
    queryTimeoutMillis: 5_000,
    what: "the spool's PostgreSQL",
  });
  return new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
}

// The payload is the last column: SQLite reads a row's columns in order, so the small ones that
// stats and claims read never drag a large body's overflow pages in with them.
async function createTable(db: Kysely<SpoolSchema>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const ddl =
    dialect === 'sqlite'
      ? sql`create table if not exists hookline_spool (
          seq integer primary key autoincrement, scope text not null, workflow_id text not null,
          kind text not null, source text not null, event_type text,
          bytes integer not null, spooled_at integer not null, attempts integer not null default 0,
          claimed_by text, claimed_until integer not null default 0, last_error text,
          payload text not null,
          unique (scope, workflow_id))`
      : sql`create table if not exists hookline_spool (
          seq bigserial primary key, scope text not null, workflow_id text not null,
          kind text not null, source text not null, event_type text,
          bytes integer not null, spooled_at bigint not null, attempts integer not null default 0,
          claimed_by text, claimed_until bigint not null default 0, last_error text,
          payload text not null,
          unique (scope, workflow_id))`;
  const totals = sql`create table if not exists hookline_spool_totals
    (id integer primary key, events bigint not null, bytes bigint not null)`;
  // Counted from the rows, once: the totals start right even for a table that predates them.
  // (`where true`: SQLite needs it to tell the upsert's ON CONFLICT from a join's ON.)
  const firstTotals = sql`insert into hookline_spool_totals (id, events, bytes)
    select 1, count(*), coalesce(sum(bytes), 0) from hookline_spool where true on conflict (id) do nothing`;
  // One transaction (SQLite's takes the write lock at `begin immediate`). On PostgreSQL, two
  // receivers starting at once on a fresh database would both run `create table if not exists`
  // and one could fail on the catalog's unique index; the advisory lock makes them take turns.
  await db.transaction().execute(async (tx) => {
    if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext('hookline_spool'))`.execute(tx);
    await ddl.execute(tx);
    await sql`create index if not exists hookline_spool_claim on hookline_spool (scope, claimed_until, seq)`.execute(tx);
    await totals.execute(tx);
    await firstTotals.execute(tx);
    // Parking came later: a table made before it gets the columns.
    if (dialect === 'postgres') {
      await sql`alter table hookline_spool add column if not exists parked_at bigint`.execute(tx);
      await sql`alter table hookline_spool add column if not exists park_reason text`.execute(tx);
    } else {
      const columns = await sql<{ name: string }>`select name from pragma_table_info('hookline_spool')`.execute(tx);
      if (!columns.rows.some((c) => c.name === 'parked_at')) {
        await sql`alter table hookline_spool add column parked_at integer`.execute(tx);
        await sql`alter table hookline_spool add column park_reason text`.execute(tx);
      }
    }
  });
}

/** Thrown inside add()'s transaction to roll the insert back when a bound is reached. */
class SpoolFull extends Error {}

type Row = Selectable<SpoolTable>;

function entryOf(row: Omit<Row, 'payload' | 'scope' | 'kind'>): SpoolEntry {
  return {
    seq: Number(row.seq),
    workflowId: row.workflow_id,
    source: row.source,
    eventType: row.event_type,
    spooledAt: Number(row.spooled_at),
    attempts: Number(row.attempts),
    claimedBy: row.claimed_by,
    claimedUntil: Number(row.claimed_until),
    lastError: row.last_error,
    bytes: Number(row.bytes),
    parkedAt: row.parked_at === null ? null : Number(row.parked_at),
    parkReason: row.park_reason,
  };
}

function startOf(row: Row): SpooledStart {
  const payload: unknown = JSON.parse(row.payload);
  return row.kind === 'event'
    ? { kind: 'event', envelope: payload as EventEnvelope }
    : { kind: 'quarantine', event: payload as QuarantinedEvent };
}

async function createStore(database: ReceiverDatabase<SpoolSchema>, options: { scope: string; limits: SpoolLimits }): Promise<SpoolStore> {
  const { db, dialect } = database;
  try {
    await createTable(db, dialect);
  } catch (error) {
    await database.close();
    throw error;
  }
  const { scope, limits } = options;

  return {
    dialect,

    async add(workflowId, start, now = Date.now()) {
      const payload = JSON.stringify(start.kind === 'event' ? start.envelope : start.event);
      const bytes = Buffer.byteLength(payload);
      const source = start.kind === 'event' ? start.envelope.source : start.event.source;
      const eventType = start.kind === 'event' ? start.envelope.event.event_type : (start.event.eventType ?? null);
      try {
        return await db.transaction().execute(async (tx) => {
          const inserted = await tx
            .insertInto('hookline_spool')
            .values({
              scope,
              workflow_id: workflowId,
              kind: start.kind,
              source,
              event_type: eventType,
              payload,
              bytes,
              spooled_at: now,
              claimed_by: null,
              last_error: null,
            })
            .onConflict((oc) => oc.columns(['scope', 'workflow_id']).doNothing())
            .returning('seq')
            .executeTakeFirst();
          if (inserted === undefined) return false;
          // The bounds are the whole table's (it is one disk), checked and counted in one statement
          // under the totals row's lock: exact on SQLite and on PostgreSQL alike.
          const counted = await tx
            .updateTable('hookline_spool_totals')
            .set({ events: sql`events + 1`, bytes: sql`bytes + ${bytes}` })
            .where('id', '=', 1)
            .where(sql<boolean>`events + 1 <= ${limits.maxEvents} and bytes + ${bytes} <= ${limits.maxBytes}`)
            .returning('events')
            .executeTakeFirst();
          if (counted === undefined) {
            const t = await tx.selectFrom('hookline_spool_totals').select(['events', 'bytes']).where('id', '=', 1).executeTakeFirst();
            throw new SpoolFull(
              `the spool is full (${t?.events} events, ${t?.bytes} bytes; limits ${limits.maxEvents} events, ${limits.maxBytes} bytes)`,
            );
          }
          return true;
        });
      } catch (error) {
        if (error instanceof SpoolFull)
          throw new SpoolRefusedError(workflowId, SpoolRefusal.full, `${error.message}: workflow ${workflowId} was not accepted`);
        throw new SpoolRefusedError(
          workflowId,
          SpoolRefusal.writeFailed,
          `the spool could not store workflow ${workflowId}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    },

    async claim(owner, limit, leaseMs) {
      const now = Date.now();
      let pick = db
        .selectFrom('hookline_spool')
        .select('seq')
        .where('scope', '=', scope)
        .where('claimed_until', '<=', now)
        .where('parked_at', 'is', null)
        .orderBy('seq')
        .limit(limit);
      // Concurrent drainers skip each other's locked rows instead of queueing behind them; SQLite
      // needs no such clause, its writer lock already makes the update one at a time.
      if (dialect === 'postgres') pick = pick.forUpdate().skipLocked();
      const rows = await db
        .updateTable('hookline_spool')
        .set({ claimed_by: owner, claimed_until: now + leaseMs, attempts: sql`attempts + 1` })
        .where('seq', 'in', pick)
        .returningAll()
        .execute();
      return rows.map((row) => ({ ...entryOf(row), start: startOf(row) })).sort((a, b) => a.seq - b.seq);
    },

    async release(owner, seqs, error) {
      if (seqs.length === 0) return;
      await db
        .updateTable('hookline_spool')
        .set({ claimed_by: null, claimed_until: 0, last_error: error === undefined ? null : error.slice(0, 500) })
        .where('seq', 'in', seqs)
        .where('claimed_by', '=', owner)
        .execute();
    },

    async remove(seqs) {
      if (seqs.length === 0) return 0;
      return db.transaction().execute(async (tx) => {
        // Only what this delete removed is subtracted: a row another drainer deleted first is not counted twice.
        const removed = await tx.deleteFrom('hookline_spool').where('seq', 'in', seqs).returning('bytes').execute();
        if (removed.length === 0) return 0;
        const bytes = removed.reduce((sum, r) => sum + Number(r.bytes), 0);
        await tx
          .updateTable('hookline_spool_totals')
          .set({ events: sql`events - ${removed.length}`, bytes: sql`bytes - ${bytes}` })
          .where('id', '=', 1)
          .execute();
        return removed.length;
      });
    },

    async stats() {
      const now = Date.now();
      const row = await db
        .selectFrom('hookline_spool')
        .select((eb) => [
          eb.fn.sum<number | string>(sql`case when parked_at is null then 1 else 0 end`).as('depth'),
          eb.fn.coalesce(eb.fn.sum<number | string>('bytes'), sql<number>`0`).as('bytes'),
          eb.fn.min<number | string | null>(sql`case when parked_at is null then spooled_at end`).as('oldest'),
          eb.fn.sum<number | string>(sql`case when claimed_until > ${now} then 1 else 0 end`).as('claimed'),
          eb.fn.sum<number | string>(sql`case when parked_at is null then 0 else 1 end`).as('parked'),
        ])
        .where('scope', '=', scope)
        .executeTakeFirstOrThrow();
      return {
        depth: Number(row.depth ?? 0),
        parked: Number(row.parked ?? 0),
        bytes: Number(row.bytes),
        oldestAgeMs: row.oldest === null ? 0 : Math.max(0, now - Number(row.oldest)),
        claimed: Number(row.claimed ?? 0),
      };
    },

    async list(limit) {
      const rows = await db
        .selectFrom('hookline_spool')
        .select([
          'seq',
          'workflow_id',
          'source',
          'event_type',
          'bytes',
          'spooled_at',
          'attempts',
          'claimed_by',
          'claimed_until',
          'last_error',
          'parked_at',
          'park_reason',
        ])
        .where('scope', '=', scope)
        .orderBy('seq')
        .limit(limit)
        .execute();
      return rows.map(entryOf);
    },

    async park(seq, reason) {
      const row = await db
        .updateTable('hookline_spool')
        .set({ parked_at: Date.now(), park_reason: reason.slice(0, 500), claimed_by: null, claimed_until: 0 })
        .where('scope', '=', scope)
        .where('seq', '=', seq)
        .returningAll()
        .executeTakeFirst();
      return row && entryOf(row);
    },

    async unpark(seq) {
      const row = await db
        .updateTable('hookline_spool')
        .set({ parked_at: null, park_reason: null, claimed_by: null, claimed_until: 0 })
        .where('scope', '=', scope)
        .where('seq', '=', seq)
        .returningAll()
        .executeTakeFirst();
      return row && entryOf(row);
    },

    async discard(seq) {
      return db.transaction().execute(async (tx) => {
        const row = await tx
          .deleteFrom('hookline_spool')
          .where('scope', '=', scope)
          .where('seq', '=', seq)
          .returningAll()
          .executeTakeFirst();
        if (row === undefined) return undefined;
        await tx
          .updateTable('hookline_spool_totals')
          .set({ events: sql`events - 1`, bytes: sql`bytes - ${Number(row.bytes)}` })
          .where('id', '=', 1)
          .execute();
        return entryOf(row);
      });
    },

    close: () => database.close(),
  };
}
