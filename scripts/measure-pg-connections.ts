/**
 * How many PostgreSQL connections one Temporal server on config/temporal/server.yaml holds: its
 * own databases (fresh, dropped at the end), a burst of concurrent workflow starts and signals, and
 * pg_stat_activity counted by database every 250 ms. `npx tsx scripts/measure-pg-connections.ts
 * [--max-conns N --vis-max-conns N] [--starts N]`.
 */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import {
  ensureNamespace,
  migrateTemporalDatabases,
  serverPorts,
  spawnTemporalServer,
  withDatabase,
  type TemporalDatabases,
} from './cluster-temporal';
import { findTemporalServer } from './temporal-server';

const arg = (name: string): number | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : Number(process.argv[i + 1]);
};

async function main(): Promise<void> {
  const admin = 'postgres://postgres@127.0.0.1:5432/postgres';
  const prefix = `hookline_measure_${randomBytes(3).toString('hex')}`;
  const databases: TemporalDatabases = {
    temporal: withDatabase(admin, `${prefix}_temporal`),
    visibility: withDatabase(admin, `${prefix}_visibility`),
  };
  const binaries = await findTemporalServer();
  await migrateTemporalDatabases(binaries, databases);
  const frontend = 17233 + Math.floor(Math.random() * 500) * 10;
  const server = spawnTemporalServer(binaries, {
    databases,
    ports: serverPorts(frontend),
    sqlMaxConns: arg('max-conns'),
    sqlVisibilityMaxConns: arg('vis-max-conns'),
  });
  server.stderr?.on('data', () => undefined);
  server.stdout?.on('data', () => undefined);
  const pg = new PgClient({ connectionString: admin });
  await pg.connect();
  const count = async () => {
    const { rows } = await pg.query<{ datname: string; n: string }>(
      `select datname, count(*) as n from pg_stat_activity where datname like $1 group by datname`,
      [`${prefix}%`],
    );
    return Object.fromEntries(rows.map((r) => [r.datname.slice(prefix.length + 1), Number(r.n)]));
  };
  let peak: Record<string, number> = {};
  let peakTotal = 0;
  const sampler = setInterval(() => {
    void count().then((c) => {
      const total = Object.values(c).reduce((a, b) => a + b, 0);
      if (total > peakTotal) [peakTotal, peak] = [total, c];
    });
  }, 250);
  try {
    await ensureNamespace(`127.0.0.1:${frontend}`, 'default', 90_000);
    const connection = await Connection.connect({ address: `127.0.0.1:${frontend}` });
    const client = new Client({ connection, namespace: 'default' });
    console.log('idle after start', await count());
    const starts = arg('starts') ?? 400;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: starts }, async (_, i) => {
        const handle = await client.workflow.start('nobodyRunsThis', { workflowId: `m-${i}`, taskQueue: 'measure-nobody' });
        await handle.signal('poke');
      }),
    );
    console.log(`${starts} starts + signals in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await new Promise((r) => setTimeout(r, 1_000));
    console.log('after the burst (idle pools kept)', await count());
    console.log('peak', peakTotal, peak);
    await connection.close();
  } finally {
    clearInterval(sampler);
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    for (const db of ['temporal', 'visibility']) await pg.query(`DROP DATABASE IF EXISTS ${prefix}_${db} WITH (FORCE)`);
    await pg.end();
  }
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
