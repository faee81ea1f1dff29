/**
 * The daemon's log as journald gets it (JOURNAL_STREAM set, stdout a pipe): every line one line of text
 * starting with its syslog priority, no JSON, no key twice; at trace level the IMAP, SMTP and POP3
 * dialogue with no password, SASL payload or message in it; `--log-format json` one object per line;
 * and a provider that is down logged once when it goes, not at every poll, and once when it is back.
 * Real parts: the lab's Dovecot and Postfix upstream, imapflow and nodemailer as the mail client.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wakeDaemon } from '../../src/daemon/status-endpoint.js';
import { cliCommand, runCli, startDaemon, writeTestConfig, type RunningDaemon, type TestConfig } from '../helpers/cli.js';
import { LAB_USERS, startLab, type Lab } from '../helpers/lab.js';
import { simpleMessage, toCrlf } from '../helpers/messages.js';
import { freePorts } from '../helpers/ports.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const ALICE = LAB_USERS.alice.user;
const LOCAL_PASSWORD = 'local-secret-for-the-log-test';
const JOURNAL = { JOURNAL_STREAM: '8:424242' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every form a secret could take on the wire: as typed, and in the SASL encodings of RFC 4616 and LOGIN. */
function secretForms(user: string, password: string): string[] {
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  return [password, b64(password), b64(`\0${user}\0${password}`), b64(`${user}\0${user}\0${password}`)];
}

/** The fields hotbridge's lines carry, as ` key=` in the text form (a protocol line may hold "AUTH=PLAIN"). */
const FIELD_KEYS = [
  'account',
  'part',
  'remote',
  'user',
  'connection',
  'host',
  'port',
  'err',
  'retryIn',
  'stored',
  'id',
  'version',
  'dataDir',
  'accounts',
];
function keysOf(line: string): string[] {
  const fields = line.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return FIELD_KEYS.flatMap((key) => Array.from({ length: fields.split(` ${key}=`).length - 1 }, () => key));
}

let lab: Lab;
let dir: string;

beforeAll(async () => {
  lab = await startLab({ smtp: true });
  dir = tempDir();
}, 120_000);

afterAll(async () => {
  await lab?.stop();
  if (dir) removeDir(dir);
});

async function configFor(name: string, extraTop: string, pop3Port = lab.pop3sPort): Promise<TestConfig> {
  const sub = path.join(dir, name);
  fs.mkdirSync(sub);
  const passwordFile = path.join(sub, 'alice.secret');
  fs.writeFileSync(passwordFile, `${LAB_USERS.alice.password}\n`, { mode: 0o600 });
  const config = await writeTestConfig(
    sub,
    [
      {
        address: ALICE,
        extra: 'poll_interval = "1s"',
        passwordFile,
        pop3: { host: lab.host, port: pop3Port, tls: 'implicit', caFile: lab.caFile },
        smtp: { host: lab.host, port: lab.smtpPort, tls: 'starttls', caFile: lab.caFile },
      },
    ],
    extraTop,
  );
  const set = await runCli(['password', ALICE, '--config', config.file], { input: `${LOCAL_PASSWORD}\n` });
  expect(set.code, set.stderr).toBe(0);
  return config;
}

describe('the log under systemd, at trace level', () => {
  let config: TestConfig;
  let daemon: RunningDaemon;

  beforeAll(async () => {
    config = await configFor('trace', 'log_level = "trace"');
    await lab.injectMessage(ALICE, simpleMessage(1));
    daemon = await startDaemon(config.file, JOURNAL);
  });
  afterAll(async () => {
    await daemon?.kill();
  });

  it('carries the dialogue of all three protocols and none of the secrets', async () => {
    await daemon.waitForLog(/POP3 C: (UIDL|RETR)/);
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: config.imapPort,
      secure: false,
      auth: { user: ALICE, pass: LOCAL_PASSWORD },
      logger: false,
    });
    await client.connect();
    await client.mailboxOpen('INBOX');
    await client.logout();
    // LOGIN as well as AUTHENTICATE: python-style clients send the password in a LOGIN command.
    const login = net.connect(config.imapPort, '127.0.0.1');
    await new Promise((resolve) => login.once('data', resolve));
    login.write(`a1 LOGIN ${ALICE} "${LOCAL_PASSWORD}"\r\na2 LOGOUT\r\n`);
    await new Promise((resolve) => login.once('close', resolve));
    const raw = toCrlf(Buffer.from(`From: ${ALICE}\nTo: bob@example.test\nSubject: traced\n\nbody text of the traced message\n`));
    await nodemailer
      .createTransport({
        host: '127.0.0.1',
        port: config.smtpPort,
        secure: false,
        ignoreTLS: true,
        auth: { user: ALICE, pass: LOCAL_PASSWORD },
      })
      .sendMail({ envelope: { from: ALICE, to: ['bob@example.test'] }, raw });
    await daemon.waitForLog(/outbox entry done/);
    await sleep(300);
    const log = daemon.log();
    for (const pattern of [
      /IMAP C: \S+ (AUTHENTICATE|LOGIN)/,
      /IMAP S: \S+ OK/,
      /POP3 C: RETR 1/,
      /POP3 S: \+OK/,
      /SMTP C: EHLO/,
      /SMTP C: AUTH PLAIN/,
      /SMTP S: 235/,
    ]) {
      expect(log, String(pattern)).toMatch(pattern);
    }
    expect(log).toMatch(/IMAP C: a1 LOGIN alice@example\.test \[redacted\]/);
    for (const secret of [...secretForms(ALICE, LOCAL_PASSWORD), ...secretForms(ALICE, LAB_USERS.alice.password)])
      expect(log).not.toContain(secret);
    // Message contents are data, not dialogue.
    expect(log).not.toContain('body text of the traced message');
  });

  it('is one line of text per record, each starting with its priority, each key once', () => {
    const lines = daemon
      .log()
      .split('\n')
      .filter((line) => line !== '');
    expect(lines.length).toBeGreaterThan(20);
    for (const line of lines) {
      expect(line).toMatch(/^<[0-7]>/);
      expect(line).not.toMatch(/^<\d>\{/);
      const keys = keysOf(line);
      expect(new Set(keys).size, line).toBe(keys.length);
    }
    expect(lines.some((line) => line.startsWith('<6>hotbridge is running'))).toBe(true);
    expect(lines.some((line) => line.startsWith('<7>imap: IMAP connection opened'))).toBe(true);
    expect(lines.some((line) => /^<7>imap: IMAP \S+ SELECT: OK remote=127\.0\.0\.1 user=alice@example\.test$/.test(line))).toBe(true);
  });
});

describe('--log-format json', () => {
  it('keeps JSON, one object per line, no key twice', async () => {
    const config = await configFor('json', 'log_level = "debug"');
    const [node, args] = cliCommand(['run', '--config', config.file, '--log-format', 'json']);
    const child = spawn(node, args, { env: { ...process.env, ...JOURNAL }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const deadline = Date.now() + 30_000;
    while (!/POP3 connected/.test(out) && Date.now() < deadline) await sleep(200);
    child.kill('SIGTERM');
    await new Promise((resolve) => child.on('exit', resolve));
    const lines = out.split('\n').filter((line) => line !== '');
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) {
      const record = JSON.parse(line) as Record<string, unknown>;
      expect(typeof record.msg).toBe('string');
      for (const key of Object.keys(record)) expect(line.split(`"${key}":`).length - 1, `${key} in ${line}`).toBe(1);
    }
  });
});

describe('a provider that is down', () => {
  it('is one WARN line with what happens next, not one per poll, and one INFO line when it is back', async () => {
    // A port of our own that refuses connections at first, then forwards to the lab's POP3.
    const [port] = await freePorts(1);
    const config = await configFor('down', '', port);
    const daemon = await startDaemon(config.file, JOURNAL);
    try {
      await daemon.waitForLog(/POP3 sync failed/).catch((err) => {
        fs.writeFileSync('/tmp/down-log.txt', daemon.log());
        throw err;
      });
      // Poll again and again (the wake `hotbridge login` sends the daemon after a new sign-in).
      for (let i = 0; i < 4; i++) {
        expect(await wakeDaemon(config.dataDir)).toBe(true);
        await sleep(400);
      }
      const failures = daemon
        .log()
        .split('\n')
        .filter((line) => /POP3 sync failed/.test(line));
      expect(failures, daemon.log()).toHaveLength(1);
      expect(failures[0]).toMatch(
        /^<4>alice@example\.test pop3: POP3 sync failed: connection to 127\.0\.0\.1:\d+ failed or dropped: .*retryIn=/,
      );
      const open = new Set<net.Socket>();
      const forward = net.createServer((socket) => {
        const upstream = net.connect(lab.pop3sPort, lab.host);
        open.add(socket).add(upstream);
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
      });
      await new Promise<void>((resolve) => forward.listen(port, '127.0.0.1', resolve));
      try {
        await wakeDaemon(config.dataDir);
        await daemon.waitForLog(/POP3 sync works again/).catch((err) => {
          fs.writeFileSync('/tmp/down-log.txt', daemon.log());
          throw err;
        });
        expect(daemon.log()).toMatch(/^<6>alice@example\.test pop3: POP3 sync works again$/m);
      } finally {
        await daemon.kill();
        for (const socket of open) socket.destroy();
        await new Promise<void>((resolve) => forward.close(() => resolve()));
      }
    } finally {
      await daemon.kill();
    }
  }, 120_000);
});
