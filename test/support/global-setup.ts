import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import { describeCli, dynamicConfigFlags, findTemporalCli } from '../../scripts/temporal-cli';
import { SEARCH_ATTRIBUTES } from '../../workflows/contracts/search-attributes';
import { findTestPostgres } from './postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
    temporalCliPath: string;
    workflowBundle: string;
  }
}

/**
 * One real Temporal dev server per test run — the provisioned CLI, not a download and never a
 * fake — with hookline's search attributes registered, as `npm start` does.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  process.stderr.write(`${await findTestPostgres(process.env)}\n`);
  const cli = await findTemporalCli();
  process.stderr.write(`${describeCli(cli)}\n`);
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli.path },
      searchAttributes: [...SEARCH_ATTRIBUTES],
      log: { format: 'pretty', level: 'warn' },
      // Priorities and fairness on, as `npm start` runs the dev server (scripts/temporal-cli.ts).
      extraArgs: dynamicConfigFlags(),
    },
  });
  project.provide('temporalAddress', env.address);
  project.provide('temporalNamespace', env.namespace ?? 'default');
  project.provide('temporalCliPath', cli.path);
  // Bundled once per run; every test file's worker loads the same code.
  const { code } = await bundleWorkflowCode({ workflowsPath: join(__dirname, '../../workflows/index.ts'), logger: quietBundlerLogger });
  project.provide('workflowBundle', code);
  return async () => {
    await env.teardown();
  };
}

const quietBundlerLogger = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => process.stderr.write(`[bundler] ${message}\n`),
  error: (message: string) => process.stderr.write(`[bundler] ${message}\n`),
  log: () => undefined,
};
