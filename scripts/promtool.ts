/**
 * Finds (or builds) Prometheus's `promtool`, which checks and unit-tests hookline's alert rules
 * (deploy/prometheus/alerts.yml, in npm test), as scripts/temporal-server.ts provisions the
 * Temporal server: PROMTOOL_PATH; else the cached build (~/.cache/hookline/promtool/<version>/);
 * else `go install github.com/prometheus/prometheus/cmd/promtool@<version>` from the Go module
 * proxy, staged and renamed into the cache in one step. Prometheus 3.11's module is v0.316.0 (the
 * project tags its Go module v0.<minor×100+…>, not v3); a first build takes 10–25 minutes on 2
 * busy cores.
 *
 * Run directly (`npm run promtool`) it provisions it and prints its path on stdout.
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { findGo, goInstallToStaging, hooklineCacheDir, isExecutable } from './go-provision';

export const PROMTOOL_MODULE_VERSION = 'v0.316.0';
const PACKAGE = 'github.com/prometheus/prometheus/cmd/promtool';

export function promtoolCachePath(): string {
  return join(hooklineCacheDir('promtool', PROMTOOL_MODULE_VERSION), 'promtool');
}

/** Where promtool is, building it when needed; `reason` says why there is none. */
export async function findPromtool(): Promise<{ path?: string; source?: 'PROMTOOL_PATH' | 'cache' | 'go-build'; reason?: string }> {
  const given = process.env.PROMTOOL_PATH;
  if (given) return isExecutable(given) ? { path: given, source: 'PROMTOOL_PATH' } : { reason: `PROMTOOL_PATH=${given} is not executable` };
  const cached = promtoolCachePath();
  if (isExecutable(cached)) return { path: cached, source: 'cache' };
  const go = findGo();
  if (!go) return { reason: `no Go toolchain to build promtool ${PROMTOOL_MODULE_VERSION} (and none cached at ${cached})` };
  const log = (line: string) => process.stderr.write(`[promtool] ${line}\n`);
  log(`building promtool ${PROMTOOL_MODULE_VERSION} from the Go module proxy (first time only; 10–25 minutes)…`);
  const built = await goInstallToStaging({ go, packages: [`${PACKAGE}@${PROMTOOL_MODULE_VERSION}`], what: 'promtool', log });
  try {
    mkdirSync(dirname(cached), { recursive: true });
    renameSync(join(built.staging, 'promtool'), cached);
  } finally {
    rmSync(built.staging, { recursive: true, force: true });
  }
  log(`built in ${built.seconds()} s: ${cached}`);
  return { path: cached, source: 'go-build' };
}

if (require.main === module) {
  findPromtool()
    .then((found) => {
      if (!found.path) throw new Error(found.reason);
      process.stdout.write(`${found.path}\n`);
    })
    .catch((err: unknown) => {
      process.stderr.write(`[promtool] ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
