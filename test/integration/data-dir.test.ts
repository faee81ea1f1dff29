/**
 * A wrong data_dir is reported as what it is, by `hotbridge run` and by `hotbridge doctor`: a directory
 * the user may not write to (run as `nobody` through setpriv: root may write anywhere), a path on a
 * kernel pseudo-filesystem, a file where a directory should be. Never "cannot listen on undefined:undefined".
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand, runCli } from '../helpers/cli.js';
import { freePorts } from '../helpers/ports.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const NOBODY = 65534;
let dir: string;

beforeAll(() => {
  dir = tempDir();
  fs.chmodSync(dir, 0o755);
});
afterAll(() => {
  if (dir) removeDir(dir);
});

async function configWith(name: string, dataDir: string): Promise<string> {
  const [imap, smtp, closed] = await freePorts(3);
  const file = path.join(dir, `${name}.toml`);
  fs.writeFileSync(
    file,
    `data_dir = "${dataDir}"\n[imap]\nlisten = ["127.0.0.1:${imap}"]\n[smtp]\nlisten = ["127.0.0.1:${smtp}"]\n` +
      `[[accounts]]\naddress = "a@example.org"\nprovider = "custom"\n[accounts.pop3]\nhost = "127.0.0.1"\nport = ${closed}\n[accounts.smtp]\nhost = "127.0.0.1"\nport = ${closed}\n`,
    { mode: 0o644 },
  );
  return file;
}

describe('a data dir hotbridge cannot use', () => {
  it('one it may not write to: says so, with whose it is and what to do', async () => {
    const locked = path.join(dir, 'locked');
    fs.mkdirSync(locked, { mode: 0o755 });
    const file = await configWith('locked', locked);
    const [node, args] = cliCommand(['run', '--config', file]);
    const asNobody = (extra: string[]) =>
      spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', node, ...args.slice(0, -3), ...extra], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, HOME: dir },
      });
    const run = asNobody(['run', '--config', file]);
    expect(run.status, run.stderr).toBe(3);
    expect(run.stderr).toBe(
      `hotbridge: cannot write to ${locked}: permission denied; run hotbridge as the user who owns it, or fix the owner: sudo chown -R nobody ${locked} (data_dir in ${file})\n`,
    );
    expect(run.stderr).not.toContain('undefined');
    const doctor = asNobody(['doctor', '--config', file]);
    expect(doctor.stdout).toContain(
      `✗ data dir: cannot write to ${locked}: permission denied\n    fix: run hotbridge as the user who owns it, or fix the owner: sudo chown -R nobody ${locked}\n`,
    );
  });

  it('one on a pseudo-filesystem: refused at once, not spun on', async () => {
    const file = await configWith('proc', '/proc/hotbridge');
    const run = await runCli(['run', '--config', file], { timeoutMs: 30_000 });
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain(
      'hotbridge: /proc/hotbridge is on /proc, a kernel pseudo-filesystem that cannot hold files: set data_dir to a real directory',
    );
    const doctor = await runCli(['doctor', '--config', file]);
    expect(doctor.stdout).toContain('✗ data dir: /proc/hotbridge is on /proc, a kernel pseudo-filesystem that cannot hold files');
  });

  it('a file where the directory should be', async () => {
    const notADir = path.join(dir, 'a-file');
    fs.writeFileSync(notADir, '');
    const run = await runCli(['run', '--config', await configWith('file', path.join(notADir, 'data'))], { timeoutMs: 30_000 });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`hotbridge: ${notADir} is a file, not a directory: set data_dir to a directory`);
  });
});
