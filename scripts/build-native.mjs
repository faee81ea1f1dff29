#!/usr/bin/env node
// Part of `npm run build`: compiles src/runtime/malloc-trim.c into dist/runtime/malloc-trim.node with
// the system's C compiler and Node's own headers. It is an optional helper (the daemon gives freed
// memory back to the system with it, see the C file), so a machine without a compiler, without Node's
// headers or without glibc gets a one-line notice and a build that succeeds. Only Node built-ins here.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'src/runtime/malloc-trim.c');
const target = path.join(root, 'dist/runtime/malloc-trim.node');

function skip(why) {
  fs.rmSync(target, { force: true });
  console.error(
    `hotbridge: the malloc_trim helper is not built (${why}); the daemon works without it, it only keeps more memory after busy moments`,
  );
  process.exit(0);
}

if (process.platform !== 'linux') skip(`not needed on ${process.platform}`);
// Official Node builds carry their headers next to the binary; distribution packages in /usr/include.
const includeDir = [path.resolve(path.dirname(process.execPath), '../include/node'), '/usr/include/node', '/usr/local/include/node'].find(
  (dir) => fs.existsSync(path.join(dir, 'node_api.h')),
);
if (!includeDir) skip("Node's headers (node_api.h) are not installed");
const compiler = process.env.CC || 'cc';
fs.mkdirSync(path.dirname(target), { recursive: true });
try {
  execFileSync(compiler, ['-O2', '-shared', '-fPIC', '-Wall', '-Werror', `-I${includeDir}`, '-o', target, source], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
} catch (err) {
  const detail =
    err.code === 'ENOENT'
      ? `no C compiler (${compiler})`
      : String(err.stderr ?? err.message)
          .trim()
          .split('\n')[0];
  skip(detail);
}
