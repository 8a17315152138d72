import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { findTestPostgres, LOCAL_TEST_DATABASE_URL } from './support/postgres';

// How `npm test` finds the PostgreSQL these machines run, as `.ci/run` does, so the
// PostgreSQL variants of the knowledge-base and fault tests are not silently skipped.
describe('finding PostgreSQL for the tests', () => {
  it('uses the local server when TEST_DATABASE_URL is unset, creating its database if missing', async () => {
    const env: NodeJS.ProcessEnv = {};
    expect(await findTestPostgres(env)).toMatch(/^PostgreSQL tests on /);
    expect(env.TEST_DATABASE_URL).toBe(LOCAL_TEST_DATABASE_URL);

    const name = `hookline_probe_${randomBytes(4).toString('hex')}`;
    const candidate = LOCAL_TEST_DATABASE_URL.replace(/\/test$/, `/${name}`);
    const fresh: NodeJS.ProcessEnv = {};
    try {
      await findTestPostgres(fresh, candidate);
      expect(fresh.TEST_DATABASE_URL).toBe(candidate);
    } finally {
      const admin = new pg.Client({ connectionString: LOCAL_TEST_DATABASE_URL.replace(/\/test$/, '/postgres') });
      await admin.connect();
      await admin.query(`drop database if exists ${pg.escapeIdentifier(name)}`);
      await admin.end();
    }
  });

  it('keeps a given TEST_DATABASE_URL; an empty one leaves PostgreSQL out, and so does a server that does not answer', async () => {
    const given = { TEST_DATABASE_URL: 'postgres://someone@db.example:5432/x' };
    await findTestPostgres(given);
    expect(given.TEST_DATABASE_URL).toBe('postgres://someone@db.example:5432/x');
    const empty = { TEST_DATABASE_URL: '' };
    expect(await findTestPostgres(empty)).toMatch(/left out/);
    expect(empty.TEST_DATABASE_URL).toBe('');
    // A port that accepts connections and says nothing, then one that refuses them.
    const silent = createServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const env: NodeJS.ProcessEnv = {};
      expect(await findTestPostgres(env, `postgres://postgres@127.0.0.1:${port}/test`)).toMatch(/not reachable/);
      expect(env.TEST_DATABASE_URL).toBeUndefined();
    } finally {
      silent.close();
    }
    const refused: NodeJS.ProcessEnv = {};
    await findTestPostgres(refused, `postgres://postgres@127.0.0.1:${port}/test`);
    expect(refused.TEST_DATABASE_URL).toBeUndefined();
  });
});
