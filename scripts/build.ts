/**
 * `npm run build`: everything production runs, in dist/ — the compiled TypeScript (tsconfig.build.json),
 * the files tsc does not copy (the inbox's HTML pages), and the workflow bundle prebuilt with the
 * same bundler the worker would run at start (samples-typescript `production/`), so a production
 * worker starts without webpack. The Dockerfile runs this same script.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

const ROOT = resolve(__dirname, '..');
export const DIST = join(ROOT, 'dist');
/** Where the worker looks for the prebuilt bundle (src/worker/bundle.ts). */
export const BUNDLE_FILE = join(DIST, 'workflow-bundle.js');
/** Non-TypeScript files the compiled code reads at run time, copied beside their compiled modules. */
const ASSETS = ['src/receiver/inbox'];

function log(message: string): void {
  process.stderr.write(`[build] ${message}\n`);
}

async function main(): Promise<void> {
  const started = Date.now();
  rmSync(DIST, { recursive: true, force: true });
  log('compiling TypeScript (tsconfig.build.json) into dist/…');
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (tsc.status !== 0) throw new Error(`tsc exited with ${tsc.status ?? tsc.signal}`);
  for (const asset of ASSETS) {
    cpSync(join(ROOT, asset), join(DIST, asset), { recursive: true, filter: (path) => !path.endsWith('.ts') });
    log(`copied ${asset}/ → dist/${asset}/`);
  }
  log('bundling the workflows (workflows/index.ts)…');
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(ROOT, 'workflows/index.ts'),
    logger: {
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      log: () => undefined,
      warn: (m) => log(m),
      error: (m) => log(m),
    },
  });
  mkdirSync(DIST, { recursive: true });
  writeFileSync(BUNDLE_FILE, code);
  log(`wrote dist/workflow-bundle.js (${Math.round(code.length / 1024)} KiB); done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

main().catch((err: unknown) => {
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
