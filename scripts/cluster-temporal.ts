/**
 * The Temporal half of `npm run cluster` (and of the cluster tests and bench): PostgreSQL databases
 * created and migrated idempotently with the server's own temporal-sql-tool, the server started on
 * config/temporal/server.yaml, and the namespace with hookline's search attributes registered.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { Client as PgClient } from 'pg';
import { SEARCH_ATTRIBUTES } from '../workflows/contracts/search-attributes';
import type { TemporalServerBinaries } from './temporal-server';

const ROOT = resolve(__dirname, '..');
export const SERVER_CONFIG_FILE = resolve(ROOT, 'config/temporal/server.yaml');
export const DYNAMIC_CONFIG_FILE = resolve(ROOT, 'config/temporal/dynamicconfig.yaml');

/** The schema each database gets, by the name the sql tool embeds it under. */
const SCHEMAS = { temporal: 'postgresql/v12/temporal', visibility: 'postgresql/v12/visibility' } as const;

export interface TemporalDatabases {
  /** postgres://user[:password]@host:port/<temporal database> */
  temporal: string;
  /** postgres://user[:password]@host:port/<visibility database> (the same server: the config file has one address) */
  visibility: string;
}

/** `postgres://…/temporal` and the visibility database beside it, unless given. */
export function temporalDatabases(env: NodeJS.ProcessEnv = process.env): TemporalDatabases {
  const temporal = env.TEMPORAL_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/temporal';
  const visibility = env.TEMPORAL_VISIBILITY_DATABASE_URL || withDatabase(temporal, 'temporal_visibility');
  for (const [variable, url] of [
    ['TEMPORAL_DATABASE_URL', temporal],
    ['TEMPORAL_VISIBILITY_DATABASE_URL', visibility],
  ] as const) {
    if (!/^postgres(ql)?:\/\/[^/]+\/[A-Za-z_][A-Za-z0-9_]*$/.test(url)) {
      throw new Error(`${variable}: expected postgres://user[:password]@host:port/<database> (a plain database name), got ${redact(url)}`);
    }
  }
  const a = new URL(temporal);
  const b = new URL(visibility);
  if (a.host !== b.host || a.username !== b.username || a.password !== b.password) {
    throw new Error('TEMPORAL_VISIBILITY_DATABASE_URL must name a database on the same server, as the same user, as TEMPORAL_DATABASE_URL');
  }
  return { temporal, visibility };
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  u.search = '';
  return u.toString();
}

export function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

const databaseName = (url: string) => new URL(url).pathname.slice(1);

async function withPg<T>(url: string, fn: (pg: PgClient) => Promise<T>): Promise<T> {
  const pg = new PgClient({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await pg.connect();
  } catch (err) {
    throw new Error(`cannot reach PostgreSQL at ${redact(url)}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return await fn(pg);
  } finally {
    await pg.end();
  }
}

/** Creates the database named in `url` unless it exists; true when it created it. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  return withPg(withDatabase(url, 'postgres'), async (pg) => {
    const { rowCount } = await pg.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    try {
      await pg.query(`CREATE DATABASE "${name}"`);
    } catch (err) {
      // Someone else created it between the check and now.
      if ((err as { code?: string }).code !== '42P04') throw err;
      return false;
    }
    return true;
  });
}

/** The version the sql tool recorded in `schema_version`, or undefined before the first setup. */
export async function schemaVersion(url: string): Promise<string | undefined> {
  return withPg(url, async (pg) => {
    const table = await pg.query("SELECT to_regclass('public.schema_version') AS t");
    if (!table.rows[0]?.t) return undefined;
    const { rows } = await pg.query<{ curr_version: string }>('SELECT curr_version FROM schema_version LIMIT 1');
    return rows[0]?.curr_version;
  });
}

function sqlTool(binaries: TemporalServerBinaries, url: string, args: string[]): void {
  const u = new URL(url);
  const result = spawnSync(
    binaries.sqlTool,
    [
      '--plugin',
      'postgres12',
      '--ep',
      u.hostname,
      '-p',
      u.port || '5432',
      '-u',
      decodeURIComponent(u.username),
      '--db',
      databaseName(url),
      ...args,
    ],
    // The password by environment, so it is not on a command line other users can read.
    { encoding: 'utf8', env: { ...process.env, SQL_PASSWORD: decodeURIComponent(u.password) } },
  );
  if (result.status !== 0) {
    throw new Error(`temporal-sql-tool ${args[0]} on ${redact(url)} failed:\n${(result.stderr || result.stdout).trim()}`);
  }
}

export interface SchemaReport {
  database: string;
  created: boolean;
  before?: string;
  after?: string;
}

/**
 * Creates both databases if missing and brings their schemas to this server version's. A rerun
 * changes nothing (`setup-schema -v 0.0` skips a database that has a version, `update-schema`
 * applies only versions above the recorded one); a newer sql tool upgrades the schema.
 */
export async function migrateTemporalDatabases(binaries: TemporalServerBinaries, databases: TemporalDatabases): Promise<SchemaReport[]> {
  return [
    await migrateDatabase(binaries, databases.temporal, 'temporal'),
    await migrateDatabase(binaries, databases.visibility, 'visibility'),
  ];
}

/** One database: created if missing, set up if new, updated to `targetVersion` (default: this tool's latest). */
export async function migrateDatabase(
  binaries: TemporalServerBinaries,
  url: string,
  kind: keyof typeof SCHEMAS,
  targetVersion?: string,
): Promise<SchemaReport> {
  const created = await ensureDatabase(url);
  const before = await schemaVersion(url);
  if (before === undefined) sqlTool(binaries, url, ['setup-schema', '-v', '0.0']);
  sqlTool(binaries, url, ['update-schema', '--schema-name', SCHEMAS[kind], ...(targetVersion ? ['-v', targetVersion] : [])]);
  return { database: databaseName(url), created, before, after: await schemaVersion(url) };
}

export function describeSchema(report: SchemaReport): string {
  const what = report.created
    ? `created, schema ${report.after}`
    : report.before === report.after
      ? `schema ${report.after}, up to date`
      : `schema ${report.before ?? 'none'} → ${report.after}`;
  return `${report.database}: ${what}`;
}

export interface ServerPorts {
  frontend: number;
  frontendHttp: number;
  history: number;
  matching: number;
  worker: number;
  membership: { frontend: number; history: number; matching: number; worker: number };
}

/**
 * Every port the server binds, from the frontend's: the defaults (7233 → 7234, 7235, 7239, HTTP 7243,
 * membership 6933–6939) shifted together. Membership ports are kept in a PostgreSQL smallint, so
 * the frontend port must leave them below 32768.
 */
export function serverPorts(frontend: number): ServerPorts {
  const offset = frontend - 7233;
  const ports: ServerPorts = {
    frontend,
    frontendHttp: 7243 + offset,
    history: 7234 + offset,
    matching: 7235 + offset,
    worker: 7239 + offset,
    membership: { frontend: 6933 + offset, history: 6934 + offset, matching: 6935 + offset, worker: 6939 + offset },
  };
  if (ports.membership.frontend < 1024 || ports.frontendHttp > 32767) {
    throw new Error(
      `HOOKLINE_TEMPORAL_PORT=${frontend}: choose a port between 1324 and 32757 ` +
        "(the server's membership ports, 300 below it, must fit a PostgreSQL smallint)",
    );
  }
  return ports;
}

export function allPorts(ports: ServerPorts): number[] {
  return [ports.frontend, ports.frontendHttp, ports.history, ports.matching, ports.worker, ...Object.values(ports.membership)];
}

export interface ServerOptions {
  databases: TemporalDatabases;
  ports: ServerPorts;
  numHistoryShards?: number;
  /** Pool sizes per service per store: a process holds 4 × each (the config file's defaults: 8 and 4). */
  sqlMaxConns?: number;
  sqlVisibilityMaxConns?: number;
  /** ip:port for the server's Prometheus metrics, or none. */
  metricsAddress?: string;
  logLevel?: string;
  /** Another dynamic config file than config/temporal/dynamicconfig.yaml (TEMPORAL_DYNAMIC_CONFIG_FILE). */
  dynamicConfigFile?: string;
}

/** The variables config/temporal/server.yaml reads (the same names temporalio/server's image uses). */
export function serverEnv(options: ServerOptions): Record<string, string> {
  const u = new URL(options.databases.temporal);
  const { ports } = options;
  return {
    POSTGRES_SEEDS: u.hostname,
    DB_PORT: u.port || '5432',
    POSTGRES_USER: decodeURIComponent(u.username),
    POSTGRES_PWD: decodeURIComponent(u.password),
    DBNAME: databaseName(options.databases.temporal),
    VISIBILITY_DBNAME: databaseName(options.databases.visibility),
    NUM_HISTORY_SHARDS: String(options.numHistoryShards ?? 4),
    ...(options.sqlMaxConns ? { SQL_MAX_CONNS: String(options.sqlMaxConns), SQL_MAX_IDLE_CONNS: String(options.sqlMaxConns) } : {}),
    ...(options.sqlVisibilityMaxConns ? { SQL_VIS_MAX_CONNS: String(options.sqlVisibilityMaxConns) } : {}),
    ...(options.metricsAddress ? { PROMETHEUS_ENDPOINT: options.metricsAddress } : {}),
    LOG_LEVEL: options.logLevel ?? 'warn',
    BIND_ON_IP: '127.0.0.1',
    TEMPORAL_BROADCAST_ADDRESS: '127.0.0.1',
    FRONTEND_GRPC_PORT: String(ports.frontend),
    FRONTEND_HTTP_PORT: String(ports.frontendHttp),
    HISTORY_GRPC_PORT: String(ports.history),
    MATCHING_GRPC_PORT: String(ports.matching),
    WORKER_GRPC_PORT: String(ports.worker),
    FRONTEND_MEMBERSHIP_PORT: String(ports.membership.frontend),
    HISTORY_MEMBERSHIP_PORT: String(ports.membership.history),
    MATCHING_MEMBERSHIP_PORT: String(ports.membership.matching),
    WORKER_MEMBERSHIP_PORT: String(ports.membership.worker),
    DYNAMIC_CONFIG_FILE_PATH: options.dynamicConfigFile ?? DYNAMIC_CONFIG_FILE,
  };
}

/** `temporal-server --config-file config/temporal/server.yaml start`, all four services in one process. */
export function spawnTemporalServer(
  binaries: TemporalServerBinaries,
  options: ServerOptions,
  extraEnv: Record<string, string> = {},
): ChildProcess {
  return spawn(binaries.server, ['--config-file', SERVER_CONFIG_FILE, '--allow-no-auth', 'start'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...extraEnv, ...serverEnv(options) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** gRPC codes the server answers while it is still coming up or the namespace is not cached yet. */
const ALREADY_EXISTS = 6;

/**
 * Registers the namespace (7 days' retention) unless it exists, then adds whichever of hookline's
 * search attributes it lacks. An attribute registered with another type is an error: the workflows
 * depend on these names and types.
 */
export async function ensureNamespace(
  address: string,
  namespace: string,
  timeoutMs = 60_000,
): Promise<{ namespaceCreated: boolean; added: string[] }> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const connection = await Connection.connect({ address, connectTimeout: 2_000 }).catch((err: unknown) => {
      lastError = err;
      return undefined;
    });
    if (connection) {
      try {
        let namespaceCreated = false;
        try {
          await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('7d') });
          namespaceCreated = true;
        } catch (err) {
          if ((err as { code?: number }).code !== ALREADY_EXISTS) throw err;
        }
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
        const missing = SEARCH_ATTRIBUTES.filter((key) => !(key.name in (customAttributes ?? {})));
        const conflicting = SEARCH_ATTRIBUTES.filter(
          (key) => key.name in (customAttributes ?? {}) && indexedType(key.type) !== customAttributes![key.name],
        );
        if (conflicting.length > 0) {
          throw Object.assign(
            new Error(
              `search attribute(s) ${conflicting.map((k) => k.name).join(', ')} exist on ${namespace} with another type; ` +
                `hookline needs ${conflicting.map((k) => `${k.name}=${k.type}`).join(', ')}`,
            ),
            { fatal: true },
          );
        }
        if (missing.length > 0) {
          await connection.operatorService.addSearchAttributes({
            namespace,
            searchAttributes: Object.fromEntries(missing.map((key) => [key.name, indexedType(key.type)])),
          });
        }
        // Ready when a visibility query on the namespace with our attributes is answered.
        await connection.workflowService.countWorkflowExecutions({ namespace, query: `${SEARCH_ATTRIBUTES[0].name} = 'probe'` });
        return { namespaceCreated, added: missing.map((key) => key.name) };
      } catch (err) {
        if ((err as { fatal?: boolean }).fatal) throw err;
        lastError = err;
      } finally {
        await connection.close();
      }
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `Temporal at ${address} did not accept namespace ${namespace} and its search attributes within ${timeoutMs / 1000}s: ` +
      `${(lastError as Error)?.message}`,
  );
}

/** temporal.api.enums.v1.IndexedValueType numbers for the SDK's search attribute type names. */
function indexedType(type: string): number {
  const types: Record<string, number> = { TEXT: 1, KEYWORD: 2, INT: 3, DOUBLE: 4, BOOL: 5, DATETIME: 6, KEYWORD_LIST: 7 };
  const value = types[type];
  if (value === undefined) throw new Error(`unknown search attribute type ${type}`);
  return value;
}
