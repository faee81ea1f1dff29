import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/load.js';
import { parseDuration, parseSize } from '../../../src/config/units.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

const dir = tempDir();
afterAll(() => removeDir(dir));

function load(toml: string) {
  const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}.toml`);
  fs.writeFileSync(file, toml);
  return { file, run: () => loadConfig(file) };
}

function problemsOf(toml: string): string[] {
  const { run } = load(toml);
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the config to be refused');
}

describe('config', () => {
  it('needs only an address, and fills Outlook.com from the preset', () => {
    const config = load('[[accounts]]\naddress = "You@Hotmail.com"\n').run();
    const [account] = config.accounts;
    expect(account.address).toBe('you@hotmail.com');
    expect(account.provider).toBe('outlook');
    expect(account.pop3).toMatchObject({ host: 'outlook.office365.com', port: 995, tls: 'implicit' });
    expect(account.smtp).toMatchObject({ host: 'smtp-mail.outlook.com', port: 587, tls: 'starttls' });
    expect(account.auth).toMatchObject({
      method: 'oauth2',
      authority: 'https://login.microsoftonline.com/consumers',
      user: 'you@hotmail.com',
    });
    expect(account.pollIntervalMs).toBe(120_000);
    expect(account.leaveOnServer).toBe(true);
    expect(config.imap.listen).toEqual([
      { host: '127.0.0.1', port: 1143 },
      { host: '::1', port: 1143, optional: true },
    ]);
    expect(config.smtp.listen).toEqual([
      { host: '127.0.0.1', port: 1025 },
      { host: '::1', port: 1025, optional: true },
    ]);
    expect(config.smtp.maxMessageBytes).toBe(35 * 1024 * 1024);
  });

  it('reads the whole contract of ARCHITECTURE.md', () => {
    const ca = path.join(dir, 'ca.pem');
    fs.writeFileSync(ca, 'x');
    const config = load(`
data_dir = "data"
[imap]
listen = ["127.0.0.1:2143"]
[smtp]
listen = ["[::1]:2025"]
max_message_size = "10MB"
[[accounts]]
address = "me@example.org"
name = "Me"
provider = "custom"
poll_interval = "90s"
leave_on_server = true
delete_on_server_after = "14d"
delete_on_expunge = true
[accounts.auth]
method = "password"
password_file = "me.secret"
[accounts.pop3]
host = "pop.example.org"
port = 1995
tls = "implicit"
ca_file = "ca.pem"
[accounts.smtp]
host = "smtp.example.org"
port = 2587
tls = "starttls"
ca_file = "${ca}"
`).run();
    expect(config.dataDir).toBe(path.join(dir, 'data'));
    expect(config.smtp.maxMessageBytes).toBe(10 * 1024 * 1024);
    const [account] = config.accounts;
    expect(account).toMatchObject({ name: 'Me', pollIntervalMs: 90_000, deleteOnServerAfterMs: 14 * 86_400_000, deleteOnExpunge: true });
    expect(account.auth).toEqual({ method: 'password', user: 'me@example.org', passwordFile: path.join(dir, 'me.secret') });
    expect(account.pop3).toMatchObject({ host: 'pop.example.org', port: 1995, caFile: ca });
    expect(account.smtp).toMatchObject({ host: 'smtp.example.org', port: 2587, tls: 'starttls' });
  });

  const bad: Array<[string, string, string]> = [
    [
      'a port out of range',
      '[[accounts]]\naddress = "a@hotmail.com"\n[accounts.pop3]\nport = 70000\n',
      'accounts[0].pop3.port: expected a number from 1 to 65535',
    ],
    [
      'a port that is text',
      '[[accounts]]\naddress = "a@hotmail.com"\n[accounts.smtp]\nport = "587"\n',
      'accounts[0].smtp.port: expected a number from 1 to 65535',
    ],
    [
      'a typo in a key',
      '[[accounts]]\naddress = "a@hotmail.com"\npoll_intervall = "2m"\n',
      'accounts[0].poll_intervall: unknown key in [[accounts]] (did you mean poll_interval?)',
    ],
    [
      'an unknown table',
      '[imapd]\nlisten = []\n[[accounts]]\naddress = "a@hotmail.com"\n',
      'imapd: unknown key at the top of the file (did you mean imap?)',
    ],
    ['no accounts', 'data_dir = "/tmp/x"\n', 'accounts: is required'],
    ['an account without address', '[[accounts]]\nname = "x"\n', 'accounts[0].address: is required'],
    ['a bad address', '[[accounts]]\naddress = "not-an-address"\n', 'accounts[0].address: expected an e-mail address like you@hotmail.com'],
    [
      'a bad duration',
      '[[accounts]]\naddress = "a@hotmail.com"\npoll_interval = "soon"\n',
      'accounts[0].poll_interval: expected a duration like "90s", "2m", "1h" or "14d"',
    ],
    [
      'a bad size',
      '[smtp]\nmax_message_size = "big"\n[[accounts]]\naddress = "a@hotmail.com"\n',
      'smtp.max_message_size: expected a size like "35MB" or "512KB"',
    ],
    [
      'a bad tls mode',
      '[[accounts]]\naddress = "a@hotmail.com"\n[accounts.pop3]\ntls = "ssl"\n',
      'accounts[0].pop3.tls: expected "implicit", "starttls" or "none"',
    ],
    [
      'plaintext to a remote host',
      '[[accounts]]\naddress = "a@hotmail.com"\n[accounts.pop3]\ntls = "none"\n',
      'accounts[0].pop3.tls: "none" is only allowed for a loopback host (127.0.0.1, ::1, localhost); use "implicit" or "starttls"',
    ],
    [
      'a bad listen address',
      '[imap]\nlisten = ["localhost"]\n[[accounts]]\naddress = "a@hotmail.com"\n',
      'imap.listen[0]: expected an address like "127.0.0.1:1143" or "[::1]:1143"',
    ],
    [
      'custom without hosts',
      '[[accounts]]\naddress = "a@example.org"\nprovider = "custom"\n',
      'accounts[0].pop3.host: is required for provider "custom"',
    ],
    [
      'an unknown provider',
      '[[accounts]]\naddress = "a@example.org"\nprovider = "yahooo"\n',
      'accounts[0].provider: unknown provider "yahooo" (known: outlook, gmx, webde, custom)',
    ],
    [
      'http authority for a remote host',
      '[[accounts]]\naddress = "a@hotmail.com"\n[accounts.auth]\nauthority = "http://login.example.org/x"\n',
      'accounts[0].auth.authority: must be https (http is allowed only for a test server on 127.0.0.1)',
    ],
    [
      'a duplicated account',
      '[[accounts]]\naddress = "a@hotmail.com"\n[[accounts]]\naddress = "A@hotmail.com"\n',
      'accounts[1].address: a@hotmail.com is listed twice',
    ],
    [
      'a missing CA file',
      '[[accounts]]\naddress = "a@hotmail.com"\n[accounts.pop3]\nca_file = "/nonexistent/ca.pem"\n',
      'accounts[0].pop3.ca_file: /nonexistent/ca.pem does not exist',
    ],
  ];

  it.each(bad)('refuses %s with one clear line', (_name, toml, expected) => {
    expect(problemsOf(toml)).toContain(expected);
  });

  it('reports TOML syntax errors with line and column, and names the file', () => {
    const { file, run } = load('[[accounts]]\naddress = "a@hotmail.com\n');
    try {
      run();
      throw new Error('expected a failure');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems[0]).toMatch(/^line 2, column \d+ \(`address = "a@hotmail.com`\): /);
      expect((err as ConfigError).message.startsWith(`${file}: line 2`)).toBe(true);
      expect((err as ConfigError).message).not.toMatch(/\n\s+at /);
    }
  });

  it.each([
    [
      'a value without quotes',
      '[[accounts]]\naddress = you@hotmail.com\n',
      'line 2, column 11 (`address = you@hotmail.com`): this value is not valid: text must be in double quotes, like address = "you@hotmail.com"',
    ],
    [
      'a missing closing quote',
      '[[accounts]]\naddress = "a@hotmail.com\n',
      'line 2, column 25 (`address = "a@hotmail.com`): a text value is missing its closing quote (")',
    ],
    [
      'a second [accounts] with one bracket',
      '[[accounts]]\naddress = "a@hotmail.com"\n[accounts]\naddress = "b@hotmail.com"\n',
      'each account starts with [[accounts]] (two brackets)',
    ],
    [
      'two values on one line',
      '[[accounts]]\naddress = "a@hotmail.com" name = "A"\n',
      'something follows the value on the same line: one key = value per line (a comment starts with #)',
    ],
    ['an unclosed table name', '[imap\nlisten = []\n', 'a [table] name must end with ] on the same line'],
  ])('says a TOML syntax error in words: %s', (_name, toml, expected) => {
    const problems = problemsOf(toml);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
    expect(problems[0]).toMatch(/^line \d+, column \d+/);
  });

  it('suggests the key meant, and does not also say the real one is missing', () => {
    expect(problemsOf('[[accounts]]\nadress = "a@hotmail.com"\n')).toEqual([
      'accounts[0].adress: unknown key in [[accounts]] (did you mean address?)',
    ]);
    expect(problemsOf('[[accounts]]\naddress = "a@hotmail.com"\n[accounts.auth]\nclientid = "x"\n')).toEqual([
      'accounts[0].auth.clientid: unknown key in [accounts.auth] (did you mean client_id?)',
    ]);
    expect(problemsOf('[[accounts]]\naddress = "a@hotmail.com"\nzzzzzz = 1\n')[0]).toMatch(
      /^accounts\[0\]\.zzzzzz: unknown key in \[\[accounts\]\] \(known here: address, name, /,
    );
  });

  it('says so when the file does not exist', () => {
    expect(() => loadConfig(path.join(dir, 'missing.toml'))).toThrow(/no such file \(run `hotbridge setup` to create one\)/);
  });

  it('defaults a custom provider to POP3 over TLS on 995 and SMTP with STARTTLS on 587', () => {
    const config = load(
      '[[accounts]]\naddress = "a@example.org"\nprovider = "custom"\n[accounts.pop3]\nhost = "pop.example.org"\n[accounts.smtp]\nhost = "smtp.example.org"\n',
    ).run();
    expect(config.accounts[0].pop3).toMatchObject({ tls: 'implicit', port: 995 });
    expect(config.accounts[0].smtp).toMatchObject({ tls: 'starttls', port: 587 });
  });

  it('parses durations and sizes', () => {
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('14d')).toBe(14 * 86_400_000);
    expect(parseDuration(30)).toBe(30_000);
    expect(parseDuration('2 minutes')).toBeUndefined();
    expect(parseSize('35MB')).toBe(35 * 1024 * 1024);
    expect(parseSize('512kb')).toBe(512 * 1024);
    expect(parseSize(1000)).toBe(1000);
    expect(parseSize('1TB')).toBeUndefined();
  });
});
