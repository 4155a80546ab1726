import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // .ci/run asks for a JSON report, to restate it as the plain "N passed, N failed" line CI reads.
    reporters: process.env.READSTATES_TEST_REPORT
      ? ['default', ['json', { outputFile: process.env.READSTATES_TEST_REPORT }]]
      : ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.unit.spec.ts', 'test/unit/**/*.spec.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.int.spec.ts', 'test/**/*.e2e.spec.ts'],
          globalSetup: ['test/support/globalSetup.ts'],
          setupFiles: ['test/support/leakCheck.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Files share one broker and one PostgreSQL server; two cores cannot run many at once.
          maxWorkers: 2,
        },
      },
    ],
  },
});
