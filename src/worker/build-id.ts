import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/**
 * Where this worker's code lives: the repository under tsx (src/worker/ is two folders down), or
 * dist/ when compiled (dist/src/worker/).
 */
export const CODE_ROOT = resolve(__dirname, '../..');

/** The folders whose code a worker runs: its own process (src/), the activities and the workflows. */
const CODE_FOLDERS = ['src', 'activities', 'workflows'];
const CODE_FILE = /\.(ts|js|mjs|cjs|json|html)$/;

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && CODE_FILE.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/**
 * The worker's Worker Deployment build ID: a hash of everything it runs, so any change to the
 * workflow bundle, an activity, the worker's own code or a dependency's pinned version is a new
 * build, and two workers with the same code share one. Temporal routes a pinned workflow back to
 * the build it started on by this ID, so it must never stay the same across a code change.
 *
 * Hashed: the workflow bundle's code as the worker loads it, every code file under `root`'s
 * src/, activities/ and workflows/ (by relative path, so the checkout's location does not count),
 * and package.json beside `root` or one above it (dist/'s parent), whose versions are exact.
 */
export function workerBuildId(workflowBundleCode: string, root: string = CODE_ROOT): string {
  const hash = createHash('sha256');
  const part = (name: string, content: string | Buffer) => {
    hash.update(`${name}\0${content.length}\0`);
    hash.update(content);
  };
  part('workflow-bundle', workflowBundleCode);
  for (const file of CODE_FOLDERS.flatMap((folder) => filesUnder(join(root, folder)))) part(relative(root, file), readFileSync(file));
  const manifest = [join(root, 'package.json'), join(root, '..', 'package.json')].find((path) => existsSync(path));
  if (manifest) part('package.json', readFileSync(manifest));
  // Hex only: a build ID appears in CLI flags, search attribute values and `deployment:build` strings.
  return hash.digest('hex').slice(0, 16);
}

/**
 * The compiled build `npm run build` made (dist/, what `npm run cluster` and the image run): its
 * bundle's path and the build ID its workers compute. From the repository (under tsx) that is
 * dist/ beside src/; compiled, the folder this code is in. Undefined before a build.
 */
export function compiledBuild(root: string = CODE_ROOT): { dist: string; bundlePath: string; buildId: string } | undefined {
  for (const dist of [root, join(root, 'dist')]) {
    const bundlePath = join(dist, 'workflow-bundle.js');
    if (existsSync(bundlePath)) return { dist, bundlePath, buildId: workerBuildId(readFileSync(bundlePath, 'utf8'), dist) };
  }
  return undefined;
}
