import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHandoffService } from '../src/handoff/service';
import { runReleaseCli } from '../src/release/cli';
import { bundleBuildB } from './support/builds';
import { raiseEscalation, terminateAll, waitingInService, type Raised } from './support/handoff';
import { setupAgent } from './support/harness';
import { quarantineResolvedSignal } from '../workflows/contracts/quarantine';
import type { QuarantinedEvent } from '../src/events/envelope';

/**
 * `npm run release` against the shared dev server: a real worker of build A (the harness's,
 * current in a deployment of its own) and a real worker of build B beside it, on one task queue.
 */
describe('npm run release', () => {
  const t = setupAgent();
  const raised: Raised[] = [];
  afterAll(() =>
    terminateAll(
      t.env,
      raised.map((r) => r.workflowId),
    ),
  );

  async function release(...argv: string[]): Promise<{ code: number; out: string }> {
    const lines: string[] = [];
    const code = await runReleaseCli(argv, {
      client: async () => t.env.client,
      deploymentName: t.agent.version.deploymentName,
      out: (line) => lines.push(line),
    });
    return { code, out: lines.join('\n') };
  }

  /** A conversation raised now, waiting for a person: an auto-upgrade workflow that stays open. */
  async function openConversation(): Promise<Raised> {
    const escalation = await raiseEscalation(t.receiver.url, { customerId: `CUST-REL-${raised.length}` });
    raised.push(escalation);
    await waitingInService(createHandoffService(t.env.client), escalation.id);
    return escalation;
  }

  /** The `patched()` IDs a run's history recorded (Temporal's core_patch markers). */
  const patchesOf = async (workflowId: string) =>
    (await t.env.client.workflow.getHandle(workflowId).fetchHistory()).events!.flatMap(
      (e) =>
        e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.map(
          (p) => (JSON.parse(Buffer.from(p.data!).toString()) as { id: string }).id,
        ) ?? [],
    );

  const buildOf = async (workflowId: string) =>
    (await t.env.client.workflow.getHandle(workflowId).describe()).raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion?.buildId;

  it('verify replays the real histories a query finds, and fails on a build that changed their commands unpatched', async () => {
    const { id } = await openConversation();
    const query = `TaskQueue = '${t.agent.taskQueue}'`;
    const current = await release('verify', '--query', query);
    expect(current.code, current.out).toBe(0);
    expect(current.out).toMatch(/^[1-9]\d* history\(ies\) replayed, 0 not replayable\.$/m);

    const dir = mkdtempSync(join(tmpdir(), 'hookline-release-'));
    const unpatched = join(dir, 'unpatched.js');
    writeFileSync(unpatched, await bundleBuildB({ patched: false }));
    const broken = await release('verify', '--query', query, '--bundle', unpatched);
    expect(broken.code).toBe(1);
    expect(broken.out).toContain(`NOT REPLAYABLE ${id}`);
    expect(broken.out).toMatch(/[Nn]ondetermin/);

    const patched = join(dir, 'patched.js');
    writeFileSync(patched, await bundleBuildB({ patched: true }));
    expect((await release('verify', '--query', query, '--bundle', patched)).code).toBe(0);
  });

  it('status, ramp, promote and retire move new work from build A to build B beside it', { timeout: 60_000 }, async () => {
    const a = t.agent.version.buildId;
    const before = await release('status', '--build', a);
    expect(before.code).toBe(0);
    expect(before.out).toContain(`current  ${a}`);
    expect(before.out).toMatch(new RegExp(`^${a} +0 +\\S+ +current  \\(this build\\)$`, 'm'));
    // An auto-upgrade workflow open on A before B exists.
    const early = await openConversation();
    expect(await buildOf(early.id)).toBe(a);

    const b = await t.agent.startBuild(await bundleBuildB({ patched: true }));
    const ramped = await release('ramp', '25', '--build', b.version.buildId);
    expect(ramped.code, ramped.out).toBe(0);
    expect((await release('status')).out).toContain(`ramping  ${b.version.buildId} at 25%`);

    const promoted = await release('promote', '--build', b.version.buildId);
    expect(promoted.code, promoted.out).toBe(0);
    const after = await release('status');
    expect(after.out).toContain(`current  ${b.version.buildId}`);
    expect(after.out).toMatch(new RegExp(`^${a} +0 +\\S+ +drained: its workers can stop$`, 'm'));

    // New work runs on B: B's changed conversation has the patch marker only B's code writes.
    const late = await openConversation();
    await expect.poll(() => buildOf(late.id), { timeout: 10_000 }).toBe(b.version.buildId);
    expect(await patchesOf(late.id)).toContain('release-b-conversation.ts');
    // The early one moves to B at its next task (auto-upgrade): a claim is one, and it replays there.
    await createHandoffService(t.env.client).claim(early.id, { name: 'dana', role: 'lead' });
    await expect.poll(() => buildOf(early.id), { timeout: 10_000 }).toBe(b.version.buildId);

    // A workflow an operator pinned to A (Temporal's versioning override) keeps A draining: status
    // counts it, retire refuses, until it closes.
    const pinned = await t.env.client.workflow.start('quarantinedEventWorkflow', {
      taskQueue: t.agent.taskQueue,
      workflowId: `release-pinned-${b.version.buildId}`,
      args: [
        { source: 'oms', identity: 'pinned-test', receivedAt: new Date().toISOString(), reason: 'release test' } as QuarantinedEvent,
        60_000,
      ],
      versioningOverride: { pinnedTo: t.agent.version },
    });
    await expect.poll(() => buildOf(pinned.workflowId), { timeout: 10_000 }).toBe(a);
    await expect.poll(async () => (await release('status')).out, { timeout: 10_000 }).toMatch(new RegExp(`^${a} +1 +\\S+ +draining$`, 'm'));
    const refusedPinned = await release('retire', a);
    expect(refusedPinned.code).toBe(1);
    expect(refusedPinned.out).toContain(`Refused: 1 pinned workflow(s) are still open on build ${a}`);
    await pinned.signal(quarantineResolvedSignal, { outcome: 'discarded', by: 'release-test' });
    await pinned.result();
    await expect.poll(async () => (await release('status')).out, { timeout: 10_000 }).toMatch(new RegExp(`^${a} +0 +\\S+ +drained`, 'm'));

    // The current build cannot be retired; an unknown one is named as such.
    const current = await release('retire', b.version.buildId);
    expect(current.code).toBe(1);
    expect(current.out).toContain(`Refused: build ${b.version.buildId} is current`);
    expect((await release('retire', 'no-such-build')).out).toContain('No build no-such-build');
    // A is drained, but its worker (the harness's) still polls: Temporal keeps it until that stops.
    const retired = await release('retire', a);
    expect(retired.code).toBe(1);
    expect(retired.out).toContain(`Refused by Temporal: build ${a}'s workers still poll`);
  });
});
