export { openDatabase, SQLITE_BUSY_TIMEOUT_MS, type Database, type DialectName } from './database.js';
export { migrateToLatest, MigrationFailedError } from './migrate.js';
export { migrations, type HooklineMigration } from './migrations/index.js';
export * from './repo.js';
export * from './schema.js';
