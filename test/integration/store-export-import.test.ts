/**
 * `hotbridge export` and `hotbridge import`, through the command line, with real readers on the other side:
 * - export → import round trip of the awkward-message corpus (test/helpers/messages.ts), in Maildir and in
 *   mbox: every message byte for byte, with its flags (system flags and keywords) and INTERNALDATE;
 * - importing the same files a second time adds nothing;
 * - mutt opens the mbox export and sees every message with its read/flagged/answered state and body;
 * - the lab's Dovecot serves the Maildir export over IMAP: folders, messages byte for byte, flags,
 *   INTERNALDATE, and the UIDs and UIDVALIDITY hotbridge had (from the dovecot-uidlist export writes).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/index.js';
import { describeRun, requireTool, runTool } from '../helpers/clients.js';
import { runCli, writeTestConfig, type TestConfig } from '../helpers/cli.js';
import { LAB_USERS, startLab, type Lab } from '../helpers/lab.js';
import { awkwardMessages, simpleMessage } from '../helpers/messages.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const ALICE = 'alice@example.test';
const PTY_RUNNER = path.resolve(__dirname, '../helpers/run-in-pty.py');

interface Expected {
  mailbox: string;
  raw: Buffer;
  flags: string[];
  /** Seconds: IMAP's INTERNALDATE and mbox's From line have no finer resolution. */
  date: number;
}

/** What each message of the source store should look like after a round trip. */
const FOLDERS = ['INBOX', 'Work', 'Work/Projekte 2024', 'Entwürfe & Notizen'];

function flagsFor(i: number): string[] {
  const sets = [
    ['\\Seen'],
    ['\\Seen', '\\Flagged'],
    ['\\Answered', '$Forwarded'],
    [],
    ['\\Draft', 'Junk', '$Label1'],
    ['\\Seen', '\\Deleted'],
  ];
  return sets[i % sets.length];
}

async function fillSource(dataDir: string): Promise<Expected[]> {
  const store = await Store.open(dataDir, { accounts: [ALICE] });
  const expected: Expected[] = [];
  try {
    for (const name of FOLDERS) if (!store.findMailbox(ALICE, name)) await store.createMailbox(ALICE, name);
    const corpus = [...awkwardMessages().map((m) => m.raw), simpleMessage(1), simpleMessage(2), simpleMessage(2)];
    let i = 0;
    for (const name of FOLDERS) {
      const mailbox = store.findMailbox(ALICE, name)!;
      for (const raw of name === 'INBOX' ? corpus : corpus.slice(i % 4, (i % 4) + 4)) {
        const date = Date.UTC(2019, i % 12, 1 + (i % 27), 10, 20, 30);
        await store.appendMessage(mailbox.id, raw, { flags: flagsFor(i), internalDate: date });
        expected.push({ mailbox: name, raw, flags: flagsFor(i), date: date / 1000 });
        i++;
      }
    }
  } finally {
    await store.close();
  }
  return expected;
}

/** A short name for a message's bytes, so a failed comparison prints readable lines. */
function digest(raw: Buffer): string {
  return `${raw.length}:${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`;
}

function sortFlags(flags: readonly string[]): string[] {
  return [...flags].map((flag) => (flag.startsWith('\\') ? flag.toLowerCase() : flag)).sort();
}

/** The store's messages as Expected records, in mailbox and UID order. */
async function readStore(dataDir: string): Promise<Expected[]> {
  const store = await Store.open(dataDir);
  try {
    const out: Expected[] = [];
    for (const mailbox of store.listMailboxes(ALICE)) {
      for (const message of await store.listMessages(mailbox.id)) {
        out.push({
          mailbox: mailbox.name,
          raw: await store.getBlob(message.blobId),
          flags: message.flags,
          date: Math.floor(message.internalDate / 1000),
        });
      }
    }
    return out;
  } finally {
    await store.close();
  }
}

function expectSameMessages(actual: Expected[], expected: Expected[]): void {
  const key = (m: Expected) => `${m.mailbox} ${digest(m.raw)} ${sortFlags(m.flags).join(' ')} ${m.date}`;
  expect(actual.length).toBe(expected.length);
  expect(actual.map(key).sort()).toEqual(expected.map(key).sort());
  // In each folder, also in the same order.
  for (const name of FOLDERS) {
    expect(actual.filter((m) => m.mailbox === name).map((m) => digest(m.raw))).toEqual(
      expected.filter((m) => m.mailbox === name).map((m) => digest(m.raw)),
    );
  }
}

describe('export and import', () => {
  let dir: string;
  let source: TestConfig;
  let expected: Expected[];

  beforeAll(async () => {
    dir = tempDir('hotbridge-export-');
    source = await writeTestConfig(fs.mkdtempSync(path.join(dir, 'source-')), [{ address: ALICE }]);
    expected = await fillSource(source.dataDir);
  });
  afterAll(() => removeDir(dir));

  for (const format of ['maildir', 'mbox'] as const) {
    it(`${format}: a round trip keeps every message byte for byte, with flags and dates; importing again adds nothing`, async () => {
      const out = path.join(dir, `export-${format}`);
      const exported = await runCli(['export', '--format', format, out, '--config', source.file]);
      expect(exported.code, exported.stderr + exported.stdout).toBe(0);
      expect(exported.stdout).toContain(`Exported ${expected.length} messages`);

      const target = await writeTestConfig(fs.mkdtempSync(path.join(dir, `target-${format}-`)), [{ address: ALICE }]);
      const first = await runCli(['import', out, '--config', target.file]);
      expect(first.code, first.stderr + first.stdout).toBe(0);
      expect(first.stdout).toContain(`Imported ${expected.length} of ${expected.length} messages`);
      expectSameMessages(await readStore(target.dataDir), expected);

      const again = await runCli(['import', out, '--config', target.file]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain(`Imported 0 of ${expected.length} messages`);
      expect((await readStore(target.dataDir)).length).toBe(expected.length);
    });
  }

  it('imports into one mailbox with --mailbox, and a folder of .eml files with their Date as INTERNALDATE', async () => {
    const emlDir = path.join(dir, 'eml');
    fs.mkdirSync(emlDir);
    const messages = awkwardMessages().slice(0, 3);
    messages.forEach((m, i) => fs.writeFileSync(path.join(emlDir, `${i}.eml`), m.raw));
    const dated = simpleMessage(7);
    fs.writeFileSync(path.join(emlDir, 'dated.eml'), dated);
    const target = await writeTestConfig(fs.mkdtempSync(path.join(dir, 'target-eml-')), [{ address: ALICE }]);
    const result = await runCli(['import', emlDir, '--mailbox', 'Archive/Old', '--config', target.file]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const stored = await readStore(target.dataDir);
    const archived = stored.filter((m) => m.mailbox === 'Archive/Old');
    expect(archived.map((m) => digest(m.raw)).sort()).toEqual([...messages.map((m) => m.raw), dated].map(digest).sort());
    // simpleMessage's Date: Fri, 27 Nov 2026 06:00:00 +0000
    expect(archived.some((m) => m.date === Date.UTC(2026, 10, 27, 6, 0, 0) / 1000)).toBe(true);
    expect(result.stdout).toContain('new mailboxes: Archive, Archive/Old');
  });

  it('mutt opens the mbox export: every message, its read/flagged/answered state and its body', async () => {
    const mutt = await requireTool('mutt', 'mutt');
    const out = path.join(dir, 'export-mbox');
    if (!fs.existsSync(out)) expect((await runCli(['export', '--format', 'mbox', out, '--config', source.file])).code).toBe(0);
    // mutt asks at start whether to create ~/Mail when it is missing; there is nobody to answer.
    fs.mkdirSync(path.join(dir, 'Mail'), { recursive: true });
    for (const name of FOLDERS) {
      const file = path.join(out, ...name.split('/').map((level, i, all) => (i < all.length - 1 ? `${level}.sbd` : level)));
      const copy = path.join(dir, `mutt-copy-${FOLDERS.indexOf(name)}`);
      // mutt reads the mbox file and copies every message into a Maildir, where its view of the flags shows in the file names.
      // A clean environment: mutt reads settings from many variables, and the test runner sets some of them.
      const run = await runTool(
        'env',
        [
          '-i',
          `HOME=${dir}`,
          'TERM=vt100',
          `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`,
          'LANG=C.UTF-8',
          'python3',
          PTY_RUNNER,
          mutt,
          '-n',
          '-F',
          '/dev/null',
          '-f',
          file,
          '-e',
          // delete=no/move=no: no questions on quit (\\Deleted messages are shown as deleted, not purged).
          'set mbox_type=Maildir confirmcreate=no confirmappend=no mark_old=no delete=no move=no',
          '-e',
          // One message after the other (the index is sorted by date, the copies are compared as a set).
          `push "<first-entry>${'<copy-message>COPY<enter><next-entry>'.repeat(expected.filter((m) => m.mailbox === name).length).replace(/COPY/g, path.basename(copy))}<quit>"`,
          // In the directory of the copy, so the push line stays short (mutt cuts long command lines).
        ],
        { timeoutMs: 60_000, cwd: dir },
      );
      expect(run.code, describeRun('mutt', run)).toBe(0);
      const wanted = expected.filter((m) => m.mailbox === name);
      const files = fs.readdirSync(path.join(copy, 'cur'));
      expect(files.length, `${name}: messages mutt saw\n${describeRun('mutt', run)}`).toBe(wanted.length);
      const seen = files.map((file) => {
        const letters = /:2,([A-Z]*)$/.exec(file)?.[1] ?? '';
        const raw = fs.readFileSync(path.join(copy, 'cur', file));
        return { letters, body: bodyOf(raw) };
      });
      const muttLetters = (flags: string[]) => {
        const lower = flags.map((f) => f.toLowerCase());
        return (lower.includes('\\flagged') ? 'F' : '') + (lower.includes('\\answered') ? 'R' : '') + (lower.includes('\\seen') ? 'S' : '');
      };
      const describe = (m: { letters: string; body: Buffer }) => `${m.letters.replace(/[^FRS]/g, '')}:${digest(m.body)}`;
      expect(seen.map(describe).sort()).toEqual(wanted.map((m) => describe({ letters: muttLetters(m.flags), body: bodyOf(m.raw) })).sort());
    }
  });

  describe('Dovecot serves the Maildir export', () => {
    let lab: Lab;
    beforeAll(async () => {
      lab = await startLab({ imap: true });
    });
    afterAll(async () => {
      await lab?.stop();
    });

    it('with every folder, every message byte for byte, its flags, INTERNALDATE, UIDs and UIDVALIDITY', async () => {
      const out = path.join(dir, 'export-maildir-dovecot');
      expect((await runCli(['export', '--format', 'maildir', out, '--config', source.file])).code).toBe(0);
      const maildir = path.join(lab.dir, 'dovecot', 'mail', LAB_USERS.alice.user, 'Maildir');
      fs.rmSync(maildir, { recursive: true, force: true });
      fs.mkdirSync(path.dirname(maildir), { recursive: true });
      fs.cpSync(out, maildir, { recursive: true, preserveTimestamps: true });
      // The lab's mail processes run as nobody (test/upstream-lab/_lib.sh).
      execFileSync('chown', ['-R', 'nobody:nogroup', path.dirname(maildir)]);

      const uids = await sourceUids(source.dataDir);
      const client = new ImapFlow({
        host: lab.host,
        port: lab.imapPort!,
        secure: false,
        auth: { user: LAB_USERS.alice.user, pass: LAB_USERS.alice.password },
        logger: false,
        tls: { rejectUnauthorized: false },
      });
      await client.connect();
      try {
        const entries = await client.list();
        const delimiter = entries[0]?.delimiter ?? '.';
        const listed = entries.map((entry) => entry.path.split(delimiter).join('/'));
        for (const name of FOLDERS) expect(listed).toContain(name);
        for (const name of FOLDERS) {
          const lock = await client.getMailboxLock(name.split('/').join(delimiter));
          try {
            const wanted = expected.filter((m) => m.mailbox === name);
            const got: Array<{ uid: number; raw: Buffer; flags: string[]; date: number }> = [];
            for await (const message of client.fetch('1:*', { uid: true, flags: true, internalDate: true, source: true })) {
              got.push({
                uid: message.uid,
                raw: message.source!,
                flags: [...(message.flags ?? [])],
                date: Math.floor(new Date(message.internalDate!).getTime() / 1000),
              });
            }
            // Dovecot sends a message stored with bare LF line ends with CRLF, as IMAP wants (RFC 3501 §2.3.1).
            expect(
              got.map((m) => digest(m.raw)),
              `${name}: bytes, in order`,
            ).toEqual(wanted.map((m) => digest(lfToCrlf(m.raw))));
            expect(got.map((m) => sortFlags(m.flags.filter((f) => f !== '\\Recent')))).toEqual(wanted.map((m) => sortFlags(m.flags)));
            expect(got.map((m) => m.date)).toEqual(wanted.map((m) => m.date));
            expect(got.map((m) => m.uid)).toEqual(uids.get(name)!.uids);
            expect(Number((client.mailbox as { uidValidity: bigint }).uidValidity)).toBe(uids.get(name)!.uidValidity);
          } finally {
            lock.release();
          }
        }
      } finally {
        await client.logout().catch(() => undefined);
      }
    });
  });
});

/** A message with only bare LF line ends, as an IMAP server that stores LF sends it (CRLF); others unchanged. */
function lfToCrlf(raw: Buffer): Buffer {
  return raw.includes('\r') ? raw : Buffer.from(raw.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
}

/** Everything after the header's empty line (mutt rewrites the status fields and adds its own). */
function bodyOf(raw: Buffer): Buffer {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const at = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : raw.length;
  return raw.subarray(at);
}

async function sourceUids(dataDir: string): Promise<Map<string, { uids: number[]; uidValidity: number }>> {
  const store = await Store.open(dataDir);
  try {
    const map = new Map<string, { uids: number[]; uidValidity: number }>();
    for (const mailbox of store.listMailboxes(ALICE))
      map.set(mailbox.name, { uids: (await store.listMessages(mailbox.id)).map((m) => m.uid), uidValidity: mailbox.uidValidity });
    return map;
  } finally {
    await store.close();
  }
}
