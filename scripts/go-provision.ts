/**
 * What the Temporal CLI, server and UI provisioning share: hookline's cache folder outside the
 * repo (so a fresh clone reuses a build), finding executables and Go, and one `go install` into
 * a temporary GOBIN with progress output, so a killed build never leaves a half binary in the cache.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** `~/.cache/hookline/<tool>/<version>` (or under XDG_CACHE_HOME). */
export function hooklineCacheDir(tool: string, version: string): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'hookline', tool, version);
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Go on PATH, or where Go's own installer puts it. */
export function findGo(): string | undefined {
  return onPath('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

/**
 * `go install <packages>` (CGO off) into a fresh staging folder, reporting every 30 s; resolves
 * to that folder, whose binaries the caller renames into its cache. The caller removes it.
 */
export async function goInstallToStaging(options: {
  go: string;
  packages: string[];
  /** Names the staging folder and the progress lines, e.g. `temporal-server`. */
  what: string;
  log: (line: string) => void;
  tags?: string;
  env?: Record<string, string>;
}): Promise<{ staging: string; seconds: () => number }> {
  const staging = join(tmpdir(), `hookline-${options.what}-build-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const started = Date.now();
  const seconds = () => Math.round((Date.now() - started) / 1000);
  const ticker = setInterval(() => options.log(`  still building ${options.what}… ${seconds()}s`), 30_000);
  try {
    await new Promise<void>((resolve, reject) => {
      const args = ['install', ...(options.tags ? ['-tags', options.tags] : []), ...options.packages];
      const child = spawn(options.go, args, {
        env: { ...process.env, CGO_ENABLED: '0', GOBIN: staging, ...options.env },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`go install ${options.packages.join(' ')} exited with ${code}`)),
      );
    });
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  } finally {
    clearInterval(ticker);
  }
  return { staging, seconds };
}
