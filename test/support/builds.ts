import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

/**
 * "Build B" of the release tests: this checkout's workflows with a deliberate command change in
 * processReturnWorkflow and conversationWorkflow (./release-b.cjs says where), behind `patched()`
 * as a release must do it, or not (what the replay gate must refuse). Bundled by the worker's own
 * bundler, so it is a real workflow bundle a real worker runs.
 */
export async function bundleBuildB(options: { patched: boolean }): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(__dirname, '../../workflows/index.ts'),
    logger: { trace() {}, debug() {}, info() {}, log() {}, warn() {}, error: (m) => process.stderr.write(`[bundler] ${m}\n`) },
    webpackConfigHook: (config) => {
      // Before the TypeScript loader: the change is made to the source as written.
      config.module?.rules?.push({
        test: /workflows[\\/](returns|conversation)\.ts$/,
        enforce: 'pre',
        use: [{ loader: join(__dirname, 'release-b.cjs'), options: { patched: options.patched } }],
      });
      return config;
    },
  });
  return code;
}
