/**
 * The whole daemon, end to end, over real sockets: the lab's Dovecot as the POP3 upstream, the lab's
 * Postfix as the SMTP upstream, imapflow and nodemailer as the user's mail client.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labUpstreamTables, runCli, startDaemon, writeTestConfig, type RunningDaemon, type TestConfig } from '../helpers/cli.js';
import { LAB_USERS, startLab, stripPostfixTrace, type Lab } from '../helpers/lab.js';
import { awkwardMessage, simpleMessage, toCrlf } from '../helpers/messages.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const ALICE = LAB_USERS.alice.user;
const LOCAL_PASSWORD = 'local-secret-for-alice';

describe('hotbridge daemon end to end', () => {
  let lab: Lab;
  let dir: string;
  let config: TestConfig;
  let daemon: RunningDaemon;

  const imapClient = () =>
    new ImapFlow({ host: '127.0.0.1', port: config.imapPort, secure: false, auth: { user: ALICE, pass: LOCAL_PASSWORD }, logger: false });

  beforeAll(async () => {
    lab = await startLab({ smtp: true });
    dir = tempDir();
    const passwordFile = path.join(dir, 'alice.secret');
    fs.writeFileSync(passwordFile, `${LAB_USERS.alice.password}\n`, { mode: 0o600 });
    config = await writeTestConfig(dir, [
      {
        address: ALICE,
        extra: 'poll_interval = "1s"',
        passwordFile,
        pop3: { host: lab.host, port: lab.pop3sPort, tls: 'implicit', caFile: lab.caFile },
        smtp: { host: lab.host, port: lab.smtpPort, tls: 'starttls', caFile: lab.caFile },
      },
    ]);
    const set = await runCli(['password', ALICE, '--config', config.file], { input: `${LOCAL_PASSWORD}\n` });
    expect(set.code, set.stderr).toBe(0);
    daemon = await startDaemon(config.file);
  });

  afterAll(async () => {
    await daemon?.kill();
    await lab?.stop();
    if (dir) removeDir(dir);
  });

  it('brings POP3 mail into INBOX byte for byte, and an idling IMAP client hears of it at once', async () => {
    const client = imapClient();
    await client.connect();
    try {
      const mailbox = await client.mailboxOpen('INBOX');
      const before = mailbox.exists;
      const arrived = new Promise<number>((resolve) => client.on('exists', (event: { count: number }) => resolve(event.count)));
      // IDLE explicitly: the EXISTS must come from the server's push, not from a poll of ours.
      const idling = client.idle();
      const raw = awkwardMessage('leading dots');
      await lab.injectMessage(ALICE, raw);
      const count = await Promise.race([
        arrived,
        new Promise<number>((_, reject) => setTimeout(() => reject(new Error('no EXISTS within 15 s')), 15_000)),
      ]);
      expect(count).toBe(before + 1);
      const message = await client.fetchOne(String(count), { source: true });
      await idling;
      expect(message && Buffer.compare(message.source!, raw)).toBe(0);
    } finally {
      await client.logout();
    }
  });

  it('relays a submission byte for byte through the provider, with the local login', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: config.smtpPort,
      secure: false,
      ignoreTLS: true,
      auth: { user: ALICE, pass: LOCAL_PASSWORD },
    });
    const raw = simpleMessage(7, 500, ALICE, 'friend@example.org');
    await lab.clearCaptured();
    const info = await transport.sendMail({ envelope: { from: ALICE, to: ['friend@example.org'] }, raw });
    expect(info.accepted).toEqual(['friend@example.org']);
    const [captured] = await lab.waitForCaptured(1, 20_000);
    expect(toCrlf(stripPostfixTrace(captured.raw)).equals(raw)).toBe(true);
  });

  it('refuses IMAP and SMTP logins with a wrong local password', async () => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: config.imapPort,
      secure: false,
      auth: { user: ALICE, pass: 'wrong' },
      logger: false,
    });
    await expect(client.connect()).rejects.toThrow();
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: config.smtpPort,
      secure: false,
      ignoreTLS: true,
      auth: { user: ALICE, pass: 'wrong' },
    });
    await expect(transport.sendMail({ envelope: { from: ALICE, to: ['x@example.org'] }, raw: simpleMessage(1) })).rejects.toMatchObject({
      responseCode: 535,
    });
  });

  it('shows the last successful sync in status', async () => {
    const result = await runCli(['status', '--json', '--config', config.file]);
    const snapshot = JSON.parse(result.stdout) as { accounts: Array<{ pop3: { lastSuccessAt?: string; lastError?: string } }> };
    expect(snapshot.accounts[0].pop3.lastSuccessAt).toBeTypeOf('string');
  });

  it('reloads the config on SIGHUP without dropping an IMAP session', async () => {
    const client = imapClient();
    await client.connect();
    try {
      const text = fs.readFileSync(config.file, 'utf8').replace('poll_interval = "1s"', 'poll_interval = "2s"');
      fs.writeFileSync(config.file, text);
      daemon.child.kill('SIGHUP');
      await daemon.waitForLog(/config reloaded/);
      const status = await client.status('INBOX', { messages: true });
      expect(status && status.messages).toBeGreaterThan(0);
    } finally {
      await client.logout();
    }
  });

  it("adds and removes an account on SIGHUP, leaving the other account's sessions alone", async () => {
    const BOB = LAB_USERS.bob.user;
    const alice = imapClient();
    await alice.connect();
    const original = fs.readFileSync(config.file, 'utf8');
    const bobFile = path.join(dir, 'bob.secret');
    fs.writeFileSync(bobFile, `${LAB_USERS.bob.password}\n`, { mode: 0o600 });
    const bobTable = [
      '[[accounts]]',
      `address = "${BOB}"`,
      'provider = "custom"',
      '[accounts.auth]',
      'method = "password"',
      `password_file = "${bobFile}"`,
      ...labUpstreamTables(lab),
      '',
    ].join('\n');
    try {
      fs.writeFileSync(config.file, original + bobTable);
      expect((await runCli(['password', BOB, '--config', config.file], { input: 'bobs-local-password\n' })).code).toBe(0);
      daemon.child.kill('SIGHUP');
      await daemon.waitForLog(/config reloaded.*bob@example\.test|bob@example\.test.*config reloaded/);
      const bob = new ImapFlow({
        host: '127.0.0.1',
        port: config.imapPort,
        secure: false,
        auth: { user: BOB, pass: 'bobs-local-password' },
        logger: false,
      });
      await bob.connect();
      const bobStatus = await bob.status('INBOX', { messages: true });
      expect(bobStatus && bobStatus.messages).toBe(0);
      await bob.logout();
      const snapshot = JSON.parse((await runCli(['status', '--json', '--config', config.file])).stdout) as {
        accounts: Array<{ address: string }>;
      };
      expect(snapshot.accounts.map((a) => a.address)).toEqual([ALICE, BOB]);
    } finally {
      fs.writeFileSync(config.file, original);
      const reloads = (daemon.log().match(/config reloaded/g) ?? []).length;
      daemon.child.kill('SIGHUP');
      const deadline = Date.now() + 10_000;
      while ((daemon.log().match(/config reloaded/g) ?? []).length === reloads && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
    }
    // Bob is gone: his local login is refused now; Alice's session never noticed.
    const gone = new ImapFlow({
      host: '127.0.0.1',
      port: config.imapPort,
      secure: false,
      auth: { user: BOB, pass: 'bobs-local-password' },
      logger: false,
    });
    await expect(gone.connect()).rejects.toThrow();
    const aliceStatus = await alice.status('INBOX', { messages: true });
    expect(aliceStatus && aliceStatus.messages).toBeGreaterThan(0);
    await alice.logout();
  });

  it('keeps its data private: data dir 0700, files 0600', () => {
    expect(fs.statSync(config.dataDir).mode & 0o777).toBe(0o700);
    const walk = (dirPath: string): string[] =>
      fs.readdirSync(dirPath, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dirPath, entry.name);
        return entry.isDirectory() ? walk(full) : entry.isFile() ? [full] : [];
      });
    const files = walk(config.dataDir);
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) expect({ file, mode: (fs.statSync(file).mode & 0o777).toString(8) }).toEqual({ file, mode: '600' });
  });

  it('keeps serving IMAP when the upstream password is wrong, and status says what is wrong', async () => {
    fs.writeFileSync(path.join(dir, 'alice.secret'), 'not-the-password\n');
    try {
      await lab.injectMessage(ALICE, simpleMessage(8));
      const deadline = Date.now() + 20_000;
      let lastError: string | undefined;
      while (Date.now() < deadline) {
        const result = await runCli(['status', '--json', '--config', config.file]);
        lastError = (JSON.parse(result.stdout) as { accounts: Array<{ pop3: { lastError?: string } }> }).accounts[0].pop3.lastError;
        if (lastError && /authentication|password|refused/i.test(lastError)) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(lastError).toMatch(/authentication|password|refused/i);
      const client = imapClient();
      await client.connect();
      const status = await client.status('INBOX', { messages: true });
      expect(status && status.messages).toBeGreaterThan(0);
      await client.logout();
    } finally {
      fs.writeFileSync(path.join(dir, 'alice.secret'), `${LAB_USERS.alice.password}\n`);
    }
  });
});
