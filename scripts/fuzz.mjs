#!/usr/bin/env node
// `npm run fuzz`: the property tests of every reader (IMAP, SMTP, POP3, MIME) with many more inputs than
// `npm test` tries (FUZZ_SCALE, default 100: a few minutes on two cores). Test files named *fuzz*.test.ts.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const scale = process.env.FUZZ_SCALE ?? '100';
console.log(`fuzz: property tests at ${scale}x their npm test runs`);
const result = spawnSync(
  process.execPath,
  [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', 'fuzz', '--testTimeout=1200000', ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, FUZZ_SCALE: scale },
  },
);
process.exitCode = result.status ?? 1;
