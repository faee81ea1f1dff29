/**
 * The first run as a person meets it, under a real pseudo-terminal (util-linux `script`): typed answers,
 * a password typed without echo, Enter for the suggestion, Ctrl-C to stop.
 *
 * - As root, `npm start` on a clone with no config: set-up in the system layout (/etc/hotbridge,
 *   /var/lib/hotbridge), no service offered where systemd is not the init (these machines), then hotbridge
 *   runs in the terminal until Ctrl-C. /etc/hotbridge and /var/lib/hotbridge are private tmpfs mounts of
 *   this test (a mount namespace), so nothing of the machine's own is touched.
 * - As a normal user (setpriv to `nobody`, a home of its own): the user layout, files 0600 in 0700 dirs.
 * - A custom provider (the lab's Dovecot and Postfix, with its own CA) set up by typing, the password
 *   typed hidden and tried before anything is written.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/docs.js';
import { startLab, type Lab } from '../helpers/lab.js';
import { havePty, startPty, type PtySession } from '../helpers/pty.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const NOBODY = 65534;
let dir: string;
/** System dirs this test made as mount points (removed again afterwards). */
const made: string[] = [];

beforeAll(() => {
  expect(havePty(), 'util-linux script is needed (apt-get install bsdutils)').toBe(true);
  dir = tempDir();
  // The normal user below must reach its home in here.
  fs.chmodSync(dir, 0o755);
});

afterAll(() => {
  for (const mountPoint of made.reverse()) fs.rmdirSync(mountPoint);
  if (dir) removeDir(dir);
});

/** Answers a question once it is on the screen. */
async function answer(pty: PtySession, question: RegExp, text: string): Promise<void> {
  await pty.expect(question);
  pty.line(text);
}

describe('the first run, as root: npm start', () => {
  it('sets up the whole computer, says there is no service manager here, and runs in the terminal until Ctrl-C', async () => {
    if (process.getuid?.() !== 0) throw new Error('this test runs as root (CI does); it needs a mount namespace for /etc/hotbridge');
    for (const mountPoint of ['/etc/hotbridge', '/var/lib/hotbridge']) {
      if (!fs.existsSync(mountPoint)) {
        fs.mkdirSync(mountPoint);
        made.push(mountPoint);
      }
    }
    const home = path.join(dir, 'root-home');
    fs.mkdirSync(home);
    const transcript = path.join(dir, 'transcript.txt');
    // Private mounts over the system dirs, and a network of its own (loopback only), so the default ports
    // of the config set-up writes are free whatever else runs on this machine.
    const inside = [
      'ip link set lo up',
      'mount -t tmpfs -o mode=0755 none /etc/hotbridge',
      'mount -t tmpfs -o mode=0755 none /var/lib/hotbridge',
      'exec npm start --silent',
    ].join(' && ');
    const env = {
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, '.config'),
      XDG_DATA_HOME: path.join(home, '.local/share'),
      HOTBRIDGE_CONFIG: '',
      NO_COLOR: '1',
    };
    const pty = startPty(['sh', '-c', inside], { cwd: REPO_ROOT, env, wrap: ['unshare', '-m', '-n', '--propagation', 'private'] });
    try {
      await pty.expect(
        /Setting up hotbridge for the whole computer, as a system service: the config in \/etc\/hotbridge\/config\.toml,\nthe mail in \/var\/lib\/hotbridge, run by its own user "hotbridge"\./,
        300_000,
      );
      await answer(pty, /Your name \(.*\): $/m, 'Ann Example');
      await answer(pty, /Your e-mail address: $/m, 'ann@hotmail');
      await answer(pty, /an address like you@hotmail\.com, please\nYour e-mail address: $/m, 'ann@hotmail.com');
      await answer(pty, /Keep a copy at Outlook\.com\? \[Y\/n\]: $/m, '');
      await answer(pty, /Keep daily backups\? \[Y\/n\]: $/m, 'n');
      await answer(pty, /Your choice \(1, 2 or 3\): $/m, '');
      await answer(pty, /there is no default here: it is your choice\)\nYour choice \(1, 2 or 3\): $/m, '1');
      await answer(pty, /Application \(client\) ID: $/m, 'my-app');
      await answer(
        pty,
        /looks like 00000000-0000-0000-0000-000000000000\nApplication \(client\) ID: $/m,
        '3f2504e0-4f89-41d3-9a0c-0305e82c3301',
      );
      await answer(pty, /Sign in with Microsoft now\? \[Y\/n\]: $/m, 'n');
      await answer(pty, /Make that certificate now\? \[y\/N\]: $/m, '');
      await pty.expect(/hotbridge cannot start by itself on this computer: this system does not run systemd/);
      await pty.expect(/Password: +([a-z]{4}-){3}[a-z]{4}\n/);
      await pty.expect(/Starting hotbridge now, in this terminal \(Ctrl-C stops it; next time: npm start, or hotbridge run\)\./);
      await pty.expect(/hotbridge is running/, 60_000);
      // The expected state, not signed in yet, as one warning with its fix (it may come before "running").
      expect(pty.screen()).toMatch(
        /\d\d:\d\d:\d\d WARN {2}ann@hotmail\.com pop3: POP3 sync failed: sign-in needed: not signed in: run hotbridge login ann@hotmail\.com/,
      );
      pty.type('\x03');
      await pty.expect(/hotbridge stopped/, 30_000);
      // Ctrl-C reaches npm too (the whole foreground process group), which then exits 130 as npm does;
      // hotbridge itself stopped cleanly ("hotbridge stopped" is its last line).
      expect([0, 130]).toContain(await pty.exited);
    } finally {
      pty.kill();
      fs.writeFileSync(transcript, pty.screen());
    }
    const screen = pty.screen();
    // The system layout's config, as every later command finds it, and nothing in root's home.
    expect(screen).toContain('Saved the config: /etc/hotbridge/config.toml');
    expect(screen).toContain('Sign in later: hotbridge login ann@hotmail.com\n');
    expect(fs.readdirSync(home)).toEqual([]);
    // Pretty log lines on a terminal, no JSON.
    expect(screen).not.toMatch(/^\{"level"/m);
  }, 600_000);
});

describe('the first run, as a normal user', () => {
  it('writes the user layout, 0600 files in 0700 dirs, and says how to start hotbridge', async () => {
    const home = path.join(dir, 'nobody-home');
    fs.mkdirSync(home);
    fs.chownSync(home, NOBODY, NOBODY);
    const env = {
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, '.config'),
      XDG_DATA_HOME: path.join(home, '.local/share'),
      HOTBRIDGE_CONFIG: '',
    };
    const pty = startPty([process.execPath, path.join(REPO_ROOT, 'bin', 'hotbridge.js'), 'setup'], {
      cwd: home,
      env,
      wrap: ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'],
    });
    try {
      await answer(pty, /Your name \(.*\): $/m, '');
      await answer(pty, /Your e-mail address: $/m, 'bea@outlook.com');
      await answer(pty, /Keep a copy at Outlook\.com\? \[Y\/n\]: $/m, 'n');
      await answer(pty, /Keep daily backups\? \[Y\/n\]: $/m, 'n');
      await answer(pty, /Your choice \(1, 2 or 3\): $/m, '2');
      await pty.expect(/Using Thunderbird's application ID, as you chose\./);
      await answer(pty, /Sign in with Microsoft now\? \[Y\/n\]: $/m, 'n');
      await answer(pty, /Make that certificate now\? \[y\/N\]: $/m, '');
      await pty.expect(/If something does not work: hotbridge doctor\n/);
      expect(await pty.exited).toBe(0);
    } finally {
      pty.kill();
    }
    const config = path.join(home, '.config', 'hotbridge', 'config.toml');
    expect(pty.screen()).toContain(`Saved the config: ${config}`);
    expect(pty.screen()).not.toContain('Setting up hotbridge for the whole computer');
    expect(pty.screen()).toContain('Start it when you want mail: hotbridge run   (it runs until you stop it with Ctrl-C)');
    const stat = fs.statSync(config);
    expect([stat.uid, stat.mode & 0o777]).toEqual([NOBODY, 0o600]);
    expect(fs.statSync(path.dirname(config)).mode & 0o777).toBe(0o700);
    const data = path.join(home, '.local', 'share', 'hotbridge');
    expect(fs.statSync(path.join(data, 'local-passwords.json')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(data).uid).toBe(NOBODY);
    // Every later command finds this config by itself.
    const status = spawnSync(
      'setpriv',
      [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, path.join(REPO_ROOT, 'bin', 'hotbridge.js'), 'status'],
      { env: { ...process.env, ...env }, encoding: 'utf8' },
    );
    expect(status.stderr).toContain(`hotbridge is not running for ${config}`);
  }, 300_000);
});

describe('a custom provider, typed in', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ smtp: true });
  }, 120_000);
  afterAll(async () => {
    await lab?.stop();
  });

  it('asks for the CA the servers need, takes the password without echo, and tries it before writing the config', async () => {
    const user = 'cleo@example.test';
    await lab.addUser(user, 'cleos-provider-password');
    const config = path.join(dir, 'custom', 'config.toml');
    const pty = startPty([process.execPath, path.join(REPO_ROOT, 'bin', 'hotbridge.js'), 'setup', '--config', config], {
      env: { XDG_DATA_HOME: path.join(dir, 'custom-data') },
    });
    try {
      await answer(pty, /Your name \(.*\): $/m, 'Cleo');
      await answer(pty, /Your e-mail address: $/m, user);
      await answer(pty, /Is this mailbox at Microsoft .*\? \[y\/N\]: $/m, '');
      await answer(pty, /POP3 server name: $/m, lab.host);
      await answer(pty, /POP3 port \[995\]: $/m, String(lab.pop3sPort));
      await answer(pty, /\[implicit\]: $/m, '');
      await answer(pty, /CA certificate file \(Enter: .*\): $/m, lab.caFile);
      await answer(pty, /SMTP server name: $/m, lab.host);
      await answer(pty, /SMTP port \[587\]: $/m, String(lab.smtpPort));
      await answer(pty, /\[starttls\]: $/m, '');
      await answer(pty, /CA certificate file \(Enter: .*\): $/m, lab.caFile);
      await answer(pty, /Keep a copy at example\.test\? \[Y\/n\]: $/m, '');
      await answer(pty, /Keep daily backups\? \[Y\/n\]: $/m, 'n');
      await pty.expect(/Your example\.test password \(kept in .*, readable by you only\): $/m);
      pty.line('cleos-provider-password');
      await pty.expect(/✓ POP3 login as cleo@example\.test\n✓ POP is on at the provider/);
      await pty.expect(/✓ SMTP login as cleo@example\.test\n/);
      await answer(pty, /Make that certificate now\? \[y\/N\]: $/m, '');
      await pty.expect(/If something does not work: hotbridge doctor --config /);
      expect(await pty.exited).toBe(0);
    } finally {
      pty.kill();
    }
    // The password went to its file, never to the screen (no echo).
    expect(pty.screen()).not.toContain('cleos-provider-password');
    expect(fs.readFileSync(path.join(path.dirname(config), `${user}.secret`), 'utf8')).toBe('cleos-provider-password\n');
    expect(pty.screen().indexOf('Saved the config')).toBeGreaterThan(pty.screen().indexOf('✓ SMTP login as'));
  }, 300_000);
});
