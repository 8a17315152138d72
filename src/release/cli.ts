/**
 * `npm run release -- status | ramp <percent> | promote | retire <build> | verify --query '<q>'`:
 * moving a running hookline from one worker build to the next (docs/production.md, "Releasing a
 * new version"). Every worker polls as one version (its build ID) of the Worker Deployment
 * HOOKLINE_DEPLOYMENT_NAME; these commands change which version Temporal sends new work to, show
 * which old builds still have pinned workflows open, and replay real histories against a build
 * before it takes any. It lives in src/ so the compiled image has it too: `node dist/src/release/cli.js`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { loadTemporalConfig } from '../config/temporal';
import {
  countPinnedOpen,
  deleteVersion,
  describeDeployment,
  setCurrentVersion,
  setRampingVersion,
  waitUntilPolling,
  type DeploymentVersion,
  type VersionSummary,
} from '../temporal/deployments';
import { CODE_ROOT, compiledBuild, workerBuildId } from '../worker/build-id';
import { AUTO_UPGRADE_TYPES } from '../../workflows/contracts/versioning';

export const USAGE = `Usage: npm run release -- <command> [--build <id>]

  status                  every build of the deployment: current, ramping, and the open pinned
                          workflows each still runs (a build with none left can be stopped)
  ramp <percent>          send that share of new workflows (and auto-upgrade ones) to the build
  promote                 make the build current: all new work, every auto-upgrade workflow
  retire <build>          forget a drained build whose workers have stopped; --wait <seconds>
                          keeps trying while Temporal still counts their pollers (it forgets a
                          stopped worker after matching.PollerHistoryTTL, 5 minutes by default)
  verify --query '<q>'    replay the histories of the workflows the visibility query finds (open
                          and closed) against the build; fails on any non-determinism. Pinned types
                          are left out (they never move builds) unless --all; --limit N (200)

The build is the compiled one (dist/, after npm run build) unless --build names another (its
workers print their build ID at start); verify replays dist/workflow-bundle.js, or --bundle <file>.
Temporal: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (and TLS, API key); the deployment:
HOOKLINE_DEPLOYMENT_NAME (hookline).`;

class UsageError extends Error {}

export interface ReleaseDeps {
  client: () => Promise<Client>;
  deploymentName: string;
  out: (line: string) => void;
  err?: (line: string) => void;
  /** This checkout's compiled build, when there is one (the default for every command). */
  build?: () => { buildId: string; bundlePath: string } | undefined;
}

/** What `status` says of a version: Temporal's state, and whether its workers may stop. */
function describeVersion(v: VersionSummary, pinnedOpen: number): string {
  if (v.status === 'current' || v.status === 'ramping') return v.status;
  return pinnedOpen === 0 ? 'drained: its workers can stop' : 'draining';
}

export async function runReleaseCli(argv: string[], deps: ReleaseDeps): Promise<number> {
  const { out } = deps;
  const err = deps.err ?? out;
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        strict: true,
        options: {
          build: { type: 'string' },
          query: { type: 'string' },
          bundle: { type: 'string' },
          limit: { type: 'string' },
          wait: { type: 'string' },
          all: { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values, positionals } = parsed;
    const [command, arg, ...extra] = positionals;
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const thisBuild = () => {
      if (values.build) return values.build;
      const build = deps.build?.();
      if (!build) throw new UsageError('no compiled build here (run npm run build), and no --build <id>');
      return build.buildId;
    };
    const version = (buildId: string): DeploymentVersion => ({ deploymentName: deps.deploymentName, buildId });
    switch (command) {
      case undefined:
      case 'help':
        out(USAGE);
        return command === undefined && !values.help ? 1 : 0;
      case 'status': {
        const client = await deps.client();
        const state = await describeDeployment(client, deps.deploymentName);
        if (!state) {
          out(`No deployment ${deps.deploymentName} yet: no versioned worker has polled under that name.`);
          return 0;
        }
        const mine = values.build ?? deps.build?.()?.buildId;
        out(`Deployment ${deps.deploymentName}`);
        out(`  current  ${state.current ?? 'none (new workflows wait for a current build)'}`);
        if (state.ramping) out(`  ramping  ${state.ramping.buildId} at ${state.ramping.percentage}%`);
        out('');
        out(`${'BUILD'.padEnd(18)}${'PINNED OPEN'.padEnd(13)}${'CREATED'.padEnd(26)}STATUS`);
        for (const v of [...state.versions].sort((a, b) => (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0))) {
          const pinned = await countPinnedOpen(client, version(v.buildId));
          const marker = v.buildId === mine ? '  (this build)' : '';
          const created = (v.createdAt?.toISOString() ?? '').padEnd(26);
          out(`${v.buildId.padEnd(18)}${String(pinned).padEnd(13)}${created}${describeVersion(v, pinned)}${marker}`);
        }
        return 0;
      }
      case 'ramp': {
        const percent = Number(arg);
        if (arg === undefined || !Number.isFinite(percent) || percent < 0 || percent > 100)
          throw new UsageError(`ramp needs a percentage from 0 to 100 (got ${JSON.stringify(arg)})`);
        const buildId = thisBuild();
        const client = await deps.client();
        // A build just deployed may not have polled yet: Temporal knows it only once it has.
        await waitUntilPolling(client, version(buildId));
        await setRampingVersion(client, version(buildId), percent);
        out(`Build ${buildId} ramping at ${percent}%: that share of new workflows and auto-upgrade tasks goes to it.`);
        return 0;
      }
      case 'promote': {
        if (arg) throw new UsageError(`unexpected argument ${JSON.stringify(arg)} (name a build with --build)`);
        const buildId = thisBuild();
        const client = await deps.client();
        const before = (await describeDeployment(client, deps.deploymentName))?.current;
        await waitUntilPolling(client, version(buildId));
        await setCurrentVersion(client, version(buildId));
        out(`Build ${buildId} is current: new workflows and every auto-upgrade workflow's next task run on it.`);
        if (before && before !== buildId)
          out(`Build ${before} keeps its pinned workflows until they close: keep its workers until status says drained.`);
        return 0;
      }
      case 'retire': {
        const buildId = arg ?? values.build;
        if (!buildId) throw new UsageError('retire needs the build to retire (see: npm run release -- status)');
        const client = await deps.client();
        const state = await describeDeployment(client, deps.deploymentName);
        const v = state?.versions.find((s) => s.buildId === buildId);
        if (!v) {
          err(`No build ${buildId} in deployment ${deps.deploymentName}.`);
          return 1;
        }
        if (v.status === 'current' || v.status === 'ramping') {
          err(`Refused: build ${buildId} is ${v.status}; promote another build first.`);
          return 1;
        }
        const pinned = await countPinnedOpen(client, version(buildId));
        if (pinned > 0) {
          err(`Refused: ${pinned} pinned workflow(s) are still open on build ${buildId}; its workers must run until they close.`);
          return 1;
        }
        const waitS = values.wait === undefined ? 0 : Number(values.wait);
        if (!Number.isFinite(waitS) || waitS < 0) throw new UsageError(`--wait must be a number of seconds (got ${values.wait})`);
        // Drained by visibility's count above, now rather than at Temporal's next refresh.
        for (const deadline = Date.now() + waitS * 1000; ;) {
          try {
            await deleteVersion(client, version(buildId));
            break;
          } catch (e) {
            if (!/poller/i.test((e as Error).message)) throw e;
            if (Date.now() >= deadline) {
              err(
                `Refused by Temporal: build ${buildId}'s workers still poll (${(e as Error).message}). Stop them; ` +
                  'Temporal forgets a stopped worker after matching.PollerHistoryTTL (5 minutes by default); retire again then.',
              );
              return 1;
            }
            await new Promise((resolve) => setTimeout(resolve, 2_000));
          }
        }
        out(`Build ${buildId} retired: no open workflow needs it, and Temporal no longer lists it.`);
        return 0;
      }
      case 'verify': {
        if (!values.query) throw new UsageError("verify needs --query '<visibility query>', e.g. --query \"ExecutionStatus = 'Running'\"");
        const limit = values.limit === undefined ? 200 : Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number (got ${values.limit})`);
        const bundlePath = values.bundle ?? deps.build?.()?.bundlePath;
        const code = bundlePath ? readFileSync(bundlePath, 'utf8') : await bundleSources();
        out(`Replaying against build ${workerBuildId(code)} (${bundlePath ?? 'workflows/ bundled now'})`);
        // Pinned runs never move to another build, so only auto-upgrade ones must replay on this one.
        const types = AUTO_UPGRADE_TYPES.map((t) => `'${t}'`).join(', ');
        const query = values.all ? values.query : `(${values.query}) AND WorkflowType IN (${types})`;
        const client = await deps.client();
        const histories = take(client.workflow.list({ query }).intoHistories(), limit);
        let replayed = 0;
        const failed: string[] = [];
        for await (const result of Worker.runReplayHistories({ workflowBundle: { code } }, histories)) {
          replayed += 1;
          if (result.error) {
            failed.push(result.workflowId);
            err(`NOT REPLAYABLE ${result.workflowId} (run ${result.runId}): ${result.error.message}`);
          }
        }
        out(`${replayed} history(ies) replayed, ${failed.length} not replayable.`);
        if (replayed === 0) out('Nothing matched: check the query (verify needs real histories to prove anything).');
        return failed.length === 0 ? 0 : 1;
      }
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (e) {
    if (e instanceof UsageError) err(`${e.message}\n\n${USAGE}`);
    else err(`Error: ${(e as Error).message}`);
    return 1;
  }
}

async function* take<T>(items: AsyncIterable<T>, limit: number): AsyncIterable<T> {
  let n = 0;
  for await (const item of items) {
    if (n++ >= limit) return;
    yield item;
  }
}

/** No compiled build: the workflows of this checkout, bundled as the worker bundles them at start. */
async function bundleSources(): Promise<string> {
  const silent = { trace() {}, debug() {}, info() {}, log() {}, warn() {}, error() {} };
  return (await bundleWorkflowCode({ workflowsPath: join(CODE_ROOT, 'workflows/index.ts'), logger: silent })).code;
}

async function main(): Promise<void> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  // Replay's own warnings (the non-determinism it found) are reported above, once, by workflow.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const config = loadTemporalConfig();
  let connection: Connection | undefined;
  const client = async () => {
    connection = await Connection.connect(config.connectionOptions);
    return new Client({ connection, namespace: config.namespace });
  };
  try {
    process.exitCode = await runReleaseCli(process.argv.slice(2), {
      client,
      deploymentName: config.deploymentName,
      out,
      err,
      build: () => compiledBuild(),
    });
  } finally {
    await connection?.close();
  }
}

if (require.main === module) {
  void main();
}
