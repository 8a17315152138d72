import type { Kysely } from 'kysely';

export type DialectName = 'sqlite' | 'postgres';

/**
 * A schema migration written in code. Unlike Kysely's own `Migration`, it is told which
 * dialect it runs on, for the few statements that cannot be written portably.
 */
export interface HooklineMigration {
  // Untyped on purpose: a migration sees the schema as it was when it was written,
  // not today's `Schema`.
  up(db: Kysely<unknown>, ctx: { dialect: DialectName }): Promise<void>;
  down?(db: Kysely<unknown>, ctx: { dialect: DialectName }): Promise<void>;
}
