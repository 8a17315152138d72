/**
 * Finds (or builds) the Temporal server and its SQL schema tool for `npm run cluster`, the cluster
 * tests and the bench, and prints which it used — as scripts/temporal-cli.ts does for the CLI.
 *
 * Order: TEMPORAL_SERVER_DIR (a folder with `temporal-server` and `temporal-sql-tool`); our cached
 * build under the user's cache directory, keyed by version (~/.cache/hookline/temporal-server/v1.31.2/);
 * else a fresh `go install` from the Go module proxy (about 4–5 minutes on 2 cores), staged in a
 * temporary folder and renamed into the cache in one step, so a killed build leaves nothing
 * half-written. The sql tool carries the PostgreSQL schemas of its version inside it
 * (`--schema-name postgresql/v12/temporal`), so the binaries are all there is to cache.
 *
 * The Temporal UI server is provisioned the same way (findTemporalUi), but optional: without Go
 * and without a cached build, `npm run cluster` runs without a UI and says so.
 *
 * Run directly (`npm run temporal-server`) it provisions both, prints the server's folder on stdout
 * and what it used on stderr.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { findGo, goInstallToStaging, hooklineCacheDir, isExecutable } from './go-provision';

export const TEMPORAL_SERVER_VERSION = 'v1.31.2';
const MODULE = 'go.temporal.io/server';
/** `go install` names the binaries after their package folders; we keep Temporal's release names. */
const PACKAGES = [
  { pkg: `${MODULE}/cmd/server`, built: 'server', name: 'temporal-server' },
  { pkg: `${MODULE}/cmd/tools/sql`, built: 'sql', name: 'temporal-sql-tool' },
] as const;

export type ServerSource = 'TEMPORAL_SERVER_DIR' | 'cache' | 'go-build';

export interface TemporalServerBinaries {
  dir: string;
  server: string;
  sqlTool: string;
  source: ServerSource;
}

export function serverCacheDir(): string {
  return hooklineCacheDir('temporal-server', TEMPORAL_SERVER_VERSION);
}

function log(message: string): void {
  process.stderr.write(`[temporal-server] ${message}\n`);
}

function layout(dir: string, source: ServerSource): TemporalServerBinaries {
  return {
    dir,
    server: join(dir, 'temporal-server'),
    sqlTool: join(dir, 'temporal-sql-tool'),
    source,
  };
}

function complete(found: TemporalServerBinaries): boolean {
  return isExecutable(found.server) && isExecutable(found.sqlTool);
}

/** Builds both binaries into a staging folder, then renames it to `target`. */
async function goBuild(go: string, target: string): Promise<void> {
  log(
    `building temporal-server and temporal-sql-tool ${TEMPORAL_SERVER_VERSION} from the Go module proxy ` +
      '(first time only; about 5 minutes on 2 cores)…',
  );
  const { staging, seconds } = await goInstallToStaging({
    go,
    packages: PACKAGES.map((p) => `${p.pkg}@${TEMPORAL_SERVER_VERSION}`),
    what: 'temporal-server',
    tags: 'disable_grpc_modules',
    log,
  });
  for (const { built, name } of PACKAGES) renameSync(join(staging, built), join(staging, name));
  mkdirSync(join(target, '..'), { recursive: true });
  // Another build may have finished first; either result is the same version.
  if (!existsSync(target)) renameSync(staging, target);
  rmSync(staging, { recursive: true, force: true });
  log(`built in ${seconds()}s → ${target}`);
}

export async function findTemporalServer(): Promise<TemporalServerBinaries> {
  const explicit = process.env.TEMPORAL_SERVER_DIR;
  if (explicit) {
    const found = layout(explicit, 'TEMPORAL_SERVER_DIR');
    if (!complete(found))
      throw new Error(`TEMPORAL_SERVER_DIR=${explicit} needs executable temporal-server and temporal-sql-tool files in it`);
    return found;
  }
  const cached = layout(serverCacheDir(), 'cache');
  if (complete(cached)) return cached;

  const go = findGo();
  if (!go) {
    throw new Error(
      `the Temporal server ${TEMPORAL_SERVER_VERSION} is not in ${serverCacheDir()} and there is no Go toolchain to build it. ` +
        'Install Go (https://go.dev/dl/), or set TEMPORAL_SERVER_DIR to a folder holding temporal-server and temporal-sql-tool.',
    );
  }
  rmSync(cached.dir, { recursive: true, force: true });
  await goBuild(go, cached.dir);
  return { ...cached, source: 'go-build' };
}

/** The Temporal UI server: the version the Temporal CLI v1.5.1 embeds in `start-dev` (its module is then already cached). */
export const TEMPORAL_UI_VERSION = 'v2.42.1';
const UI_PACKAGE = 'github.com/temporalio/ui-server/v2/cmd/server';

export function uiCacheDir(): string {
  return hooklineCacheDir('temporal-ui', TEMPORAL_UI_VERSION);
}

/**
 * The UI server binary (it embeds the web app), cached like the server; built with `go install`
 * when missing (about a minute with its module cached, plus a ~150 MB module download on a fresh
 * machine). Without Go it is undefined, with the reason: the cluster runs without a UI then.
 */
export async function findTemporalUi(): Promise<
  { path: string; source: 'cache' | 'go-build'; reason?: undefined } | { path?: undefined; source?: undefined; reason: string }
> {
  const cached = join(uiCacheDir(), 'temporal-ui');
  if (isExecutable(cached)) return { path: cached, source: 'cache' };
  const go = findGo();
  if (!go) return { reason: `no Go toolchain to build the Temporal UI ${TEMPORAL_UI_VERSION} (and none cached in ${uiCacheDir()})` };
  log(
    `building the Temporal UI server ${TEMPORAL_UI_VERSION} from the Go module proxy (first time only; about a minute, plus its download)…`,
  );
  let built;
  try {
    built = await goInstallToStaging({ go, packages: [`${UI_PACKAGE}@${TEMPORAL_UI_VERSION}`], what: 'temporal-ui', log });
    mkdirSync(uiCacheDir(), { recursive: true });
    renameSync(join(built.staging, 'server'), cached);
  } catch (err) {
    return { reason: `the Temporal UI could not be built: ${(err as Error).message}` };
  } finally {
    if (built) rmSync(built.staging, { recursive: true, force: true });
  }
  log(`built the UI in ${built.seconds()}s → ${cached}`);
  return { path: cached, source: 'go-build' };
}

const DESCRIPTIONS: Record<ServerSource, string> = {
  TEMPORAL_SERVER_DIR: 'from TEMPORAL_SERVER_DIR',
  cache: `cached build (${TEMPORAL_SERVER_VERSION})`,
  'go-build': `freshly built with go (${TEMPORAL_SERVER_VERSION})`,
};

export function describeServer(found: TemporalServerBinaries): string {
  return `Temporal server: ${found.server} — ${DESCRIPTIONS[found.source]}`;
}

if (require.main === module) {
  findTemporalServer()
    .then(async (found) => {
      log(describeServer(found));
      const ui = await findTemporalUi();
      log(
        ui.path
          ? `Temporal UI: ${ui.path} — ${ui.source === 'cache' ? 'cached build' : 'freshly built with go'} (${TEMPORAL_UI_VERSION})`
          : `Temporal UI: none (${ui.reason})`,
      );
      process.stdout.write(`${found.dir}\n`);
    })
    .catch((err: unknown) => {
      log(`could not provide the Temporal server: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    });
}
