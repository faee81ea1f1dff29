// The service definitions: the systemd units pass `systemd-analyze verify` once filled in with real paths
// (also paths that need quoting), carry the hardening the issue asks for, and get LoadCredential= and
// CAP_NET_BIND_SERVICE only when the config needs them; the launchd plists parse (python3 plistlib) with
// the real paths in them; `hotbridge service install --dry-run` prints exactly that and changes nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planService, runService, type PlanInput } from '../../../src/cli/commands/service.js';
import { controlCommand } from '../../../src/cli/service/control.js';
import {
  launchAgent,
  launchDaemon,
  PACKAGE_ROOT,
  systemdArgument,
  systemUnit,
  templatePath,
  userUnit,
  type ProgramPaths,
} from '../../../src/cli/service/units.js';
import { resolveConfig } from '../../../src/config/load.js';
import type { HotbridgeConfig } from '../../../src/config/types.js';
import { PasswordFileSource } from '../../../src/upstream/credentials.js';

/** Whether a command can be found on PATH. */
function have(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-units-'));
  // systemd-analyze comes with Debian's systemd package; install it when missing and we may (root), as
  // the lab scripts do for Dovecot and Postfix. Without it the verify tests fail: never a silent skip.
  if (!have('systemd-analyze') && process.getuid?.() === 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () =>
      spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', 'systemd'], {
        stdio: 'ignore',
        env,
      });
    if (install().status !== 0) {
      spawnSync('apt-get', ['update', '-q', '-o', 'DPkg::Lock::Timeout=300'], { stdio: 'ignore', env });
      install();
    }
  }
}, 600_000);
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const realPaths = (): ProgramPaths => ({
  node: fs.realpathSync(process.execPath),
  hotbridge: fs.realpathSync(path.join(PACKAGE_ROOT, 'bin', 'hotbridge.js')),
  config: '/etc/hotbridge/config.toml',
});

function config(overrides: Record<string, unknown> = {}, file = '/etc/hotbridge/config.toml'): HotbridgeConfig {
  return resolveConfig(
    {
      data_dir: '/var/lib/hotbridge',
      accounts: [
        { address: 'ann@hotmail.com', auth: { client_id: 'app' } },
        { address: 'bob@gmx.net', auth: { password_file: 'bob.secret' } },
      ],
      ...overrides,
    },
    file,
  );
}

function input(partial: Partial<PlanInput>): PlanInput {
  return {
    platform: 'linux',
    scope: 'system',
    action: 'install',
    config: config(),
    paths: realPaths(),
    home: '/home/ann',
    uid: 1000,
    configOwner: 'ann',
    ...partial,
  };
}

/** `systemd-analyze verify` on a unit file; resolves with its exit code and everything it said about the unit. */
function verify(unit: string, name: string, user = false): { status: number | null; output: string } {
  const file = path.join(dir, name);
  fs.writeFileSync(file, unit);
  const runtime = path.join(dir, 'xdg-runtime');
  fs.mkdirSync(runtime, { recursive: true, mode: 0o700 });
  // --man=no: Documentation= is not checked against installed man pages. The user manager needs a runtime dir.
  const result = spawnSync('systemd-analyze', ['verify', '--man=no', ...(user ? ['--user'] : []), file], {
    encoding: 'utf8',
    env: { ...process.env, XDG_RUNTIME_DIR: runtime },
  });
  if (result.error) throw new Error(`systemd-analyze cannot run here: ${result.error.message} (apt-get install systemd)`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function plist(text: string): Record<string, unknown> {
  const file = path.join(dir, `p-${Math.random().toString(36).slice(2)}.plist`);
  fs.writeFileSync(file, text);
  const json = execFileSync(
    'python3',
    ['-c', 'import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))', file],
    { encoding: 'utf8' },
  );
  return JSON.parse(json) as Record<string, unknown>;
}

const directive = (unit: string, key: string): string[] =>
  unit
    .split('\n')
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1));

describe('systemd units', () => {
  it('the system unit, filled in, passes systemd-analyze verify and carries the hardening', () => {
    const unit = systemUnit(realPaths(), { credentials: [{ id: 'bob.secret', file: '/etc/hotbridge/bob.secret' }], bindLowPorts: false });
    const { status, output } = verify(unit, 'hotbridge.service');
    expect(output).toBe('');
    expect(status).toBe(0);
    expect(unit).not.toMatch(/@[A-Z]+@/);
    expect(directive(unit, 'ExecStart')).toEqual([
      `${realPaths().node} --max-semi-space-size=2 ${realPaths().hotbridge} run --config /etc/hotbridge/config.toml`,
    ]);
    expect(directive(unit, 'User')).toEqual(['hotbridge']);
    expect(directive(unit, 'StateDirectory')).toEqual(['hotbridge']);
    expect(directive(unit, 'ConfigurationDirectory')).toEqual(['hotbridge']);
    expect(directive(unit, 'LoadCredential')).toEqual(['bob.secret:/etc/hotbridge/bob.secret']);
    expect(directive(unit, 'NoNewPrivileges')).toEqual(['yes']);
    expect(directive(unit, 'ProtectSystem')).toEqual(['strict']);
    expect(directive(unit, 'ProtectHome')).toEqual(['yes']);
    expect(directive(unit, 'PrivateTmp')).toEqual(['yes']);
    expect(directive(unit, 'RestrictAddressFamilies')).toEqual(['AF_INET AF_INET6 AF_UNIX AF_NETLINK']);
    expect(directive(unit, 'CapabilityBoundingSet')).toEqual(['']);
    expect(directive(unit, 'AmbientCapabilities')).toEqual(['']);
    expect(directive(unit, 'Restart')).toEqual(['on-failure']);
    expect(directive(unit, 'ExecReload')).toEqual(['kill -HUP $MAINPID']);
    // Node's JIT needs writable+executable memory.
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=yes/m);
  });

  it('the daemon reads a password file from the credentials systemd hands over, by the same name', async () => {
    const credentials = path.join(dir, 'credentials');
    fs.mkdirSync(credentials);
    fs.writeFileSync(path.join(credentials, 'bob.secret'), 'from-systemd\n');
    const previous = process.env.CREDENTIALS_DIRECTORY;
    process.env.CREDENTIALS_DIRECTORY = credentials;
    try {
      // /etc/hotbridge/bob.secret itself is not readable here (it does not even exist): the credential is used.
      expect(await new PasswordFileSource('bob@gmx.net', '/etc/hotbridge/bob.secret').get()).toEqual({
        kind: 'password',
        user: 'bob@gmx.net',
        password: 'from-systemd',
      });
      // A file that is not among the credentials is read where the config says.
      const own = path.join(dir, 'own.secret');
      fs.writeFileSync(own, 'own-file\n');
      expect(await new PasswordFileSource('c@x.org', own).get()).toMatchObject({ password: 'own-file' });
    } finally {
      if (previous === undefined) delete process.env.CREDENTIALS_DIRECTORY;
      else process.env.CREDENTIALS_DIRECTORY = previous;
    }
  });

  it('grants CAP_NET_BIND_SERVICE only when a port below 1024 is configured', () => {
    const low = planService(input({ config: config({ imap: { listen: ['127.0.0.1:143'] } }) }));
    expect(directive(low.write!.content, 'CapabilityBoundingSet')).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(directive(low.write!.content, 'AmbientCapabilities')).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(verify(low.write!.content, 'low.service').status).toBe(0);
    const high = planService(input({}));
    expect(directive(high.write!.content, 'CapabilityBoundingSet')).toEqual(['']);
  });

  it('the user unit, filled in, passes systemd-analyze verify --user', () => {
    const unit = userUnit({ ...realPaths(), config: '/home/ann/.config/hotbridge/config.toml' });
    const { status, output } = verify(unit, 'hotbridge-user.service', true);
    expect(output).toBe('');
    expect(status).toBe(0);
    expect(directive(unit, 'Restart')).toEqual(['on-failure']);
    expect(directive(unit, 'WantedBy')).toEqual(['default.target']);
  });

  it('quotes paths with spaces and escapes % (and $ after the program), as systemd reads them back', () => {
    // A node reached through a directory whose name needs quoting: verify fails if the quoting is wrong.
    const odd = path.join(dir, 'my node 100% $HOME');
    fs.mkdirSync(odd, { recursive: true });
    fs.symlinkSync(realPaths().node, path.join(odd, 'node'));
    expect(systemdArgument(path.join(odd, 'node'), true)).toBe(`"${path.join(dir, 'my node 100%% $HOME')}/node"`);
    // Arguments after the program do get $VARIABLE expansion, so a literal $ is written $$.
    expect(systemdArgument('/etc/a $b/config.toml')).toBe('"/etc/a $$b/config.toml"');
    const unit = userUnit({ ...realPaths(), node: path.join(odd, 'node') });
    const { status, output } = verify(unit, 'odd.service', true);
    expect(output).toBe('');
    expect(status).toBe(0);
    const broken = unit.replace(`"${path.join(dir, 'my node 100%% $HOME')}/node"`, path.join(odd, 'node'));
    expect(verify(broken, 'odd-unquoted.service', true).output).toMatch(/not executable|No such file/);
  });

  it('the shipped units are valid units as they are (systemd-analyze verify systemd/*.service)', () => {
    for (const [name, user] of [
      ['hotbridge.service', false],
      ['hotbridge-user.service', true],
    ] as const) {
      const text = fs.readFileSync(templatePath(name), 'utf8');
      expect(text).not.toMatch(/^[^#].*@[A-Z]+@/m);
      const { status, output } = verify(text, name, user);
      expect(output).toBe('');
      expect(status).toBe(0);
      // As shipped they run the `hotbridge` that `npm install -g` puts on systemd's PATH.
      expect(directive(text, 'ExecStart')[0]).toMatch(/^\/usr\/bin\/env hotbridge run/);
    }
    // The plists keep their @…@ placeholders (launchd has no verifier to satisfy), each one filled in.
    for (const name of ['LaunchAgent.plist', 'LaunchDaemon.plist'] as const) {
      const text = fs.readFileSync(templatePath(name), 'utf8');
      expect(text.match(/@[A-Z]+@/g)!.every((p) => ['@NODE@', '@HOTBRIDGE@', '@CONFIG@', '@LOG@', '@USER@'].includes(p))).toBe(true);
    }
  });
});

describe('the install plan (Linux)', () => {
  it('system: creates the user, opens the config to it, writes the unit, enables and starts it', () => {
    const plan = planService(input({}));
    expect(plan.write?.path).toBe('/etc/systemd/system/hotbridge.service');
    expect(plan.write?.mode).toBe(0o644);
    expect(plan.before.map((c) => c.argv.join(' '))).toEqual([
      'sh -c id -u hotbridge >/dev/null 2>&1 || useradd --system --user-group --home-dir /var/lib/hotbridge --no-create-home --shell /usr/sbin/nologin hotbridge',
      'sh -c test ! -d /var/lib/hotbridge || chown -R hotbridge:hotbridge /var/lib/hotbridge',
      'chgrp hotbridge /etc/hotbridge /etc/hotbridge/config.toml',
      'chmod 0750 /etc/hotbridge',
      'chmod 0640 /etc/hotbridge/config.toml',
    ]);
    expect(plan.after.map((c) => c.argv.join(' '))).toEqual([
      'systemctl daemon-reload',
      'systemctl enable hotbridge.service',
      'systemctl restart hotbridge.service',
    ]);
    // Only password accounts have a secret to hand over; it is named after its file.
    expect(directive(plan.write!.content, 'LoadCredential')).toEqual(['bob.secret:/etc/hotbridge/bob.secret']);
    expect(plan.notes.join('\n')).toContain('sudo -u hotbridge hotbridge login ADDRESS --config /etc/hotbridge/config.toml');
  });

  it('system: never opens a shared directory such as /etc to the service user', () => {
    const plan = planService(
      input({ config: config({}, '/etc/hotbridge.toml'), paths: { ...realPaths(), config: '/etc/hotbridge.toml' } }),
    );
    expect(plan.before.slice(2).map((c) => c.argv.join(' '))).toEqual([
      'chgrp hotbridge /etc/hotbridge.toml',
      'chmod 0640 /etc/hotbridge.toml',
    ]);
  });

  it('system: names what the hardened service could not see, with the fix, and still plans the unit', () => {
    const inHome = planService(
      input({
        config: config({}, '/home/ann/.config/hotbridge/config.toml'),
        paths: { ...realPaths(), config: '/home/ann/.config/hotbridge/config.toml' },
      }),
    );
    expect(inHome.write?.content).toContain('ExecStart=');
    expect(inHome.problems.join('\n')).toMatch(
      /the config is at \/home\/ann\/.config\/hotbridge\/config\.toml, inside a home directory.*ProtectHome=yes.*sudo hotbridge setup --config \/etc\/hotbridge\/config\.toml/,
    );
    expect(
      planService(input({ paths: { ...realPaths(), node: '/home/ann/.nvm/versions/node/v20/bin/node' } })).problems.join('\n'),
    ).toMatch(/node is at .* inside a home directory/);
    expect(planService(input({ paths: { ...realPaths(), hotbridge: '/root/hotbridge/bin/hotbridge.js' } })).problems.join('\n')).toMatch(
      /hotbridge is at \/root\/hotbridge.*npm install -g/,
    );
    const inTmp = planService(input({ config: config({}, '/tmp/x/config.toml'), paths: { ...realPaths(), config: '/tmp/x/config.toml' } }));
    expect(inTmp.problems.join('\n')).toMatch(/the config is at \/tmp\/x\/config\.toml, under \/tmp.*PrivateTmp=yes.*\/etc\/hotbridge/);
    // A CA kept in /tmp is invisible to the service (the config loader wants the file to exist).
    const tmp = fs.mkdtempSync('/tmp/hotbridge-units-ca-');
    const ca = path.join(tmp, 'ca.pem');
    fs.writeFileSync(ca, 'not read here\n');
    const caInTmp = config({
      accounts: [
        {
          address: 'c@example.org',
          provider: 'custom',
          auth: { password_file: '/etc/hotbridge/c.secret' },
          pop3: { host: 'pop.example.org', ca_file: ca },
          smtp: { host: 'smtp.example.org' },
        },
      ],
    });
    expect(planService(input({ config: caInTmp })).problems.join('\n')).toContain(`the ca_file of c@example.org is at ${ca}, under /tmp`);
    fs.rmSync(tmp, { recursive: true, force: true });
    expect(planService(input({ config: config({ data_dir: '/srv/mail' }) })).problems.join('\n')).toMatch(
      /set data_dir = "\/var\/lib\/hotbridge"/,
    );
    const twins = config({
      accounts: [
        { address: 'a@gmx.net', auth: { password_file: 'a/pw.secret' } },
        { address: 'b@gmx.net', auth: { password_file: 'b/pw.secret' } },
      ],
    });
    expect(planService(input({ config: twins })).problems.join('\n')).toMatch(/two password files are both named pw\.secret/);
    expect(planService(input({})).problems).toEqual([]);
  });

  it('user: writes to ~/.config/systemd/user and uses systemctl --user', () => {
    const previous = process.env.XDG_CONFIG_HOME;
    delete process.env.XDG_CONFIG_HOME;
    try {
      const plan = planService(
        input({
          scope: 'user',
          config: config({ data_dir: '/home/ann/.local/share/hotbridge' }, '/home/ann/.config/hotbridge/config.toml'),
        }),
      );
      expect(plan.write?.path).toBe('/home/ann/.config/systemd/user/hotbridge.service');
      expect(plan.before).toEqual([]);
      expect(plan.after.map((c) => c.argv.join(' '))).toEqual([
        'systemctl --user daemon-reload',
        'systemctl --user enable hotbridge.service',
        'systemctl --user restart hotbridge.service',
      ]);
      expect(plan.notes.join('\n')).toContain('loginctl enable-linger');
    } finally {
      if (previous !== undefined) process.env.XDG_CONFIG_HOME = previous;
    }
  });

  it('uninstall: stops and disables, removes the unit, keeps config and mail, and needs no working config', () => {
    const plan = planService(input({ action: 'uninstall', config: undefined }));
    expect(plan.before).toEqual([{ argv: ['systemctl', 'disable', '--now', 'hotbridge.service'], mayFail: true }]);
    expect(plan.remove).toBe('/etc/systemd/system/hotbridge.service');
    expect(plan.write).toBeUndefined();
    expect(plan.notes.join('\n')).toContain('are still there');
  });
});

describe('launchd', () => {
  it('the LaunchAgent parses and runs node with the real paths, kept alive, with its log', () => {
    const paths = { ...realPaths(), config: '/Users/ann/Library/Application Support/hotbridge/config.toml' };
    const parsed = plist(launchAgent(paths, '/Users/ann/Library/Logs/hotbridge/hotbridge.log'));
    expect(parsed).toMatchObject({
      Label: 'local.hotbridge',
      ProgramArguments: [paths.node, '--max-semi-space-size=2', paths.hotbridge, 'run', '--config', paths.config],
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      StandardOutPath: '/Users/ann/Library/Logs/hotbridge/hotbridge.log',
      StandardErrorPath: '/Users/ann/Library/Logs/hotbridge/hotbridge.log',
      Umask: 0o77,
    });
    expect(parsed.UserName).toBeUndefined();
  });

  it('the LaunchDaemon parses, runs as the config owner, and survives characters XML must escape', () => {
    const paths = { ...realPaths(), config: '/Library/hotbridge/a&b <c> "d".toml' };
    const parsed = plist(launchDaemon(paths, '/Library/Logs/hotbridge/hotbridge.log', 'ann'));
    expect(parsed).toMatchObject({ Label: 'local.hotbridge', UserName: 'ann', RunAtLoad: true, KeepAlive: { SuccessfulExit: false } });
    expect((parsed.ProgramArguments as string[])[5]).toBe('/Library/hotbridge/a&b <c> "d".toml');
  });

  it('plans launchctl bootstrap into the user or system domain', () => {
    const agent = planService(input({ platform: 'darwin', scope: 'user', home: '/Users/ann', uid: 501 }));
    expect(agent.write?.path).toBe('/Users/ann/Library/LaunchAgents/local.hotbridge.plist');
    expect(agent.directories).toEqual(['/Users/ann/Library/LaunchAgents', '/Users/ann/Library/Logs/hotbridge']);
    expect(agent.after.map((c) => c.argv.join(' '))).toEqual([
      'launchctl enable gui/501/local.hotbridge',
      'launchctl bootstrap gui/501 /Users/ann/Library/LaunchAgents/local.hotbridge.plist',
    ]);
    const daemon = planService(input({ platform: 'darwin', scope: 'system', configOwner: 'ann' }));
    expect(daemon.write?.path).toBe('/Library/LaunchDaemons/local.hotbridge.plist');
    expect(daemon.after.at(-1)?.argv).toEqual(['launchctl', 'bootstrap', 'system', '/Library/LaunchDaemons/local.hotbridge.plist']);
    expect(plist(daemon.write!.content).UserName).toBe('ann');
    const gone = planService(input({ platform: 'darwin', scope: 'user', action: 'uninstall', home: '/Users/ann', uid: 501 }));
    expect(gone.before).toEqual([{ argv: ['launchctl', 'bootout', 'gui/501/local.hotbridge'], mayFail: true }]);
    expect(gone.remove).toBe('/Users/ann/Library/LaunchAgents/local.hotbridge.plist');
  });
});

describe('hotbridge service install --dry-run', () => {
  async function dryRun(options: { config: string; user?: boolean; system?: boolean }): Promise<string> {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    const code = await runService({ ...options, action: 'install', dryRun: true, out });
    expect(code).toBe(0);
    return text;
  }

  it('prints the user unit with the real paths of node, hotbridge and the config, and writes nothing', async () => {
    const configDir = path.join(dir, 'user-config');
    fs.mkdirSync(configDir);
    const file = path.join(configDir, 'config.toml');
    fs.writeFileSync(file, '[[accounts]]\naddress = "ann@hotmail.com"\n');
    const xdg = path.join(dir, 'xdg-config');
    const previous = process.env.XDG_CONFIG_HOME;
    process.env.XDG_CONFIG_HOME = xdg;
    try {
      const text = await dryRun({ config: file, user: true });
      const { node, hotbridge } = realPaths();
      expect(text).toContain(`ExecStart=${node} --max-semi-space-size=2 ${hotbridge} run --config ${fs.realpathSync(file)}\n`);
      expect(text).toContain(`Would write ${path.join(xdg, 'systemd', 'user', 'hotbridge.service')} (mode 0644):`);
      expect(text).toContain('Would run: systemctl --user enable hotbridge.service');
      expect(fs.existsSync(xdg)).toBe(false);
    } finally {
      if (previous === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = previous;
    }
  });

  it('prints the system unit with its credentials, and changes nothing on the machine', async () => {
    const configDir = path.join(dir, 'system-config');
    fs.mkdirSync(configDir);
    const file = path.join(configDir, 'config.toml');
    fs.writeFileSync(
      file,
      'data_dir = "/var/lib/hotbridge"\n[[accounts]]\naddress = "bob@gmx.net"\n[accounts.auth]\npassword_file = "bob.secret"\n',
      { mode: 0o600 },
    );
    const unitExisted = fs.existsSync('/etc/systemd/system/hotbridge.service');
    const text = await dryRun({ config: file, system: true });
    expect(text).toContain('dry run, nothing is changed');
    expect(text).toContain(
      `ExecStart=${realPaths().node} --max-semi-space-size=2 ${realPaths().hotbridge} run --config ${fs.realpathSync(file)}\n`,
    );
    expect(text).toContain(`LoadCredential=bob.secret:${path.join(fs.realpathSync(configDir), 'bob.secret')}\n`);
    expect(text).toContain('Would run: sh -c ');
    expect(text).toContain('Would run: systemctl restart hotbridge.service');
    expect(fs.existsSync('/etc/systemd/system/hotbridge.service')).toBe(unitExisted);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses --user and --system together', async () => {
    await expect(runService({ config: 'x', action: 'install', user: true, system: true, out: new PassThrough() })).rejects.toThrow(
      'choose one: --user or --system',
    );
  });

  it('without systemd running, a real install says so instead of failing halfway', async () => {
    // sd_booted(3): /run/systemd/system exists exactly when systemd is the init. Where it is (a real host),
    // this test must not install anything, so it only runs its check where systemd is not running.
    if (fs.existsSync('/run/systemd/system')) return;
    const file = path.join(dir, 'no-systemd.toml');
    fs.writeFileSync(file, '[[accounts]]\naddress = "ann@hotmail.com"\n');
    await expect(runService({ config: file, action: 'install', user: true, out: new PassThrough() })).rejects.toThrow(
      /this system does not run systemd \(no \/run\/systemd\/system\)/,
    );
  });
});

describe('hotbridge service status|start|stop|restart|logs', () => {
  const base = { uid: 501, home: '/home/ann' } as const;
  it('runs systemctl and journalctl with the scope and unit name', () => {
    expect(controlCommand({ ...base, platform: 'linux', scope: 'user', action: 'status' }).join(' ')).toBe(
      'systemctl --user status --no-pager hotbridge.service',
    );
    expect(controlCommand({ ...base, platform: 'linux', scope: 'system', action: 'restart' }).join(' ')).toBe(
      'systemctl restart hotbridge.service',
    );
    expect(controlCommand({ ...base, platform: 'linux', scope: 'system', action: 'stop' }).join(' ')).toBe(
      'systemctl stop hotbridge.service',
    );
    expect(controlCommand({ ...base, platform: 'linux', scope: 'user', action: 'logs', follow: true }).join(' ')).toBe(
      'journalctl --user -u hotbridge.service -n 50 --no-pager -f',
    );
    expect(controlCommand({ ...base, platform: 'linux', scope: 'system', action: 'logs', lines: 200 }).join(' ')).toBe(
      'journalctl -u hotbridge.service -n 200 --no-pager',
    );
  });

  it('runs launchctl in the right domain, and tails the log file', () => {
    expect(controlCommand({ ...base, platform: 'darwin', scope: 'user', action: 'start' }).join(' ')).toBe(
      'launchctl kickstart gui/501/local.hotbridge',
    );
    expect(controlCommand({ ...base, platform: 'darwin', scope: 'system', action: 'restart' }).join(' ')).toBe(
      'launchctl kickstart -k system/local.hotbridge',
    );
    expect(controlCommand({ ...base, platform: 'darwin', scope: 'user', action: 'stop' }).join(' ')).toBe(
      'launchctl kill SIGTERM gui/501/local.hotbridge',
    );
    expect(controlCommand({ ...base, platform: 'darwin', scope: 'user', action: 'logs' }).join(' ')).toBe(
      'tail -n 50 /home/ann/Library/Logs/hotbridge/hotbridge.log',
    );
  });

  it('without systemd running, says so instead of failing halfway', async () => {
    if (fs.existsSync('/run/systemd/system')) return;
    await expect(runService({ action: 'status', out: new PassThrough() })).rejects.toThrow(
      /this system does not run systemd \(no \/run\/systemd\/system\), so there is no service to show/,
    );
  });

  it('a dry run shows the unit even when the config cannot be used, and says why an install would stop', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    const missing = path.join(dir, 'no-such-config.toml');
    expect(await runService({ config: missing, action: 'install', system: true, dryRun: true, out })).toBe(0);
    expect(text).toContain('ExecStart=');
    expect(text).toContain('A real install would stop before any of this, because:');
    expect(text).toContain(`the config cannot be used: ${path.resolve(missing)}: no such file`);
  });
});
