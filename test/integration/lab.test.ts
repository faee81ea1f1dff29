// Self-test of the upstream lab harness (test/helpers/lab.ts): real Dovecot and Postfix on loopback,
// spoken to over real sockets with node:net/node:tls and nodemailer, the way the integration tests will.
import net from 'node:net';
import tls from 'node:tls';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_USERS, startLab, stripPostfixTrace, type Lab } from '../helpers/lab.js';
import { toCrlf } from '../helpers/messages.js';
import { freePort, freePorts } from '../helpers/ports.js';
import { SocketReader } from '../helpers/socket-reader.js';

/** Minimal line-oriented client for the self-test: POP3 and IMAP both answer in CRLF lines. */
class LineSession {
  private readonly reader: SocketReader;

  constructor(readonly socket: net.Socket) {
    this.reader = new SocketReader(socket);
  }

  static plain(host: string, port: number): Promise<LineSession> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port }, () => resolve(new LineSession(socket)));
      socket.once('error', reject);
    });
  }

  static tls(host: string, port: number, ca: Buffer): Promise<LineSession> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host, port, ca, servername: 'localhost' }, () => resolve(new LineSession(socket)));
      socket.once('error', reject);
    });
  }

  /** Raw bytes of the next line including its CRLF. */
  async line(): Promise<Buffer> {
    const line = await this.reader.line();
    if (!line) throw new Error(`connection closed; pending: ${JSON.stringify(this.reader.unread())}`);
    return line;
  }

  async text(): Promise<string> {
    return (await this.line()).toString('latin1').replace(/\r\n$/, '');
  }

  send(command: string): void {
    this.socket.write(`${command}\r\n`);
  }

  async command(command: string): Promise<string> {
    this.send(command);
    return this.text();
  }

  /** POP3 multi-line body (RFC 1939 section 3): up to the lone ".", dot-stuffing removed. */
  async pop3Body(): Promise<Buffer> {
    const lines: Buffer[] = [];
    for (;;) {
      const l = await this.line();
      if (l.equals(Buffer.from('.\r\n'))) return Buffer.concat(lines);
      lines.push(l[0] === 0x2e ? l.subarray(1) : l);
    }
  }

  /** IMAP: lines up to and including the tagged response, which is returned last. */
  async imapUntilTagged(tag: string): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const l = await this.text();
      lines.push(l);
      if (l.startsWith(`${tag} `)) return lines;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

function xoauth2(user: string, token: string): string {
  // XOAUTH2 initial client response: "user=" user ^A "auth=Bearer " token ^A ^A, base64.
  return Buffer.from(`user=${user}\x01auth=Bearer ${token}\x01\x01`).toString('base64');
}

const ALICE = LAB_USERS.alice.user;

describe('upstream lab harness', () => {
  let lab: Lab;
  const startedAt = Date.now();
  let startMs = 0;

  beforeAll(async () => {
    lab = await startLab({ smtp: true, imap: true, oauth: true });
    startMs = Date.now() - startedAt;
  });

  afterAll(async () => {
    const t = Date.now();
    await lab?.stop();
    // Visible in the test output: how long a lab costs per test file.
    console.log(`lab start ${startMs} ms, stop ${Date.now() - t} ms`);
  });

  it('picks distinct free ports and a private dir', async () => {
    const ports = [lab.pop3Port, lab.pop3sPort, lab.smtpPort, lab.imapPort, lab.oauth2Port];
    expect(new Set(ports).size).toBe(5);
    expect(lab.dir).toMatch(/hotbridge-lab-/);
    expect(lab.ca.toString('latin1')).toContain('BEGIN CERTIFICATE');
    const [a, b, c] = await freePorts(3);
    expect(new Set([a, b, c, await freePort()]).size).toBeGreaterThanOrEqual(3);
  });

  it('serves an injected message byte for byte over POP3S (CA verified)', async () => {
    const raw = Buffer.from(
      'From: Sender <sender@example.net>\r\nTo: alice@example.test\r\nSubject: lab self-test\r\n' +
        'Message-ID: <lab-self-test@example.net>\r\n\r\nline one\r\n.starts with a dot\r\n\r\nlast line\r\n',
    );
    await lab.injectMessage(ALICE, raw);
    expect(await lab.maildirCount(ALICE)).toBe(1);

    const s = await LineSession.tls(lab.host, lab.pop3sPort, lab.ca);
    try {
      expect(await s.text()).toMatch(/^\+OK/);
      expect(await s.command(`USER ${ALICE}`)).toMatch(/^\+OK/);
      expect(await s.command('PASS alice-password')).toMatch(/^\+OK/);
      expect(await s.command('STAT')).toBe(`+OK 1 ${raw.length}`);
      expect(await s.command('RETR 1')).toMatch(/^\+OK/);
      expect((await s.pop3Body()).equals(raw)).toBe(true);
      expect(await s.command('QUIT')).toMatch(/^\+OK/);
    } finally {
      s.close();
    }
  });

  it('refuses the lab certificate without the CA', async () => {
    // Node without `ca` reports the self-signed certificate.
    await expect(
      new Promise((resolve, reject) => {
        const socket = tls.connect({ host: lab.host, port: lab.pop3sPort, servername: 'localhost' }, () => resolve(socket));
        socket.once('error', reject);
      }),
    ).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('accepts XOAUTH2 for a token set with setToken and refuses it after revokeToken', async () => {
    lab.setToken('self-test-token', ALICE);
    const before = lab.introspectionCount();
    const ok = await LineSession.tls(lab.host, lab.pop3sPort, lab.ca);
    try {
      await ok.text();
      expect(await ok.command(`AUTH XOAUTH2 ${xoauth2(ALICE, 'self-test-token')}`)).toMatch(/^\+OK/);
    } finally {
      ok.close();
    }
    expect(lab.introspectionCount()).toBeGreaterThan(before);

    lab.revokeToken('self-test-token');
    const refused = await LineSession.tls(lab.host, lab.pop3sPort, lab.ca);
    try {
      await refused.text();
      // Failed XOAUTH2: a base64 JSON error challenge first, then -ERR after the client's empty response.
      const challenge = await refused.command(`AUTH XOAUTH2 ${xoauth2(ALICE, 'self-test-token')}`);
      expect(challenge).toMatch(/^\+ /);
      expect(JSON.parse(Buffer.from(challenge.slice(2), 'base64').toString('utf8'))).toMatchObject({ status: '401' });
      expect(await refused.command('')).toMatch(/^-ERR \[AUTH\]/);
    } finally {
      refused.close();
    }

    // An endpoint in trouble is a temporary failure, not a wrong token.
    lab.setToken('self-test-token', ALICE);
    lab.setIntrospectionFailure(503);
    const temp = await LineSession.tls(lab.host, lab.pop3sPort, lab.ca);
    try {
      await temp.text();
      expect(await temp.command(`AUTH XOAUTH2 ${xoauth2(ALICE, 'self-test-token')}`)).toMatch(/^-ERR \[SYS\/TEMP\]/);
    } finally {
      temp.close();
      lab.setIntrospectionFailure(undefined);
    }
  });

  it('captures a message submitted with nodemailer (STARTTLS, AUTH) and strips Postfix trace headers', async () => {
    await lab.clearCaptured();
    // Awkward on purpose: an unqualified To (Postfix would qualify it for a "local" client), no Date or
    // Message-ID (it would add them), its own Received header, 8-bit bytes, a dot line, a 5,000-byte line.
    const raw = Buffer.concat([
      Buffer.from(
        'From: Alice <alice@example.test>\r\nTo: someone\r\nSubject: submitted by the lab self-test\r\n' +
          'Received: from earlier.example by hop.example; Thu, 01 Jan 2026 00:00:00 +0000\r\n\r\n' +
          'body\r\n.dot line\r\n8-bit: ',
      ),
      Buffer.from([0xe4, 0xff, 0x80]),
      Buffer.from(`\r\n${'x'.repeat(5000)}\r\n`),
    ]);
    const transport = nodemailer.createTransport({
      host: lab.host,
      port: lab.smtpPort,
      secure: false,
      requireTLS: true,
      tls: { ca: lab.ca, servername: 'localhost' },
      auth: { user: ALICE, pass: 'alice-password' },
    });
    try {
      const info = await transport.sendMail({ envelope: { from: ALICE, to: ['someone@example.org'] }, raw });
      expect(info.response).toMatch(/^250 /);
    } finally {
      transport.close();
    }
    const [captured] = await lab.waitForCaptured(1);
    const header = captured.raw.subarray(0, captured.raw.indexOf('\n\n')).toString('latin1');
    expect(header).toMatch(/^Return-Path: <alice@example.test>\n/);
    expect(header).toMatch(/\nDelivered-To: someone@example.org\n/);
    const stripped = stripPostfixTrace(captured.raw);
    // The submitted message's own Received header survives: only the lab's trace is removed.
    expect(stripped.toString('latin1')).toMatch(/^From: Alice/);
    expect(toCrlf(stripped).equals(raw)).toBe(true);
  });

  it('lets LOGIN through on the IMAP port and sees the same maildir', async () => {
    expect(lab.imapPort).toBeTypeOf('number');
    const s = await LineSession.plain(lab.host, lab.imapPort as number);
    try {
      expect(await s.text()).toMatch(/^\* OK/);
      s.send(`a LOGIN ${ALICE} alice-password`);
      expect((await s.imapUntilTagged('a')).at(-1)).toMatch(/^a OK/);
      s.send('b SELECT INBOX');
      const select = await s.imapUntilTagged('b');
      expect(select).toContain('* 1 EXISTS');
      expect(select.at(-1)).toMatch(/^b OK/);
      s.send('c LOGOUT');
      await s.imapUntilTagged('c');
    } finally {
      s.close();
    }
  });

  it('bulk-injects in array order, counts and clears without reusing UIDs', async () => {
    const user = 'bulk@example.test';
    const raws = Array.from({ length: 300 }, (_, i) => Buffer.from(`Subject: bulk ${i}\r\n\r\nmessage ${i}\r\n`));
    const t = Date.now();
    await lab.injectMessages(user, raws);
    const injectMs = Date.now() - t;
    expect(await lab.maildirCount(user)).toBe(300);

    lab.setToken('bulk-token', user);
    const s = await LineSession.plain(lab.host, lab.imapPort as number);
    try {
      await s.text();
      // Any user works for the maildir; bulk@ has no password, so it logs in by token (SASL-IR, RFC 4959).
      s.send(`a AUTHENTICATE XOAUTH2 ${xoauth2(user, 'bulk-token')}`);
      expect((await s.imapUntilTagged('a')).at(-1)).toMatch(/^a OK/);
      s.send('b EXAMINE INBOX');
      expect(await s.imapUntilTagged('b')).toContain('* 300 EXISTS');
      s.send('c UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
      const subjects = (await s.imapUntilTagged('c')).filter((l) => l.startsWith('Subject: '));
      expect(subjects).toEqual(raws.map((_, i) => `Subject: bulk ${i}`));
      s.send('d LOGOUT');
      await s.imapUntilTagged('d');
    } finally {
      s.close();
    }

    await lab.clearMaildir(user);
    expect(await lab.maildirCount(user)).toBe(0);
    await lab.injectMessage(user, Buffer.from('Subject: after clear\r\n\r\nx\r\n'));
    const again = await LineSession.plain(lab.host, lab.imapPort as number);
    try {
      await again.text();
      again.send(`a AUTHENTICATE XOAUTH2 ${xoauth2(user, 'bulk-token')}`);
      await again.imapUntilTagged('a');
      again.send('b EXAMINE INBOX');
      expect(await again.imapUntilTagged('b')).toContain('* 1 EXISTS');
      again.send('c UID FETCH 1:* (UID)');
      expect(await again.imapUntilTagged('c')).toContain('* 1 FETCH (UID 301)');
    } finally {
      again.close();
    }
    console.log(`injectMessages: 300 messages in ${injectMs} ms`);
  });

  it('addUser and setDenied take effect by the time they resolve', async () => {
    await Promise.all([lab.addUser('Carol@Example.test', 'carol-password'), lab.setDenied('bob@example.test', true)]);
    const login = async (user: string, pass: string): Promise<string> => {
      const s = await LineSession.tls(lab.host, lab.pop3sPort, lab.ca);
      try {
        await s.text();
        await s.command(`USER ${user}`);
        return await s.command(`PASS ${pass}`);
      } finally {
        s.close();
      }
    };
    const [carol, bob] = await Promise.all([login('carol@example.test', 'carol-password'), login('bob@example.test', 'bob-password')]);
    expect(carol).toMatch(/^\+OK/);
    expect(bob).toMatch(/^-ERR \[AUTH\]/);
  });
});
