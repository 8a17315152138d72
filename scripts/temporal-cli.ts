/**
 * Finds (or builds) the Temporal CLI that runs the dev server, and prints which one it used.
 *
 * Order: TEMPORAL_CLI_PATH; `temporal` on PATH; our cached build under the user's cache
 * directory (outside the repo, so a fresh clone reuses it), keyed by version; a fresh build with
 * `go install` when Go is present; otherwise the binary the Temporal SDK downloads and caches
 * itself (which needs internet, so it is last).
 *
 * Run directly (`npm run temporal-cli`) it prints the path on stdout and the reason on stderr.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { findGo, goInstallToStaging, hooklineCacheDir, isExecutable, onPath } from './go-provision';
import { HooklineSource, searchAttributeFlags } from '../workflows/contracts/search-attributes';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
/** Later releases carry a `replace` directive, which `go install pkg@version` refuses. */
const GO_PACKAGE = 'github.com/temporalio/cli/cmd/temporal';

export type CliSource = 'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'go-build' | 'sdk-download';

export interface TemporalCli {
  path: string;
  source: CliSource;
}

export function cacheDir(): string {
  return hooklineCacheDir('temporal-cli', TEMPORAL_CLI_VERSION);
}

function log(message: string): void {
  process.stderr.write(`[temporal-cli] ${message}\n`);
}

/** `go install` into a temporary GOBIN, then an atomic rename: a killed build leaves no half binary. */
async function goBuild(go: string, target: string): Promise<void> {
  log(`building the Temporal CLI ${TEMPORAL_CLI_VERSION} from the Go module proxy (first time only; takes several minutes)…`);
  const { staging, seconds } = await goInstallToStaging({
    go,
    packages: [`${GO_PACKAGE}@${TEMPORAL_CLI_VERSION}`],
    what: 'temporal-cli',
    log,
    env: { GOFLAGS: '-mod=mod' },
  });
  mkdirSync(join(target, '..'), { recursive: true });
  renameSync(join(staging, 'temporal'), target);
  rmSync(staging, { recursive: true, force: true });
  log(`built in ${seconds()}s → ${target}`);
}

async function sdkDownload(): Promise<string> {
  // The SDK downloads and caches the dev server itself; pointing it at our cache directory means
  // we know where the binary lands. It needs internet, so it is the last resort.
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const downloadDir = join(cacheDir(), '..', 'sdk-download');
  mkdirSync(downloadDir, { recursive: true });
  log(`no Go toolchain: asking the Temporal SDK to download its dev server into ${downloadDir} (needs internet)…`);
  const env = await TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'cached-download', downloadDir } } });
  await env.teardown();
  const binary = readdirSync(downloadDir)
    .map((name) => join(downloadDir, name))
    .find((path) => statSync(path).isFile() && isExecutable(path));
  if (!binary) throw new Error(`the SDK downloaded a dev server but no executable was found in ${downloadDir}`);
  return binary;
}

export async function findTemporalCli(): Promise<TemporalCli> {
  const explicit = process.env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (!isExecutable(explicit)) throw new Error(`TEMPORAL_CLI_PATH=${explicit} is not an executable file`);
    return { path: explicit, source: 'TEMPORAL_CLI_PATH' };
  }
  const fromPath = onPath('temporal');
  if (fromPath) return { path: fromPath, source: 'PATH' };

  const cached = join(cacheDir(), 'temporal');
  if (existsSync(cached) && isExecutable(cached)) return { path: cached, source: 'cache' };

  const go = findGo();
  if (go) {
    await goBuild(go, cached);
    return { path: cached, source: 'go-build' };
  }
  return { path: await sdkDownload(), source: 'sdk-download' };
}

const DESCRIPTIONS: Record<CliSource, string> = {
  TEMPORAL_CLI_PATH: 'from TEMPORAL_CLI_PATH',
  PATH: 'found on PATH',
  cache: `cached build (${TEMPORAL_CLI_VERSION})`,
  'go-build': `freshly built with go (${TEMPORAL_CLI_VERSION})`,
  'sdk-download': "the SDK's downloaded dev server",
};

/**
 * The dynamic config that makes priority keys and fairness keys count (src/events/priorities.ts).
 * The CLI's dev server (v1.5.1 embeds server 1.29.1) has both off by default: the old matcher hands
 * tasks out first come, first served, whatever their priority. `matching.enableFairness` implies the
 * new, priority-aware matcher; `matching.useNewMatcher` says so outright. One partition per task
 * queue: a dev server is one process, so partitions spread nothing, and in one partition the
 * backlog is handed out in priority order, where with the default four each is ordered apart and a
 * poller on another partition takes a routine task first. (npm run cluster and docker-compose.yml
 * keep the server's four partitions and set the same in config/temporal/dynamicconfig.yaml.)
 */
export const PRIORITY_DYNAMIC_CONFIG: Readonly<Record<string, boolean | number>> = {
  'matching.useNewMatcher': true,
  'matching.enableFairness': true,
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
};

export function dynamicConfigFlags(): string[] {
  return Object.entries(PRIORITY_DYNAMIC_CONFIG).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]);
}

/**
 * `temporal server start-dev` flags for a dev server kept in a SQLite file. Write-ahead logging
 * with full sync stays durable (every acknowledged start is on disk, which is what a 202 from
 * the receiver promises) and takes about half the fsyncs of SQLite's default rollback journal:
 * `npm run bench -- --db file` measured 39–57 starts/s with the default and 80/s with these.
 */
export function devServerFileArgs(dbFile: string): string[] {
  return ['--db-filename', dbFile, '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=full'];
}

/**
 * The one `temporal server start-dev` command line hookline runs (npm start, the bench, the tests
 * that kill their own server): loopback only, hookline's search attributes registered, kept in
 * `dbFile` when given (else in memory), with the UI on `uiPort` when given (else headless).
 */
export function devServerArgs(options: {
  port: number;
  uiPort?: number;
  metricsPort?: number;
  dbFile?: string;
  logLevel: 'warn' | 'error';
  /** False: the server's own matching (first come, first served), for `npm run bench -- --flood --fifo`. */
  priorities?: boolean;
}): string[] {
  return [
    'server',
    'start-dev',
    ...(options.uiPort === undefined ? ['--headless'] : ['--ui-port', String(options.uiPort)]),
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    ...(options.metricsPort === undefined ? [] : ['--metrics-port', String(options.metricsPort)]),
    ...(options.dbFile === undefined ? [] : devServerFileArgs(options.dbFile)),
    '--log-level',
    options.logLevel,
    ...searchAttributeFlags(),
    ...(options.priorities === false ? [] : dynamicConfigFlags()),
  ];
}

/**
 * Whether a dev server we started can take hookline's starts yet: its namespace answers AND lists
 * our search attributes, which `--search-attribute` registers only after the frontend is up (a
 * start before that is refused, and the receiver would answer 503).
 */
export async function devServerReady(address: string, namespace = 'default'): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1000 }).catch(() => undefined);
  if (!connection) return false;
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    return Boolean(customAttributes && HooklineSource.name in customAttributes);
  } catch {
    return false;
  } finally {
    await connection.close();
  }
}

export function describeCli(cli: TemporalCli): string {
  return `Temporal CLI: ${cli.path} — ${DESCRIPTIONS[cli.source]}`;
}

if (require.main === module) {
  findTemporalCli()
    .then((cli) => {
      log(describeCli(cli));
      process.stdout.write(`${cli.path}\n`);
    })
    .catch((err: unknown) => {
      log(`could not provide the Temporal CLI: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    });
}
