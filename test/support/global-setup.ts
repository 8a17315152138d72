import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { describeCli, findTemporalCli } from '../../scripts/temporal-cli';
import { findTestPostgres } from './postgres';
import { lastWords, startDevServer } from './processes';

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
 * fake — started with the command line `npm start` uses: hookline's search attributes registered,
 * priorities and fairness on (scripts/temporal-cli.ts), in memory.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  process.stderr.write(`${await findTestPostgres(process.env)}\n`);
  const cli = await findTemporalCli();
  process.stderr.write(`${describeCli(cli)}\n`);
  const server = await startDevServer({ cliPath: cli.path, logLevel: 'warn' });
  let stopping = false;
  // A server that dies mid-run fails every test after it; its last words say why.
  void server.current.exited.then(() => {
    if (!stopping) process.stderr.write(`Temporal dev server exited during the run:\n${lastWords(server.current)}\n`);
  });
  // And one that outlives an aborted run would hold its port and memory until someone kills it.
  process.once('exit', () => server.current.process.kill('SIGKILL'));
  project.provide('temporalAddress', server.address);
  project.provide('temporalNamespace', 'default');
  project.provide('temporalCliPath', cli.path);
  // Bundled once per run; every test file's worker loads the same code.
  const { code } = await bundleWorkflowCode({ workflowsPath: join(__dirname, '../../workflows/index.ts'), logger: quietBundlerLogger });
  project.provide('workflowBundle', code);
  return async () => {
    stopping = true;
    await server.current.kill('SIGTERM');
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
