import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // 2 cores: more workers than that only add contention with the server.
    maxWorkers: 2,
    // The default report, then the skipped count (a skip must be visible, see test/support/tools.ts).
    reporters: ['default', './test/support/skip-summary.ts'],
  },
});
