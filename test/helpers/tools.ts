// Finding, installing and running command-line tools (mail clients for the compatibility tests, peers for
// the benchmarks). Without vitest or the daemon helpers, so that bench/ can use it under plain tsx.
//
// Policy (issue 4): under CI a missing tool is a test FAILURE, never a skip; outside CI we are root on a
// Debian machine and install the package with apt-get, then fail only if that did not work either.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// ---------------------------------------------------------------------------------------------
// Finding and installing tools

/** True when running under a CI system (CI set to anything but "", "0" or "false"). */
export function isCi(): boolean {
  const value = (process.env.CI ?? '').trim().toLowerCase();
  return value !== '' && value !== '0' && value !== 'false';
}

/** The absolute path of an executable `name` on PATH, or undefined. */
export function findTool(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? path.resolve(name) : undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// One apt-get at a time per process; other test files (other processes) wait on dpkg's own lock.
let aptQueue: Promise<unknown> = Promise.resolve();

async function aptGet(args: string[]): Promise<ToolResult> {
  const run = aptQueue.then(() =>
    runTool('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], {
      env: { DEBIAN_FRONTEND: 'noninteractive' },
      timeoutMs: 600_000,
    }),
  );
  aptQueue = run.catch(() => undefined);
  return run;
}

/**
 * The path of the executable `name`, installing Debian package `debianPackage` with apt-get when it is
 * missing (outside CI, as root). Throws, so the calling test fails, when the tool cannot be had: under
 * CI the tool must be part of the image, and a silently skipped compatibility test proves nothing.
 */
export async function requireTool(name: string, debianPackage: string): Promise<string> {
  const found = findTool(name);
  if (found) return found;
  if (isCi()) {
    throw new Error(
      `${name} is not installed (Debian package ${debianPackage}). CI is set: compatibility tests need it and fail without it; add it to the CI image.`,
    );
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(`${name} is not installed and we are not root to install it: run \`sudo apt-get install -y ${debianPackage}\`.`);
  }
  if (!findTool('apt-get')) throw new Error(`${name} is not installed and there is no apt-get to install ${debianPackage} with.`);
  let install = await aptGet(['install', '-y', '--no-install-recommends', debianPackage]);
  if (install.code !== 0) {
    // A fresh container has no package lists yet.
    await aptGet(['update']);
    install = await aptGet(['install', '-y', '--no-install-recommends', debianPackage]);
  }
  const installed = findTool(name);
  if (!installed) {
    throw new Error(
      `could not install ${debianPackage} for ${name} (apt-get exit ${String(install.code)}):\n${install.stderr.slice(-2000)}`,
    );
  }
  return installed;
}

// ---------------------------------------------------------------------------------------------
// Running tools

export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Raw bytes, so that message bodies can be compared exactly. */
  stdout: Buffer;
  stderr: string;
  /** stdout as UTF-8, for tools whose output is text. */
  text: string;
}

export interface ToolOptions {
  input?: string | Buffer;
  /** Added to (not replacing) process.env. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** SIGKILL after this long (default 20 s); the result then has signal 'SIGKILL'. */
  timeoutMs?: number;
}

/** Runs `command args` to completion, without a shell; never rejects for a non-zero exit. */
export function runTool(command: string, args: string[], options: ToolOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out);
      resolve({ code, signal, stdout, stderr, text: stdout.toString('utf8') });
    });
    // A tool that exits before reading all its input must not crash the test with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** How a tool run ended, with its output, for assertion messages. */
export function describeRun(what: string, result: ToolResult): string {
  return `${what} exited ${String(result.code)}${result.signal ? ` (${result.signal})` : ''}\n--- stdout ---\n${result.text}\n--- stderr ---\n${result.stderr}`;
}
