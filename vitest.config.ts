import { defineConfig } from 'vitest/config';

// Two cores: test files run one at a time (the lab suites share the machine's namespaces
// and CPU); each file's tests run in order.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['node_modules/**'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
