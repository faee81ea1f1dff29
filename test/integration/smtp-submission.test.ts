// The local submission server with real clients over real sockets: nodemailer as a mail client would
// use it, and a bare SMTP client (fixtures/smtp-wire.ts) where exact reply codes and the EHLO list
// matter. No upstream is involved: the messages stay in the outbox.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/runtime/logger.js';
import { StatusBoard } from '../../src/runtime/status-board.js';
import { startSubmissionServer, type SubmissionServer } from '../../src/downstream/smtp/server.js';
import type { OutboxEntry } from '../../src/store/records.js';
import { LOCAL_PASSWORD, openLocalSide, submit, testAccount, type LocalSide } from './fixtures/smtp-setup.js';
import { plainAuth, SmtpWire } from './fixtures/smtp-wire.js';

const ALICE = 'alice@example.test';
const MAX_BYTES = 64 * 1024;
const AUTH_DELAY_MS = 300;
const account = testAccount(ALICE, {}, { sendAs: ['alias@example.test'] });

const message = (subject: string, body = 'Hello.\r\n'): Buffer =>
  Buffer.from(
    `From: ${ALICE}\r\nTo: bob@example.org\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.test>\r\n\r\n${body}`,
  );

let local: LocalSide;
let server: SubmissionServer;
let port: number;
const status = new StatusBoard();

async function loggedIn(): Promise<SmtpWire> {
  const wire = await SmtpWire.connect('127.0.0.1', port);
  expect((await wire.reply()).code).toBe(220);
  expect((await wire.command('EHLO client.example')).code).toBe(250);
  expect((await wire.command(`AUTH PLAIN ${plainAuth(ALICE, LOCAL_PASSWORD)}`)).code).toBe(235);
  return wire;
}

async function outbox(): Promise<OutboxEntry[]> {
  return local.store.listOutbox(ALICE);
}

beforeAll(async () => {
  local = await openLocalSide([ALICE], AUTH_DELAY_MS);
  server = await startSubmissionServer({
    listen: [
      { host: '127.0.0.1', port: 0 },
      { host: '::1', port: 0 },
    ],
    store: local.store,
    auth: local.auth,
    logger: silentLogger(),
    maxMessageBytes: MAX_BYTES,
    accounts: () => [account],
    status,
  });
  port = server.addresses()[0].port;
});

afterAll(async () => {
  await server?.stop();
  await local?.close();
});

describe('submission server on loopback', () => {
  it('listens on every address with a port of its own choosing and reports itself in status', async () => {
    const addresses = server.addresses();
    expect(addresses.map((a) => a.host)).toEqual(['127.0.0.1', '::1']);
    for (const a of addresses) expect(a.port).toBeGreaterThan(0);
    expect(status.get('smtp-listener', `127.0.0.1:${port}`)).toMatchObject({ loopback: true, starttls: false, maxMessageBytes: MAX_BYTES });
    const info = await submit(addresses[1].port, ALICE, { from: ALICE, to: ['v6@example.org'] }, message('over IPv6'), '::1');
    expect(info.response).toMatch(/^250 /);
  });

  it('advertises AUTH PLAIN LOGIN and SIZE, but not STARTTLS', async () => {
    const wire = await SmtpWire.connect('127.0.0.1', port);
    try {
      expect((await wire.reply()).code).toBe(220);
      const ehlo = await wire.command('EHLO client.example');
      expect(ehlo.code).toBe(250);
      expect(ehlo.lines).toContain('AUTH PLAIN LOGIN');
      expect(ehlo.lines).toContain(`SIZE ${MAX_BYTES}`);
      expect(ehlo.lines.some((line) => /^STARTTLS/i.test(line))).toBe(false);
      // Not offered means not accepted either.
      expect((await wire.command('STARTTLS')).code).toBeGreaterThanOrEqual(500);
    } finally {
      wire.close();
    }
  });

  it('refuses MAIL, RCPT and DATA before AUTH with 530: never an open relay, also not from localhost', async () => {
    const wire = await SmtpWire.connect('127.0.0.1', port);
    try {
      await wire.reply();
      await wire.command('EHLO client.example');
      expect((await wire.command(`MAIL FROM:<${ALICE}>`)).code).toBe(530);
      expect((await wire.command('RCPT TO:<victim@example.org>')).code).toBe(530);
      expect((await wire.command('DATA')).code).toBe(530);
    } finally {
      wire.close();
    }
    const anonymous = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, logger: false });
    await expect(
      anonymous.sendMail({ envelope: { from: ALICE, to: ['victim@example.org'] }, raw: message('relay attempt') }),
    ).rejects.toMatchObject({ responseCode: 530 });
    expect((await outbox()).some((entry) => entry.recipients.includes('victim@example.org'))).toBe(false);
  });

  it('refuses a wrong password or an unknown account with 535, slowed down, and lets the right one in', async () => {
    const wire = await SmtpWire.connect('127.0.0.1', port);
    try {
      await wire.reply();
      await wire.command('EHLO client.example');
      let started = Date.now();
      expect((await wire.command(`AUTH PLAIN ${plainAuth(ALICE, 'wrong')}`)).code).toBe(535);
      expect(Date.now() - started).toBeGreaterThanOrEqual(AUTH_DELAY_MS - 20);
      started = Date.now();
      expect((await wire.command(`AUTH PLAIN ${plainAuth('mallory@example.test', LOCAL_PASSWORD)}`)).code).toBe(535);
      expect(Date.now() - started).toBeGreaterThanOrEqual(AUTH_DELAY_MS - 20);
      expect((await wire.command(`MAIL FROM:<${ALICE}>`)).code).toBe(530);
      expect((await wire.command(`AUTH PLAIN ${plainAuth(ALICE, LOCAL_PASSWORD)}`)).code).toBe(235);
      expect((await wire.command(`MAIL FROM:<${ALICE}>`)).code).toBe(250);
    } finally {
      wire.close();
    }
  });

  it('accepts AUTH LOGIN (RFC 4954 with the LOGIN mechanism many old clients use)', async () => {
    const wire = await SmtpWire.connect('127.0.0.1', port);
    try {
      await wire.reply();
      await wire.command('EHLO client.example');
      expect((await wire.command('AUTH LOGIN')).code).toBe(334);
      expect((await wire.command(Buffer.from(ALICE).toString('base64'))).code).toBe(334);
      expect((await wire.command(Buffer.from(LOCAL_PASSWORD).toString('base64'))).code).toBe(235);
    } finally {
      wire.close();
    }
  });

  it('refuses a sender that is not the account with a clear 553, and accepts send_as addresses', async () => {
    const wire = await loggedIn();
    try {
      const refused = await wire.command('MAIL FROM:<boss@example.test>');
      expect(refused.code).toBe(553);
      expect(refused.text).toMatch(/<boss@example\.test> is not allowed for alice@example\.test/);
      expect((await wire.command('MAIL FROM:<>')).code).toBe(553);
      expect((await wire.command('MAIL FROM:<Alias@Example.test>')).code).toBe(250);
    } finally {
      wire.close();
    }
    await expect(submit(port, ALICE, { from: 'boss@example.test', to: ['bob@example.org'] }, message('forged'))).rejects.toMatchObject({
      responseCode: 553,
    });
  });

  it('refuses an oversized message with 552, announced (SIZE=) or not, queues nothing and goes on', async () => {
    const before = (await outbox()).length;
    const wire = await loggedIn();
    try {
      expect((await wire.command(`MAIL FROM:<${ALICE}> SIZE=${MAX_BYTES + 1}`)).code).toBe(552);
      expect((await wire.command(`MAIL FROM:<${ALICE}>`)).code).toBe(250);
      expect((await wire.command('RCPT TO:<bob@example.org>')).code).toBe(250);
      expect((await wire.command('DATA')).code).toBe(354);
      const line = `${'x'.repeat(78)}\r\n`;
      wire.send(
        Buffer.concat([message('too big'), Buffer.from(line.repeat(Math.ceil((MAX_BYTES + 100) / line.length))), Buffer.from('.\r\n')]),
      );
      expect((await wire.reply()).code).toBe(552);
      expect((await outbox()).length).toBe(before);
      // The same session still works for a message that fits.
      expect((await wire.command(`MAIL FROM:<${ALICE}>`)).code).toBe(250);
      expect((await wire.command('RCPT TO:<bob@example.org>')).code).toBe(250);
      expect((await wire.command('DATA')).code).toBe(354);
      wire.send(Buffer.concat([message('fits'), Buffer.from('.\r\n')]));
      expect((await wire.reply()).code).toBe(250);
    } finally {
      wire.close();
    }
    expect((await outbox()).length).toBe(before + 1);
  });

  it('answers 250 only after the message and its envelope are durable in the outbox', async () => {
    const store = local.store;
    const original = store.enqueueOutbox.bind(store);
    let durableAt = 0;
    store.enqueueOutbox = async (entry, raw) => {
      // Slow the store down: a server that answered before the batch returned would be caught here.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const queued = await original(entry, raw);
      durableAt = Date.now();
      return queued;
    };
    try {
      const raw = message('durable', '.leading dot\r\n..two dots\r\n8-bit: \u00e9\r\n');
      const info = await submit(port, ALICE, { from: ALICE, to: ['bob@example.org', 'carol@example.org'] }, raw);
      const answeredAt = Date.now();
      expect(durableAt).toBeGreaterThan(0);
      expect(answeredAt).toBeGreaterThanOrEqual(durableAt);
      const id = /queued as (\S+)/.exec(info.response)?.[1];
      const entry = (await outbox()).find((candidate) => candidate.id === id);
      expect(entry).toMatchObject({
        account: ALICE,
        from: ALICE,
        recipients: ['bob@example.org', 'carol@example.org'],
        pending: ['bob@example.org', 'carol@example.org'],
        attempts: 0,
      });
      expect((await store.getBlob(entry!.blobId)).equals(raw)).toBe(true);
    } finally {
      store.enqueueOutbox = original;
    }
  });

  it('answers 451 when the store cannot take the message, and queues nothing', async () => {
    const store = local.store;
    const original = store.enqueueOutbox.bind(store);
    store.enqueueOutbox = () => Promise.reject(new Error('disk full'));
    const before = (await outbox()).length;
    try {
      await expect(submit(port, ALICE, { from: ALICE, to: ['bob@example.org'] }, message('no room'))).rejects.toMatchObject({
        responseCode: 451,
      });
    } finally {
      store.enqueueOutbox = original;
    }
    expect((await outbox()).length).toBe(before);
    expect((await submit(port, ALICE, { from: ALICE, to: ['bob@example.org'] }, message('room again'))).response).toMatch(/^250 /);
  });
});

describe('submission server on a non-loopback address', () => {
  let certDir: string;
  let cert: Buffer;
  let key: Buffer;

  beforeAll(() => {
    certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-smtp-cert-'));
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
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        path.join(certDir, 'key.pem'),
        '-out',
        path.join(certDir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    cert = fs.readFileSync(path.join(certDir, 'cert.pem'));
    key = fs.readFileSync(path.join(certDir, 'key.pem'));
  });

  afterAll(() => fs.rmSync(certDir, { recursive: true, force: true }));

  it('will not start without a certificate', async () => {
    await expect(
      startSubmissionServer({
        listen: [{ host: '0.0.0.0', port: 0 }],
        store: local.store,
        auth: local.auth,
        logger: silentLogger(),
        maxMessageBytes: MAX_BYTES,
        accounts: () => [account],
      }),
    ).rejects.toThrow(/is not on loopback: turn TLS on/);
  });

  it('offers STARTTLS and requires it before AUTH', async () => {
    // 0.0.0.0 listens on every interface: the listener, not the client, decides (we connect via 127.0.0.1).
    const open = await startSubmissionServer({
      listen: [{ host: '0.0.0.0', port: 0 }],
      store: local.store,
      auth: local.auth,
      logger: silentLogger(),
      maxMessageBytes: MAX_BYTES,
      accounts: () => [account],
      tls: { cert, key },
    });
    const wire = await SmtpWire.connect('127.0.0.1', open.addresses()[0].port);
    try {
      await wire.reply();
      expect((await wire.command('EHLO client.example')).lines).toContain('STARTTLS');
      const early = await wire.command(`AUTH PLAIN ${plainAuth(ALICE, LOCAL_PASSWORD)}`);
      expect(early.code).toBe(538);
      expect((await wire.command(`MAIL FROM:<${ALICE}>`)).code).toBe(530);
      expect((await wire.command('STARTTLS')).code).toBe(220);
      await wire.upgrade(cert);
      const ehlo = await wire.command('EHLO client.example');
      expect(ehlo.lines).not.toContain('STARTTLS');
      expect((await wire.command(`AUTH PLAIN ${plainAuth(ALICE, LOCAL_PASSWORD)}`)).code).toBe(235);
      expect((await wire.command(`MAIL FROM:<${ALICE}>`)).code).toBe(250);
      expect((await wire.command('RCPT TO:<bob@example.org>')).code).toBe(250);
      expect((await wire.command('DATA')).code).toBe(354);
      wire.send(Buffer.concat([message('over tls'), Buffer.from('.\r\n')]));
      expect((await wire.reply()).code).toBe(250);
    } finally {
      wire.close();
      await open.stop();
    }
  });
});
