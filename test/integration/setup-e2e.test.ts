/**
 * Set-up as it proves an account, against real servers: the lab's Dovecot and Postfix stand in for
 * Outlook.com's POP3 and SMTP (XOAUTH2 checked through the lab's introspection endpoint, which the local
 * identity server keeps in step), and for a custom provider with its own CA. The answers Microsoft gives
 * and the lab cannot (POP off at Outlook.com, "SmtpClientAuthentication is disabled for the Mailbox")
 * come from two small fake servers, said where they are used. The sign-in refusals come from the identity
 * server with Entra's AADSTS answers, through `hotbridge login` as a child process.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// Set-up writes no data_dir, so the data dir is the platform's (env-paths reads XDG_DATA_HOME when first
// imported): a temp dir of this file's own.
const dataHome = vi.hoisted(() => {
  // vi.hoisted runs before the imports, so the built-in modules are fetched here directly.
  const fs = process.getBuiltinModule('node:fs');
  const made = fs.mkdtempSync(
    process.getBuiltinModule('node:path').join(process.getBuiltinModule('node:os').tmpdir(), 'hotbridge-setup-e2e-'),
  );
  process.env.XDG_DATA_HOME = made;
  return made as string;
});
import { runSetup } from '../../src/cli/commands/setup.js';
import type { Availability } from '../../src/cli/service/availability.js';
import { loadConfig } from '../../src/config/load.js';
import { TokenStore } from '../../src/upstream/oauth/token-store.js';
import { labUpstreamTables, runCli } from '../helpers/cli.js';
import { startFakeLineServer, type FakeLineServer } from '../helpers/fake-line-server.js';
import { startIdentityServer, type IdentityServer } from '../helpers/identity-server.js';
import { startLab, type Lab } from '../helpers/lab.js';
import { simpleMessage } from '../helpers/messages.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const APP = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const NO_SERVICE: Availability = { available: false, reason: 'this test installs no service' };

let lab: Lab;
let idp: IdentityServer;
let dir: string;
let n = 0;

beforeAll(async () => {
  dir = tempDir();
  idp = await startIdentityServer({
    interval: 1,
    clientId: APP,
    apps: {
      '70000000-0000-0000-0000-000000000002': { personalAccounts: false },
      '70000000-0000-0000-0000-000000007218': { publicClientFlows: false },
      '70000000-0000-0000-0000-000000070000': { mailScopes: false },
      '70000000-0000-0000-0000-000000050020': { tenantUsers: ['someone@contoso.example'] },
    },
  });
  lab = await startLab({ oauth: true, smtp: true });
  idp.linkTo(lab);
}, 120_000);

afterAll(async () => {
  await lab?.stop();
  await idp?.close();
  if (dir) removeDir(dir);
  removeDir(dataHome);
});

async function setup(answers: string[], accountExtra?: string[]): Promise<{ code: number; text: string; file: string }> {
  n += 1;
  const file = path.join(dir, `case-${n}`, 'config.toml');
  const input = new PassThrough();
  input.end(answers.map((answer) => `${answer}\n`).join(''));
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const code = await runSetup({ config: file, out, input, serviceManager: NO_SERVICE, ...(accountExtra ? { accountExtra } : {}) });
  return { code, text, file };
}

/** The lines set-up adds to an Outlook.com account to send it to the identity server and the lab. */
const toLab = (): string[] => [`authority = "${idp.authority}"`, '', ...labUpstreamTables(lab)];

describe('set-up proves the account', () => {
  it('Outlook.com: signs in with the device code, then a POP3 login with STAT and an SMTP AUTH, each a plain line', async () => {
    const user = 'dora@hotmail.com';
    await lab.injectMessage(user, simpleMessage(1));
    idp.scriptDeviceFlow({ user, steps: ['pending', 'approve'] });
    const { code, text, file } = await setup(['Dora', user, '', 'n', '1', APP, 'y', ''] /* no certificate */, toLab());
    expect(code, text).toBe(0);
    expect(text).toMatch(/Enter this code:\s+\S+/);
    expect(text).toContain(`Signed in: ${user}.`);
    expect(text).toContain(
      `Checking that ${user} works (no mail is fetched or sent):\n✓ POP3 login as ${user}\n✓ POP is on at the provider (1 message,`,
    );
    expect(text).toContain(`✓ SMTP login as ${user}\n`);
    expect(text).not.toContain('✗');
    const config = loadConfig(file);
    expect(new TokenStore(config.dataDir).load(user)?.refreshToken).toBeTruthy();
    for (const secret of idp.allSecrets()) expect(text).not.toContain(secret);
    // Nothing was fetched: the message is still the lab's only.
    expect(await lab.maildirCount(user)).toBe(1);
  });

  it('a custom provider with its own CA: TLS found by listening, the CA asked for and checked, a wrong password caught before the config is written', async () => {
    const { user, password } = { user: 'erin@example.test', password: 'erins-provider-password' };
    await lab.addUser(user, password);
    const { code, text, file } = await setup([
      'Erin',
      user,
      'n', // not at Microsoft
      lab.host,
      String(lab.pop3sPort), // an unusual port: set-up listens and hears nothing, so TLS at once
      '', // take that
      '/nonexistent/ca.pem', // the lab's CA is not one this computer trusts: first a file that is not there
      lab.caFile, // then the right one
      lab.host,
      String(lab.smtpPort), // Postfix greets in plain text: STARTTLS
      '',
      lab.caFile,
      '', // keep a copy
      'n', // no daily backups
      'wrong-password',
      'y', // type it again
      password,
      '', // no certificate now
    ]);
    expect(code, text).toBe(0);
    expect(text).toContain(`  ${lab.host}:${lab.pop3sPort} waits for TLS at once.`);
    expect(text).toContain(`  ${lab.host}:${lab.smtpPort} greets in plain text, so it switches to TLS with STARTTLS.`);
    expect(text).toMatch(
      new RegExp(`Does SMTP port ${lab.smtpPort} use "starttls" \\(switch to TLS\\) or "implicit" \\(TLS at once\\)\\? \\[starttls\\]`),
    );
    expect(text).toContain(`✗ The certificate of ${lab.host} is not signed by a certificate authority (CA) this computer trusts.`);
    expect(text).toContain('  Cannot read /nonexistent/ca.pem (ENOENT).');
    expect(text).toMatch(/✓ SMTP 127\.0\.0\.1:\d+: TLSv1\.[23], certificate for .* verified/);
    // The first try, with the wrong password: refused, and nothing written yet.
    const first = text.indexOf('✗ POP3 login as erin@example.test refused');
    expect(first).toBeGreaterThan(0);
    expect(text.indexOf('Saved the config')).toBeGreaterThan(text.lastIndexOf('✓ SMTP login as erin@example.test'));
    expect(text.lastIndexOf('✓ POP3 login as erin@example.test')).toBeGreaterThan(first);
    const config = loadConfig(file);
    const [account] = config.accounts;
    expect(account.pop3).toMatchObject({ host: lab.host, port: lab.pop3sPort, tls: 'implicit', caFile: lab.caFile });
    expect(account.smtp).toMatchObject({ host: lab.host, port: lab.smtpPort, tls: 'starttls', caFile: lab.caFile });
    expect(fs.readFileSync(path.join(path.dirname(file), `${user}.secret`), 'utf8')).toBe(`${password}\n`);
  });

  it('a custom provider: the CA given at once is checked and written, the login proved', async () => {
    const { user, password } = { user: 'fred@example.test', password: 'freds-provider-password' };
    await lab.addUser(user, password);
    const { code, text, file } = await setup([
      '',
      user,
      'n',
      lab.host,
      String(lab.pop3sPort),
      '',
      lab.caFile,
      lab.host,
      String(lab.smtpPort),
      '',
      lab.caFile,
      'n',
      'n',
      password,
      '' /* no certificate */,
    ]);
    expect(code, text).toBe(0);
    expect(text).toMatch(/✓ POP3 127\.0\.0\.1:\d+: TLSv1\.[23], certificate for .* verified/);
    expect(text).toContain(`✓ POP3 login as ${user}\n✓ POP is on at the provider`);
    expect(text).toContain(`✓ SMTP login as ${user}\n`);
    expect(loadConfig(file).accounts[0].pop3.caFile).toBe(lab.caFile);
  });

  it('a provider that refuses the user: said plainly, and the config is written only when asked to', async () => {
    const { user, password } = { user: 'gina@example.test', password: 'ginas-provider-password' };
    await lab.addUser(user, password);
    await lab.setDenied(user, true);
    try {
      const { code, text, file } = await setup([
        '',
        user,
        'n',
        lab.host,
        String(lab.pop3sPort),
        '',
        lab.caFile,
        lab.host,
        String(lab.smtpPort),
        '',
        lab.caFile,
        '',
        'n',
        password,
        'n',
        '' /* no certificate */,
      ]);
      expect(code, text).toBe(0);
      expect(text).toMatch(/✗ POP3 login as gina@example\.test refused: .*\n {4}fix: check the password in .*gina@example\.test\.secret/);
      expect(text).toMatch(/✗ SMTP login as gina@example\.test refused: 535/);
      expect(text).toContain('The config is written as it is; fix what the lines above say, then check with: hotbridge doctor');
      expect(fs.existsSync(file)).toBe(true);
    } finally {
      await lab.setDenied(user, false);
    }
  });
});

/**
 * Exchange Online's answers that no lab server gives: a POP3 server that lets the login in and then says
 * "User is authenticated but not connected" (POP switched off at Outlook.com), and an SMTP server that
 * refuses AUTH with "SmtpClientAuthentication is disabled for the Mailbox" (5.7.139).
 */
async function fakeExchange(): Promise<{ pop3: FakeLineServer; smtp: FakeLineServer }> {
  const pop3 = await startFakeLineServer(({ write }) => {
    write('+OK The Microsoft Exchange POP3 service is ready.\r\n');
    let inAuth = false;
    return (line) => {
      const verb = line.split(' ')[0].toUpperCase();
      if (inAuth) {
        inAuth = false;
        write('+OK User successfully authenticated.\r\n');
      } else if (verb === 'CAPA') write('+OK\r\nTOP\r\nUIDL\r\nSASL PLAIN XOAUTH2\r\nUSER\r\n.\r\n');
      else if (verb === 'AUTH') {
        inAuth = true;
        write('+ \r\n');
      } else if (verb === 'QUIT') write('+OK Microsoft Exchange Server POP3 server signing off.\r\n');
      else write('-ERR User is authenticated but not connected.\r\n');
    };
  });
  const smtp = await startFakeLineServer(({ write }) => {
    write('220 fake.outlook.example Microsoft ESMTP MAIL Service ready\r\n');
    let inAuth = false;
    return (line) => {
      const verb = line.split(' ')[0].toUpperCase();
      if (inAuth || verb === 'AUTH') {
        inAuth = verb === 'AUTH' && line.trim().split(' ').length === 2;
        if (inAuth) write('334 \r\n');
        else
          write(
            '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.\r\n',
          );
      } else if (verb === 'EHLO') write('250-fake.outlook.example Hello\r\n250-SIZE 157286400\r\n250 AUTH LOGIN XOAUTH2\r\n');
      else if (verb === 'QUIT') write('221 2.0.0 Service closing transmission channel\r\n');
      else write('250 OK\r\n');
    };
  });
  return { pop3, smtp };
}

describe("set-up meets Outlook.com's refusals", () => {
  it('says "POP is off at Outlook.com: switch it on at …" and what to do when SMTP AUTH is switched off', async () => {
    const user = 'hal@hotmail.com';
    const fake = await fakeExchange();
    try {
      idp.scriptDeviceFlow({ user });
      const extra = [
        `authority = "${idp.authority}"`,
        '[accounts.pop3]',
        'host = "127.0.0.1"',
        `port = ${fake.pop3.port}`,
        'tls = "none"',
        '[accounts.smtp]',
        'host = "127.0.0.1"',
        `port = ${fake.smtp.port}`,
        'tls = "none"',
      ];
      const { code, text } = await setup(['', user, '', 'n', '1', APP, 'y', ''] /* no certificate */, extra);
      expect(code, text).toBe(0);
      expect(text).toContain(
        `✓ POP3 login as ${user}\n✗ POP is off at Outlook.com (it answered: User is authenticated but not connected.)\n    fix: switch it on at Outlook.com → Settings → Mail → Forwarding and IMAP → "Let devices and apps use POP": Yes, then Save.\n`,
      );
      expect(text).toMatch(
        /✗ SMTP login as hal@hotmail\.com refused: sending by SMTP is switched off for this mailbox \(535 5\.7\.139 .*SmtpClientAuthentication is disabled for the Mailbox.*\)\n {4}fix: receiving works, but Microsoft has sending by SMTP switched off for this mailbox\. A work or school mailbox: ask its admin to allow "Authenticated SMTP"/,
      );
    } finally {
      await fake.pop3.close();
      await fake.smtp.close();
    }
  });
});

describe('sign-in refusals: one line each, naming the error and the fix', () => {
  async function login(clientId: string, user: string, authority = idp.authority): Promise<string> {
    n += 1;
    const file = path.join(dir, `login-${n}.toml`);
    fs.writeFileSync(
      file,
      `data_dir = "data-login-${n}"\n[[accounts]]\naddress = "${user}"\n[accounts.auth]\nclient_id = "${clientId}"\nauthority = "${authority}"\n`,
    );
    idp.scriptDeviceFlow({ user });
    const result = await runCli(['login', user, '--config', file], { timeoutMs: 30_000 });
    expect(result.code, result.stdout + result.stderr).toBe(1);
    return result.stdout + result.stderr;
  }

  const cases: Array<[string, string, string, RegExp]> = [
    [
      'an unknown application',
      '70000000-0000-0000-0000-00000000dead',
      'AADSTS700016',
      /Microsoft does not know the application ID 70000000-0000-0000-0000-00000000dead: copy the "Application \(client\) ID"/,
    ],
    [
      'an application closed to personal accounts',
      '70000000-0000-0000-0000-000000000002',
      'AADSTS70002',
      /the application is not open to personal Microsoft accounts: in its App registration set "Supported account types"/,
    ],
    ['public client flows off', '70000000-0000-0000-0000-000000007218', 'AADSTS7000218', /"Allow public client flows": Yes/],
    [
      'no POP and SMTP permissions',
      '70000000-0000-0000-0000-000000070000',
      'AADSTS70000',
      /API permissions add POP\.AccessAsUser\.All and SMTP\.Send/,
    ],
    [
      'an account of another directory',
      '70000000-0000-0000-0000-000000050020',
      'AADSTS50020',
      /is not an account of the application's directory/,
    ],
  ];

  it.each(cases)('%s', async (_name, clientId, code, fix) => {
    const output = await login(clientId, 'ida@outlook.com');
    const lines = output.split('\n').filter((line) => line.includes(code));
    expect(lines, output).toHaveLength(1);
    expect(lines[0]).toMatch(/^Sign-in for ida@outlook\.com did not complete: Microsoft refused/);
    expect(lines[0]).toMatch(fix);
    expect(output.match(/Microsoft refused/g)).toHaveLength(1);
  });

  it('a consumers-only application asked through another tenant (AADSTS9002331)', async () => {
    const orgs = await startIdentityServer({
      tenant: 'organizations',
      clientId: APP,
      apps: { '70000000-0000-0000-0000-000009002331': { consumersOnly: true } },
    });
    try {
      const output = await login('70000000-0000-0000-0000-000009002331', 'jo@outlook.com', orgs.authority);
      expect(output.split('\n').filter((line) => line.includes('AADSTS9002331'))).toHaveLength(1);
      expect(output).toContain('the application takes personal Microsoft accounts only: set tenant = "consumers" under [accounts.auth]');
    } finally {
      await orgs.close();
    }
  });
});
