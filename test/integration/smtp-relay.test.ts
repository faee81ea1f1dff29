// Submission through hotbridge and relay to a real Postfix (the upstream lab: STARTTLS, AUTH through
// Dovecot, 451/550/554 on demand), end to end: a mail client (nodemailer) -> our submission server ->
// the store's outbox -> OutboxWorker -> Postfix -> captured maildir files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AccountConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { StatusBoard } from '../../src/runtime/status-board.js';
import { startSubmissionServer, type SubmissionServer } from '../../src/downstream/smtp/server.js';
import { parseMessage } from '../../src/mime/structure.js';
import type { OutboxEntry, RelayStore, Store } from '../../src/store/index.js';
import { PasswordFileSource, type CredentialSource } from '../../src/upstream/credentials.js';
import { OutboxWorker, type OutboxWorkerOptions } from '../../src/upstream/smtp/worker.js';
import { CountingSource, loginFrom } from '../helpers/credentials.js';
import { startLab, stripPostfixTrace, type CapturedMessage, type Lab } from '../helpers/lab.js';
import { crlfLines, toCrlf } from '../helpers/messages.js';
import { openLocalSide, submit, testAccount, waitFor, type LocalSide } from './fixtures/smtp-setup.js';

const ALICE = 'alice@example.test';
const UPSTREAM_PASSWORD = 'alice-password';
const FAST_RETRIES = [300, 600];

let lab: Lab;
let local: LocalSide;
let server: SubmissionServer;
let port: number;
let tmp: string;
let passwordFile: string;
let status: StatusBoard;
/** The account config the submission server and the current test's worker use. */
let account: AccountConfig;
const workers: OutboxWorker[] = [];

function labAccount(extra: Partial<AccountConfig> = {}, smtp: Partial<AccountConfig['smtp']> = {}): AccountConfig {
  return testAccount(
    ALICE,
    { host: lab.host, port: lab.smtpPort, tls: 'starttls', caFile: lab.caFile, timeoutMs: 10_000, ...smtp },
    { auth: { method: 'password', user: ALICE, passwordFile }, ...extra },
  );
}

function startWorker(credentials: CredentialSource, options: Partial<OutboxWorkerOptions> = {}): OutboxWorker {
  const worker = new OutboxWorker({
    account,
    store: local.store,
    credentials,
    logger: silentLogger(),
    status,
    retrySchedule: FAST_RETRIES,
    ...options,
  });
  workers.push(worker);
  worker.start();
  return worker;
}

const passwordSource = (): CountingSource => new CountingSource(new PasswordFileSource(ALICE, passwordFile));

async function outbox(): Promise<OutboxEntry[]> {
  return local.store.listOutbox(ALICE);
}

async function mailboxMessages(name: 'INBOX' | 'Sent'): Promise<Array<{ raw: Buffer; flags: string[] }>> {
  const mailbox = local.store.findMailbox(ALICE, name)!;
  const records = await local.store.listMessages(mailbox.id);
  return Promise.all(records.map(async (record) => ({ raw: await local.store.getBlob(record.blobId), flags: record.flags })));
}

/** What Postfix delivered, without its trace headers and with the CRLF line ends of SMTP. */
function asSent(captured: CapturedMessage): Buffer {
  return toCrlf(stripPostfixTrace(captured.raw));
}

function deliveredTo(captured: CapturedMessage): string {
  return /^X-Original-To: (.*)$/m.exec(captured.raw.toString('latin1'))?.[1] ?? '';
}

// The messages here carry their non-ASCII text as UTF-8.
const crlf = (lines: string[]): Buffer => crlfLines(lines, 'utf8');

function simpleMessage(id: string, to: string[]): Buffer {
  return crlf([
    `From: Alice <${ALICE}>`,
    `To: ${to.join(', ')}`,
    `Subject: ${id}`,
    'Date: Wed, 27 Nov 2024 06:07:08 +0000',
    `Message-ID: <${id}@example.test>`,
    '',
    `Message ${id}.`,
  ]);
}

beforeAll(async () => {
  lab = await startLab({ smtp: true, oauth: true });
  local = await openLocalSide([ALICE]);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-relay-'));
  passwordFile = path.join(tmp, 'alice.secret');
  account = labAccount();
  server = await startSubmissionServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    store: local.store,
    auth: local.auth,
    logger: silentLogger(),
    maxMessageBytes: 10 * 1024 * 1024,
    accounts: () => [account],
  });
  port = server.addresses()[0].port;
});

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.stop()));
  await server?.stop();
  await local?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  await lab?.stop();
});

beforeEach(async () => {
  fs.writeFileSync(passwordFile, `${UPSTREAM_PASSWORD}\n`);
  account = labAccount();
  status = new StatusBoard();
  await lab.setSmtpMode('normal');
  await lab.clearCaptured();
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  // Each test starts with an empty outbox (a failed test may leave entries behind).
  for (const entry of await outbox()) await local.store.finishOutbox(entry.id);
  await clearMailbox('INBOX');
  await clearMailbox('Sent');
});

describe('relay to the provider (real Postfix)', () => {
  it('forwards awkward messages byte for byte to several recipients', async () => {
    const recipients = ['bob@example.org', 'carol@example.org', 'dave@example.test'];
    const head = (id: string, extra: string[]): string[] => [
      `From: Alice <${ALICE}>`,
      `To: ${recipients.join(', ')}`,
      'Date: Wed, 27 Nov 2024 06:07:08 +0000',
      `Message-ID: <${id}@example.test>`,
      ...extra,
    ];
    const dots = crlf([
      ...head('dots', ['Subject: leading dots']),
      '',
      '.',
      '..',
      '.leading dot',
      '. space after the dot',
      '...three',
      'last line',
    ]);
    const eightBit = Buffer.concat([
      crlf([
        ...head('8bit', [
          'Subject: Grüße aus Köln — ünïcödé',
          'MIME-Version: 1.0',
          'Content-Type: text/plain; charset=utf-8',
          'Content-Transfer-Encoding: 8bit',
        ]),
        '',
        'Käse, Müsli, 寿司, emoji 📬',
      ]),
      // Bytes that are not UTF-8 at all (latin1 é, C1 controls, 0xFF) must pass untouched as well.
      Buffer.from([0x6c, 0x61, 0x74, 0x69, 0x6e, 0x31, 0x3a, 0x20, 0xe9, 0x80, 0x9f, 0xff, 0x0d, 0x0a]),
    ]);
    const attachment = Buffer.alloc(4096);
    for (let i = 0; i < attachment.length; i++) attachment[i] = (i * 131 + 7) % 256;
    const base64Lines = attachment.toString('base64').match(/.{1,76}/g)!;
    const withAttachment = crlf([
      ...head('attachment', ['Subject: with attachment', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="outer"']),
      '',
      'preamble',
      '--outer',
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Soft line=',
      ' break and trailing spaces   ',
      '=2E a dot encoded, and a real one:',
      '.',
      '--outer',
      'Content-Type: application/octet-stream; name="data.bin"',
      'Content-Disposition: attachment; filename="data.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      ...base64Lines,
      '--outer--',
      'epilogue',
    ]);
    const nested = crlf([
      ...head('nested', ['Subject: nested', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b1"']),
      '',
      '--b1',
      'Content-Type: multipart/alternative; boundary="b2"',
      '',
      '--b2',
      'Content-Type: text/plain',
      '',
      'From the start of a line (no mbox quoting, please)',
      '--b2',
      'Content-Type: text/html',
      '',
      '<p>.html</p>',
      '--b2--',
      '--b1',
      'Content-Type: message/rfc822',
      '',
      'From: someone@example.org',
      'Subject: inner',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b3"',
      '',
      '--b3',
      'Content-Type: text/plain',
      '',
      '.inner dot',
      '--b3--',
      '--b1--',
    ]);
    const messages = [dots, eightBit, withAttachment, nested];

    startWorker(passwordSource());
    for (const raw of messages) {
      const info = await submit(port, ALICE, { from: ALICE, to: recipients }, raw);
      expect(info.response).toMatch(/^250 /);
    }
    const captured = await lab.waitForCaptured(messages.length * recipients.length);
    await waitFor('an empty outbox', async () => ((await outbox()).length === 0 ? true : undefined));
    expect(captured).toHaveLength(messages.length * recipients.length);
    for (const raw of messages) {
      const copies = captured.filter((copy) => asSent(copy).equals(raw));
      expect(copies.map(deliveredTo).sort()).toEqual([...recipients].sort());
    }
    expect(status.get('outbox', ALICE)).toMatchObject({ queued: 0 });
  });

  it('makes one pass for a new submission: the updates it records itself do not start another', async () => {
    // A spy on the real store (not a mock): it counts how often the worker reads its queue. A pass
    // reads it twice (the entries to try, then the status).
    let reads = 0;
    const counting: RelayStore = Object.assign(Object.create(local.store) as Store, {
      listOutbox: (address: string) => {
        reads += 1;
        return local.store.listOutbox(address);
      },
    });
    startWorker(passwordSource(), { store: counting });
    await waitFor('the first pass', () => (reads >= 2 && status.get('outbox', ALICE) ? true : undefined));
    const before = reads;
    const raw = simpleMessage('one-pass', ['bob@example.org']);
    expect((await submit(port, ALICE, { from: ALICE, to: ['bob@example.org'] }, raw)).response).toMatch(/^250 /);
    await lab.waitForCaptured(1);
    await waitFor('the pass to finish', async () => (reads >= before + 2 && (await outbox()).length === 0 ? true : undefined));
    // Time for a pass its own "finished" event would have started (it would begin at once).
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(reads).toBe(before + 2);
  });

  it('on 451 keeps the message, retries with backoff, shows it in status, and delivers once the provider recovers', async () => {
    await lab.setSmtpMode('tempfail');
    startWorker(passwordSource());
    const raw = simpleMessage('tempfail', ['bob@example.org']);
    expect((await submit(port, ALICE, { from: ALICE, to: ['bob@example.org'] }, raw)).response).toMatch(/^250 /);
    const waiting = await waitFor('two failed attempts', async () => (await outbox()).find((entry) => entry.attempts >= 2));
    expect(waiting.lastError).toMatch(/^451 4\.7\.500 .*Server busy/);
    expect(waiting.pending).toEqual(['bob@example.org']);
    expect(waiting.nextAttemptAt).toBeGreaterThan(Date.now() - 1000);
    const shown = status.get('outbox', ALICE) as { queued: number; entries: Array<Record<string, unknown>> };
    expect(shown.queued).toBe(1);
    expect(shown.entries[0]).toMatchObject({ id: waiting.id, pending: ['bob@example.org'] });
    expect(shown.entries[0].attempts).toBeGreaterThanOrEqual(1);
    expect(shown.entries[0].lastError).toMatch(/^451 /);
    expect(typeof shown.entries[0].nextAttemptAt).toBe('string');
    expect(await lab.captured()).toHaveLength(0);

    await lab.setSmtpMode('normal');
    const [delivered] = await lab.waitForCaptured(1);
    expect(asSent(delivered).equals(raw)).toBe(true);
    await waitFor('an empty outbox', async () => ((await outbox()).length === 0 ? true : undefined));
    // Delivered once, no bounce.
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await lab.captured()).toHaveLength(1);
    expect(await mailboxMessages('INBOX')).toHaveLength(0);
  });

  it('on 421 and a dropped connection retries and delivers once the provider is back', async () => {
    await lab.setSmtpMode('disconnect');
    startWorker(passwordSource());
    const raw = simpleMessage('disconnect', ['bob@example.org']);
    await submit(port, ALICE, { from: ALICE, to: ['bob@example.org'] }, raw);
    const waiting = await waitFor('a failed attempt', async () => (await outbox()).find((entry) => entry.attempts >= 1));
    expect(waiting.lastError).toMatch(/^421 /);
    expect(waiting.waitingFor).toBeUndefined();
    await lab.setSmtpMode('normal');
    const [delivered] = await lab.waitForCaptured(1);
    expect(asSent(delivered).equals(raw)).toBe(true);
    await waitFor('an empty outbox', async () => ((await outbox()).length === 0 ? true : undefined));
    expect(await mailboxMessages('INBOX')).toHaveLength(0);
  });

  it('on 550 for one recipient of two delivers to the other and puts a bounce with the exact reply in INBOX', async () => {
    // The exact reply Postfix gives for this recipient, asked directly (not through hotbridge).
    const direct = nodemailer.createTransport({
      host: lab.host,
      port: lab.smtpPort,
      secure: false,
      requireTLS: true,
      tls: { ca: lab.ca },
      auth: { user: ALICE, pass: UPSTREAM_PASSWORD },
      logger: false,
    });
    const probe = await direct.sendMail({
      envelope: { from: ALICE, to: ['probe@example.org', 'permfail1@example.org'] },
      raw: simpleMessage('probe', ['probe@example.org']),
    });
    direct.close();
    expect(probe.rejected).toEqual(['permfail1@example.org']);
    const exactReply = (probe as unknown as { rejectedErrors: Array<{ response: string }> }).rejectedErrors[0].response;
    expect(exactReply).toMatch(/^550 5\.1\.1 /);
    await lab.waitForCaptured(1);
    await lab.clearCaptured();

    startWorker(passwordSource());
    const raw = simpleMessage('partial', ['bob@example.org', 'permfail1@example.org']);
    await submit(port, ALICE, { from: ALICE, to: ['bob@example.org', 'permfail1@example.org'] }, raw);
    const [delivered] = await lab.waitForCaptured(1);
    expect(deliveredTo(delivered)).toBe('bob@example.org');
    expect(asSent(delivered).equals(raw)).toBe(true);
    await waitFor('an empty outbox', async () => ((await outbox()).length === 0 ? true : undefined));

    const inbox = await mailboxMessages('INBOX');
    expect(inbox).toHaveLength(1);
    const bounce = inbox[0].raw;
    expect(inbox[0].flags).not.toContain('\\Seen');
    const parts = parseMessage(bounce).root.parts!;
    const deliveryStatus = bounce.subarray(parts[1].bodyStart, parts[1].bodyEnd).toString('latin1');
    expect(deliveryStatus).toContain('Final-Recipient: rfc822; permfail1@example.org\r\n');
    expect(deliveryStatus).toContain(`Diagnostic-Code: smtp; ${exactReply}\r\n`);
    expect(deliveryStatus).toContain(`Remote-MTA: dns; ${lab.host}\r\n`);
    expect(deliveryStatus).not.toContain('bob@example.org');
    const text = bounce.subarray(parts[0].bodyStart, parts[0].bodyEnd).toString('latin1').replace(/=\r\n/g, '');
    expect(text).toContain('<permfail1@example.org>');
    expect(text).toContain(exactReply.replace(/=/g, '=3D'));
    expect(text).toMatch(/delivered to:\r\n {4}<bob@example\.org>/);
    expect(bounce.subarray(parts[2].bodyStart, parts[2].bodyEnd).equals(raw)).toBe(true);
    // Only bob got it: the refused recipient is never tried again.
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(await lab.captured()).toHaveLength(1);
  });

  it('on 554 after the message (permfail-data) bounces every recipient with that reply', async () => {
    await lab.setSmtpMode('permfail-data');
    startWorker(passwordSource());
    await submit(
      port,
      ALICE,
      { from: ALICE, to: ['bob@example.org', 'carol@example.org'] },
      simpleMessage('rejected-data', ['bob@example.org']),
    );
    await waitFor('an empty outbox', async () => ((await outbox()).length === 0 ? true : undefined));
    const [bounce] = await mailboxMessages('INBOX');
    const text = bounce.raw.toString('latin1');
    expect(text).toContain('Final-Recipient: rfc822; bob@example.org\r\n');
    expect(text).toContain('Final-Recipient: rfc822; carol@example.org\r\n');
    expect(text).toMatch(/Diagnostic-Code: smtp; 554 5\.6\.0 .*Message rejected after DATA/);
    expect(await lab.captured()).toHaveLength(0);
  });

  it('with save_sent puts exactly one copy in Sent, also after a partial bounce', async () => {
    account = labAccount({ saveSent: true });
    startWorker(passwordSource());
    const raw = simpleMessage('sent-copy', ['bob@example.org', 'permfail2@example.org']);
    await submit(port, ALICE, { from: ALICE, to: ['bob@example.org', 'permfail2@example.org'] }, raw);
    await lab.waitForCaptured(1);
    await waitFor('an empty outbox', async () => ((await outbox()).length === 0 ? true : undefined));
    const sent = await mailboxMessages('Sent');
    expect(sent).toHaveLength(1);
    expect(sent[0].raw.equals(raw)).toBe(true);
    expect(sent[0].flags).toContain('\\Seen');
    expect(await mailboxMessages('INBOX')).toHaveLength(1);
    // Another pass finds nothing to do and adds nothing.
    workers[0].kick();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await mailboxMessages('Sent')).toHaveLength(1);
  });

  it('a refused login is not a bounce: the message waits, status alerts, and it goes out after the fix', async () => {
    fs.writeFileSync(passwordFile, 'wrong-password\n');
    const credentials = passwordSource();
    const worker = startWorker(credentials);
    const raw = simpleMessage('auth', ['bob@example.org']);
    await submit(port, ALICE, { from: ALICE, to: ['bob@example.org'] }, raw);
    const waiting = await waitFor('an entry waiting for auth', async () => (await outbox()).find((entry) => entry.waitingFor === 'auth'));
    expect(waiting.lastError).toMatch(/^535 5\.7\.8/);
    expect(credentials.refusals).toBeGreaterThanOrEqual(1);
    const shown = await waitFor('the status alert', () => {
      const value = status.get('outbox', ALICE) as { alert?: string; waitingForAuth?: number } | undefined;
      return value?.alert !== undefined && value.waitingForAuth === 1 ? value : undefined;
    });
    expect(shown.alert).toMatch(/refused the sign-in for alice@example\.test/);
    expect(shown.alert).toContain(passwordFile);
    expect(await mailboxMessages('INBOX')).toHaveLength(0);
    expect(await lab.captured()).toHaveLength(0);

    fs.writeFileSync(passwordFile, `${UPSTREAM_PASSWORD}\n`);
    worker.kick();
    const [delivered] = await lab.waitForCaptured(1);
    expect(asSent(delivered).equals(raw)).toBe(true);
    await waitFor('an empty outbox', async () => ((await outbox()).length === 0 ? true : undefined));
    await waitFor('the alert to go', () => ((status.get('outbox', ALICE) as { alert?: string }).alert === undefined ? true : undefined));
    expect(await mailboxMessages('INBOX')).toHaveLength(0);
  });

  it('logs in with XOAUTH2 using the access token from the credential source; a refused token waits for a new one', async () => {
    account = labAccount({
      auth: { method: 'oauth2', user: ALICE, tenant: 'consumers', authority: 'https://login.example.test', scopes: [] },
    });
    lab.setToken('alice-token-1', ALICE);
    // An OAuth2 source as the OAuth2 module provides it, with a token the test controls.
    let token = 'alice-token-1';
    const credentials = new CountingSource(loginFrom(() => ({ kind: 'xoauth2', user: ALICE, accessToken: token })));
    const worker = startWorker(credentials);
    const first = simpleMessage('xoauth2-ok', ['bob@example.org']);
    await submit(port, ALICE, { from: ALICE, to: ['bob@example.org'] }, first);
    const [delivered] = await lab.waitForCaptured(1);
    expect(asSent(delivered).equals(first)).toBe(true);
    await waitFor('an empty outbox', async () => ((await outbox()).length === 0 ? true : undefined));

    // The token expires (the introspection endpoint calls it inactive): the message waits for a fresh one.
    lab.revokeToken('alice-token-1');
    await lab.clearCaptured();
    const second = simpleMessage('xoauth2-refresh', ['bob@example.org']);
    await submit(port, ALICE, { from: ALICE, to: ['bob@example.org'] }, second);
    const waiting = await waitFor('an entry waiting for auth', async () => (await outbox()).find((entry) => entry.waitingFor === 'auth'));
    expect(waiting.lastError).toMatch(/^535 /);
    expect(credentials.refusals).toBe(1);
    expect((status.get('outbox', ALICE) as { alert?: string }).alert).toMatch(/hotbridge login alice@example\.test/);

    lab.setToken('alice-token-2', ALICE);
    token = 'alice-token-2';
    worker.kick();
    const [again] = await lab.waitForCaptured(1);
    expect(asSent(again).equals(second)).toBe(true);
    await waitFor('an empty outbox', async () => ((await outbox()).length === 0 ? true : undefined));
  });

  it('verifies the provider certificate: without ca_file the self-signed lab certificate is refused and nothing is sent', async () => {
    account = labAccount({}, { caFile: undefined });
    startWorker(passwordSource());
    await submit(port, ALICE, { from: ALICE, to: ['bob@example.org'] }, simpleMessage('untrusted', ['bob@example.org']));
    const failed = await waitFor('a failed attempt', async () => (await outbox()).find((entry) => entry.attempts >= 1));
    expect(failed.lastError).toMatch(/self[- ]signed certificate/i);
    expect(failed.waitingFor).toBeUndefined();
    expect(failed.pending).toEqual(['bob@example.org']);
    expect(await lab.captured()).toHaveLength(0);
    expect(await mailboxMessages('INBOX')).toHaveLength(0);
  });

  it('bounces a message still undeliverable when it gets too old, naming the last reply', async () => {
    await lab.setSmtpMode('tempfail');
    startWorker(passwordSource(), { maxAgeMs: 1000 });
    const raw = simpleMessage('expired', ['bob@example.org']);
    await submit(port, ALICE, { from: ALICE, to: ['bob@example.org'] }, raw);
    await waitFor('an empty outbox', async () => ((await outbox()).length === 0 ? true : undefined));
    const [bounce] = await mailboxMessages('INBOX');
    const text = bounce.raw.toString('latin1');
    expect(text).toContain('Final-Recipient: rfc822; bob@example.org\r\nAction: failed\r\nStatus: 4.7.500\r\n');
    expect(text).toMatch(/Diagnostic-Code: smtp; 451 4\.7\.500 .*Server busy/);
    expect(text.replace(/=\r\n/g, '')).toMatch(/tried \d+ times/);
    expect(await lab.captured()).toHaveLength(0);
  });
});

async function clearMailbox(name: 'INBOX' | 'Sent'): Promise<void> {
  const mailbox = local.store.findMailbox(ALICE, name)!;
  const uids = (await local.store.listMessages(mailbox.id)).map((record) => record.uid);
  await local.store.expungeMessages(mailbox.id, uids);
}

// The lab's Postfix offers only submission with STARTTLS: it has no implicit-TLS port, cannot be made
// to leave STARTTLS out, and cannot be made to hang after the message. For those cases an in-process smtp-server (nodemailer's server
// library) stands in as the provider, with the lab's certificate.
describe('what the lab Postfix cannot show (in-process smtp-server as the provider)', () => {
  interface FakeProvider {
    port: number;
    received: Buffer[];
    authAttempts: number;
    stop(): Promise<void>;
  }

  async function fakeProvider(options: { secure: boolean; offerStartTls: boolean; hangAfterData?: boolean }): Promise<FakeProvider> {
    const received: Buffer[] = [];
    let authAttempts = 0;
    const provider = new SMTPServer({
      secure: options.secure,
      key: fs.readFileSync(path.join(lab.dir, 'tls/key.pem')),
      cert: lab.ca,
      logger: false,
      disableReverseLookup: true,
      authMethods: ['PLAIN', 'LOGIN'],
      allowInsecureAuth: !options.offerStartTls,
      disabledCommands: options.offerStartTls ? [] : ['STARTTLS'],
      onAuth(auth, _session, callback) {
        authAttempts += 1;
        if (auth.username === ALICE && auth.password === UPSTREAM_PASSWORD) callback(null, { user: ALICE });
        else callback(new Error('Invalid credentials'));
      },
      onData(stream, _session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          received.push(Buffer.concat(chunks));
          // A provider that never answers the end of data: the relay is in flight until we give up.
          if (!options.hangAfterData) callback(null, 'Ok: queued');
        });
      },
    });
    await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', () => resolve()));
    const address = provider.server.address() as { port: number };
    return {
      port: address.port,
      received,
      get authAttempts() {
        return authAttempts;
      },
      stop: () => new Promise<void>((resolve) => provider.close(() => resolve())),
    };
  }

  it('implicit TLS (port 465 style) with the certificate verified against ca_file', async () => {
    const provider = await fakeProvider({ secure: true, offerStartTls: false });
    try {
      account = labAccount({}, { port: provider.port, tls: 'implicit' });
      startWorker(passwordSource());
      const raw = simpleMessage('implicit-tls', ['bob@example.org']);
      await submit(port, ALICE, { from: ALICE, to: ['bob@example.org'] }, raw);
      await waitFor('an empty outbox', async () => ((await outbox()).length === 0 ? true : undefined));
      expect(provider.received).toHaveLength(1);
      expect(provider.received[0].equals(raw)).toBe(true);
    } finally {
      await provider.stop();
    }
  });

  it('tls = "starttls" never logs in over a connection the server would not encrypt', async () => {
    const provider = await fakeProvider({ secure: false, offerStartTls: false });
    try {
      account = labAccount({}, { port: provider.port, tls: 'starttls' });
      startWorker(passwordSource());
      await submit(port, ALICE, { from: ALICE, to: ['bob@example.org'] }, simpleMessage('no-starttls', ['bob@example.org']));
      const failed = await waitFor('a failed attempt', async () => (await outbox()).find((entry) => entry.attempts >= 1));
      expect(failed.lastError).toMatch(/STARTTLS/i);
      expect(provider.authAttempts).toBe(0);
      expect(provider.received).toHaveLength(0);
    } finally {
      await provider.stop();
    }
  });

  it('stop() abandons a relay the provider never answers; the message stays queued as it was', async () => {
    const provider = await fakeProvider({ secure: true, offerStartTls: false, hangAfterData: true });
    try {
      account = labAccount({}, { port: provider.port, tls: 'implicit' });
      const worker = startWorker(passwordSource(), { stopGraceMs: 300 });
      await submit(port, ALICE, { from: ALICE, to: ['bob@example.org'] }, simpleMessage('hanging', ['bob@example.org']));
      await waitFor('the provider to have the message', () => (provider.received.length === 1 ? true : undefined));
      const started = Date.now();
      await worker.stop();
      expect(Date.now() - started).toBeLessThan(3000);
      const [entry] = await outbox();
      expect(entry).toMatchObject({ attempts: 0, pending: ['bob@example.org'], delivered: [] });
    } finally {
      await provider.stop();
    }
  });
});
