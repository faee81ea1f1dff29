import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalPasswords } from '../../src/runtime/local-passwords.js';
import { cliCommand, runCli, startDaemon, writeTestConfig, type RunningDaemon, type TestConfig } from '../helpers/cli.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const ALICE = 'alice@example.test';

describe('hotbridge command line', () => {
  let dir: string;
  let config: TestConfig;

  beforeAll(async () => {
    dir = tempDir();
    config = await writeTestConfig(dir, [{ address: ALICE }]);
  });
  afterAll(() => removeDir(dir));

  it('--help lists every command, and each command has its own --help', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    for (const command of ['run', 'setup', 'login', 'password', 'status', 'doctor', 'service']) {
      expect(top.stdout).toMatch(new RegExp(`hotbridge ${command}`));
      const own = await runCli([command, '--help']);
      expect(own.code, `${command} --help`).toBe(0);
      expect(own.stdout).toContain(`hotbridge ${command}`);
    }
    // Eight CLI starts one after another: on two loaded cores that can pass the 60 s default.
  }, 180_000);

  it('refuses an unknown command with one line and a pointer to --help', async () => {
    const result = await runCli(['sync-everything']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('hotbridge: unknown command "sync-everything"\nRun `hotbridge --help` to see what it takes.\n');
  });

  it('translates the parser: the closest command or option, a missing argument with an example', async () => {
    const cases: Array<[string[], string]> = [
      [['stauts'], 'hotbridge: unknown command "stauts" (did you mean status?)'],
      [['status', '--jsno'], 'hotbridge: unknown option --jsno (did you mean --json?)'],
      [['login'], "hotbridge: hotbridge login needs the account's address, for example: hotbridge login you@hotmail.com"],
      [['password'], "hotbridge: hotbridge password needs the account's address, for example: hotbridge password you@hotmail.com"],
      [['service'], 'hotbridge: hotbridge service needs an action, for example: hotbridge service install --dry-run'],
      [
        ['service', 'instal'],
        'hotbridge: hotbridge service: "instal" is not an action (did you mean install?); choose one of: install, uninstall, status, start, stop, restart, logs',
      ],
      [['doctor', '--config'], 'hotbridge: --config needs a value, for example: --config /etc/hotbridge/config.toml'],
      [
        ['run', '--log-level', 'verbose'],
        'hotbridge: hotbridge run: "verbose" is not a log-level; choose one of: fatal, error, warn, info, debug, trace',
      ],
    ];
    for (const [argv, expected] of cases) {
      const result = await runCli(argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stderr.split('\n')[0], argv.join(' ')).toBe(expected);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('explains a bad config in one line per problem, naming file and key, without a stack trace', async () => {
    const bad = path.join(dir, 'bad.toml');
    fs.writeFileSync(bad, '[[accounts]]\naddress = "a@hotmail.com"\n[accounts.pop3]\nport = 0\nhots = "x"\n');
    const result = await runCli(['status', '--config', bad]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${bad}: accounts[0].pop3.port: expected a number from 1 to 65535`);
    expect(result.stderr).toContain(`${bad}: accounts[0].pop3.hots: unknown key in [accounts.pop3] (did you mean host?)`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('stores the local password hashed (scrypt) in a 0600 file, read from standard input', async () => {
    const result = await runCli(['password', ALICE, '--config', config.file], { input: 'correct horse\n' });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Local password set for ${ALICE}`);
    const passwords = new LocalPasswords(config.dataDir);
    expect(fs.statSync(passwords.file).mode & 0o777).toBe(0o600);
    const content = fs.readFileSync(passwords.file, 'utf8');
    expect(content).not.toContain('correct horse');
    expect(content).toMatch(/scrypt\$/);
    expect(await passwords.verify(ALICE, 'correct horse')).toBe(true);
    expect(await passwords.verify(ALICE, 'correct horse\n')).toBe(false);
    expect(await passwords.verify(ALICE, 'wrong')).toBe(false);
  });

  it('refuses a password for an address that is not configured, and an empty one', async () => {
    const unknown = await runCli(['password', 'mallory@example.test', '--config', config.file], { input: 'x\n' });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('mallory@example.test is not an account in');
    const empty = await runCli(['password', ALICE, '--config', config.file], { input: '\n' });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('the password is empty');
    const short = await runCli(['password', ALICE, '--config', config.file], { input: 'elevenchars\n' });
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('hotbridge: the password is too short (11 characters): use at least 12');
    expect(await new LocalPasswords(config.dataDir).verify(ALICE, 'elevenchars')).toBe(false);
  });

  it('says which port is taken when it cannot listen, and exits 3', async () => {
    for (const port of [config.imapPort, config.smtpPort]) {
      const blocker = net.createServer();
      await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
      try {
        const result = await runCli(['run', '--config', config.file]);
        expect(result.code, result.stderr).toBe(3);
        expect(result.stderr).toContain(`cannot listen on 127.0.0.1:${port}: the port is in use`);
        expect(result.stderr).not.toMatch(/\n\s+at /);
      } finally {
        await new Promise<void>((resolve) => blocker.close(() => resolve()));
      }
    }
  });

  it('exits promptly on SIGTERM even while an upstream server hangs mid-connection', async () => {
    // A POP3 server that accepts and never greets: the poller sits in its connect deadline (60 s).
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const hungDir = tempDir();
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const hung = await writeTestConfig(hungDir, [{ address: ALICE, pop3: { host: '127.0.0.1', port, tls: 'implicit' } }]);
      const daemon = await startDaemon(hung.file);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const started = Date.now();
      expect(await daemon.stop('SIGTERM')).toBe(0);
      // Far below the 60 s connect deadline the poller sits in: stop does not wait for it.
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      silent.close();
      removeDir(hungDir);
    }
  });

  it('says plainly when the daemon is not running', async () => {
    const result = await runCli(['status', '--config', config.file]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('hotbridge is not running');
  });

  describe('with the daemon running', () => {
    let daemon: RunningDaemon;
    beforeAll(async () => {
      daemon = await startDaemon(config.file);
    });
    afterAll(async () => {
      await daemon?.kill();
    });

    it('refuses a second instance on the same data dir, naming the running pid', async () => {
      const second = await runCli(['run', '--config', config.file]);
      expect(second.code).toBe(3);
      expect(second.stderr).toContain(`hotbridge is already running (pid ${daemon.child.pid})`);
      expect(second.stderr).not.toMatch(/LEVEL_|\n\s+at /);
    });

    it('status shows the account, the listeners and the outbox while the daemon holds the store', async () => {
      const human = await runCli(['status', '--config', config.file]);
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toContain(`pid ${daemon.child.pid}`);
      expect(human.stdout).toContain(ALICE);
      expect(human.stdout).toContain(`IMAP: 127.0.0.1:${config.imapPort}`);
      expect(human.stdout).toContain(`SMTP: 127.0.0.1:${config.smtpPort}`);
      expect(human.stdout).toContain('outbox: empty');
      expect(human.stdout).toMatch(/event loop delay: p99 [\d.]+ ms, max [\d.]+ ms in the last minute; max [\d.]+ ms since start/);
      const json = await runCli(['status', '--json', '--config', config.file]);
      const snapshot = JSON.parse(json.stdout) as {
        accounts: Array<{ address: string; localPassword: boolean }>;
        eventLoop: Record<'sinceStart' | 'lastMinute', { samples: number; p99Ms: number; maxMs: number }>;
        listeners: { imap: { closedForBadCommands: number } };
      };
      expect(snapshot.accounts.map((a) => [a.address, a.localPassword])).toEqual([[ALICE, true]]);
      // The daemon's own loop delay (issue 11), measured since it started: real samples, real figures.
      expect(snapshot.eventLoop.sinceStart.samples).toBeGreaterThan(0);
      expect(snapshot.eventLoop.sinceStart.maxMs).toBeGreaterThanOrEqual(snapshot.eventLoop.sinceStart.p99Ms);
      expect(snapshot.eventLoop.lastMinute.p99Ms).toEqual(expect.any(Number));
      expect(snapshot.listeners.imap.closedForBadCommands).toBe(0);
    });

    it('doctor calls a port held by a hotbridge it cannot ask (another data dir or user) hotbridge, not "another program"', async () => {
      // The same ports under another data dir: that config's status socket does not exist, so only the
      // greeting on the port tells doctor who holds it.
      const other = path.join(dir, 'other.toml');
      fs.writeFileSync(
        other,
        fs.readFileSync(config.file, 'utf8').replace(`data_dir = "${config.dataDir}"`, `data_dir = "${path.join(dir, 'other-data')}"`),
      );
      const result = await runCli(['doctor', '--config', other]);
      expect(result.stdout).toContain(
        `✓ IMAP 127.0.0.1:${config.imapPort} is in use by a running hotbridge (its status is not readable from here`,
      );
      expect(result.stdout).toContain(`✓ SMTP 127.0.0.1:${config.smtpPort} is in use by a running hotbridge`);
      expect(result.stdout).not.toContain('another program');
      const own = await runCli(['doctor', '--config', config.file]);
      expect(own.stdout).toContain(`✓ IMAP 127.0.0.1:${config.imapPort} is in use by hotbridge itself (running, pid ${daemon.child.pid})`);
      expect(own.stdout).toContain(`✓ data dir ${config.dataDir} is writable`);
    });

    it('doctor | head exits quietly, without an EPIPE stack', async () => {
      const [node, args] = cliCommand(['doctor', '--config', config.file]);
      const shell = `${[node, ...args].map((word) => `'${word}'`).join(' ')} | head -n 3; echo "left=\${PIPESTATUS[0]}" >&2`;
      const result = spawnSync('bash', ['-c', shell], { encoding: 'utf8', timeout: 60_000 });
      expect(result.stdout.split('\n')[0]).toBe(`hotbridge doctor: ${config.file}`);
      expect(result.stdout.split('\n').length).toBeLessThanOrEqual(4);
      expect(result.stderr).not.toMatch(/EPIPE|at |Error/);
      expect(result.stderr).toMatch(/left=0\n/);
    });

    it('never logs a secret', () => {
      expect(daemon.log()).not.toContain('correct horse');
    });

    it('stops on SIGTERM with exit code 0 and releases the data dir', async () => {
      expect(await daemon.stop('SIGTERM')).toBe(0);
      expect(fs.existsSync(path.join(config.dataDir, 'hotbridge.pid'))).toBe(false);
      const again = await startDaemon(config.file);
      expect(await again.stop('SIGINT')).toBe(0);
    });
  });
});
