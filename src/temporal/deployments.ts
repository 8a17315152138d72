import type { Client } from '@temporalio/client';

/** One build of a Worker Deployment: what a versioned worker polls as, and what Temporal routes to. */
export interface DeploymentVersion {
  deploymentName: string;
  buildId: string;
}

/** temporal.api.enums.v1.WorkerDeploymentVersionStatus, by number (@temporalio/proto is not a direct dependency). */
const VERSION_STATUS = ['unspecified', 'inactive', 'current', 'ramping', 'draining', 'drained', 'created'] as const;
export type VersionStatus = (typeof VERSION_STATUS)[number];

export interface VersionSummary {
  buildId: string;
  status: VersionStatus;
  createdAt?: Date;
}

export interface DeploymentState {
  deploymentName: string;
  current?: string;
  ramping?: { buildId: string; percentage: number };
  versions: VersionSummary[];
}

/** Who changed the routing, as Temporal records it (`lastModifierIdentity`). */
const IDENTITY = `hookline-release@${process.pid}`;

const toDate = (t: { seconds?: unknown } | null | undefined) => (t?.seconds == null ? undefined : new Date(Number(t.seconds) * 1000));

/** The gRPC status code Temporal answers a request about a deployment or version it does not know. */
const NOT_FOUND = 5;
const isNotFound = (err: unknown) => (err as { code?: number }).code === NOT_FOUND;
/**
 * gRPC DEADLINE_EXCEEDED and UNAVAILABLE: the server did not answer this time (a busy server answers
 * a version's description from its deployment workflow, and can run out of time doing so).
 */
const isTransient = (err: unknown) => [4, 14].includes((err as { code?: number }).code ?? -1);

/** The deployment's routing and its versions; undefined when no versioned worker has polled under that name yet. */
export async function describeDeployment(client: Client, deploymentName: string): Promise<DeploymentState | undefined> {
  try {
    const { workerDeploymentInfo: info } = await client.workflowService.describeWorkerDeployment({
      namespace: client.options.namespace,
      deploymentName,
    });
    const routing = info?.routingConfig;
    const ramping = routing?.rampingDeploymentVersion?.buildId;
    return {
      deploymentName,
      current: routing?.currentDeploymentVersion?.buildId ?? undefined,
      ramping: ramping ? { buildId: ramping, percentage: routing?.rampingVersionPercentage ?? 0 } : undefined,
      versions: (info?.versionSummaries ?? []).map((v) => ({
        buildId: v.deploymentVersion?.buildId ?? '',
        status: VERSION_STATUS[v.status ?? 0] ?? 'unspecified',
        createdAt: toDate(v.createTime),
      })),
    };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** New workflows, and every auto-upgrade workflow's next task, go to this build. */
export async function setCurrentVersion(client: Client, version: DeploymentVersion): Promise<void> {
  try {
    await client.workflowService.setWorkerDeploymentCurrentVersion({
      namespace: client.options.namespace,
      deploymentName: version.deploymentName,
      buildId: version.buildId,
      identity: IDENTITY,
    });
  } catch (err) {
    // Two callers at once (npm start and its worker): the one that lost finds it done.
    if ((await describeDeployment(client, version.deploymentName))?.current !== version.buildId) throw err;
  }
}

/** `percentage` of new workflows and auto-upgrade tasks go to this build instead of the current one. */
export async function setRampingVersion(client: Client, version: DeploymentVersion, percentage: number): Promise<void> {
  await client.workflowService.setWorkerDeploymentRampingVersion({
    namespace: client.options.namespace,
    deploymentName: version.deploymentName,
    buildId: version.buildId,
    percentage,
    identity: IDENTITY,
  });
}

/**
 * Forget a build. Temporal refuses while its workers still poll; its own drainage mark is refreshed
 * only every few minutes, so the caller checks drainage itself (countPinnedOpen) and it is skipped here.
 */
export async function deleteVersion(client: Client, version: DeploymentVersion): Promise<void> {
  await client.workflowService.deleteWorkerDeploymentVersion({
    namespace: client.options.namespace,
    deploymentVersion: { deploymentName: version.deploymentName, buildId: version.buildId },
    skipDrainage: true,
    identity: IDENTITY,
  });
}

/**
 * The visibility query for a build's open pinned workflows: the ones that still need its workers.
 * Temporal keeps a run's version in TemporalWorkerDeploymentVersion as `deployment:build`.
 */
export function pinnedOpenQuery(version: DeploymentVersion): string {
  return (
    `TemporalWorkerDeploymentVersion = '${version.deploymentName}:${version.buildId}' ` +
    `AND TemporalWorkflowVersioningBehavior = 'Pinned' AND ExecutionStatus = 'Running'`
  );
}

export async function countPinnedOpen(client: Client, version: DeploymentVersion): Promise<number> {
  return (await client.workflow.count(pinnedOpenQuery(version))).count;
}

/** temporal.api.enums.v1.TaskQueueType: a worker polls both. */
const WORKFLOW_QUEUE = 1;
const ACTIVITY_QUEUE = 2;

/**
 * Whether Temporal knows the version with its workflow and activity task queues. A worker's first
 * polls register them one by one, and a version missing a queue the current one has cannot take
 * over (Temporal refuses the change), so ramping or promoting waits for both.
 */
export async function isPolling(client: Client, version: DeploymentVersion): Promise<boolean> {
  try {
    const { workerDeploymentVersionInfo: info } = await client.workflowService.describeWorkerDeploymentVersion({
      namespace: client.options.namespace,
      deploymentVersion: { deploymentName: version.deploymentName, buildId: version.buildId },
    });
    const queues = info?.taskQueueInfos ?? [];
    const types = new Set(queues.map((q) => Number(q.type)));
    if (!types.has(WORKFLOW_QUEUE) || !types.has(ACTIVITY_QUEUE)) return false;
    // A worker polls several queues (its own and each partner's), registered one by one: until the
    // new version polls every queue the current one does, Temporal refuses to ramp or promote it.
    const current = (await describeDeployment(client, version.deploymentName))?.current;
    if (current === undefined || current === version.buildId) return true;
    const { workerDeploymentVersionInfo: currentInfo } = await client.workflowService.describeWorkerDeploymentVersion({
      namespace: client.options.namespace,
      deploymentVersion: { deploymentName: version.deploymentName, buildId: current },
    });
    const have = new Set(queues.map((q) => `${q.name}/${Number(q.type)}`));
    return (currentInfo?.taskQueueInfos ?? []).every((q) => have.has(`${q.name}/${Number(q.type)}`));
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Resolves once `isPolling`: a version exists only after its workers' first polls. */
export async function waitUntilPolling(client: Client, version: DeploymentVersion, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let unanswered: unknown;
  for (;;) {
    try {
      if (await isPolling(client, version)) return;
    } catch (err) {
      // Asked again on the next round, as a version not seen yet is: the wait has its own deadline.
      if (!isTransient(err)) throw err;
      unanswered = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `build ${version.buildId} of ${version.deploymentName} was not seen polling Temporal within ${timeoutMs / 1000}s` +
          (unanswered ? ` (last unanswered: ${(unanswered as Error).message})` : ''),
      );
    // Registration follows a worker's first polls within a second or two: wait on Temporal, briefly.
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Make `version` current as soon as Temporal knows it. Workers of a deployment without a current
 * version get no tasks at all, so `npm start`, `npm run cluster` and the tests call this right
 * after starting theirs. Does nothing if it is current already.
 */
export async function makeCurrentWhenPolling(client: Client, version: DeploymentVersion, timeoutMs = 60_000): Promise<void> {
  if ((await describeDeployment(client, version.deploymentName))?.current === version.buildId) return;
  await waitUntilPolling(client, version, timeoutMs);
  await setCurrentVersion(client, version);
}

/**
 * The first build of a deployment that has no current version makes itself current, so a fresh
 * stack (compose's first `up`, a new namespace) runs without a manual step. Once any build is
 * current this never changes it: moving to a new build is the release's decision (npm run release).
 * Resolves to whether it did.
 */
export async function makeCurrentIfNone(client: Client, version: DeploymentVersion, timeoutMs = 60_000): Promise<boolean> {
  if ((await describeDeployment(client, version.deploymentName))?.current) return false;
  await waitUntilPolling(client, version, timeoutMs);
  // Checked again: another build's worker may have done it meanwhile, and the first one stays.
  if ((await describeDeployment(client, version.deploymentName))?.current) return false;
  await setCurrentVersion(client, version);
  return true;
}

/** `deployment:build`, as Temporal writes a version (and the worker's start line names its own). */
export function formatVersion(version: DeploymentVersion): string {
  return `${version.deploymentName}:${version.buildId}`;
}

export function parseVersion(text: string | undefined): DeploymentVersion | undefined {
  const [deploymentName, buildId, ...rest] = (text ?? '').split(':');
  return deploymentName && buildId && rest.length === 0 ? { deploymentName, buildId } : undefined;
}
