import { defineConfig } from 'vitest/config';

// The fault-handling scenarios (issue 3, work in progress): not part of `npm test` until they
// pass reliably in a fresh clone; run them with `sudo npm run test:failover`.
export default defineConfig({
  test: {
    include: ['test/scenarios/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
