// Real clients against hotbridge's IMAP server over real sockets: imapflow (Node) and Python's
// imaplib. Awkward messages come back byte for byte; two sessions see each other's changes; a
// restart keeps UIDs, UIDVALIDITY, flags and folders.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { awkwardMessages } from '../helpers/messages.js';
import { PASSWORD, startTestServer, USER, type TestServer } from '../helpers/imap-server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const messages = awkwardMessages();

function client(server: TestServer): ImapFlow {
  return new ImapFlow({
    host: server.host,
    port: server.port,
    secure: false,
    auth: { user: USER, pass: PASSWORD },
    logger: false,
    disableAutoIdle: true,
  });
}

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.destroy();
});

describe('imapflow', () => {
  test('APPEND then FETCH returns identical bytes for awkward messages', async () => {
    const imap = client(server);
    await imap.connect();
    try {
      await imap.mailboxCreate('Awkward');
      const uids: number[] = [];
      for (const message of messages) {
        const appended = await imap.append('Awkward', message.raw, ['\\Seen'], new Date('2024-03-01T12:00:00Z'));
        expect(appended, message.name).toBeTruthy();
        if (appended) uids.push(appended.uid!);
      }
      const lock = await imap.getMailboxLock('Awkward');
      try {
        for (const [i, message] of messages.entries()) {
          const fetched = await imap.fetchOne(
            String(uids[i]),
            { source: true, size: true, internalDate: true, bodyStructure: true, envelope: true },
            { uid: true },
          );
          expect(fetched, message.name).toBeTruthy();
          if (!fetched) continue;
          expect(fetched.size, message.name).toBe(message.raw.length);
          expect(Buffer.compare(fetched.source!, message.raw), message.name).toBe(0);
          expect((fetched.internalDate as Date).toISOString()).toBe('2024-03-01T12:00:00.000Z');
          expect(fetched.bodyStructure, message.name).toBeTruthy();
        }
        // Sections of the nested message, through imapflow's download (BODY.PEEK[part]).
        const nestedUid = uids[messages.findIndex((m) => m.name === 'nested multiparts')];
        const structure = await imap.fetchOne(String(nestedUid), { bodyStructure: true }, { uid: true });
        const parts = JSON.stringify(structure && structure.bodyStructure);
        expect(parts).toContain('"type":"multipart/alternative"');
        expect(parts).toContain('"type":"message/rfc822"');
        const download = await imap.download(String(nestedUid), '1.2.1', { uid: true });
        const chunks: Buffer[] = [];
        expect(download.content).toBeDefined();
        for await (const chunk of download.content!) chunks.push(chunk as Buffer);
        expect(Buffer.concat(chunks).toString()).toBe('<p>html</p>');
        const rfc2231Uid = uids[messages.findIndex((m) => m.name === 'RFC 2231 parameters')];
        const withParams = await imap.fetchOne(String(rfc2231Uid), { bodyStructure: true }, { uid: true });
        expect(JSON.stringify(withParams && withParams.bodyStructure)).toContain('€ rates.txt');
      } finally {
        lock.release();
      }
    } finally {
      await imap.logout();
    }
  });

  test('two sessions see each other: EXISTS, FLAGS and EXPUNGE reach an idling client', async () => {
    const watcher = client(server);
    const actor = client(server);
    await watcher.connect();
    await actor.connect();
    try {
      await actor.mailboxCreate('Shared');
      await actor.append('Shared', Buffer.from('Subject: one\r\n\r\nfirst\r\n'));
      const events: string[] = [];
      const waitFor = (what: string) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no ${what} event; saw ${events.join(', ')}`)), 5000);
          const check = setInterval(() => {
            if (events.includes(what)) {
              clearTimeout(timer);
              clearInterval(check);
              resolve();
            }
          }, 10);
        });
      watcher.on('exists', (data: { count: number }) => events.push(`exists:${data.count}`));
      watcher.on('flags', (data: { uid?: number; flags: Set<string> }) =>
        events.push(`flags:${data.uid}:${[...data.flags].sort().join(',')}`),
      );
      watcher.on('expunge', (data: { seq: number }) => events.push(`expunge:${data.seq}`));
      await watcher.mailboxOpen('Shared');
      const idling = watcher.idle();

      await actor.append('Shared', Buffer.from('Subject: two\r\n\r\nsecond\r\n'));
      await waitFor('exists:2');

      await actor.mailboxOpen('Shared');
      await actor.messageFlagsAdd('1', ['\\Flagged'], { uid: true });
      await waitFor('flags:1:\\Flagged,\\Recent');

      await actor.messageDelete('1', { uid: true });
      await waitFor('expunge:1');
      await watcher.noop();
      await idling;
      expect(watcher.mailbox && watcher.mailbox.exists).toBe(1);
    } finally {
      await watcher.logout();
      await actor.logout();
    }
  });

  test('MOVE, COPY, SEARCH, STATUS and LIST with special-use folders', async () => {
    const imap = client(server);
    await imap.connect();
    try {
      const list = await imap.list();
      const byUse = Object.fromEntries(list.filter((box) => box.specialUse).map((box) => [box.specialUse, box.path]));
      expect(byUse).toMatchObject({ '\\Sent': 'Sent', '\\Drafts': 'Drafts', '\\Trash': 'Trash', '\\Junk': 'Junk' });
      await imap.mailboxCreate('Ärger/Unterordner');
      const names = (await imap.list()).map((box) => box.path);
      expect(names).toContain('Ärger/Unterordner');
      await imap.append('INBOX', Buffer.from('Subject: move me\r\nFrom: mover@example.test\r\n\r\nbody\r\n'));
      const lock = await imap.getMailboxLock('INBOX');
      try {
        const found = await imap.search({ from: 'mover' }, { uid: true });
        expect(found).toHaveLength(1);
        const moved = await imap.messageMove(String((found as number[])[0]), 'Ärger/Unterordner', { uid: true });
        expect(moved && moved.uidMap && moved.uidMap.size).toBe(1);
      } finally {
        lock.release();
      }
      const status = await imap.status('Ärger/Unterordner', { messages: true, uidNext: true, unseen: true });
      expect(status).toMatchObject({ messages: 1, uidNext: 2, unseen: 1 });
    } finally {
      await imap.logout();
    }
  });
});

describe('Python imaplib', () => {
  test('APPEND then FETCH returns identical bytes; other commands parse', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-py-'));
    try {
      messages.forEach((message, i) => fs.writeFileSync(path.join(dir, `${String(i).padStart(2, '0')}.eml`), message.raw));
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(
          'python3',
          [path.join(here, '../helpers/imaplib_client.py'), server.host, String(server.port), USER, PASSWORD, dir],
          { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
          (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)),
        );
      });
      const result = JSON.parse(stdout) as {
        messages: Record<string, { append: string; identical: boolean; size: number; meta: string }>;
        checks: Record<string, unknown>;
      };
      for (const [i, message] of messages.entries()) {
        const entry = result.messages[`${String(i).padStart(2, '0')}.eml`];
        expect(entry.append, message.name).toBe('OK');
        expect(entry.identical, message.name).toBe(true);
        expect(entry.meta).toContain(`RFC822.SIZE ${entry.size}`);
      }
      expect(result.checks.login).toBe('OK');
      expect(result.checks.list).toEqual(['() "/" "Python/Round trip"'.replace('()', '(\\HasNoChildren)')]);
      expect(result.checks.search_all).toBe(messages.map((_, i) => i + 1).join(' '));
      expect(result.checks.search_subject).toBe('4');
      expect(result.checks.expunge).toEqual(['OK', ['1']]);
      expect(result.checks.status).toBe(`"Python/Round trip" (MESSAGES ${messages.length - 1} UIDNEXT ${messages.length + 1} UNSEEN 0)`);
      expect(result.checks.bodystructure).toBe('OK');
      expect(result.checks.logout).toBe('BYE');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('restart', () => {
  test('UIDs, UIDVALIDITY, flags and folders survive closing and reopening store and server', async () => {
    const first = await startTestServer();
    let second: TestServer | undefined;
    try {
      const before = client(first);
      await before.connect();
      await before.mailboxCreate('Archive/2024');
      await before.append('Archive/2024', Buffer.from('Subject: a\r\n\r\na\r\n'), ['\\Seen']);
      await before.append('Archive/2024', Buffer.from('Subject: b\r\n\r\nb\r\n'), ['\\Flagged', '$Work']);
      await before.append('Archive/2024', Buffer.from('Subject: c\r\n\r\nc\r\n'));
      let lock = await before.getMailboxLock('Archive/2024');
      await before.messageDelete('1', { uid: true });
      lock.release();
      const statusBefore = await before.status('Archive/2024', { uidValidity: true, uidNext: true, messages: true });
      await before.logout();
      await first.stop();

      second = await startTestServer({}, first.dir);
      const after = client(second);
      await after.connect();
      try {
        const statusAfter = await after.status('Archive/2024', { uidValidity: true, uidNext: true, messages: true });
        expect(statusAfter).toEqual(statusBefore);
        expect(statusAfter && statusAfter.messages).toBe(2);
        lock = await after.getMailboxLock('Archive/2024');
        const seen: Array<[number, string[]]> = [];
        for await (const message of after.fetch('1:*', { uid: true, flags: true }))
          seen.push([message.uid, [...(message.flags ?? [])].sort()]);
        lock.release();
        expect(seen).toEqual([
          [2, ['$Work', '\\Flagged']],
          [3, []],
        ]);
        expect((await after.list()).map((box) => box.path)).toEqual(expect.arrayContaining(['Archive', 'Archive/2024', 'INBOX', 'Sent']));
      } finally {
        await after.logout();
      }
    } finally {
      await second?.destroy();
      await first.destroy();
    }
  });
});
