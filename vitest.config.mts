import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Forks, not threads: the Temporal SDK's native bridge crashes in worker threads.
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    // One real Temporal dev server for the whole run (test/support/global-setup.ts).
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores here: each file brings its own worker, so a couple of files at a time is the most that helps.
    maxWorkers: 2,
  },
});
