/**
 * SMTPUTF8 end to end through the daemon, with the lab's Postfix (smtputf8_enable = yes) as the
 * provider: not offered while the provider's EHLO is unknown, offered once the relay has seen it (and
 * still after a restart), and a UTF-8 recipient then goes through to Postfix. Also what `hotbridge
 * status --json` says about SMTP closes and local logins.
 */
import fs from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startDaemon, writeTestConfig, type RunningDaemon, type TestConfig } from '../helpers/cli.js';
import { LAB_USERS, startLab, type Lab } from '../helpers/lab.js';
import { simpleMessage } from '../helpers/messages.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { plainAuth, SmtpWire } from './fixtures/smtp-wire.js';

const ALICE = LAB_USERS.alice.user;
const LOCAL_PASSWORD = 'local password for the utf-8 test';

describe('SMTPUTF8 offered as the provider offers it', () => {
  let lab: Lab;
  let dir: string;
  let config: TestConfig;
  let daemon: RunningDaemon;

  const session = async (): Promise<{ wire: SmtpWire; ehlo: string[] }> => {
    const wire = await SmtpWire.connect('127.0.0.1', config.smtpPort);
    expect((await wire.reply()).code).toBe(220);
    const ehlo = await wire.command('EHLO client.example');
    expect((await wire.command(`AUTH PLAIN ${plainAuth(ALICE, LOCAL_PASSWORD)}`)).code).toBe(235);
    return { wire, ehlo: ehlo.lines };
  };

  beforeAll(async () => {
    lab = await startLab({ smtp: true });
    dir = tempDir();
    const passwordFile = path.join(dir, 'alice.secret');
    fs.writeFileSync(passwordFile, `${LAB_USERS.alice.password}\n`, { mode: 0o600 });
    config = await writeTestConfig(dir, [
      {
        address: ALICE,
        extra: 'poll_interval = "1h"',
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

  it('refuses a UTF-8 recipient with 553 5.6.7 until the relay has seen the provider offer SMTPUTF8, then relays one', async () => {
    const before = await session();
    try {
      expect(before.ehlo).not.toContain('SMTPUTF8');
      expect((await before.wire.command(`MAIL FROM:<${ALICE}>`)).code).toBe(250);
      expect((await before.wire.command('RCPT TO:<jörg@example.org>')).text).toMatch(/^553 5\.6\.7 /);
    } finally {
      before.wire.close();
    }

    // An ASCII message: the relay's EHLO to Postfix shows SMTPUTF8.
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: config.smtpPort,
      secure: false,
      ignoreTLS: true,
      auth: { user: ALICE, pass: LOCAL_PASSWORD },
      logger: false,
    });
    await transport.sendMail({
      envelope: { from: ALICE, to: ['friend@example.org'] },
      raw: simpleMessage(1, 200, ALICE, 'friend@example.org'),
    });
    transport.close();
    await lab.waitForCaptured(1, 30_000);
    await daemon.waitForLog(/the provider offers SMTPUTF8/, 30_000);

    const after = await session();
    try {
      expect(after.ehlo).toContain('SMTPUTF8');
      expect((await after.wire.command(`MAIL FROM:<${ALICE}> SMTPUTF8`)).code).toBe(250);
      expect((await after.wire.command('RCPT TO:<jörg@example.org>')).code).toBe(250);
      expect((await after.wire.command('DATA')).code).toBe(354);
      after.wire.send(
        Buffer.from(`From: ${ALICE}\r\nTo: jörg@example.org\r\nSubject: UTF-8 recipient\r\n\r\nHallo Jörg.\r\n.\r\n`, 'utf8'),
      );
      expect((await after.wire.reply()).code).toBe(250);
    } finally {
      after.wire.close();
    }
    const captured = await lab.waitForCaptured(2, 30_000);
    expect(captured.some((message) => message.raw.toString('utf8').includes('Hallo Jörg.'))).toBe(true);
  });

  it('still offers SMTPUTF8 after a restart (what the relay learnt is kept)', async () => {
    await daemon.stop();
    daemon = await startDaemon(config.file);
    const { wire, ehlo } = await session();
    wire.close();
    expect(ehlo).toContain('SMTPUTF8');
  });

  it('counts SMTP connections closed for errors and refused local logins in status --json', async () => {
    const wire = await SmtpWire.connect('127.0.0.1', config.smtpPort);
    await wire.reply();
    for (let i = 0; i < 9; i++) await wire.command('NONSENSE');
    expect((await wire.command('NONSENSE')).code).toBe(421);
    const refused = await SmtpWire.connect('127.0.0.1', config.smtpPort);
    await refused.reply();
    await refused.command('EHLO client.example');
    expect((await refused.command(`AUTH PLAIN ${plainAuth(ALICE, 'not the local password')}`)).code).toBe(535);
    refused.close();
    const status = await runCli(['status', '--json', '--config', config.file]);
    expect(status.code, status.stderr).toBe(0);
    const snapshot = JSON.parse(status.stdout) as { listeners: { smtp: Record<string, number> }; localLogins: Record<string, number> };
    expect(snapshot.listeners.smtp.closedForErrors).toBe(1);
    expect(snapshot.localLogins.failures).toBeGreaterThanOrEqual(1);
    expect(snapshot.localLogins.successes).toBeGreaterThanOrEqual(1);
    const text = await runCli(['status', '--config', config.file]);
    expect(text.stdout).toMatch(/SMTP: .*closed since start: 1 for errors/);
  });
});
