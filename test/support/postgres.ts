import pg from 'pg';

/** Where `.ci/run` finds PostgreSQL on these machines, and `npm test` too. */
export const LOCAL_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/**
 * The knowledge-base, spool and fault tests run on PostgreSQL as well as SQLite when
 * TEST_DATABASE_URL names a server. Unset, `candidate` is used when it answers (its database
 * created if missing), as `.ci/run` does, and written into `env`; set empty, PostgreSQL is left
 * out. The global setup passes process.env: test files read the variable when they load, and
 * every test process starts after it, with it set. Returns what it decided, for the log.
 */
export async function findTestPostgres(env: NodeJS.ProcessEnv, candidate = LOCAL_TEST_DATABASE_URL): Promise<string> {
  if (env.TEST_DATABASE_URL !== undefined) {
    return env.TEST_DATABASE_URL ? 'PostgreSQL tests on TEST_DATABASE_URL' : 'TEST_DATABASE_URL is empty: PostgreSQL tests left out';
  }
  const url = new URL(candidate);
  if (await answers(url)) {
    env.TEST_DATABASE_URL = candidate;
    return `PostgreSQL tests on ${candidate} (found; set TEST_DATABASE_URL= to leave them out)`;
  }
  return `PostgreSQL not reachable at ${url.host}: the knowledge-base and fault tests run on SQLite only (set TEST_DATABASE_URL)`;
}

/** Whether the database at `url` takes a query; a missing database is created through `postgres`. */
async function answers(url: URL, sql = 'select 1', createIfMissing = true): Promise<boolean> {
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(sql);
    return true;
  } catch (err) {
    // Only a missing database is worth creating; anything else means no usable server here.
    if ((err as { code?: string }).code !== '3D000' || !createIfMissing) return false;
    const database = decodeURIComponent(url.pathname.slice(1));
    const server = new URL(url);
    server.pathname = '/postgres';
    return (await answers(server, `create database ${pg.escapeIdentifier(database)}`, false)) && answers(url, 'select 1', false);
  } finally {
    await client.end().catch(() => undefined);
  }
}
