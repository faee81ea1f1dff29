#!/usr/bin/env node
// Runs before `npm start`, `npm test` and `npm run bench` on a fresh clone: installs the
// dependencies when they are missing or older than package.json, then builds when a
// source file is newer than the build. Only Node built-ins here: nothing is installed yet.
//
// It is also npm's `prepare` and `prepack` script, so `npm install` in a clone, `npm pack` and
// `npm install -g` from a clone leave a built dist/ (the tarball must contain it: bin/hotbridge.js
// runs dist/). During `npm install`/`npm ci` the dependencies are being installed by that very
// command, so only the build is done then.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function newestIn(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestIn(full) : mtime(full));
  }
  return newest;
}

function run(args) {
  // stdout of the steps goes to stderr so that `npm start` output stays the daemon's own.
  execFileSync(npm, args, { cwd: root, stdio: ['ignore', 2, 2] });
}

const installed = path.join(root, 'node_modules', '.package-lock.json');
const duringInstall = ['install', 'ci', 'i', 'add'].includes(process.env.npm_command ?? '');
if (!duringInstall && mtime(installed) < Math.max(mtime(path.join(root, 'package.json')), mtime(path.join(root, 'package-lock.json')))) {
  console.error('hotbridge: installing dependencies (first run only)…');
  run(fs.existsSync(path.join(root, 'package-lock.json')) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']);
}

const stamp = path.join(root, 'dist', '.build-stamp');
// An installed package has dist/ but no src/: nothing to build.
if (
  fs.existsSync(path.join(root, 'src')) &&
  mtime(stamp) < Math.max(newestIn(path.join(root, 'src')), mtime(path.join(root, 'tsconfig.json')))
) {
  console.error('hotbridge: building…');
  fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  run(['run', '--silent', 'build']);
  fs.writeFileSync(stamp, new Date().toISOString() + '\n');
}
