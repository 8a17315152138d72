/**
 * `npm run bench -- --event-log`: the intake's throughput with the event log and without it, in the
 * same run. One Temporal dev server (in memory), two receiver processes that differ only in
 * EVENT_LOG (on: rows written in batches to a SQLite knowledge base of the run's; off: none), and a
 * closed loop of 32 senders against each in turn, rounds alternating which goes first. Prints
 * accepted/s per round and the ratio of the means (with / without).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_SCHEMES } from '../../src/receiver/sources';
import { generateSecret } from '../../src/signatures';
import { findTemporalCli } from '../temporal-cli';
import { freePort } from '../ports';
import { delivery } from './events';
import { baseEnv, receiverEnv } from './hookline-env';
import { httpOk, ProcessGroup, spawnNode, startDevServer, waitUntil } from './processes';

const CONCURRENCY = 32;

async function closedLoop(
  url: string,
  secrets: Record<string, string>,
  tag: string,
  seconds: number,
): Promise<{ accepted: number; errors: number }> {
  const until = Date.now() + seconds * 1000;
  let next = 0;
  let accepted = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < until) {
        const d = delivery('four', tag, 'run', next++, secrets);
        const res = await fetch(`${url}/webhooks/${d.source}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...d.headers },
          body: d.body,
        });
        await res.arrayBuffer();
        if (res.status === 202) accepted += 1;
        else errors += 1;
      }
    }),
  );
  return { accepted: accepted / seconds, errors };
}

export async function eventLogBench(options: { rounds: number; seconds: number }): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-bench-eventlog-'));
  const group = new ProcessGroup();
  try {
    const cli = await findTemporalCli();
    const temporal = await startDevServer({ cliPath: cli.path!, store: 'memory', dir, group });
    const secrets = Object.fromEntries(Object.entries(BUILTIN_SCHEMES).map(([name, scheme]) => [name, generateSecret(scheme)]));
    const env = baseEnv(temporal.address, 'bench-eventlog');
    const receivers: Record<'with' | 'without', string> = { with: '', without: '' };
    for (const which of ['with', 'without'] as const) {
      const port = await freePort();
      const logFile = join(dir, `receiver-${which}.log`);
      const child = group.add(
        `receiver ${which}`,
        spawnNode(
          'src/receiver/main.ts',
          {
            ...receiverEnv(env, port, secrets, join(dir, which)),
            DATABASE_URL: `sqlite:${join(dir, `${which}.db`)}`,
            SPOOL_URL: `sqlite:${join(dir, `${which}-spool.db`)}`,
            EVENT_LOG: which === 'with' ? 'on' : 'off',
          },
          logFile,
        ),
        5_000,
      );
      receivers[which] = `http://127.0.0.1:${port}`;
      await waitUntil(`the receiver (${which} the event log)`, child, logFile, () => httpOk(`${receivers[which]}/readyz`), 120_000);
    }
    const results: Record<'with' | 'without', number[]> = { with: [], without: [] };
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? (['without', 'with'] as const) : (['with', 'without'] as const);
      for (const which of order) {
        const r = await closedLoop(receivers[which], secrets, `el${round}${which}`, options.seconds);
        results[which].push(r.accepted);
        console.log(`round ${round + 1}, ${which} the event log: ${r.accepted.toFixed(0)} accepted/s, ${r.errors} non-202`);
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(
      `event log: with ${results.with.map((x) => x.toFixed(0)).join(', ')} accepted/s (mean ${mean(results.with).toFixed(0)}); ` +
        `without ${results.without.map((x) => x.toFixed(0)).join(', ')} (mean ${mean(results.without).toFixed(0)}); ` +
        `ratio with/without ${(mean(results.with) / mean(results.without)).toFixed(3)}`,
    );
    return 0;
  } finally {
    await group.stopAll();
  }
}
