/**
 * Runs before `npm test` (npm's `pretest`): makes sure the things the suite needs from outside
 * npm are on this machine — the Temporal CLI (for the real dev server), the Temporal server and
 * its sql tool (for test/cluster.test.ts; built once, about 5 minutes), promtool (for the alert
 * rules' tests; built once, 10–25 minutes), stripe-mock (for the Stripe client's tests) and Chromium (for the
 * inbox's browser test) — and says plainly what is missing if it cannot provide them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describeCli, findTemporalCli } from './temporal-cli';
import { describeServer, findTemporalServer, findTemporalUi } from './temporal-server';
import { findPromtool } from './promtool';
import { findStripeMock } from './stripe-mock';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function ensureChromium(): void {
  if (existsSync(CHROMIUM_PATH)) return;
  const isRoot = process.getuid?.() === 0;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt) {
    throw new Error(
      `Chromium is needed for the inbox browser test and was not found at ${CHROMIUM_PATH}. ` +
        "Install Debian's package (sudo apt-get install chromium) or set CHROMIUM_PATH.",
    );
  }
  process.stderr.write("[pretest] installing Debian's chromium for the inbox browser test (one time)…\n");
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', 'chromium'],
  ]) {
    const result = spawnSync('apt-get', args, {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${result.status})`);
  }
}

async function main(): Promise<void> {
  const cli = await findTemporalCli();
  process.stderr.write(`[pretest] ${describeCli(cli)}\n`);
  process.stderr.write(`[pretest] ${describeServer(await findTemporalServer())}\n`);
  // test/cluster.test.ts checks the cluster's UI too, so it must be there.
  const ui = await findTemporalUi();
  if (!ui.path) throw new Error(`the Temporal UI is needed for test/cluster.test.ts: ${ui.reason}`);
  process.stderr.write(`[pretest] Temporal UI: ${ui.path}\n`);
  // test/monitoring.test.ts unit-tests the alert rules with it.
  const promtool = await findPromtool();
  if (!promtool.path) throw new Error(`promtool is needed for test/monitoring.test.ts: ${promtool.reason}`);
  process.stderr.write(`[pretest] promtool: ${promtool.path} (${promtool.source})\n`);
  // test/stripe-client.test.ts checks every request the Stripe client makes against it.
  const stripeMock = await findStripeMock();
  if (!stripeMock.path) throw new Error(`stripe-mock is needed for test/stripe-client.test.ts: ${stripeMock.reason}`);
  process.stderr.write(`[pretest] stripe-mock: ${stripeMock.path} (${stripeMock.source})\n`);
  ensureChromium();
  process.stderr.write(`[pretest] Chromium: ${CHROMIUM_PATH}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`[pretest] ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
