import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compiledBuild, workerBuildId } from '../src/worker/build-id';
import { runReleaseCli } from '../src/release/cli';

/** A worker's code as a build lays it out: src/, activities/, workflows/ and package.json beside them. */
function layout(): string {
  const root = mkdtempSync(join(tmpdir(), 'hookline-build-'));
  for (const [path, text] of Object.entries({
    'src/worker/main.js': 'main',
    'activities/partners.js': 'export const refund = 1;',
    'workflows/returns.js': 'returns',
    'package.json': '{"dependencies":{"@temporalio/worker":"1.24.0"}}',
  })) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('build IDs', () => {
  it('name everything a worker runs: the same code is the same build anywhere, any change a new one', () => {
    const a = layout();
    const id = workerBuildId('bundle', a);
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    // Another checkout of the same code (another host, another path): the same build.
    const copy = mkdtempSync(join(tmpdir(), 'hookline-build-copy-'));
    cpSync(a, copy, { recursive: true });
    expect(workerBuildId('bundle', copy)).toBe(id);
    // The workflow bundle, an activity, a dependency's version: each a new build.
    expect(workerBuildId('bundle changed', a)).not.toBe(id);
    writeFileSync(join(copy, 'activities/partners.js'), 'export const refund = 2;');
    expect(workerBuildId('bundle', copy)).not.toBe(id);
    const deps = mkdtempSync(join(tmpdir(), 'hookline-build-deps-'));
    cpSync(a, deps, { recursive: true });
    writeFileSync(join(deps, 'package.json'), '{"dependencies":{"@temporalio/worker":"1.24.1"}}');
    expect(workerBuildId('bundle', deps)).not.toBe(id);
  });

  it('the compiled build is dist/ with its bundle, as its workers compute it', () => {
    const root = layout();
    expect(compiledBuild(root)).toBeUndefined();
    const dist = join(root, 'dist');
    cpSync(join(root, 'src'), join(dist, 'src'), { recursive: true });
    writeFileSync(join(dist, 'workflow-bundle.js'), 'the bundle');
    // From the repository, and from inside dist/ as the compiled release command runs: one ID,
    // the one a worker in dist/ computes from the bundle it loads (package.json one folder up).
    expect(compiledBuild(root)).toMatchObject({ dist, buildId: workerBuildId('the bundle', dist) });
    expect(compiledBuild(dist)?.buildId).toBe(compiledBuild(root)?.buildId);
  });
});

describe('npm run release: arguments', () => {
  const run = async (...argv: string[]) => {
    const lines: string[] = [];
    const code = await runReleaseCli(argv, {
      client: () => Promise.reject(new Error('no Temporal needed')),
      deploymentName: 'hookline',
      out: (line) => lines.push(line),
      build: () => undefined,
    });
    return { code, out: lines.join('\n') };
  };

  it('refuses what it cannot do, saying why, before it talks to Temporal', async () => {
    expect(await run('ramp', '150', '--build', 'b')).toMatchObject({
      code: 1,
      out: expect.stringContaining('ramp needs a percentage from 0 to 100'),
    });
    expect(await run('promote')).toMatchObject({ code: 1, out: expect.stringContaining('no compiled build here (run npm run build)') });
    expect(await run('retire')).toMatchObject({ code: 1, out: expect.stringContaining('retire needs the build to retire') });
    expect(await run('verify')).toMatchObject({ code: 1, out: expect.stringContaining("verify needs --query '<visibility query>'") });
    expect(await run('deploy')).toMatchObject({ code: 1, out: expect.stringContaining('unknown command "deploy"') });
    expect(await run('help')).toMatchObject({ code: 0, out: expect.stringContaining('Usage: npm run release') });
  });
});
