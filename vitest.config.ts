import { defineConfig } from 'vitest/config';

// Integration tests start real servers (Dovecot, Postfix, the daemon itself) on loopback: give them time,
// run test files in separate processes, and keep the two cores from being oversubscribed.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    reporters: ['default'],
  },
});
