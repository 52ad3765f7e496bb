import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    // Bounds for a hang, not for speed: on a loaded 2-core machine (CI next to other jobs) a CLI
    // spawn can take seconds, and the slowest files measured 10x their idle time.
    testTimeout: 180_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // 2 cores: more workers than that only add contention with the server.
    maxWorkers: 2,
    // The default report, then the skipped count (a skip must be visible, see test/support/tools.ts).
    reporters: ['default', './test/support/skip-summary.ts'],
  },
});
