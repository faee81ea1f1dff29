/**
 * Our POP3 client against a real Dovecot 2.3 (the upstream lab, test/helpers/lab.ts): TLS and STLS with
 * certificate verification, password and XOAUTH2 logins, awkward messages byte for byte, UIDL, DELE/QUIT.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Pop3Client, type Pop3ClientOptions } from '../../src/upstream/pop3/client.js';
import { Pop3Error } from '../../src/upstream/pop3/errors.js';
import { startLab, type Lab } from '../helpers/lab.js';
import { seededIntegers } from '../helpers/random.js';
import { rejection } from '../helpers/rejection.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';

let lab: Lab;
const clients: Pop3Client[] = [];

/** A CRLF message from a header block and body lines (as a maildir holds it for POP3). */
function message(headers: string[], bodyLines: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = headers.map((h) => Buffer.from(`${h}\r\n`, 'latin1'));
  parts.push(Buffer.from('\r\n'));
  for (const line of bodyLines) {
    parts.push(typeof line === 'string' ? Buffer.from(line, 'latin1') : line, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

function header(subject: string, extra: string[] = []): string[] {
  return [
    'From: Sender <sender@example.org>',
    `To: ${ALICE}`,
    `Subject: ${subject}`,
    'Date: Thu, 27 Nov 2025 06:00:00 +0000',
    `Message-ID: <${subject.replace(/\W+/g, '-')}@example.org>`,
    ...extra,
  ];
}

/** Lines of bytes 0x01..0xFF except CR and LF: what a binary attachment sent without encoding looks like. */
function binaryishLines(count: number, seed: number): Buffer[] {
  const next = seededIntegers(seed);
  const lines: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const line = Buffer.alloc(1 + (next() % 200));
    for (let j = 0; j < line.length; j++) {
      let byte = 1 + (next() % 255);
      if (byte === 0x0a || byte === 0x0d) byte = 0x2e; // a dot, to add more stuffing cases
      line[j] = byte;
    }
    lines.push(line);
  }
  return lines;
}

function bigMessage(): Buffer {
  // ~3 MB: base64-like lines with a dot-led line every so often, like a large attachment.
  const next = seededIntegers(7);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const lines: string[] = [];
  for (let i = 0; i < 40_000; i++) {
    let line = '';
    for (let j = 0; j < 76; j++) line += alphabet[next() % 64];
    lines.push(i % 113 === 0 ? `.${line}` : line);
  }
  return message(header('big', ['MIME-Version: 1.0', 'Content-Type: application/octet-stream']), lines);
}

const AWKWARD: Array<{ name: string; raw: Buffer }> = [
  {
    name: 'leading dots and a lone dot',
    raw: message(header('dots'), ['.leading dot', '..two leading dots', '.', 'after the lone dot', '. space', '...']),
  },
  {
    name: '8-bit without MIME',
    raw: message(header('8bit'), [
      Buffer.from(Array.from({ length: 64 }, (_, i) => 0x80 + i)),
      Buffer.from(Array.from({ length: 64 }, (_, i) => 0xc0 + i)),
      Buffer.from('caf\u00e9 na\u00efve \u00fc', 'utf8'),
      Buffer.from('caf\u00e9 in latin-1', 'latin1'),
    ]),
  },
  { name: '5,000-character line', raw: message(header('long line'), ['x'.repeat(5000), `.${'y'.repeat(4999)}`]) },
  { name: '~3 MB', raw: bigMessage() },
  {
    name: 'binary-ish attachment bytes',
    raw: message(header('binary', ['Content-Type: application/octet-stream']), binaryishLines(500, 42)),
  },
  { name: 'empty body', raw: message(header('empty'), []) },
];

function options(extra: Partial<Pop3ClientOptions> = {}): Pop3ClientOptions {
  return { host: lab.host, port: lab.pop3sPort, tls: 'implicit', ca: lab.ca, timeoutMs: 15_000, ...extra };
}

async function connect(extra: Partial<Pop3ClientOptions> = {}): Promise<Pop3Client> {
  const client = await Pop3Client.connect(options(extra));
  clients.push(client);
  return client;
}

async function session(user: string, password: string): Promise<Pop3Client> {
  const client = await connect();
  await client.loginPassword(user, password);
  return client;
}

/** The rejection of `promise` as a Pop3Error (fails the test if it resolves or rejects with something else). */
const failure = (promise: Promise<unknown>): Promise<Pop3Error> => rejection(promise, Pop3Error);

beforeAll(async () => {
  lab = await startLab({ oauth: true });
  await lab.injectMessages(
    ALICE,
    AWKWARD.map((m) => m.raw),
  );
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

afterAll(async () => {
  await lab?.stop();
});

describe('Pop3Client against Dovecot', () => {
  it('logs in over implicit TLS (pop3s) and reports capabilities', async () => {
    const client = await session(ALICE, 'alice-password');
    expect(client.capabilities.has('UIDL')).toBe(true);
    expect(client.capabilities.has('PIPELINING')).toBe(true);
    expect(client.pipelining).toBe(true);
    const stat = await client.stat();
    expect(stat.count).toBe(AWKWARD.length);
    expect(stat.size).toBe(AWKWARD.reduce((sum, m) => sum + m.raw.length, 0));
    await client.quit();
  });

  it('does STLS on the plain port of the strict host (where Dovecot refuses USER before TLS)', async () => {
    // Proof that the strict host really demands TLS: a loopback plain session is refused the login.
    const plain = await connect({ host: lab.strictHost, port: lab.pop3Port, tls: 'none' });
    expect(plain.capabilities.has('STLS')).toBe(true);
    const refused = await failure(plain.loginPassword(ALICE, 'alice-password'));
    expect(refused.kind).toBe('auth');
    expect(refused.serverText).toMatch(/plaintext authentication disallowed/i);

    const client = await connect({ host: lab.strictHost, port: lab.pop3Port, tls: 'starttls' });
    // RFC 2595 §4: the capabilities were asked again over TLS, where STLS is no longer offered.
    expect(client.capabilities.has('STLS')).toBe(false);
    await client.loginPassword(ALICE, 'alice-password');
    expect((await client.stat()).count).toBe(AWKWARD.length);
    const raw = await client.retr(1);
    expect(raw.equals(AWKWARD[0].raw)).toBe(true);
    await client.quit();
  });

  it('fails with kind tls when the certificate is not trusted (no CA, another CA), on pop3s and on STLS', async () => {
    const otherCaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-other-ca-'));
    try {
      const otherCa = path.join(otherCaDir, 'ca.pem');
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
          '-addext',
          'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:127.0.0.2',
          '-keyout',
          path.join(otherCaDir, 'key.pem'),
          '-out',
          otherCa,
        ],
        { stdio: 'ignore' },
      );
      const wrongCa = fs.readFileSync(otherCa);
      const noCa = await failure(Pop3Client.connect({ ...options(), ca: undefined }));
      expect(noCa.kind).toBe('tls');
      expect(noCa.temporary).toBe(false);
      expect((await failure(Pop3Client.connect(options({ ca: wrongCa })))).kind).toBe('tls');
      const viaStls = await failure(
        Pop3Client.connect(options({ host: lab.strictHost, port: lab.pop3Port, tls: 'starttls', ca: wrongCa })),
      );
      expect(viaStls.kind).toBe('tls');
    } finally {
      fs.rmSync(otherCaDir, { recursive: true, force: true });
    }
  });

  it('fails with kind auth (not temporary) for a wrong password, without echoing it', async () => {
    const client = await connect();
    const error = await failure(client.loginPassword(ALICE, 'not-the-password'));
    expect(error.kind).toBe('auth');
    expect(error.temporary).toBe(false);
    expect(error.code).toBe('AUTH');
    expect(error.message).not.toContain('not-the-password');
  });

  it('logs in with XOAUTH2 (two steps) with a valid token, and fails with kind auth for an unknown one', async () => {
    lab.setToken('alice-valid-token', ALICE);
    const good = await connect();
    await good.loginXoauth2(ALICE, 'alice-valid-token');
    expect((await good.stat()).count).toBe(AWKWARD.length);
    await good.quit();

    const bad = await connect();
    const error = await failure(bad.loginXoauth2(ALICE, 'unknown-token'));
    expect(error.kind).toBe('auth');
    expect(error.temporary).toBe(false);
    // Dovecot's error challenge is base64 JSON with status 401; the client answered it and saw -ERR [AUTH].
    expect(error.message).toContain('"status":"401"');
    expect(error.message).not.toContain('unknown-token');
  });

  it('brings every awkward message byte for byte with RETR, and LIST gives their exact sizes', async () => {
    const client = await session(ALICE, 'alice-password');
    const list = await client.list();
    expect(list).toEqual(AWKWARD.map((m, i) => ({ msg: i + 1, size: m.raw.length })));
    for (const [i, expected] of AWKWARD.entries()) {
      const raw = await client.retr(i + 1);
      expect({ name: expected.name, equal: raw.equals(expected.raw), length: raw.length }).toEqual({
        name: expected.name,
        equal: true,
        length: expected.raw.length,
      });
    }
    await client.quit();
  });

  it('brings them byte for byte with pipelined retrMany, in order, and TOP gives the header', async () => {
    const client = await session(ALICE, 'alice-password');
    const got: Array<[number, Buffer]> = [];
    const order = [6, 4, 1, 2, 3, 5, 4];
    await client.retrMany(order, (msg, raw) => void got.push([msg, raw]));
    expect(got.map(([msg]) => msg)).toEqual(order);
    for (const [msg, raw] of got) expect(raw.equals(AWKWARD[msg - 1].raw)).toBe(true);

    const top = await client.top(1, 0);
    const headerEnd = AWKWARD[0].raw.indexOf('\r\n\r\n') + 4;
    expect(top.equals(AWKWARD[0].raw.subarray(0, headerEnd))).toBe(true);
    await client.quit();
  });

  it('fails a message over maxMessageBytes with TOO-LARGE, cutting the connection there (the rest is never read)', async () => {
    const client = await connect({ maxMessageBytes: 1_000_000 });
    await client.loginPassword(ALICE, 'alice-password');
    expect(await failure(client.retr(4))).toMatchObject({ kind: 'protocol', code: 'TOO-LARGE' });
    expect(client.isOpen).toBe(false);
    const again = await connect({ maxMessageBytes: 1_000_000 });
    await again.loginPassword(ALICE, 'alice-password');
    expect((await again.retr(1)).equals(AWKWARD[0].raw)).toBe(true);
    await again.quit();
  });

  it('sees the same UIDLs in every session', async () => {
    const first = await session(ALICE, 'alice-password');
    const uidls = await first.uidl();
    await first.quit();
    expect(uidls).toHaveLength(AWKWARD.length);
    expect(new Set(uidls.map((u) => u.uidl)).size).toBe(AWKWARD.length);
    const second = await session(ALICE, 'alice-password');
    expect(await second.uidl()).toEqual(uidls);
    await second.quit();
  });

  it('removes a message on DELE + QUIT, and keeps it on DELE + close() without QUIT', async () => {
    const keep = message(header('keep'), ['kept']);
    const gone = message(header('gone'), ['deleted']);
    const dropped = message(header('dropped session'), ['still here']);
    await lab.injectMessages(BOB, [keep, gone, dropped]);

    const deleting = await session(BOB, 'bob-password');
    const before = await deleting.uidl();
    expect(before).toHaveLength(3);
    await deleting.dele(2);
    expect((await deleting.stat()).count).toBe(2); // marked, not yet removed
    await deleting.quit();
    expect(await lab.maildirCount(BOB)).toBe(2);

    const after = await session(BOB, 'bob-password');
    const uidls = await after.uidl();
    expect(uidls.map((u) => u.uidl)).toEqual([before[0].uidl, before[2].uidl]);
    await after.dele(2);
    after.close(); // no QUIT: RFC 1939 §6, the server never enters UPDATE
    await new Promise((resolve) => setTimeout(resolve, 200));

    const last = await session(BOB, 'bob-password');
    expect((await last.uidl()).map((u) => u.uidl)).toEqual([before[0].uidl, before[2].uidl]);
    expect((await last.retr(2)).equals(dropped)).toBe(true);
    await last.rset();
    await last.noop();
    await last.quit();
    expect(await lab.maildirCount(BOB)).toBe(2);
  });
});
