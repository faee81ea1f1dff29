// Local logins (issues 11 and 15) through the real IMAP and SMTP servers sharing one authenticator, as
// the daemon runs them, with real clients: imapflow and Python's imaplib/smtplib for the user,
// nodemailer for SMTP, bare sockets for the attacker. The daemon's default penalties are used; no
// duration is asserted, only the order of the answers and the counters.
import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startImapServer, type ImapServer } from '../../src/downstream/imap/server.js';
import { startSubmissionServer, type SubmissionServer } from '../../src/downstream/smtp/server.js';
import { LocalAuthenticator } from '../../src/runtime/local-auth.js';
import { createLogger, type Logger } from '../../src/runtime/logger.js';
import { LocalPasswords } from '../../src/runtime/local-passwords.js';
import { Store } from '../../src/store/index.js';
import { runCli, writeTestConfig, type TestConfig } from '../helpers/cli.js';
import { LineClient } from '../helpers/imap-server.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { collectUncaught } from '../helpers/uncaught.js';
import { testAccount } from './fixtures/smtp-setup.js';
import { plainAuth, SmtpWire } from './fixtures/smtp-wire.js';

const ALICE = 'alice@example.test';
const PASSWORD = 'the right local password';
const NEW_PASSWORD = 'a new local password, set by hotbridge password';
const uncaught = collectUncaught();

let dir: string;
let config: TestConfig;
let store: Store;
let passwords: LocalPasswords;
const logLines: Array<Record<string, unknown>> = [];
let logger: Logger;

beforeAll(async () => {
  dir = tempDir();
  config = await writeTestConfig(dir, [{ address: ALICE }]);
  store = await Store.open(config.dataDir, { accounts: [ALICE] });
  passwords = new LocalPasswords(config.dataDir);
  await passwords.set(ALICE, PASSWORD);
  const destination = new PassThrough();
  destination.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logLines.push(JSON.parse(line) as Record<string, unknown>);
  });
  logger = createLogger({ destination, pretty: false, level: 'info' });
});

afterAll(async () => {
  await store?.close();
  removeDir(dir);
  expect(uncaught).toEqual([]);
});

// Each test gets a fresh authenticator (an empty cache) and servers like the daemon's; the flood uses
// the daemon's own penalties, the other tests shorter ones (they are not what those tests are about).
let penalties: { baseDelayMs?: number; maxDelayMs?: number } = {};
let auth: LocalAuthenticator;
let imap: ImapServer;
let smtp: SubmissionServer;
let imapPort: number;
let smtpPort: number;

beforeEach(async () => {
  auth = new LocalAuthenticator(passwords, { accounts: () => [ALICE], ...penalties });
  imap = await startImapServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    store,
    auth,
    logger,
    maxLiteralBytes: 1 << 20,
    maxConnectionsPerAddress: 200,
  });
  smtp = await startSubmissionServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    store,
    auth,
    logger,
    maxMessageBytes: 1 << 20,
    accounts: () => [testAccount(ALICE)],
  });
  imapPort = imap.addresses()[0].port;
  smtpPort = smtp.addresses()[0].port;
});

afterEach(async () => {
  await Promise.all([imap.stop(), smtp.stop()]);
});

function imapflow(pass: string): ImapFlow {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: imapPort,
    secure: false,
    auth: { user: ALICE, pass },
    disableAutoIdle: true,
    logger: false,
  });
  client.on('error', () => undefined);
  return client;
}

/** An IMAP login and logout with imapflow; resolves whether the login was accepted. */
async function imapLogin(pass: string): Promise<boolean> {
  const client = imapflow(pass);
  try {
    await client.connect();
    await client.logout();
    return true;
  } catch (err) {
    if ((err as { authenticationFailed?: boolean }).authenticationFailed) return false;
    throw err;
  }
}

/** An SMTP AUTH with nodemailer (verify: connect, EHLO, AUTH, QUIT); resolves whether it was accepted. */
async function smtpLogin(pass: string): Promise<boolean> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: smtpPort,
    secure: false,
    ignoreTLS: true,
    auth: { user: ALICE, pass },
    logger: false,
  });
  try {
    await transport.verify();
    return true;
  } catch (err) {
    if ((err as { responseCode?: number }).responseCode === 535) return false;
    throw err;
  } finally {
    transport.close();
  }
}

/** Python: smtplib and imaplib log in; prints "smtp:ok|refused imap:ok|refused". */
function pythonLogins(pass: string): Promise<string> {
  const script = [
    'import imaplib, smtplib, sys',
    'host, smtp_port, imap_port, user, password = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]',
    's = smtplib.SMTP(host, smtp_port)',
    'try:',
    '    s.login(user, password); smtp = "ok"',
    'except smtplib.SMTPAuthenticationError:',
    '    smtp = "refused"',
    's.close()',
    'i = imaplib.IMAP4(host, imap_port)',
    'try:',
    '    i.login(user, password); imap = "ok"; i.logout()',
    'except imaplib.IMAP4.error:',
    '    imap = "refused"',
    'print("smtp:" + smtp, "imap:" + imap)',
  ].join('\n');
  return new Promise((resolve, reject) =>
    execFile(
      'python3',
      ['-c', script, '127.0.0.1', String(smtpPort), String(imapPort), ALICE, pass],
      { timeout: 60_000 },
      (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out.trim())),
    ),
  );
}

/** An attacker's connection: greeted, EHLO done, then AUTH PLAIN with a wrong password (its reply is not awaited). */
async function guess(n: number): Promise<{ wire: SmtpWire; answered: Promise<number> }> {
  const wire = await SmtpWire.connect('127.0.0.1', smtpPort);
  await wire.reply();
  await wire.command('EHLO attacker.example');
  wire.send(`AUTH PLAIN ${plainAuth(ALICE, `guess number ${n}`)}`);
  return {
    wire,
    answered: wire.reply().then(
      (reply) => reply.code,
      () => 0,
    ),
  };
}

describe('a flood of wrong passwords', () => {
  beforeAll(() => {
    penalties = {};
  });

  it('does not keep the real user out: the right logins over IMAP and SMTP are answered before the flood', async () => {
    const attackers = await Promise.all(Array.from({ length: 50 }, (_, n) => guess(n)));
    let failuresAnswered = 0;
    for (const { answered } of attackers) void answered.then(() => (failuresAnswered += 1));
    // Every guess has reached the password check (running, queued, or done) before the user comes.
    await expect.poll(() => auth.counts().hashes + auth.counts().waiting, { timeout: 60_000 }).toBe(50);

    const [viaImap, viaSmtp] = await Promise.all([imapLogin(PASSWORD), smtpLogin(PASSWORD)]);
    const unansweredThen = 50 - failuresAnswered;
    expect([viaImap, viaSmtp]).toEqual([true, true]);
    // The right logins went before the backlog: almost every guess was still to be answered.
    expect(unansweredThen).toBeGreaterThanOrEqual(30);

    // The attacker leaves: the guesses still queued are dropped, never hashed.
    for (const { wire } of attackers) wire.close();
    await expect.poll(() => auth.counts().running + auth.counts().waiting, { timeout: 60_000 }).toBe(0);
    const counts = auth.counts();
    expect(counts.successes).toBe(2);
    expect(counts.failures + counts.dropped).toBe(50);
    expect(counts.dropped).toBeGreaterThan(0);
    // Only the guesses checked before the attacker left cost a hash, and the right password one (two
    // when the IMAP and the SMTP login did not overlap: one check answers both when they do).
    expect(counts.hashes - counts.failures).toBeGreaterThanOrEqual(1);
    expect(counts.hashes - counts.failures).toBeLessThanOrEqual(2);
    expect(counts.hashes).toBeLessThan(52);
  });

  // IMAP keeps serving a client that only half-closes (a script piping commands into nc expects its
  // LOGIN answered, test/unit/imap/connection.test.ts), so the attacker here drops the connection outright.
  it('drops the queued IMAP logins of clients that drop their connection', async () => {
    const clients = await Promise.all(
      Array.from({ length: 12 }, async (_, n) => {
        const client = await LineClient.connect(imapPort);
        await client.readLine();
        client.send(`a LOGIN ${ALICE} "imap guess ${n}"\r\n`);
        return client;
      }),
    );
    await expect.poll(() => auth.counts().hashes + auth.counts().waiting, { timeout: 60_000 }).toBe(12);
    for (const client of clients) client.socket.resetAndDestroy();
    await expect.poll(() => auth.counts().running + auth.counts().waiting, { timeout: 60_000 }).toBe(0);
    const counts = auth.counts();
    expect(counts.dropped).toBeGreaterThan(0);
    expect(counts.hashes + counts.dropped).toBe(12);
  });
});

const shortPenalties = (): void => {
  penalties = { baseDelayMs: 50, maxDelayMs: 200 };
};

describe('the cache of verified logins', () => {
  beforeAll(shortPenalties);

  it('answers logins after the first from the cache, over IMAP and SMTP, with no further hash', async () => {
    expect(await imapLogin(PASSWORD)).toBe(true);
    expect(auth.counts().hashes).toBe(1);
    for (let i = 0; i < 10; i++) {
      expect(await imapLogin(PASSWORD)).toBe(true);
      expect(await smtpLogin(PASSWORD)).toBe(true);
    }
    expect(await pythonLogins(PASSWORD)).toBe('smtp:ok imap:ok');
    expect(auth.counts()).toMatchObject({ hashes: 1, cacheHits: 22, successes: 23 });
  });

  it('never lets a wrong password in, however often it is tried after the right one', async () => {
    expect(await smtpLogin(PASSWORD)).toBe(true);
    for (let i = 0; i < 3; i++) {
      expect(await imapLogin('not the password')).toBe(false);
      expect(await smtpLogin('not the password')).toBe(false);
    }
    const counts = auth.counts();
    expect(counts.successes).toBe(1);
    expect(counts.failures).toBe(6);
    // Checked once, then remembered as wrong: never as right.
    expect(counts.failureCacheHits).toBe(5);
  });

  it('is dropped when `hotbridge password` sets a new password', async () => {
    expect(await imapLogin(PASSWORD)).toBe(true);
    expect(await smtpLogin(PASSWORD)).toBe(true);
    const result = await runCli(['password', ALICE, '--config', config.file], { input: `${NEW_PASSWORD}\n` });
    expect(result.code, result.stderr).toBe(0);
    try {
      expect(await pythonLogins(PASSWORD)).toBe('smtp:refused imap:refused');
      expect(await pythonLogins(NEW_PASSWORD)).toBe('smtp:ok imap:ok');
      expect(await imapLogin(NEW_PASSWORD)).toBe(true);
    } finally {
      await passwords.set(ALICE, PASSWORD);
    }
  });
});

describe('logs of refused logins', () => {
  beforeAll(shortPenalties);

  it('logs a refused IMAP login like a refused SMTP login: the name and the client, never the password', async () => {
    logLines.length = 0;
    expect(await imapLogin('secret guess one')).toBe(false);
    expect(await smtpLogin('secret guess two')).toBe(false);
    await expect.poll(() => logLines.filter((line) => /login refused/.test(String(line.msg))).length, { timeout: 30_000 }).toBe(2);
    const imapLine = logLines.find((line) => line.msg === 'IMAP login refused');
    const smtpLine = logLines.find((line) => line.msg === 'SMTP login refused');
    expect(imapLine).toMatchObject({ user: ALICE, remote: '127.0.0.1', level: 40 });
    expect(smtpLine).toMatchObject({ user: ALICE, remote: '127.0.0.1', level: 40 });
    const all = JSON.stringify(logLines);
    expect(all).not.toContain('secret guess');
    expect(all).not.toContain(Buffer.from(`\u0000${ALICE}\u0000secret guess two`).toString('base64'));
  });
});
