import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Suites start servers, workers and redis-servers: two at a time fits two cores.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
