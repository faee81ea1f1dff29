import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = path.resolve(__dirname, '../../..');

// The project promises strict TypeScript everywhere, tests and benchmarks included; vitest itself only strips types.
it('typechecks strictly (src, test, bench)', async () => {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.test.json'], { cwd: root }).then(
    () => '',
    (err: { stdout?: string }) => err.stdout ?? String(err),
  );
  expect(result).toBe('');
}, 180_000);
