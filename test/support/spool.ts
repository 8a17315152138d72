import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';

/**
 * Spool databases for tests, and a look into them that does not go through src/spool/: the test's
 * own SQL, so a bug in the store cannot hide itself.
 */

export interface SpoolTarget {
  name: 'sqlite' | 'postgres';
  /** A URL of an empty spool database: a new SQLite file, or a new PostgreSQL schema. */
  freshUrl(): Promise<string>;
}

export function spoolTargets(): SpoolTarget[] {
  const targets: SpoolTarget[] = [
    { name: 'sqlite', freshUrl: async () => `sqlite:${join(mkdtempSync(join(tmpdir(), 'hookline-spool-')), 'spool.db')}` },
  ];
  if (process.env.TEST_DATABASE_URL) targets.push({ name: 'postgres', freshUrl: () => freshPostgresUrl(process.env.TEST_DATABASE_URL!) });
  return targets;
}

/** A schema of its own (`spool_<random>`), so parallel runs and files never share rows. */
export async function freshPostgresUrl(base: string): Promise<string> {
  const schema = `spool_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await client.end();
  }
  const u = new URL(base);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

export interface RawSpoolRow {
  workflow_id: string;
  claimed_by: string | null;
  claimed_until: number;
  attempts: number;
  /** What waits to be started: the envelope (or quarantined event) as JSON. */
  payload: string;
}

/** Every row in the spool at `url`, oldest first (an empty list when the table does not exist yet). */
export async function spoolRows(url: string): Promise<RawSpoolRow[]> {
  const query = 'select workflow_id, claimed_by, claimed_until, attempts, payload from hookline_spool order by seq';
  if (url.startsWith('sqlite:')) {
    const db = new BetterSqlite3(url.slice('sqlite:'.length), { readonly: true, fileMustExist: true });
    try {
      const exists = db.prepare("select 1 from sqlite_master where name = 'hookline_spool'").get();
      return exists ? (db.prepare(query).all() as RawSpoolRow[]).map((r) => ({ ...r, claimed_until: Number(r.claimed_until) })) : [];
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const exists = await client.query(
      "select 1 from information_schema.tables where table_name = 'hookline_spool' and table_schema = current_schema()",
    );
    if (exists.rowCount === 0) return [];
    const { rows } = await client.query<RawSpoolRow>(query);
    return rows.map((r) => ({ ...r, claimed_until: Number(r.claimed_until) }));
  } finally {
    await client.end();
  }
}
