import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serverPorts, temporalDatabases } from '../scripts/cluster-temporal';
import { TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION } from '../scripts/temporal-server';
import { workflowSource } from '../src/worker/bundle';

/**
 * Provisioning of the Temporal server as a fresh machine meets it: `npm run temporal-server` with
 * an empty cache and a `go` that stands in for the toolchain (the real cold build takes minutes and
 * runs in CI's pretest), then with the cache filled, then with TEMPORAL_SERVER_DIR. The UI server is
 * provisioned alongside.
 */
const ROOT = resolve(__dirname, '..');
const dirs: string[] = [];
const temp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'hookline-provision-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function provision(env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/temporal-server.ts'], {
    cwd: ROOT,
    env: { HOME: process.env.HOME ?? '', ...env },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr };
}

/** A `go` that records its arguments and environment, and "installs" two scripts into GOBIN. */
function fakeGo(): { bin: string; log: string } {
  const bin = temp();
  const log = join(bin, 'calls');
  writeFileSync(
    join(bin, 'go'),
    [
      '#!/bin/sh',
      `echo "$* CGO_ENABLED=$CGO_ENABLED GOBIN=$GOBIN" >> ${log}`,
      'printf "#!/bin/sh\\necho server\\n" > "$GOBIN/server"',
      'printf "#!/bin/sh\\necho sql\\n" > "$GOBIN/sql"',
      'chmod +x "$GOBIN/server" "$GOBIN/sql"',
      '',
    ].join('\n'),
  );
  chmodSync(join(bin, 'go'), 0o755);
  return { bin, log };
}

describe('npm run temporal-server', () => {
  it('builds both binaries with go into the versioned cache on first use, then finds them there', () => {
    const cache = temp();
    const go = fakeGo();
    const env = { XDG_CACHE_HOME: cache, PATH: `${go.bin}:/usr/bin:/bin` };
    const target = join(cache, 'hookline', 'temporal-server', TEMPORAL_SERVER_VERSION);

    const first = provision(env);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toBe(target);
    expect(first.stderr).toContain(`building temporal-server and temporal-sql-tool ${TEMPORAL_SERVER_VERSION} from the Go module proxy`);
    expect(first.stderr).toContain('freshly built with go');
    const [call, uiCall] = readFileSync(go.log, 'utf8').trim().split('\n');
    expect(call).toContain(
      `install -tags disable_grpc_modules go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION} ` +
        `go.temporal.io/server/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`,
    );
    // Then the UI server, the same way, into its own versioned cache.
    expect(uiCall).toContain(`install github.com/temporalio/ui-server/v2/cmd/server@${TEMPORAL_UI_VERSION}`);
    expect(first.stderr).toContain(`built the UI in`);
    expect(readFileSync(join(cache, 'hookline', 'temporal-ui', TEMPORAL_UI_VERSION, 'temporal-ui'), 'utf8')).toContain('echo server');
    expect(call).toContain('CGO_ENABLED=0');
    // Built into a staging folder outside the cache, then renamed in: no half binary in the cache.
    expect(call).not.toContain(`GOBIN=${target}`);
    expect(readFileSync(join(target, 'temporal-server'), 'utf8')).toContain('echo server');
    expect(readFileSync(join(target, 'temporal-sql-tool'), 'utf8')).toContain('echo sql');

    const second = provision(env);
    expect(second.status).toBe(0);
    expect(second.stderr).toContain(`cached build (${TEMPORAL_SERVER_VERSION})`);
    expect(second.stderr).toContain(
      `Temporal UI: ${join(cache, 'hookline', 'temporal-ui', TEMPORAL_UI_VERSION, 'temporal-ui')} — cached build`,
    );
    expect(readFileSync(go.log, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('uses TEMPORAL_SERVER_DIR when given, and refuses one without the binaries', () => {
    const dir = temp();
    // A cached UI, so nothing is built (a real go is found at /usr/local/go even off PATH).
    const cache = temp();
    mkdirSync(join(cache, 'hookline', 'temporal-ui', TEMPORAL_UI_VERSION), { recursive: true });
    writeFileSync(join(cache, 'hookline', 'temporal-ui', TEMPORAL_UI_VERSION, 'temporal-ui'), '#!/bin/sh\n');
    chmodSync(join(cache, 'hookline', 'temporal-ui', TEMPORAL_UI_VERSION, 'temporal-ui'), 0o755);
    const missing = provision({ XDG_CACHE_HOME: cache, PATH: '/usr/bin:/bin', TEMPORAL_SERVER_DIR: dir });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`TEMPORAL_SERVER_DIR=${dir} needs executable temporal-server and temporal-sql-tool`);
    for (const name of ['temporal-server', 'temporal-sql-tool']) {
      writeFileSync(join(dir, name), '#!/bin/sh\n');
      chmodSync(join(dir, name), 0o755);
    }
    const found = provision({ XDG_CACHE_HOME: cache, PATH: '/usr/bin:/bin', TEMPORAL_SERVER_DIR: dir });
    expect(found.status).toBe(0);
    expect(found.stdout).toBe(dir);
    expect(found.stderr).toContain('from TEMPORAL_SERVER_DIR');
  });
});

describe('the cluster’s settings', () => {
  it('moves every server port with the frontend’s, and refuses membership ports a smallint cannot hold', () => {
    expect(serverPorts(7233)).toEqual({
      frontend: 7233,
      frontendHttp: 7243,
      history: 7234,
      matching: 7235,
      worker: 7239,
      membership: { frontend: 6933, history: 6934, matching: 6935, worker: 6939 },
    });
    expect(serverPorts(20_000).membership.worker).toBe(19_706);
    expect(() => serverPorts(32_760)).toThrow(/HOOKLINE_TEMPORAL_PORT=32760: choose a port between 1324 and 32757/);
    expect(() => serverPorts(1000)).toThrow(/HOOKLINE_TEMPORAL_PORT=1000/);
  });

  it('derives the visibility database from TEMPORAL_DATABASE_URL and names the variable when one is wrong', () => {
    expect(temporalDatabases({ TEMPORAL_DATABASE_URL: 'postgres://t:s3cret@db.internal:5433/temporal' })).toEqual({
      temporal: 'postgres://t:s3cret@db.internal:5433/temporal',
      visibility: 'postgres://t:s3cret@db.internal:5433/temporal_visibility',
    });
    expect(() => temporalDatabases({ TEMPORAL_DATABASE_URL: 'mysql://x@y/temporal' })).toThrow(
      /^TEMPORAL_DATABASE_URL: expected postgres:\/\//,
    );
    expect(() => temporalDatabases({ TEMPORAL_DATABASE_URL: 'postgres://t:s3cret@db/temporal?sslmode=require' })).toThrow(
      /postgres:\/\/t:\*\*\*@db/,
    );
    expect(() => temporalDatabases({ TEMPORAL_VISIBILITY_DATABASE_URL: 'postgres://other@127.0.0.1:5432/v' })).toThrow(
      /same server, as the same user/,
    );
  });
});

describe('the worker’s workflow code', () => {
  it('loads a prebuilt bundle when given one, and names WORKFLOW_BUNDLE_PATH when the file is missing', () => {
    const dir = temp();
    const bundle = join(dir, 'bundle.js');
    writeFileSync(bundle, '// bundle');
    expect(workflowSource(bundle)).toEqual({ workflowBundle: { codePath: bundle } });
    expect(() => workflowSource(join(dir, 'nope.js'))).toThrow(/^WORKFLOW_BUNDLE_PATH: no file at .*nope\.js \(run npm run build/);
  });

  it('bundles workflows/ at start when run from source, where there is no dist/ bundle beside it', () => {
    // Under tsx this module is src/worker/bundle.ts, so "two folders up" is the repo root, which has no bundle.
    expect(existsSync(join(ROOT, 'workflow-bundle.js'))).toBe(false);
    expect(workflowSource(undefined)).toEqual({ workflowsPath: join(ROOT, 'workflows', 'index.ts') });
  });
});
