/**
 * Finds (or builds) Stripe's official mock, `stripe-mock`, which answers the Stripe API from
 * Stripe's OpenAPI specification and rejects any request the specification does not allow: the
 * Stripe client's tests (test/stripe-client.test.ts) run against it. Provisioned like promtool:
 * STRIPE_MOCK_PATH; else the cached build (~/.cache/hookline/stripe-mock/<version>/); else
 * `go install github.com/stripe/stripe-mock@<version>` from the Go module proxy, staged and renamed
 * into the cache in one step (about 10 s here).
 *
 * Run directly (`npm run stripe-mock`) it provisions it and prints its path on stdout.
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { findGo, goInstallToStaging, hooklineCacheDir, isExecutable } from './go-provision';

/** The release whose embedded specification the client's requests are checked against. */
export const STRIPE_MOCK_VERSION = 'v0.203.0';
const PACKAGE = 'github.com/stripe/stripe-mock';

export function stripeMockCachePath(): string {
  return join(hooklineCacheDir('stripe-mock', STRIPE_MOCK_VERSION), 'stripe-mock');
}

/** Where stripe-mock is, building it when needed; `reason` says why there is none. */
export async function findStripeMock(): Promise<{ path?: string; source?: 'STRIPE_MOCK_PATH' | 'cache' | 'go-build'; reason?: string }> {
  const given = process.env.STRIPE_MOCK_PATH;
  if (given) {
    return isExecutable(given) ? { path: given, source: 'STRIPE_MOCK_PATH' } : { reason: `STRIPE_MOCK_PATH=${given} is not executable` };
  }
  const cached = stripeMockCachePath();
  if (isExecutable(cached)) return { path: cached, source: 'cache' };
  const go = findGo();
  if (!go) return { reason: `no Go toolchain to build stripe-mock ${STRIPE_MOCK_VERSION} (and none cached at ${cached})` };
  const log = (line: string) => process.stderr.write(`[stripe-mock] ${line}\n`);
  log(`building stripe-mock ${STRIPE_MOCK_VERSION} from the Go module proxy (first time only; seconds)…`);
  const built = await goInstallToStaging({ go, packages: [`${PACKAGE}@${STRIPE_MOCK_VERSION}`], what: 'stripe-mock', log });
  try {
    mkdirSync(dirname(cached), { recursive: true });
    renameSync(join(built.staging, 'stripe-mock'), cached);
  } finally {
    rmSync(built.staging, { recursive: true, force: true });
  }
  log(`built in ${built.seconds()} s: ${cached}`);
  return { path: cached, source: 'go-build' };
}

if (require.main === module) {
  findStripeMock()
    .then((found) => {
      if (!found.path) throw new Error(found.reason);
      process.stdout.write(`${found.path}\n`);
    })
    .catch((err: unknown) => {
      process.stderr.write(`[stripe-mock] ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
