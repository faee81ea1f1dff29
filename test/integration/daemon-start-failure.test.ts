/**
 * A failure while the daemon starts stops everything it had started and exits non-zero with the real
 * cause (issue 12): an unreadable or damaged local-passwords.json used to leave listeners and workers
 * running on a closed store, saying "cannot listen on undefined:undefined".
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusSocketPath } from '../../src/daemon/status-endpoint.js';
import { cliCommand, runCli, writeTestConfig, type CliResult, type TestConfig } from '../helpers/cli.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const ALICE = 'alice@example.test';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** `hotbridge run` as another user (root reads any file, so an unreadable file needs someone else). */
function runAs(uid: number, args: string[]): Promise<CliResult> {
  const [command, argv] = cliCommand(args);
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { uid, gid: uid, env: { ...process.env, HOME: '/tmp' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('a daemon that cannot start', () => {
  let dir: string;
  let config: TestConfig;

  beforeAll(async () => {
    dir = tempDir('hotbridge-start-failure-');
    fs.chmodSync(dir, 0o755);
    config = await writeTestConfig(dir, [{ address: ALICE }]);
    fs.chmodSync(config.file, 0o644);
    expect((await runCli(['password', ALICE, '--config', config.file], { input: 'a-local-secret\n' })).code).toBe(0);
  });
  afterAll(() => removeDir(dir));

  const passwords = () => path.join(config.dataDir, 'local-passwords.json');

  async function expectNothingLeft(result: CliResult): Promise<void> {
    expect(result.code).not.toBe(0);
    // The process is gone (runCli waited for it), and so is everything it had opened.
    expect(await refused(config.imapPort)).toBe(true);
    expect(await refused(config.smtpPort)).toBe(true);
    expect(fs.existsSync(statusSocketPath(config.dataDir))).toBe(false);
    expect(fs.existsSync(path.join(config.dataDir, 'hotbridge.pid'))).toBe(false);
    expect(result.stderr).not.toMatch(/undefined/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  }

  it('a damaged local-passwords.json: the file named, the fix, exit 1, nothing left running', async () => {
    const saved = fs.readFileSync(passwords());
    fs.writeFileSync(passwords(), '{"alice@example.test": "scrypt$', { mode: 0o600 });
    try {
      const result = await runCli(['run', '--config', config.file]);
      expect(result.stderr).toMatch(
        new RegExp(
          `cannot start: the local passwords file ${passwords().replace(/[.]/g, '\\.')} is damaged .*set the passwords again with hotbridge password ADDRESS`,
        ),
      );
      await expectNothingLeft(result);
    } finally {
      fs.writeFileSync(passwords(), saved, { mode: 0o600 });
    }
  });

  it('an unreadable local-passwords.json: permission denied, with its owner and mode, exit 1, nothing left running', async () => {
    // The data dir as another user's (nobody's), but the password file still root's and 0600.
    const chownAll = (target: string, owner: number): void => {
      fs.chownSync(target, owner, owner);
      if (fs.statSync(target).isDirectory()) for (const name of fs.readdirSync(target)) chownAll(path.join(target, name), owner);
    };
    chownAll(config.dataDir, 65534);
    fs.chownSync(passwords(), 0, 0);
    try {
      const result = await runAs(65534, ['run', '--config', config.file]);
      expect(result.stderr).toMatch(
        /cannot start: cannot read the local passwords file .*local-passwords\.json: permission denied \(check its owner and mode/,
      );
      await expectNothingLeft(result);
    } finally {
      chownAll(config.dataDir, 0);
    }
  });

  it('starts normally once the file is right again', async () => {
    const [command, argv] = cliCommand(['run', '--config', config.file]);
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    while (!/hotbridge is running/.test(output) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(output).toMatch(/hotbridge is running/);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
