// Errors that escape a test (a rejection nobody awaits, an exception thrown from a socket callback) do
// not fail the test that caused them; collected here, an afterEach can check that there were none.
import { afterAll, beforeAll } from 'vitest';

/**
 * Collects every unhandled rejection (and, unless `exceptions` is false, every uncaught exception) while
 * the calling test file runs. Call at the top level of the file.
 */
export function collectUncaught(options: { exceptions?: boolean } = {}): unknown[] {
  const exceptions = options.exceptions ?? true;
  const uncaught: unknown[] = [];
  const onUncaught = (reason: unknown): void => {
    uncaught.push(reason);
  };
  beforeAll(() => {
    process.on('unhandledRejection', onUncaught);
    if (exceptions) process.on('uncaughtException', onUncaught);
  });
  afterAll(() => {
    process.off('unhandledRejection', onUncaught);
    if (exceptions) process.off('uncaughtException', onUncaught);
  });
  return uncaught;
}
