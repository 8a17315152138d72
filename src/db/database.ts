import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type SqliteDialectConfig,
} from 'kysely';
import pg from 'pg';
import type { DialectName } from './migrations/index.js';
import type { Schema } from './schema.js';

export type { DialectName } from './migrations/index.js';

/** An open knowledge-base database. */
export interface Database {
  db: Kysely<Schema>;
  dialect: DialectName;
  /** Closes the SQLite handle or ends the PostgreSQL pool. */
  close(): Promise<void>;
}

/** How long a SQLite connection waits for another process's write lock before failing. */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens the database named by `url` without migrating it (see `migrateToLatest`).
 *
 * - `sqlite:<path>`: creates the parent directory, turns on WAL and a busy timeout so the
 *   worker, the CLI and tests can share one file. `sqlite::memory:` for a private in-memory db.
 *   `busyTimeoutMs` 0 makes a write that finds the file locked fail at once instead of waiting
 *   with the event loop held (better-sqlite3 waits synchronously): the receiver's event log does
 *   that, and tries again later.
 * - `postgres://…` or `postgresql://…`: a `pg.Pool`, checked with one round trip so a bad
 *   URL fails here rather than on the first query.
 */
export async function openDatabase(url: string, options: { busyTimeoutMs?: number } = {}): Promise<Database> {
  if (url.startsWith('sqlite:')) {
    return openSqlite(url.slice('sqlite:'.length), options.busyTimeoutMs);
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    return openPostgres(url);
  }
  // Only the scheme: the rest of a URL may carry a password.
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? '(none)';
  throw new Error(`Unsupported database URL scheme ${scheme}; expected sqlite:<path>, sqlite::memory: or postgres://user@host/db`);
}

function openSqlite(path: string, busyTimeoutMs?: number): Database {
  if (path === '') {
    throw new Error('SQLite database URL has no path; use sqlite:<path> or sqlite::memory:');
  }
  // NORMAL: durable at every checkpoint and safe against corruption in WAL mode; only a power
  // loss can drop the last commits, which webhook redelivery and Temporal retries redo.
  const db = new Kysely<Schema>({ dialect: new ImmediateSqliteDialect({ database: openSqliteHandle(path, 'NORMAL', busyTimeoutMs) }) });
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}

/**
 * A better-sqlite3 handle as every hookline database wants it: the parent directory created, a
 * busy timeout so several processes can share the file, WAL, and the given `synchronous` level
 * (the knowledge base's NORMAL; the spool's FULL, since its commit is what a 202 promises).
 */
export function openSqliteHandle(
  path: string,
  synchronous: 'NORMAL' | 'FULL',
  busyTimeoutMs: number = SQLITE_BUSY_TIMEOUT_MS,
): BetterSqlite3.Database {
  const inMemory = path === ':memory:';
  if (!inMemory) mkdirSync(dirname(resolve(path)), { recursive: true });
  const sqlite = new BetterSqlite3(path, { timeout: busyTimeoutMs });
  try {
    sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
    if (!inMemory) {
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma(`synchronous = ${synchronous}`);
    }
  } catch (error) {
    sqlite.close();
    throw error;
  }
  return sqlite;
}

async function openPostgres(url: string): Promise<Database> {
  // No query outlives the activity that runs it (15 s).
  const pool = await openPostgresPool(url, { max: 10, connectionTimeoutMillis: 10_000, queryTimeoutMillis: 15_000 });
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', close: () => db.destroy() };
}

/**
 * A `pg.Pool` checked with one round trip, so a bad URL fails here rather than on the first
 * query, and hardened as every hookline pool must be. `what` names it in the error.
 */
export async function openPostgresPool(
  url: string,
  options: { max: number; connectionTimeoutMillis: number; queryTimeoutMillis: number; what?: string },
): Promise<pg.Pool> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max,
    // A link that goes silent (no reset, no answer) must not hold a pool slot for good: TCP
    // keepalive notices a dead peer, and the query timeout bounds every statement.
    keepAlive: true,
    connectionTimeoutMillis: options.connectionTimeoutMillis,
    query_timeout: options.queryTimeoutMillis,
  });
  // A connection that dies while idle is dropped from the pool and replaced on next use;
  // without a listener the pool's 'error' event would crash the process instead.
  pool.on('error', () => {});
  // The pool listens only to idle clients. A client handed out when its connection dies (the
  // server restarts, the network drops) emits 'error' too, and unheard that would crash the
  // process; its query already fails with the same error and the pool discards it on release.
  pool.on('connect', (client) => client.on('error', () => {}));
  try {
    await pool.query('select 1');
  } catch (error) {
    await pool.end().catch(() => {});
    throw new Error(`Cannot connect to ${options.what ?? 'PostgreSQL'} at ${describePostgresUrl(url)}: ${messageOf(error)}`, {
      cause: error,
    });
  }
  return pool;
}

/** host:port/database, never the credentials. */
function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * SQLite as the migrations need it, in two changes to Kysely's dialect:
 *
 * - Transactions take the write lock when they begin. With Kysely's plain `begin` a
 *   transaction starts as a reader; when two processes then both write, the later one
 *   cannot upgrade its stale snapshot and fails with SQLITE_BUSY at once, ignoring
 *   busy_timeout. `begin immediate` makes it wait its turn instead.
 * - DDL is declared transactional, which SQLite's is. Kysely's SqliteAdapter says it is not,
 *   so its Migrator runs SQLite migrations outside any transaction and without a lock: two
 *   processes starting on a fresh file both run `0001` and one fails on "table already
 *   exists", and a migration that fails halfway leaves half a schema behind. Inside one
 *   immediate transaction the second process waits, then finds nothing left to do.
 */
export class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}
