import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** What `Worker.create` runs: a prebuilt bundle when there is one, else workflows/ bundled at start. */
export type WorkflowSource = { workflowBundle: { codePath: string } } | { workflowsPath: string };

/**
 * `npm run build` writes dist/workflow-bundle.js; compiled, this file is dist/src/worker/bundle.js,
 * so the bundle is two folders up. Under tsx (src/worker/) there is none there and the worker
 * bundles the sources as before.
 */
export const DEFAULT_BUNDLE_PATH = resolve(__dirname, '../../workflow-bundle.js');

export function workflowSource(explicitPath: string | undefined): WorkflowSource {
  if (explicitPath) {
    const codePath = resolve(explicitPath);
    if (!existsSync(codePath))
      throw new Error(`WORKFLOW_BUNDLE_PATH: no file at ${codePath} (run npm run build, or unset it to bundle at start)`);
    return { workflowBundle: { codePath } };
  }
  if (existsSync(DEFAULT_BUNDLE_PATH)) return { workflowBundle: { codePath: DEFAULT_BUNDLE_PATH } };
  // workflows/index.ts beside src/, or workflows/index.js beside dist/src/ when compiled.
  const entry = ['index.ts', 'index.js'].map((file) => join(__dirname, '../../workflows', file)).find((path) => existsSync(path));
  if (!entry)
    throw new Error(`no workflows/index.ts or .js next to ${resolve(__dirname, '../..')}: run npm run build, or set WORKFLOW_BUNDLE_PATH`);
  return { workflowsPath: entry };
}
