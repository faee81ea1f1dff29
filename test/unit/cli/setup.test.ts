// The guided set-up, driven with scripted answers: the config it writes (checked by the real loader), the
// files and their modes, the local password (checked with the real scrypt store), the texts that explain
// each choice, adding and removing accounts, and its refusals (no terminal, answers that stop early). The
// sign-in and the proof against real servers are in test/integration/setup-e2e.test.ts; the terminal
// itself (a pty) in test/integration/setup-pty.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { parse as parseToml } from 'smol-toml';
import { afterAll, describe, expect, it, vi } from 'vitest';

// The data dir defaults to the platform's (env-paths reads XDG_DATA_HOME when first imported): a temp dir.
const home = vi.hoisted(() => {
  // vi.hoisted runs before the imports, so the built-in modules are fetched here directly.
  const { join } = process.getBuiltinModule('node:path');
  const dir = process.getBuiltinModule('node:fs').mkdtempSync(join(process.getBuiltinModule('node:os').tmpdir(), 'hotbridge-setup-'));
  process.env.XDG_DATA_HOME = join(dir, 'data-home');
  return dir as string;
});

import { runSetup } from '../../../src/cli/commands/setup.js';
import { UserError } from '../../../src/cli/config-option.js';
import { configText, tomlString } from '../../../src/cli/setup/config-text.js';
import { generateLocalPassword } from '../../../src/cli/setup/local-password.js';
import { loadConfig, resolveConfig } from '../../../src/config/load.js';
import { deletionWords } from '../../../src/config/deletion-text.js';
import { PRESETS, THUNDERBIRD_CLIENT_ID } from '../../../src/config/presets.js';
import type { Availability } from '../../../src/cli/service/availability.js';
import { clientIdProblem, SIGN_IN_CHOICE_TEXT } from '../../../src/cli/setup/sign-in-choice.js';
import { configSchema } from '../../../src/config/schema.js';
import { LocalPasswords } from '../../../src/runtime/local-passwords.js';

afterAll(() => {
  fs.rmSync(home, { recursive: true, force: true });
});

let counter = 0;
function configPath(): string {
  counter += 1;
  return path.join(home, `case-${counter}`, 'config.toml');
}

/** Runs setup with the answers (one per line) and returns what it printed. */
async function setup(
  config: string,
  answers: string[],
  extra: { serviceManager?: Availability } = {},
): Promise<{ code: number; text: string }> {
  const input = new PassThrough();
  input.end(answers.map((answer) => `${answer}\n`).join(''));
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const code = await runSetup({ config, out, input, serviceManager: SYSTEMD, ...extra });
  return { code, text };
}

const mode = (file: string) => fs.statSync(file).mode & 0o777;

/** The local password as shown in the settings at the end. */
function shownPassword(text: string): string {
  const match = /Password: +([a-z]{4}-[a-z]{4}-[a-z]{4}-[a-z]{4})\n/.exec(text);
  if (!match) throw new Error(`no local password in:\n${text}`);
  return match[1];
}

const SYSTEMD: Availability = { available: true, manager: 'systemd' };

describe('hotbridge setup', () => {
  it('Outlook.com, own application ID: preset servers, POP help, both copy choices as the code does them, GUID checked', async () => {
    const file = configPath();
    const { code, text } = await setup(file, [
      'Ann Example', // name
      'Ann.Example@Hotmail.com', // address
      '', // keep a copy: default yes
      '', // daily backups: default yes
      '', // the sign-in choice has no default: asked again
      '1', // own application ID
      'my-own-app-id', // not a GUID: refused with the reason
      '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f', // 31 digits
      '0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0', // a GUID (upper case is fine)
      'n', // sign in now
      '', // certificate: not now
      'n', // service
    ]);
    expect(code).toBe(0);
    expect(text).toContain('That is Outlook.com / Hotmail: hotbridge knows its servers.');
    expect(text).toContain('Incoming: POP3 outlook.office365.com, port 995 (TLS)');
    expect(text).toContain('Outgoing: SMTP smtp-mail.outlook.com, port 587 (STARTTLS)');
    expect(text).toContain(PRESETS.outlook.popHelp!);
    expect(text).toContain(`  ${deletionWords('Outlook.com').keep}\n`);
    expect(text).toContain(`  ${deletionWords('Outlook.com').move}\n`);
    for (const line of SIGN_IN_CHOICE_TEXT) expect(text).toContain(line);
    expect(text).toContain('type 1, 2 or 3 (there is no default here: it is your choice)');
    expect(text).toContain(
      'an application ID has only the digits 0-9 and the letters a-f (this has "myownpi"); it looks like 00000000-0000-0000-0000-000000000000',
    );
    expect(text).toContain('an application ID has 32 digits and letters a-f (this has 31)');
    expect(text).toContain(`Sign in later: hotbridge login ann.example@hotmail.com --config ${file}`);

    const config = loadConfig(file);
    expect(config.accounts).toHaveLength(1);
    const [account] = config.accounts;
    expect(account).toMatchObject({ address: 'ann.example@hotmail.com', name: 'Ann Example', provider: 'outlook', leaveOnServer: true });
    expect(account.auth).toMatchObject({
      method: 'oauth2',
      clientId: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
      authority: 'https://login.microsoftonline.com/consumers',
    });
    // Daily backups, the last seven, in the data dir unless told otherwise (issue 12).
    expect(config.backup).toEqual({ everyMs: 24 * 3600_000, keep: 7, dir: path.join(config.dataDir, 'backups') });
    expect(account.pop3).toMatchObject({ host: 'outlook.office365.com', port: 995, tls: 'implicit' });
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
    const { code, text } = await setup(file, ['Hal', 'hal@hotmail.com', '', 'n', '3', 'y', 'n']);
    expect(code).toBe(0);
    const dataDir = loadConfig(file).dataDir;
    expect(loadConfig(file).backup).toBeUndefined(); // backups declined
    expect(mode(path.join(dataDir, 'tls', 'server.key'))).toBe(0o600);
    expect(mode(path.join(dataDir, 'tls', 'ca.key'))).toBe(0o600);
    expect(text).toMatch(/Made it \(valid until \d{4}-\d\d-\d\d\)\. For a phone: hotbridge cert export --config /);
    expect(text).toContain('on the ports above hotbridge offers STARTTLS/STLS now.');
  });

  it("Outlook.com with Thunderbird's application ID: only when chosen, named as Thunderbird's, said in the config too", async () => {
    const file = configPath();
    const { code, text } = await setup(file, ['Bea', 'bea@outlook.com', 'n', 'n', '2', 'n', '', 'n']);
    expect(code).toBe(0);
    expect(text).toContain(`2. Thunderbird's application ID (${THUNDERBIRD_CLIENT_ID})`);
    expect(text).toContain('Its makers ask other programs not to reuse it, and Microsoft may stop it at any time;');
    expect(text).toContain('hotbridge uses it only because you choose it here.');
    const written = fs.readFileSync(file, 'utf8');
    expect(written).toContain(`client_id = "${THUNDERBIRD_CLIENT_ID}"\n# ^ Thunderbird's application ID, chosen in hotbridge setup.`);
    expect(loadConfig(file).accounts[0]).toMatchObject({ leaveOnServer: false, auth: { clientId: THUNDERBIRD_CLIENT_ID } });
  });

  it('leaves the application ID for later when asked to, and says how', async () => {
    const file = configPath();
    const { code, text } = await setup(file, ['', 'cy@live.com', '', 'n', '3', '', 'n']);
    expect(code).toBe(0);
    expect(text).toContain(`Sign in later, once client_id is in ${file}: hotbridge login cy@live.com --config ${file}`);
    const config = loadConfig(file);
    expect(config.accounts[0].auth).toMatchObject({ method: 'oauth2', clientId: undefined });
    expect(config.accounts[0].name).toBeUndefined();
    expect(fs.readFileSync(file, 'utf8')).toContain(
      '# client_id = "00000000-0000-0000-0000-000000000000"   # add it here, then run: hotbridge login cy@live.com',
    );
  });

  it('offers Microsoft 365 for a domain of its own (tenant "organizations")', async () => {
    const file = configPath();
    const { code } = await setup(file, [
      'Eve',
      'eve@contoso.example',
      'y',
      '',
      'n',
      '1',
      '11111111-2222-3333-4444-555555555555',
      'n',
      '',
      'n',
    ]);
    expect(code).toBe(0);
    const [account] = loadConfig(file).accounts;
    expect(account.provider).toBe('outlook');
    expect(account.auth).toMatchObject({
      method: 'oauth2',
      tenant: 'organizations',
      authority: 'https://login.microsoftonline.com/organizations',
    });
  });

  it('without a service manager it says so and does not offer one', async () => {
    const file = configPath();
    const { code, text } = await setup(file, ['', 'cy2@live.com', '', 'n', '3', ''], {
      serviceManager: { available: false, reason: 'this system does not run systemd (no /run/systemd/system)' },
    });
    expect(code).toBe(0);
    expect(text).toContain('hotbridge cannot start by itself on this computer: this system does not run systemd (no /run/systemd/system).');
    expect(text).toContain(`Start it when you want mail: hotbridge run --config ${file}`);
    expect(text).not.toContain('Start hotbridge by itself');
  });

  it('with a config already: leave it, add a second account beside the first, remove one, start over', async () => {
    const file = configPath();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const mine = '# mine\n[[accounts]]\naddress = "old@hotmail.com"\n\n[imap]\nlisten = ["127.0.0.1:1143"]\n';
    fs.writeFileSync(file, mine);
    const kept = await setup(file, ['']);
    expect(kept.code).toBe(0);
    expect(kept.text).toContain(`There is a config already: ${file} (accounts: old@hotmail.com)`);
    expect(kept.text).toContain(
      '  1. Add another account\n  2. Remove an account\n  3. Start over with a new config\n  4. Leave it as it is\n',
    );
    expect(kept.text).toContain('Nothing was changed.');
    expect(fs.readFileSync(file, 'utf8')).toBe(mine);

    // Add: the user's text stays as it was, the new account follows it; the same address is refused.
    const added = await setup(file, ['1', 'Fay', 'old@hotmail.com', 'fay@live.com', '', '3']);
    expect(added.code).toBe(0);
    expect(added.text).toContain('old@hotmail.com is set up already');
    expect(added.text).toContain('hotbridge is not running now; it picks the change up when it starts.');
    const both = fs.readFileSync(file, 'utf8');
    expect(both.startsWith(mine)).toBe(true);
    expect(loadConfig(file).accounts.map((a) => a.address)).toEqual(['old@hotmail.com', 'fay@live.com']);
    expect(await new LocalPasswords(loadConfig(file).dataDir).verify('fay@live.com', shownPassword(added.text))).toBe(true);

    // Remove the first: [imap] (after it in the file) stays, and so does the second account.
    const removed = await setup(file, ['2', '1', 'y']);
    expect(removed.code).toBe(0);
    expect(removed.text).toContain(`Removed old@hotmail.com from ${file}.`);
    const config = loadConfig(file);
    expect(config.accounts.map((a) => a.address)).toEqual(['fay@live.com']);
    expect(config.imap.listen).toEqual([{ host: '127.0.0.1', port: 1143 }]);
    expect(fs.readFileSync(file, 'utf8')).toContain('# mine');

    const replaced = await setup(file, ['3', 'y', 'Gil', 'gil@hotmail.com', '', 'n', '3', '', 'n']);
    expect(replaced.code).toBe(0);
    expect(loadConfig(file).accounts.map((a) => a.address)).toEqual(['gil@hotmail.com']);
  });

  it('stops with a clear error when the answers run out, leaving no config behind', async () => {
    const file = configPath();
    await expect(setup(file, ['Gus', 'gus@hotmail.com'])).rejects.toThrow(
      new UserError('set-up stopped: the input ended before all questions were answered'),
    );
    expect(fs.existsSync(file)).toBe(false);
  });

  it('refuses to run without a terminal when no answers are given', async () => {
    expect(process.stdin.isTTY).not.toBe(true);
    await expect(runSetup({ config: configPath(), out: new PassThrough() })).rejects.toThrow(/needs a terminal/);
  });
});

describe('application IDs', () => {
  it('are GUIDs; anything else is refused with the reason', () => {
    expect(clientIdProblem('9e5f94bc-e8a4-4e73-b8be-63364c29d753')).toBeUndefined();
    expect(clientIdProblem('{9E5F94BC-E8A4-4E73-B8BE-63364C29D753}')).toBeUndefined();
    expect(clientIdProblem('')).toMatch(/needed here/);
    expect(clientIdProblem('9e5f94bc e8a4')).toMatch(/no spaces/);
    expect(clientIdProblem('9e5f94bce8a44e73b8be63364c29d753')).toMatch(/grouped 8-4-4-4-12/);
    expect(clientIdProblem('9e5f94bc-e8a4-4e73-b8be-63364c29d75')).toMatch(/32 digits .* \(this has 31\)/);
    expect(clientIdProblem('client-id-from-portal')).toMatch(/only the digits 0-9 and the letters a-f/);
  });
});

describe('the config text', () => {
  it('escapes every string so that any name parses back unchanged', () => {
    const name = 'Zoë "Z" O\'Neil \\ tab\t del\u007f';
    const text = configText({
      name,
      address: 'z@gmx.net',
      provider: 'gmx',
      leaveOnServer: true,
      auth: { method: 'password', passwordFile: 'z@gmx.net.secret' },
      dataDir: '/var/lib/hotbridge',
    });
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
  return Object.entries(def.shape as Record<string, unknown>).flatMap(([key, value]) => [
    `${prefix}${key}`,
    ...schemaKeys(value, `${prefix}${key}.`),
  ]);
}

describe('the config reference (docs/config.md)', () => {
  const reference = fs.readFileSync(new URL('../../../docs/config.md', import.meta.url), 'utf8');

  it('documents every key the loader accepts', () => {
    const keys = schemaKeys(configSchema);
    expect(keys).toContain('accounts.pop3.batch_size');
    const missing = keys.filter(
      (key) => !reference.includes(`\`${key.split('.').at(-1)}\``) && !reference.includes(`[${key}]`) && !reference.includes(`[[${key}]]`),
    );
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
