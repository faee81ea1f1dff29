/**
 * hotbridge under a real service manager: a real systemd runs as PID 1 of a private namespace
 * (test/helpers/systemd-ns.ts: a copy of /etc, private /run, /var/lib, /var/log and /tmp, loopback only, no
 * unit of the machine started), and root sets hotbridge up there under a pty as a person would: set-up in
 * the system layout, "start by itself?" yes. Then the service as installed: running as the `hotbridge`
 * user, its log in journald with the right priorities (`journalctl -p`), a local password set by root that
 * the service accepts at once, reload, the `hotbridge service` wrappers, and uninstall.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/docs.js';
import { havePty, startPty } from '../helpers/pty.js';
import { ensureSystemdInstalled, startSystemdNamespace, SYSTEMD, type SystemdNamespace } from '../helpers/systemd-ns.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const HOTBRIDGE = [process.execPath, path.join(REPO_ROOT, 'bin', 'hotbridge.js')];
const APP = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
let dir: string;
let ns: SystemdNamespace;

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('this test runs as root (CI does): it starts systemd in a namespace');
  ensureSystemdInstalled();
  expect(fs.existsSync(SYSTEMD), 'systemd is needed (apt-get install systemd)').toBe(true);
  expect(havePty()).toBe(true);
  dir = tempDir();
  ns = await startSystemdNamespace(dir);
}, 600_000);

afterAll(async () => {
  await ns?.stop();
  if (dir) removeDir(dir);
});

const journal = (...args: string[]) => ns.run(['journalctl', '-u', 'hotbridge', '--no-pager', '-o', 'cat', ...args]).stdout;

async function waitFor(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; journal:\n${journal()}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('the system service under systemd', () => {
  it('root runs set-up, says yes to starting by itself, and hotbridge runs as the hotbridge user', async () => {
    const pty = startPty(HOTBRIDGE.concat('setup'), { wrap: ns.enter, env: { HOTBRIDGE_CONFIG: '', NO_COLOR: '1' } });
    const answer = async (question: RegExp, text: string) => {
      await pty.expect(question);
      pty.line(text);
    };
    try {
      await pty.expect(/Setting up hotbridge for the whole computer, as a system service/);
      await answer(/Your name \(.*\): $/m, 'Ann Example');
      await answer(/Your e-mail address: $/m, 'ann@hotmail.com');
      await answer(/Keep a copy at Outlook\.com\? \[Y\/n\]: $/m, '');
      await answer(/Keep daily backups\? \[Y\/n\]: $/m, 'n');
      await answer(/Your choice \(1, 2 or 3\): $/m, '1');
      await answer(/Application \(client\) ID: $/m, APP);
      await answer(/Sign in with Microsoft now\? \[Y\/n\]: $/m, 'n');
      await answer(/Make that certificate now\? \[y\/N\]: $/m, '');
      await answer(/Start hotbridge by itself, now and whenever this computer starts \(systemd\)\? \[Y\/n\]: $/m, '');
      await pty.expect(/Done\. hotbridge now starts at boot\./, 120_000);
      await pty.expect(/If something does not work: hotbridge doctor\n/);
      expect(await pty.exited).toBe(0);
    } finally {
      pty.kill();
    }
    expect(pty.screen()).toContain('  systemctl restart hotbridge.service\n');
    await waitFor(
      'the service to run',
      () => ns.run(['systemctl', 'is-active', 'hotbridge']).stdout.trim() === 'active' && /hotbridge is running/.test(journal()),
    );
    const unit = ns.run(['systemctl', 'cat', 'hotbridge']).stdout;
    expect(unit).toContain(
      `ExecStart=${fs.realpathSync(process.execPath)} --max-semi-space-size=2 ${fs.realpathSync(HOTBRIDGE[1])} run --config /etc/hotbridge/config.toml`,
    );
    const user = ns
      .run(['ps', '-o', 'user=', '-p', ns.run(['systemctl', 'show', '-p', 'MainPID', '--value', 'hotbridge']).stdout.trim()])
      .stdout.trim();
    expect(user).toBe('hotbridge');
    // systemd's own view of the unit: no complaint about the config directory's mode.
    expect(journal()).not.toMatch(/mode is different/);
  }, 600_000);

  it('logs to journald with the priorities of its lines: warnings are warnings, not errors', () => {
    const warnings = journal('-p', 'warning');
    expect(warnings).toContain(
      'ann@hotmail.com pop3: POP3 sync failed: sign-in needed: not signed in: run hotbridge login ann@hotmail.com',
    );
    expect(warnings).not.toContain('hotbridge is running');
    expect(journal('-p', 'err')).not.toContain('POP3 sync failed');
    // journald took the "<4>" as the priority and kept the text clean.
    expect(journal()).not.toMatch(/^<\d>/m);
    const records = ns
      .run(['journalctl', '-u', 'hotbridge', '--no-pager', '-o', 'json'])
      .stdout.trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { MESSAGE: string; PRIORITY: string });
    expect(records.find((r) => r.MESSAGE.includes('POP3 sync failed'))?.PRIORITY).toBe('4');
    expect(records.find((r) => r.MESSAGE.startsWith('hotbridge is running'))?.PRIORITY).toBe('6');
  });

  it('root sets a local password; the running service takes it at once (the file is given to the service user)', () => {
    const set = ns.run(HOTBRIDGE.concat('password', 'ann@hotmail.com'), { input: 'a-local-password-for-ann\n' });
    expect(set.status, set.stderr).toBe(0);
    const owner = ns.run(['stat', '-c', '%U', '/var/lib/hotbridge/local-passwords.json']).stdout.trim();
    expect(owner).toBe('hotbridge');
    const list = ns.run(['curl', '-s', '--max-time', '20', 'imap://127.0.0.1:1143/', '-u', 'ann@hotmail.com:a-local-password-for-ann']);
    expect(list.stdout, list.stderr).toMatch(/\* LIST .*INBOX/);
  });

  it('status and doctor as root find the system config by themselves and see the service', () => {
    const status = ns.run(HOTBRIDGE.concat('status'));
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/hotbridge 0\.1\.0, pid \d+/);
    const doctor = ns.run(HOTBRIDGE.concat('doctor'));
    expect(doctor.stdout).toContain('hotbridge doctor: /etc/hotbridge/config.toml');
    expect(doctor.stdout).toMatch(/✓ IMAP 127\.0\.0\.1:1143 is in use by hotbridge itself \(running, pid \d+\)/);
    expect(doctor.stdout).toContain('✓ data dir /var/lib/hotbridge is writable');
  });

  it('reload, restart, stop, logs and uninstall through hotbridge service', async () => {
    expect(ns.run(['systemctl', 'reload', 'hotbridge']).status).toBe(0);
    await waitFor('the reload', () => /config reloaded/.test(journal()));
    const restart = ns.run(HOTBRIDGE.concat('service', 'restart'));
    expect(restart.status, restart.stderr).toBe(0);
    expect(restart.stdout).toContain('$ systemctl restart hotbridge.service');
    await waitFor('the restart', () => (journal().match(/hotbridge is running/g) ?? []).length >= 2);
    const status = ns.run(HOTBRIDGE.concat('service', 'status'));
    expect(status.stdout).toMatch(/Active: active \(running\)/);
    const logs = ns.run(HOTBRIDGE.concat('service', 'logs', '-n', '5'));
    expect(logs.stdout).toContain('$ journalctl -u hotbridge.service -n 5 --no-pager');
    expect(ns.run(HOTBRIDGE.concat('service', 'stop')).status).toBe(0);
    expect(ns.run(['systemctl', 'is-active', 'hotbridge']).stdout.trim()).toBe('inactive');
    expect(journal()).toMatch(/hotbridge stopped/);
    const stopped = ns.run(HOTBRIDGE.concat('service', 'status'));
    expect(stopped.status).toBe(3);
    expect(stopped.stdout).toContain('(hotbridge is not running; start it with: hotbridge service start)');
    const gone = ns.run(HOTBRIDGE.concat('service', 'uninstall'));
    expect(gone.status, gone.stderr).toBe(0);
    expect(ns.run(['test', '-e', '/etc/systemd/system/hotbridge.service']).status).toBe(1);
    expect(ns.run(['test', '-e', '/etc/hotbridge/config.toml']).status).toBe(0);
  });

  it('from a clone in a home directory, set-up installs a copy for the whole system and the service runs that', async () => {
    // Inside the namespace only: a /home and an /opt of its own; the clone is this tree without its
    // dependencies (linked), npm installs into /opt from its cache (the namespace has no network).
    expect(ns.run(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'none', '/home']).status).toBe(0);
    expect(ns.run(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'none', '/opt']).status).toBe(0);
    // The namespace has no network, so npm there can only use its cache: an install outside it first
    // (network or cache, as for any user) puts every dependency in that cache.
    const warm = spawnSync(
      'sh',
      [
        '-c',
        `cd ${dir} && npm pack --silent ${REPO_ROOT} >/dev/null && npm install -g --prefix ${dir}/warm --prefer-offline --no-audit --no-fund ./hotbridge-0.1.0.tgz`,
      ],
      { encoding: 'utf8', timeout: 600_000 },
    );
    expect(warm.status, warm.stderr).toBe(0);
    const clone = '/home/ann/hotbridge';
    const copy = ns.run([
      'sh',
      '-c',
      `mkdir -p ${clone} && cd ${REPO_ROOT} && tar cf - --exclude=./node_modules --exclude=./.git . | tar xf - -C ${clone} && ln -s ${REPO_ROOT}/node_modules ${clone}/node_modules`,
    ]);
    expect(copy.status, copy.stderr).toBe(0);
    ns.run(['rm', '-f', '/etc/hotbridge/config.toml']);
    const pty = startPty([process.execPath, `${clone}/bin/hotbridge.js`, 'setup'], {
      wrap: ns.enter,
      env: {
        HOTBRIDGE_CONFIG: '',
        NO_COLOR: '1',
        npm_config_prefix: '/opt/hotbridge',
        npm_config_offline: 'true',
        npm_config_update_notifier: 'false',
      },
    });
    const answer = async (question: RegExp, text: string) => {
      await pty.expect(question);
      pty.line(text);
    };
    try {
      await answer(/Your name \(.*\): $/m, '');
      await answer(/Your e-mail address: $/m, 'bea@outlook.com');
      await answer(/Keep a copy at Outlook\.com\? \[Y\/n\]: $/m, '');
      await answer(/Keep daily backups\? \[Y\/n\]: $/m, 'n');
      await answer(/Your choice \(1, 2 or 3\): $/m, '3');
      await answer(/Make that certificate now\? \[y\/N\]: $/m, '');
      await pty.expect(new RegExp(`This hotbridge runs from ${clone}, where the system service cannot see it`));
      await answer(/Install that copy now \(npm install -g\) and start it with the computer\? \[Y\/n\]: $/m, '');
      await pty.expect(/Done\. hotbridge now starts at boot\./, 300_000);
      expect(await pty.exited).toBe(0);
    } finally {
      pty.kill();
    }
    await waitFor('the service of the copy to run', () => ns.run(['systemctl', 'is-active', 'hotbridge']).stdout.trim() === 'active');
    expect(ns.run(['systemctl', 'cat', 'hotbridge']).stdout).toContain(
      '/opt/hotbridge/lib/node_modules/hotbridge/bin/hotbridge.js run --config /etc/hotbridge/config.toml',
    );
    await waitFor('the copy to say it runs', () =>
      /hotbridge is running version=0\.1\.0 dataDir=\/var\/lib\/hotbridge accounts=bea@outlook\.com/.test(journal()),
    );
  }, 600_000);
});
