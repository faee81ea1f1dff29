// `hotbridge doctor` against the real lab Dovecot (POP3S) and Postfix (submission, STARTTLS + AUTH): a good
// config passes every check; a wrong password, an untrusted certificate and a wrong CA file each fail with a
// fix and a non-zero exit. An OAuth2 account logs in with XOAUTH2 through Dovecot's introspection passdb.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor } from '../../src/cli/commands/doctor.js';
import { startStatusEndpoint } from '../../src/daemon/status-endpoint.js';
import { LocalPasswords } from '../../src/runtime/local-passwords.js';
import { TokenStore } from '../../src/upstream/oauth/token-store.js';
import { LAB_USERS, startLab, type Lab } from '../helpers/lab.js';
import { freePorts } from '../helpers/ports.js';

let lab: Lab;
let dir: string;
let imapPort: number;
let smtpPort: number;
let pop3Port: number;

beforeAll(async () => {
  lab = await startLab({ smtp: true, oauth: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-doctor-'));
  [imapPort, smtpPort, pop3Port] = await freePorts(3);
});

afterAll(async () => {
  await lab?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface ConfigOptions {
  name: string;
  password?: string;
  caFile?: string | null;
  imapListen?: string;
  oauth?: boolean;
}

/** Writes a config (and password file, data dir, local password) for alice at the lab; returns its path. */
async function writeConfig(o: ConfigOptions): Promise<string> {
  const base = path.join(dir, o.name);
  fs.mkdirSync(base, { recursive: true });
  const ca = o.caFile === undefined ? lab.caFile : o.caFile;
  const caLine = ca === null ? '' : `ca_file = ${JSON.stringify(ca)}\n`;
  const auth = o.oauth
    ? `method = "oauth2"\nclient_id = "test-client"\nauthority = "http://127.0.0.1:${lab.oauth2Port}/tenant"\n`
    : `method = "password"\npassword_file = "alice.secret"\n`;
  if (!o.oauth) fs.writeFileSync(path.join(base, 'alice.secret'), `${o.password ?? LAB_USERS.alice.password}\n`, { mode: 0o600 });
  const text =
    `data_dir = "data"\n` +
    `[imap]\nlisten = [${JSON.stringify(o.imapListen ?? `127.0.0.1:${imapPort}`)}]\n` +
    `[smtp]\nlisten = ["127.0.0.1:${smtpPort}"]\n` +
    `[pop3]\nlisten = ["127.0.0.1:${pop3Port}"]\n` +
    `[[accounts]]\naddress = "${LAB_USERS.alice.user}"\nprovider = "custom"\n` +
    `[accounts.auth]\n${auth}` +
    `[accounts.pop3]\nhost = "${lab.host}"\nport = ${lab.pop3sPort}\ntls = "implicit"\n${caLine}` +
    `[accounts.smtp]\nhost = "${lab.host}"\nport = ${lab.smtpPort}\ntls = "starttls"\n${caLine}`;
  const file = path.join(base, 'config.toml');
  fs.writeFileSync(file, text, { mode: 0o600 });
  await new LocalPasswords(path.join(base, 'data')).set(LAB_USERS.alice.user, 'local-secret');
  return file;
}

async function doctor(config: string): Promise<{ code: number; text: string; lines: string[] }> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  const code = await runDoctor({ config, out });
  const text = Buffer.concat(chunks).toString('utf8');
  return { code, text, lines: text.split('\n') };
}

const line = (lines: string[], pattern: RegExp): string => lines.find((l) => pattern.test(l)) ?? `(no line matches ${pattern})`;
/** The fix printed under the line matching `pattern`. */
const fixOf = (lines: string[], pattern: RegExp): string => {
  const at = lines.findIndex((l) => pattern.test(l));
  return at >= 0 && lines[at + 1]?.trim().startsWith('fix:') ? lines[at + 1] : '(no fix)';
};

describe('hotbridge doctor against the lab', () => {
  it('passes every check for a good config and exits 0', async () => {
    const { code, text, lines } = await doctor(await writeConfig({ name: 'good' }));
    expect(text).not.toContain('✗');
    expect(code).toBe(0);
    expect(line(lines, /config is valid/)).toMatch(/^✓/);
    expect(line(lines, new RegExp(`IMAP 127\\.0\\.0\\.1:${imapPort} is free`))).toMatch(/^✓/);
    expect(line(lines, /POP3 server .* answers/)).toMatch(/^✓/);
    expect(line(lines, /POP3 TLS/)).toMatch(/^✓ POP3 TLS: TLSv1\.[23], certificate for localhost verified/);
    expect(line(lines, /SMTP TLS \(STARTTLS\)/)).toMatch(/^✓/);
    expect(line(lines, /POP3 login as alice@example\.test/)).toMatch(/^✓/);
    expect(line(lines, /POP is on at the provider/)).toMatch(/^✓/);
    expect(line(lines, /SMTP login as alice@example\.test/)).toMatch(/^✓/);
    expect(line(lines, /local password for mail clients is set/)).toMatch(/^✓/);
    // Neither Dovecot's nor this Postfix's greeting carries a date: the clock line says so instead of guessing.
    expect(line(lines, /^. clock:/)).toMatch(/^· clock: no server here states the time/);
    expect(text).toContain('All good.');
  });

  it('fails the login with a fix when the password is wrong, and exits 1', async () => {
    const { code, lines } = await doctor(await writeConfig({ name: 'bad-password', password: 'not-the-password' }));
    expect(code).toBe(1);
    expect(line(lines, /POP3 login as/)).toMatch(/^✗ POP3 login as alice@example\.test refused: .*Authentication failed/);
    expect(fixOf(lines, /POP3 login as/)).toMatch(/fix: check the password in .*alice\.secret/);
    expect(line(lines, /SMTP login as/)).toMatch(/^✗ SMTP login as alice@example\.test refused: 535/);
    // The servers themselves are fine.
    expect(line(lines, /POP3 TLS/)).toMatch(/^✓/);
  });

  it('fails TLS with a fix when the certificate is not trusted (no ca_file), and tries no login', async () => {
    const { code, text, lines } = await doctor(await writeConfig({ name: 'no-ca', caFile: null }));
    expect(code).toBe(1);
    expect(line(lines, /POP3 TLS/)).toMatch(
      /^✗ POP3 TLS: the certificate of 127\.0\.0\.1 is not signed by a CA this computer trusts \(DEPTH_ZERO_SELF_SIGNED_CERT\)/,
    );
    expect(fixOf(lines, /POP3 TLS/)).toMatch(/set accounts\[0\]\.pop3\.ca_file/);
    expect(line(lines, /SMTP TLS/)).toMatch(/^✗ SMTP TLS/);
    expect(line(lines, /POP3 login not tried/)).toMatch(/^·/);
    expect(text).not.toMatch(/POP3 login as .* refused/);
  });

  it('fails TLS with a fix naming ca_file when ca_file holds the wrong CA', async () => {
    const wrongCa = path.join(dir, 'wrong-ca.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=Some Other CA',
        '-keyout',
        path.join(dir, 'wrong-ca.key'),
        '-out',
        wrongCa,
      ],
      { stdio: 'ignore' },
    );
    const { code, lines } = await doctor(await writeConfig({ name: 'wrong-ca', caFile: wrongCa }));
    expect(code).toBe(1);
    expect(line(lines, /POP3 TLS/)).toMatch(/^✗ POP3 TLS: the certificate of 127\.0\.0\.1 is not signed by a CA this computer trusts/);
    expect(fixOf(lines, /POP3 TLS/)).toContain(`accounts[0].pop3.ca_file (${wrongCa}) is not the CA that signed this certificate`);
  });

  it('says a port held by another program is in use, and one held by the running hotbridge is ours', async () => {
    // A plain listener stands in for "another program"; the status endpoint is the daemon's real one.
    const [port] = await freePorts(1);
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen({ host: '127.0.0.1', port }, resolve));
    try {
      const config = await writeConfig({ name: 'ports', imapListen: `127.0.0.1:${port}` });
      const other = await doctor(config);
      expect(line(other.lines, new RegExp(`IMAP 127\\.0\\.0\\.1:${port}`))).toBe(`✗ IMAP 127.0.0.1:${port} is in use by another program`);
      expect(fixOf(other.lines, new RegExp(`IMAP 127\\.0\\.0\\.1:${port}`))).toContain(`'sport = :${port}'`);
      expect(other.code).toBe(1);

      const endpoint = await startStatusEndpoint(path.join(path.dirname(config), 'data'), () => ({
        daemon: { pid: 4242 },
        listeners: { imap: { addresses: [{ host: '127.0.0.1', port }] }, smtp: { addresses: [] } },
      }));
      try {
        const ours = await doctor(config);
        expect(line(ours.lines, new RegExp(`IMAP 127\\.0\\.0\\.1:${port}`))).toBe(
          `✓ IMAP 127.0.0.1:${port} is in use by hotbridge itself (running, pid 4242)`,
        );
        expect(line(ours.lines, /hotbridge is running/)).toBe('· hotbridge is running (pid 4242)');
        expect(ours.code).toBe(0);
      } finally {
        await endpoint.close();
      }
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });

  it('logs in with a saved Microsoft token over XOAUTH2 (POP3 and SMTP)', async () => {
    const config = await writeConfig({ name: 'oauth', oauth: true });
    const accessToken = 'doctor-test-access-token';
    lab.setToken(accessToken, LAB_USERS.alice.user);
    new TokenStore(path.join(path.dirname(config), 'data')).save(LAB_USERS.alice.user, {
      accessToken,
      refreshToken: 'refresh',
      expiresAt: Date.now() + 3_600_000,
    });
    const { code, text, lines } = await doctor(config);
    expect(line(lines, /signed in with Microsoft/)).toMatch(
      /^✓ signed in with Microsoft \(the access token is good for (59|60) more minutes\)/,
    );
    expect(line(lines, /POP3 login as/)).toBe('✓ POP3 login as alice@example.test');
    expect(line(lines, /SMTP login as/)).toBe('✓ SMTP login as alice@example.test');
    expect(text).not.toContain(accessToken);
    expect(code).toBe(0);
  });

  it('says what to run when an OAuth2 account never signed in', async () => {
    const { code, lines } = await doctor(await writeConfig({ name: 'oauth-none', oauth: true }));
    expect(line(lines, /not signed in/)).toBe('✗ not signed in with Microsoft yet');
    expect(fixOf(lines, /not signed in/)).toBe('    fix: hotbridge login alice@example.test');
    expect(code).toBe(1);
  });
});
