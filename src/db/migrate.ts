import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Database } from './database.js';
import { migrations as allMigrations, type HooklineMigration } from './migrations/index.js';

/** A migration failed; the transaction it ran in was rolled back. */
export class MigrationFailedError extends Error {
  override readonly name = 'MigrationFailedError';

  constructor(
    /** The migration that failed, or undefined when the failure came before any ran. */
    readonly migrationName: string | undefined,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      migrationName === undefined
        ? `Database migration failed before any migration ran: ${reason}`
        : `Database migration "${migrationName}" failed: ${reason}`,
      { cause },
    );
  }
}

/**
 * Applies every pending migration and returns the names it applied (empty when the schema
 * was already current). The pending migrations run in one transaction, so a failure leaves
 * the schema as it was. Safe to call from several processes at once: on PostgreSQL Kysely's
 * Migrator holds an advisory lock; on SQLite the transaction takes the write lock up front
 * and the others wait (up to the busy timeout), then find nothing left to do.
 *
 * @throws {MigrationFailedError} naming the migration that failed.
 */
export async function migrateToLatest(
  database: Pick<Database, 'db' | 'dialect'>,
  options: { migrations?: Readonly<Record<string, HooklineMigration>> } = {},
): Promise<string[]> {
  const { db, dialect } = database;
  const source = options.migrations ?? allMigrations;
  const provider: MigrationProvider = {
    async getMigrations() {
      const byName: Record<string, Migration> = {};
      for (const [name, m] of Object.entries(source)) {
        const down = m.down;
        byName[name] = {
          up: (tx) => m.up(tx, { dialect }),
          ...(down ? { down: (tx: Kysely<unknown>) => down(tx, { dialect }) } : {}),
        };
      }
      return byName;
    },
  };
  const migrator = new Migrator({
    db,
    provider,
    // Branches add migrations side by side and are merged in any order: a database that already ran
    // a later-numbered one (0009) still takes an earlier one merged after it (0008). Each migration
    // touches only its own tables and columns, so the order between such siblings does not matter.
    allowUnorderedMigrations: true,
    // Kysely looks for its bookkeeping tables in every schema it can see; pinning them to
    // the current schema keeps two schemas in one PostgreSQL database (say, parallel test
    // runs) from mistaking each other's tables for their own.
    ...(dialect === 'postgres' ? { migrationTableSchema: await currentPostgresSchema(db) } : {}),
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    throw new MigrationFailedError(results.find((r) => r.status === 'Error')?.migrationName, error);
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

async function currentPostgresSchema<DB>(db: Kysely<DB>): Promise<string> {
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  const schema = rows[0]?.schema;
  if (!schema) {
    throw new MigrationFailedError(undefined, new Error('PostgreSQL search_path names no existing schema'));
  }
  return schema;
}
