/**
 * OAuth2 through the whole daemon: `hotbridge login` (device code) against the local identity server,
 * then the running daemon syncs POP3 and relays SMTP with XOAUTH2 to the lab's Dovecot/Postfix while its
 * access tokens expire every 2 seconds, across a restart; finally the sign-in is revoked and the daemon
 * stays up, says what to do, leaves a notice in INBOX once, and keeps outgoing mail queued.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labUpstreamTables, runCli, startDaemon, type RunningDaemon } from '../helpers/cli.js';
import { startIdentityServer, type IdentityServer } from '../helpers/identity-server.js';
import { startLab, stripPostfixTrace, type Lab } from '../helpers/lab.js';
import { simpleMessage, toCrlf } from '../helpers/messages.js';
import { freePorts } from '../helpers/ports.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const CAROL = 'carol@example.test';
const LOCAL = 'carols-local-password';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Snapshot {
  accounts: Array<{
    pop3: { state?: string; lastError?: string; lastSuccessAt?: string };
    outbox: { queued: Array<{ pending: string[] }> };
  }>;
}

// Each case starts the daemon and CLI processes several times and waits for mail to cross the lab: on two
// loaded cores that can pass the 60 s default, so the cases get more room (nothing here asserts a duration).
describe('daemon with OAuth2 sign-in', { timeout: 180_000 }, () => {
  let lab: Lab;
  let idp: IdentityServer;
  let dir: string;
  let configFile: string;
  let imapPort: number;
  let smtpPort: number;
  let daemon: RunningDaemon | undefined;

  const status = async (): Promise<Snapshot> => JSON.parse((await runCli(['status', '--json', '--config', configFile])).stdout) as Snapshot;
  const inboxCount = async (): Promise<number> => {
    const client = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, auth: { user: CAROL, pass: LOCAL }, logger: false });
    await client.connect();
    try {
      const status = await client.status('INBOX', { messages: true });
      return (status && status.messages) || 0;
    } finally {
      await client.logout();
    }
  };
  const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check()) return;
      await sleep(300);
    }
    throw new Error(`timed out waiting for ${what}; daemon log:\n${daemon?.log().slice(-3000)}`);
  };
  const submit = (raw: Buffer) =>
    nodemailer
      .createTransport({ host: '127.0.0.1', port: smtpPort, secure: false, ignoreTLS: true, auth: { user: CAROL, pass: LOCAL } })
      .sendMail({ envelope: { from: CAROL, to: ['friend@example.org'] }, raw });

  beforeAll(async () => {
    dir = tempDir();
    idp = await startIdentityServer({ interval: 1, accessTokenLifetimeS: 2 });
    lab = await startLab({ oauth: true, smtp: true });
    idp.linkTo(lab);
    let pop3Port: number;
    [imapPort, smtpPort, pop3Port] = await freePorts(3);
    configFile = path.join(dir, 'config.toml');
    fs.writeFileSync(
      configFile,
      [
        `data_dir = "${path.join(dir, 'data')}"`,
        '[imap]',
        `listen = ["127.0.0.1:${imapPort}"]`,
        '[smtp]',
        `listen = ["127.0.0.1:${smtpPort}"]`,
        '[pop3]',
        `listen = ["127.0.0.1:${pop3Port}"]`,
        '[[accounts]]',
        `address = "${CAROL}"`,
        'provider = "custom"',
        'poll_interval = "1s"',
        '[accounts.auth]',
        'method = "oauth2"',
        `client_id = "${idp.clientId}"`,
        `authority = "${idp.authority}"`,
        ...labUpstreamTables(lab),
        '',
      ].join('\n'),
    );
    expect((await runCli(['password', CAROL, '--config', configFile], { input: `${LOCAL}\n` })).code).toBe(0);
  });

  afterAll(async () => {
    await daemon?.kill();
    await lab?.stop();
    await idp?.close();
    if (dir) removeDir(dir);
  });

  it('signs in with the device code flow and prints the page and the code plainly', async () => {
    idp.scriptDeviceFlow({ user: CAROL, steps: ['pending', 'approve'] });
    const login = await runCli(['login', CAROL, '--config', configFile], { timeoutMs: 30_000 });
    expect(login.code, login.stderr + login.stdout).toBe(0);
    expect(login.stdout).toMatch(/http:\/\/127\.0\.0\.1:\d+\S*/);
    expect(login.stdout).toMatch(/[A-Z0-9]{4,}-?[A-Z0-9]*/);
    const tokenFiles = fs.readdirSync(path.join(dir, 'data', 'oauth'));
    expect(tokenFiles).toHaveLength(1);
    expect(fs.statSync(path.join(dir, 'data', 'oauth', tokenFiles[0])).mode & 0o777).toBe(0o600);
  });

  it('syncs and relays with XOAUTH2 across several token refreshes and a restart', async () => {
    daemon = await startDaemon(configFile);
    await lab.injectMessage(CAROL, simpleMessage(1));
    await waitFor('the first message', async () => (await inboxCount()) === 1);
    // Several access-token lifetimes later, both directions still work.
    await sleep(4500);
    await lab.injectMessage(CAROL, simpleMessage(2));
    await waitFor('the second message', async () => (await inboxCount()) === 2);
    await lab.clearCaptured();
    const sent = simpleMessage(3, 300, CAROL, 'friend@example.org');
    await submit(sent);
    const [captured] = await lab.waitForCaptured(1, 60_000);
    expect(toCrlf(stripPostfixTrace(captured.raw)).equals(sent)).toBe(true);
    const refreshesBefore = idp.stats.refreshes;
    expect(refreshesBefore).toBeGreaterThanOrEqual(2);

    expect(await daemon.stop()).toBe(0);
    await sleep(2500);
    daemon = await startDaemon(configFile);
    await lab.injectMessage(CAROL, simpleMessage(4));
    await waitFor('the message after the restart', async () => (await inboxCount()) === 3);
    expect(idp.stats.refreshes).toBeGreaterThan(refreshesBefore);
    // Tokens never reach the log.
    for (const secret of idp.allSecrets()) expect(daemon.log()).not.toContain(secret);
  });

  it('when the sign-in is revoked: stays up, says what to do, notifies INBOX once, keeps outgoing mail', async () => {
    idp.revokeUser(CAROL);
    await waitFor('the sign-in-needed state', async () => {
      const pop3 = (await status()).accounts[0].pop3;
      return pop3.state === 'signin-needed';
    });
    const pop3 = (await status()).accounts[0].pop3;
    expect(pop3.lastError).toContain(`hotbridge login ${CAROL}`);
    const human = await runCli(['status', '--config', configFile]);
    expect(human.stdout).toContain(`hotbridge login ${CAROL}`);

    // The notice is in INBOX, once, even after more failed polls.
    await waitFor('the notice in INBOX', async () => (await inboxCount()) === 4);
    await sleep(2500);
    expect(await inboxCount()).toBe(4);
    const client = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, auth: { user: CAROL, pass: LOCAL }, logger: false });
    await client.connect();
    const lock = await client.getMailboxLock('INBOX');
    const last = await client.fetchOne('*', { envelope: true });
    lock.release();
    await client.logout();
    expect(last && last.envelope?.subject).toContain('sign-in needed');

    // Outgoing mail is accepted and waits.
    await submit(simpleMessage(5, 300, CAROL, 'friend@example.org'));
    await waitFor('the queued message in status', async () => (await status()).accounts[0].outbox.queued.length === 1);
    expect(daemon!.child.exitCode).toBeNull();
  });

  it('a new sign-in resumes sync and sends the waiting mail at once; a later loss brings a new notice', async () => {
    await lab.clearCaptured();
    idp.scriptDeviceFlow({ user: CAROL, steps: ['approve'] });
    const login = await runCli(['login', CAROL, '--config', configFile], { timeoutMs: 30_000 });
    expect(login.code, login.stderr + login.stdout).toBe(0);
    expect(login.stdout).toContain('The running hotbridge is using the new sign-in now.');
    await lab.waitForCaptured(1, 60_000);
    await waitFor('the outbox to empty', async () => (await status()).accounts[0].outbox.queued.length === 0);
    await waitFor('a successful poll', async () => (await status()).accounts[0].pop3.state === 'idle');

    idp.revokeUser(CAROL);
    await waitFor('the second notice in INBOX', async () => (await inboxCount()) === 5);
  });
});
