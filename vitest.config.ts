import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The secret scan over every e2e test's output (test/helpers/secrets.ts) and its figure.
    setupFiles: ['test/helpers/setup.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // e2e suites spawn server processes; two cores here, so keep the pool small.
    maxWorkers: 2,
  },
});
