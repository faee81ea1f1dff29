/**
 * A full disk for real (issue 12): the data dir on a small tmpfs of its own, filled by IMAP APPEND, by SMTP
 * submissions and by POP3 ingest in turn, against the real daemon (`hotbridge run`) and the lab's Dovecot
 * and Postfix. Each time:
 * - IMAP says NO [OVERQUOTA], SMTP 452 4.3.1, the poller backs off and `hotbridge status` and the log say
 *   "the disk is full (N MB free in DATA_DIR)";
 * - a message the provider accepted while the store could not record it is not relayed again;
 * - when room comes back (the test deletes a file it put on the disk), the store reopens by itself and
 *   everything resumes without a restart;
 * and at the end nothing acknowledged is lost or doubled, nothing was relayed twice, and `hotbridge verify`
 * finds the store whole.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wakeDaemon } from '../../src/daemon/status-endpoint.js';
import { Store } from '../../src/store/index.js';
import { waitUntil } from '../helpers/clients.js';
import { labUpstreamTables, runCli, startDaemon, type RunningDaemon } from '../helpers/cli.js';
import { LAB_USERS, startLab, stripPostfixTrace, type Lab } from '../helpers/lab.js';
import { freePorts } from '../helpers/ports.js';
import { mountSmallDisk, type SmallDisk } from '../helpers/small-disk.js';
import { SocketReader } from '../helpers/socket-reader.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const ALICE = LAB_USERS.alice.user;
const LOCAL_PASSWORD = 'full-disk-local';
const MB = 1024 * 1024;
/** Free space left before each fill: the fill is about this much, so the store stays small. */
const LEFT = 10 * MB;

/** A message of about `size` bytes that compresses badly (LevelDB compresses its tables). */
function bulkyMessage(tag: string, size: number): Buffer {
  const body = randomBytes(Math.floor((size * 3) / 4))
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    `From: filler@example.org\r\nTo: ${ALICE}\r\nSubject: ${tag}\r\nMessage-ID: <${tag}@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${body}\r\n`,
  );
}

const hash = (raw: Buffer): string => createHash('sha256').update(raw).digest('hex');

/** A raw IMAP connection, logged in: for the exact tagged replies. */
class ImapWire {
  private n = 0;
  private constructor(
    private readonly socket: net.Socket,
    private readonly reader: SocketReader,
  ) {}

  static async login(port: number): Promise<ImapWire> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const wire = new ImapWire(socket, new SocketReader(socket));
    await wire.reader.line(10_000);
    const reply = await wire.command(`LOGIN ${ALICE} ${LOCAL_PASSWORD}`);
    if (!/ OK/.test(reply)) throw new Error(`login failed: ${reply}`);
    return wire;
  }

  /** Sends a command; its tagged reply line, and the untagged lines before it in `untagged`. */
  async command(text: string, untagged: string[] = []): Promise<string> {
    const tag = `T${++this.n}`;
    this.socket.write(`${tag} ${text}\r\n`);
    return this.tagged(tag, untagged);
  }

  private async tagged(tag: string, untagged: string[] = []): Promise<string> {
    for (;;) {
      const line = (await this.reader.line(60_000))?.toString('latin1');
      if (line === undefined) throw new Error('the IMAP connection closed');
      if (line.startsWith(`${tag} `)) return line.trim();
      untagged.push(line.trim());
    }
  }

  /** MESSAGES of a mailbox (STATUS, RFC 3501 §6.3.10). */
  async count(mailbox: string): Promise<number> {
    const untagged: string[] = [];
    await this.command(`STATUS ${mailbox} (MESSAGES)`, untagged);
    return Number(untagged.map((line) => /MESSAGES (\d+)/.exec(line)?.[1]).find((n) => n !== undefined) ?? -1);
  }

  /** APPEND with a synchronizing literal; the tagged reply. */
  async append(mailbox: string, raw: Buffer): Promise<string> {
    const tag = `T${++this.n}`;
    this.socket.write(`${tag} APPEND ${mailbox} {${raw.length}}\r\n`);
    const go = (await this.reader.line(60_000))?.toString('latin1') ?? '';
    if (!go.startsWith('+')) return go.trim();
    this.socket.write(Buffer.concat([raw, Buffer.from('\r\n')]));
    return this.tagged(tag);
  }

  close(): void {
    this.socket.destroy();
  }
}

async function submit(port: number, raw: Buffer): Promise<{ ok: true; response: string } | { ok: false; response: string }> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    auth: { user: ALICE, pass: LOCAL_PASSWORD },
    logger: false,
  });
  try {
    const info = await transport.sendMail({ envelope: { from: ALICE, to: [LAB_USERS.bob.user] }, raw });
    return { ok: true, response: info.response };
  } catch (err) {
    return { ok: false, response: String((err as { response?: string }).response ?? (err as Error).message) };
  } finally {
    transport.close();
  }
}

describe('a full disk, for real', () => {
  let disk: SmallDisk;
  let lab: Lab;
  let dir: string;
  let dataDir: string;
  let configFile: string;
  let imapPort: number;
  let smtpPort: number;
  let pop3Port: number;
  let daemon: RunningDaemon;
  let imap: ImapWire;
  /** What the daemon acknowledged: APPENDs (OK) and submissions (250), by content hash. */
  const appended: string[] = [];
  const submitted: string[] = [];
  const fetched: Buffer[] = [];
  let spacers = 0;

  const status = async (): Promise<string> => (await runCli(['status', '--config', configFile])).stdout;
  const recoveries = (): number =>
    daemon
      .log()
      .split('\n')
      .filter((line) => line.includes('the store writes again')).length;
  /** Takes all free space but `LEFT` with a file of its own, so that a fill of about `LEFT` fills the disk. */
  const leaveLittleRoom = (): void => disk.reserve(`spacer-${++spacers}`, Math.max(0, disk.freeBytes() - LEFT));
  /**
   * Gives the room back (plenty: LevelDB needs room to compact, not only to write) and waits until the
   * daemon says its store writes again (it looks every few seconds).
   */
  const giveRoom = async (): Promise<void> => {
    const before = recoveries();
    disk.release(`spacer-${spacers}`);
    await waitUntil('the store to write again', async () => recoveries() > before, 60_000);
  };
  /** Postfix's captures by Subject, trace headers off. */
  const capturedSubjects = async (): Promise<string[]> =>
    (await lab.captured()).map((message) => /^Subject: (.*)$/m.exec(stripPostfixTrace(message.raw).toString('latin1'))?.[1]?.trim() ?? '');

  beforeAll(async () => {
    disk = mountSmallDisk(128);
    lab = await startLab({ smtp: true });
    dir = tempDir('hotbridge-full-disk-');
    dataDir = path.join(disk.dir, 'data');
    // Every listener on a port of its own: the default POP3 port (1110) may be another suite's.
    [imapPort, smtpPort, pop3Port] = await freePorts(3);
    const passwordFile = path.join(dir, 'alice.secret');
    fs.writeFileSync(passwordFile, `${LAB_USERS.alice.password}\n`, { mode: 0o600 });
    configFile = path.join(dir, 'config.toml');
    fs.writeFileSync(
      configFile,
      [
        `data_dir = "${dataDir}"`,
        '[imap]',
        `listen = ["127.0.0.1:${imapPort}"]`,
        '[smtp]',
        `listen = ["127.0.0.1:${smtpPort}"]`,
        '[pop3]',
        `listen = ["127.0.0.1:${pop3Port}"]`,
        '[[accounts]]',
        `address = "${ALICE}"`,
        'provider = "custom"',
        'poll_interval = "2s"',
        'leave_on_server = true',
        '[accounts.auth]',
        'method = "password"',
        `password_file = "${passwordFile}"`,
        ...labUpstreamTables(lab),
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    expect((await runCli(['password', ALICE, '--config', configFile], { input: `${LOCAL_PASSWORD}\n` })).code).toBe(0);
    daemon = await startDaemon(configFile);
    imap = await ImapWire.login(imapPort);
  });

  afterAll(async () => {
    imap?.close();
    await daemon?.kill();
    await lab?.stop();
    disk?.unmount();
    if (dir) removeDir(dir);
  });

  it('filled by IMAP APPEND: NO [OVERQUOTA], SMTP 452 4.3.1, the poller says so; a relay is not repeated; with room, all resumes', async () => {
    // A message waits in the outbox (the provider defers it) while the disk fills.
    await lab.setSmtpMode('tempfail');
    const waiting = bulkyMessage('waiting-in-the-outbox', 20_000);
    const queued = await submit(smtpPort, waiting);
    expect(queued.ok, queued.response).toBe(true);
    submitted.push('waiting-in-the-outbox');

    leaveLittleRoom();
    let refusal = '';
    for (let i = 0; i < 2000 && !refusal; i++) {
      const raw = bulkyMessage(`append-${i}`, 256 * 1024);
      const reply = await imap.append('INBOX', raw);
      if (/^T\d+ OK/.test(reply)) appended.push(hash(raw));
      else refusal = reply;
    }
    expect(refusal).toMatch(/^T\d+ NO \[OVERQUOTA\] .*the disk is full \([\d.]+ MB free in /);
    expect(appended.length).toBeGreaterThan(10);

    // SMTP: 452 4.3.1, nothing queued.
    const refused = await submit(smtpPort, bulkyMessage('refused-while-full', 4000));
    expect(refused.ok).toBe(false);
    expect(refused.response).toMatch(/^452 4\.3\.1 /);

    // POP3: new mail on the server cannot come in; status and log say why.
    const pop3 = [bulkyMessage('pop3-while-full-1', 300_000), bulkyMessage('pop3-while-full-2', 300_000)];
    await lab.injectMessages(ALICE, pop3);
    fetched.push(...pop3);
    await waitUntil('status to say the disk is full', async () => /the disk is full \([\d.]+ MB free in /.test(await status()), 30_000);
    expect(await status()).toContain(dataDir);
    await daemon.waitForLog(/POP3 sync failed: the disk is full/);

    // The provider takes the waiting message; the store cannot record that: it must not be sent again.
    await lab.setSmtpMode('normal');
    await wakeDaemon(dataDir);
    await lab.waitForCaptured(1, 30_000);
    for (let i = 0; i < 3; i++) {
      await wakeDaemon(dataDir);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(await capturedSubjects()).toEqual(['waiting-in-the-outbox']);

    // Room again: no restart, everything resumes.
    await giveRoom();
    const after = bulkyMessage('append-after-room', 8000);
    expect(await imap.append('INBOX', after)).toMatch(/^T\d+ OK/);
    appended.push(hash(after));
    const resent = bulkyMessage('refused-while-full', 4000);
    const accepted = await submit(smtpPort, resent);
    expect(accepted.ok, accepted.response).toBe(true);
    submitted.push('refused-while-full');
    await waitUntil('both POP3 messages in INBOX', async () => (await imap.count('INBOX')) === appended.length + pop3.length, 60_000);
    await lab.waitForCaptured(2, 30_000);
    await waitUntil('an empty outbox', async () => /outbox: empty/.test(await status()), 30_000);
    expect((await capturedSubjects()).sort()).toEqual(['refused-while-full', 'waiting-in-the-outbox']);
    expect(await status()).not.toMatch(/disk is full/);
  }, 300_000);

  it('filled by SMTP submissions: 452 4.3.1 once full, every 250 relayed exactly once after room comes back', async () => {
    await lab.setSmtpMode('tempfail');
    leaveLittleRoom();
    let refusal = '';
    for (let i = 0; i < 2000 && !refusal; i++) {
      const result = await submit(smtpPort, bulkyMessage(`submission-${i}`, 256 * 1024));
      if (result.ok) submitted.push(`submission-${i}`);
      else refusal = result.response;
    }
    expect(refusal).toMatch(/^452 4\.3\.1 Insufficient system storage: the disk is full \([\d.]+ MB free in /);
    expect(await imap.append('INBOX', bulkyMessage('append-while-full-2', 300_000))).toMatch(/^T\d+ NO \[OVERQUOTA\]/);
    await giveRoom();
    await lab.setSmtpMode('normal');
    await wakeDaemon(dataDir);
    await lab.waitForCaptured(submitted.length, 120_000);
    await waitUntil('an empty outbox', async () => /outbox: empty/.test(await status()), 60_000);
    expect((await capturedSubjects()).sort()).toEqual([...submitted].sort());
  }, 300_000);

  it('filled by POP3 ingest: the poller backs off saying so, and fetches the rest (once each) when there is room', async () => {
    const before = await imap.count('INBOX');
    leaveLittleRoom();
    const messages = Array.from({ length: Math.ceil((disk.freeBytes() + 4 * MB) / (256 * 1024)) }, (_, i) =>
      bulkyMessage(`pop3-fill-${i}`, 256 * 1024),
    );
    await lab.injectMessages(ALICE, messages);
    fetched.push(...messages);
    await waitUntil('status to say the disk is full', async () => /the disk is full \([\d.]+ MB free in /.test(await status()), 120_000);
    expect(await imap.count('INBOX')).toBeLessThan(before + messages.length);
    await giveRoom();
    await waitUntil('every POP3 message in INBOX', async () => (await imap.count('INBOX')) === before + messages.length, 120_000);
    await waitUntil('the poller to say all is well', async () => !/disk is full/.test(await status()), 30_000);
  }, 300_000);

  it('lost and doubled nothing it acknowledged, relayed nothing twice, and verifies', async () => {
    imap.close();
    expect(await daemon.stop()).toBe(0);
    const captured = await capturedSubjects();
    expect(new Set(captured).size).toBe(captured.length);
    expect(captured.sort()).toEqual([...submitted].sort());
    const store = await Store.open(dataDir);
    try {
      const inbox = store.findMailbox(ALICE, 'INBOX')!;
      const stored: string[] = [];
      for (const message of await store.listMessages(inbox.id)) stored.push(hash(await store.getBlob(message.blobId)));
      const wanted = [...appended, ...fetched.map(hash)];
      expect(stored.length).toBe(wanted.length);
      expect([...stored].sort()).toEqual([...wanted].sort());
      expect(await store.listOutbox()).toEqual([]);
    } finally {
      await store.close();
    }
    const verify = await runCli(['verify', '--config', configFile], { timeoutMs: 120_000 });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 300_000);
});
