// The guided set-up, driven with scripted answers: the config it writes (checked by the real loader), the
// files and their modes, the local password (checked with the real scrypt store), the texts that explain
// each choice, the sign-in through the real device-code flow against the local identity server, and its
// refusals (no terminal, an existing config, answers that stop early).
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { parse as parseToml } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// The data dir defaults to the platform's (env-paths reads XDG_DATA_HOME when first imported): a temp dir.
// vi.hoisted runs before the imports are bound, so it can only require().
/* eslint-disable @typescript-eslint/no-require-imports */
const home = vi.hoisted(() => {
  const dir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'hotbridge-setup-'));
  process.env.XDG_DATA_HOME = require('node:path').join(dir, 'data-home');
  return dir as string;
});
/* eslint-enable @typescript-eslint/no-require-imports */

import { runSetup } from '../../../src/cli/commands/setup.js';
import { UserError } from '../../../src/cli/config-option.js';
import { configText, tomlString } from '../../../src/cli/setup/config-text.js';
import { generateLocalPassword } from '../../../src/cli/setup/local-password.js';
import { loadConfig, resolveConfig } from '../../../src/config/load.js';
import { PRESETS } from '../../../src/config/presets.js';
import { configSchema } from '../../../src/config/schema.js';
import { LocalPasswords } from '../../../src/runtime/local-passwords.js';
import { TokenStore } from '../../../src/upstream/oauth/token-store.js';
import { startIdentityServer, type IdentityServer } from '../../helpers/identity-server.js';

let idp: IdentityServer;
beforeAll(async () => {
  idp = await startIdentityServer({ interval: 1, clientId: 'my-own-app-id' });
});
afterAll(async () => {
  await idp?.close();
  fs.rmSync(home, { recursive: true, force: true });
});

let counter = 0;
function configPath(): string {
  counter += 1;
  return path.join(home, `case-${counter}`, 'config.toml');
}

/** Runs setup with the answers (one per line) and returns what it printed. */
async function setup(config: string, answers: string[], extra: { fetch?: typeof fetch } = {}): Promise<{ code: number; text: string }> {
  const input = new PassThrough();
  input.end(answers.map((answer) => `${answer}\n`).join(''));
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const code = await runSetup({ config, out, input, ...extra });
  return { code, text };
}

const mode = (file: string) => fs.statSync(file).mode & 0o777;

/** The local password as shown in the settings at the end. */
function shownPassword(text: string): string {
  const match = /Password: +([a-z]{4}-[a-z]{4}-[a-z]{4}-[a-z]{4})\n/.exec(text);
  if (!match) throw new Error(`no local password in:\n${text}`);
  return match[1];
}

describe('hotbridge setup', () => {
  it('sets up an Outlook.com account: preset servers, POP help, both copy choices explained, client id, no sign-in yet', async () => {
    const file = configPath();
    const { code, text } = await setup(file, [
      'Ann Example', // name
      'Ann.Example@Hotmail.com', // address
      '', // keep a copy: default yes
      '', // daily backups: default yes
      'my-own-app-id', // client id
      'n', // sign in now
      'n', // certificate
      'n', // service
    ]);
    expect(code).toBe(0);
    expect(text).toContain('That is Outlook.com / Hotmail: hotbridge knows its servers.');
    expect(text).toContain('Incoming: POP3 outlook.office365.com, port 995 (TLS)');
    expect(text).toContain('Outgoing: SMTP smtp-mail.outlook.com, port 587 (STARTTLS)');
    expect(text).toContain(PRESETS.outlook.popHelp!);
    expect(text).toContain('Yes: the mail stays there too, so webmail and your phone still show it');
    expect(text).toContain('No:  the mail moves to this computer; Outlook.com deletes it once it is safely here.');
    expect(text).toMatch(/can no\s+longer easily register one/);
    expect(text).toContain("it never uses another program's ID unless you choose that");
    expect(text).toContain(`Sign in later: hotbridge login ann.example@hotmail.com --config ${file}`);

    const config = loadConfig(file);
    expect(config.accounts).toHaveLength(1);
    const [account] = config.accounts;
    expect(account).toMatchObject({ address: 'ann.example@hotmail.com', name: 'Ann Example', provider: 'outlook', leaveOnServer: true });
    expect(account.auth).toMatchObject({ method: 'oauth2', clientId: 'my-own-app-id', authority: 'https://login.microsoftonline.com/consumers' });
    expect(account.pop3).toMatchObject({ host: 'outlook.office365.com', port: 995, tls: 'implicit' });
    // Daily backups, the last seven, in the data dir unless told otherwise (issue 12).
    expect(config.backup).toEqual({ everyMs: 24 * 3600_000, keep: 7, dir: path.join(config.dataDir, 'backups') });
    expect(mode(file)).toBe(0o600);
    expect(mode(path.dirname(file))).toBe(0o700);

    // The local password: shown once, readable, and the one the store accepts.
    const password = shownPassword(text);
    expect(await new LocalPasswords(config.dataDir).verify('ann.example@hotmail.com', password)).toBe(true);
    expect(config.dataDir).toBe(path.join(home, 'data-home', 'hotbridge'));

    // The exact settings for the mail program.
    expect(text).toContain('  Your name:              Ann Example\n');
    expect(text).toContain('  E-mail address:         ann.example@hotmail.com\n');
    expect(text).toContain('  Incoming mail server:   IMAP (not POP3)\n      server localhost, port 1143, no SSL/TLS\n');
    expect(text).toContain('  Outgoing mail server:   SMTP\n      server localhost, port 1025, no SSL/TLS\n');
    expect(text).toContain('  User name:              ann.example@hotmail.com\n');
    expect(text).toContain('"My outgoing server requires authentication": yes, with the same user name and password.');
    expect(text.indexOf(password)).toBe(text.lastIndexOf(password));
    // POP3 too, with "leave a copy on server" explained (that server is this computer now).
    expect(text).toContain('  Incoming mail server:   POP3, server localhost, port 1110, no SSL/TLS\n');
    expect(text).toContain('"Leave a copy of messages on server": the server is now this computer.');
    expect(text).toContain('Any time later: hotbridge cert --config');
  });

  it('makes the local certificate when asked (keys 0600), and says where SSL is offered', async () => {
    const file = configPath();
    const { code, text } = await setup(file, ['Hal', 'hal@hotmail.com', '', '', '', 'y', 'n']);
    expect(code).toBe(0);
    const dataDir = loadConfig(file).dataDir;
    expect(mode(path.join(dataDir, 'tls', 'server.key'))).toBe(0o600);
    expect(mode(path.join(dataDir, 'tls', 'ca.key'))).toBe(0o600);
    expect(text).toMatch(/Made it \(valid until \d{4}-\d\d-\d\d\)\. For a phone: hotbridge cert export --config /);
    expect(text).toContain('on the ports above hotbridge offers STARTTLS/STLS now.');
  });

  it('runs the Microsoft sign-in (device code) when asked, and the tokens land in the data dir', async () => {
    const file = configPath();
    idp.scriptDeviceFlow({ user: 'bea@outlook.com', steps: ['approve'] });
    // The config names Microsoft's authority; the sign-in's HTTP goes to the local identity server instead.
    const toLocal: typeof fetch = (url, init) => fetch(String(url).replace('https://login.microsoftonline.com/consumers', idp.authority), init);
    const { code, text } = await setup(file, ['Bea', 'bea@outlook.com', 'n', '', idp.clientId, 'y', 'n', 'n'], { fetch: toLocal });
    expect(code).toBe(0);
    expect(text).toMatch(/Enter this code:\s+\S+/);
    expect(text).toContain('Signed in: bea@outlook.com.');
    const config = loadConfig(file);
    expect(config.accounts[0].leaveOnServer).toBe(false);
    const tokens = new TokenStore(config.dataDir).load('bea@outlook.com');
    expect(tokens?.refreshToken).toBeTruthy();
    for (const secret of idp.allSecrets()) expect(text).not.toContain(secret);
  });

  it('leaves client_id for later when none is given, and says how', async () => {
    const file = configPath();
    const { code, text } = await setup(file, ['', 'cy@live.com', '', '', '', 'n', 'n']);
    expect(code).toBe(0);
    expect(text).toContain(`Sign in later, once client_id is in ${file}: hotbridge login cy@live.com --config ${file}`);
    const config = loadConfig(file);
    expect(config.accounts[0].auth).toMatchObject({ method: 'oauth2', clientId: undefined });
    expect(config.accounts[0].name).toBeUndefined();
    expect(fs.readFileSync(file, 'utf8')).toContain('# client_id = "00000000-0000-0000-0000-000000000000"   # add it here, then run: hotbridge login cy@live.com');
  });

  it('asks for the servers of an unknown provider and keeps its password in a 0600 file beside the config', async () => {
    const file = configPath();
    const { code, text } = await setup(file, [
      'Dee',
      'not-an-address', // asked again
      'dee@example.org',
      'n', // not at Microsoft
      'pop.example.org',
      '', // POP3 port 995 -> implicit TLS
      'mail.example.org',
      '2525', // an unusual SMTP port: asked how TLS starts
      'starttls',
      'n', // no copy on the server
      'n', // no backups
      'provider pass word', // spaces are part of a password
      'n', // certificate
      'n', // service
    ]);
    expect(code).toBe(0);
    expect(text).toContain('an address like you@hotmail.com, please');
    expect(text).toContain('hotbridge does not know the servers of example.org.');
    const config = loadConfig(file);
    const [account] = config.accounts;
    expect(account.provider).toBe('custom');
    expect(account.pop3).toMatchObject({ host: 'pop.example.org', port: 995, tls: 'implicit' });
    expect(account.smtp).toMatchObject({ host: 'mail.example.org', port: 2525, tls: 'starttls' });
    expect(account.leaveOnServer).toBe(false);
    expect(config.backup).toBeUndefined();
    const secret = path.join(path.dirname(file), 'dee@example.org.secret');
    expect(account.auth).toEqual({ method: 'password', user: 'dee@example.org', passwordFile: secret });
    expect(fs.readFileSync(secret, 'utf8')).toBe('provider pass word\n');
    expect(mode(secret)).toBe(0o600);
    // Relative in the file, so the system service's credentials (named after the file) fit too.
    expect(fs.readFileSync(file, 'utf8')).toContain('password_file = "dee@example.org.secret"');
    expect(text).not.toContain('provider pass word');
  });

  it('offers Microsoft 365 for a domain of its own (tenant "organizations")', async () => {
    const file = configPath();
    const { code } = await setup(file, ['Eve', 'eve@contoso.example', 'y', '', '', 'app-id', 'n', 'n', 'n']);
    expect(code).toBe(0);
    const [account] = loadConfig(file).accounts;
    expect(account.provider).toBe('outlook');
    expect(account.auth).toMatchObject({ method: 'oauth2', tenant: 'organizations', authority: 'https://login.microsoftonline.com/organizations' });
  });

  it('does not replace an existing config without a yes', async () => {
    const file = configPath();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '# mine\n[[accounts]]\naddress = "old@hotmail.com"\n');
    const kept = await setup(file, ['']);
    expect(kept.code).toBe(0);
    expect(kept.text).toContain(`There is a config already: ${file}`);
    expect(kept.text).toContain('Nothing was changed.');
    expect(fs.readFileSync(file, 'utf8')).toBe('# mine\n[[accounts]]\naddress = "old@hotmail.com"\n');

    const replaced = await setup(file, ['y', 'Fay', 'fay@hotmail.com', '', '', '', 'n', 'n']);
    expect(replaced.code).toBe(0);
    expect(loadConfig(file).accounts[0].address).toBe('fay@hotmail.com');
  });

  it('stops with a clear error when the answers run out, leaving no config behind', async () => {
    const file = configPath();
    await expect(setup(file, ['Gus', 'gus@hotmail.com'])).rejects.toThrow(new UserError('set-up stopped: the input ended before all questions were answered'));
    expect(fs.existsSync(file)).toBe(false);
  });

  it('refuses to run without a terminal when no answers are given', async () => {
    expect(process.stdin.isTTY).not.toBe(true);
    await expect(runSetup({ config: configPath(), out: new PassThrough() })).rejects.toThrow(/needs a terminal/);
  });
});

describe('the config text', () => {
  it('escapes every string so that any name parses back unchanged', () => {
    const name = 'Zoë "Z" O\'Neil \\ tab\t del\u007f';
    const text = configText({ name, address: 'z@gmx.net', provider: 'gmx', leaveOnServer: true, auth: { method: 'password', passwordFile: 'z@gmx.net.secret' }, dataDir: '/var/lib/hotbridge' });
    const document = parseToml(text) as { accounts: Array<{ name: string }> };
    expect(document.accounts[0].name).toBe(name);
    const config = resolveConfig(document, '/etc/hotbridge/config.toml');
    expect(config.dataDir).toBe('/var/lib/hotbridge');
    expect(config.accounts[0].auth).toMatchObject({ passwordFile: '/etc/hotbridge/z@gmx.net.secret' });
    expect(tomlString('a\u007fb')).toBe('"a\\u007Fb"');
  });
});

describe('local passwords', () => {
  it('are four groups of four easy letters, different every time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const password = generateLocalPassword();
      expect(password).toMatch(/^[abcdefghijkmnpqrstuvwxyz]{4}(-[abcdefghijkmnpqrstuvwxyz]{4}){3}$/);
      seen.add(password);
    }
    expect(seen.size).toBe(200);
  });
});

/** Every key path of the zod config schema (`accounts.pop3.ca_file`), walking objects, arrays and optionals. */
function schemaKeys(schema: unknown, prefix = ''): string[] {
  // zod 4 keeps the structure in `_zod.def`; its public types do not expose the walk, hence the casts.
  const def = (schema as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  if (def.type === 'optional' || def.type === 'nullable' || def.type === 'default') return schemaKeys(def.innerType, prefix);
  if (def.type === 'array') return schemaKeys(def.element, prefix);
  if (def.type !== 'object') return [];
  return Object.entries(def.shape as Record<string, unknown>).flatMap(([key, value]) => [`${prefix}${key}`, ...schemaKeys(value, `${prefix}${key}.`)]);
}

describe('the config reference (docs/config.md)', () => {
  const reference = fs.readFileSync(new URL('../../../docs/config.md', import.meta.url), 'utf8');

  it('documents every key the loader accepts', () => {
    const keys = schemaKeys(configSchema);
    expect(keys).toContain('accounts.pop3.batch_size');
    const missing = keys.filter((key) => !reference.includes(`\`${key.split('.').at(-1)}\``) && !reference.includes(`[${key}]`) && !reference.includes(`[[${key}]]`));
    expect(missing).toEqual([]);
  });

  it('has an example that the loader accepts', () => {
    const example = /```toml\n([\s\S]*?)```/.exec(reference)?.[1];
    expect(example).toBeDefined();
    fs.mkdirSync(path.join(home, 'reference'), { recursive: true });
    fs.writeFileSync(path.join(home, 'reference', 'you@example.org.secret'), 'x\n');
    const config = resolveConfig(parseToml(example!), path.join(home, 'reference', 'config.toml'));
    expect(config.accounts.map((account) => account.address)).toEqual(['you@hotmail.com', 'you@example.org']);
    expect(config.status.listen).toEqual([{ host: '127.0.0.1', port: 8025 }]);
  });
});
