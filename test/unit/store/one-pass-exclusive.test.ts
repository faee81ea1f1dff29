/**
 * Backup and export with the store to themselves (`exclusive`, the CLI with the daemon stopped) close and
 * reopen LevelDB on the way to unmap its table files (backup every 16 MB read, export when the mapped pages
 * grew by 8 MB). A store of more than that, in several mailboxes, must still come out whole: every message
 * once, the backup restorable to the same messages. Export reads the messages in the order of their blobs
 * (export.ts), not by UID: what it writes must still be in UID order, a message in two folders in both, a
 * damaged message left out and named, and an export beside a writer (the daemon) whole.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Level } from 'level';
import { exportStore, restoreArchive, Store } from '../../../src/store/index.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

const ALICE = 'alice@example.test';
/** 24 messages of about 1 MB: more than one reopen's worth (RELEASE_TABLES_EVERY_BYTES, 16 MB). */
const COUNT = 24;

function bigMessage(i: number): Buffer {
  const line = `line ${i} `.padEnd(76, 'x') + '\r\n';
  return Buffer.from(`From: a${i}@example.test\r\nSubject: big ${i}\r\n\r\n${line.repeat(13_000)}`);
}

describe('exclusive one-pass readers reopen the database on the way', () => {
  let dir: string;
  let dataDir: string;
  beforeEach(async () => {
    dir = tempDir('hotbridge-one-pass-');
    dataDir = path.join(dir, 'data');
    const store = await Store.open(dataDir, { accounts: [ALICE] });
    const work = await store.createMailbox(ALICE, 'Work');
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    for (let i = 0; i < COUNT; i++)
      await store.appendMessage(i % 2 === 0 ? inbox.id : work.id, bigMessage(i), { flags: i % 3 === 0 ? ['\\Seen'] : [] });
    await store.close();
  });
  afterEach(() => removeDir(dir));

  it('an exclusive backup holds every message and restores to the same store', async () => {
    const file = path.join(dir, 'b.hbk');
    const store = await Store.open(dataDir);
    const report = await store.backup(file, {}, { exclusive: true });
    // Still usable after its reopens.
    expect(store.findMailbox(ALICE, 'INBOX')).toBeDefined();
    await store.close();
    expect(report.messages).toBe(COUNT);
    fs.rmSync(path.join(dataDir, 'store'), { recursive: true, force: true });
    await restoreArchive(dataDir, file);
    const restored = await Store.open(dataDir);
    try {
      const inbox = await restored.listMessages(restored.findMailbox(ALICE, 'INBOX')!.id);
      const work = await restored.listMessages(restored.findMailbox(ALICE, 'Work')!.id);
      expect(inbox.length + work.length).toBe(COUNT);
      expect((await restored.getBlob(work[0].blobId)).equals(bigMessage(1))).toBe(true);
      expect((await restored.verify()).ok).toBe(true);
    } finally {
      await restored.close();
    }
  });

  it('an exclusive mbox export writes every message once', async () => {
    const store = await Store.open(dataDir);
    const out = path.join(dir, 'mbox');
    const report = await exportStore(store, out, { format: 'mbox', exclusive: true });
    await store.close();
    expect(report.messages).toBe(COUNT);
    const inbox = fs.readFileSync(path.join(out, 'INBOX'), 'latin1');
    const work = fs.readFileSync(path.join(out, 'Work'), 'latin1');
    for (let i = 0; i < COUNT; i++) expect((i % 2 === 0 ? inbox : work).split(`Subject: big ${i}\r\n`).length - 1).toBe(1);
  });

  /** The Subject numbers of an mbox file's messages, in file order. */
  const subjects = (file: string) => [...fs.readFileSync(file, 'latin1').matchAll(/^Subject: big (\d+)\r$/gm)].map((m) => Number(m[1]));

  it('an export reads in blob order but writes by UID: mbox in UID order, Maildir and its uidlist whole', async () => {
    const store = await Store.open(dataDir);
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    const work = store.findMailbox(ALICE, 'Work')!;
    // One message in both folders: its blob is read once for two entries.
    await store.copyMessages(inbox.id, [(await store.listMessages(inbox.id))[0].uid], work.id);
    const mboxDir = path.join(dir, 'mbox');
    const maildirDir = path.join(dir, 'maildir');
    try {
      expect((await exportStore(store, mboxDir, { format: 'mbox', exclusive: true })).messages).toBe(COUNT + 1);
      expect((await exportStore(store, maildirDir, { format: 'maildir', exclusive: true })).messages).toBe(COUNT + 1);
    } finally {
      await store.close();
    }
    const evens = Array.from({ length: COUNT / 2 }, (_, k) => 2 * k);
    expect(subjects(path.join(mboxDir, 'INBOX'))).toEqual(evens);
    expect(subjects(path.join(mboxDir, 'Work'))).toEqual([...evens.map((i) => i + 1), 0]);
    const uidlist = fs
      .readFileSync(path.join(maildirDir, '.Work', 'dovecot-uidlist'), 'utf8')
      .trim()
      .split('\n');
    expect(uidlist).toHaveLength(COUNT / 2 + 2);
    expect(uidlist.slice(1).map((line) => Number(line.split(' ')[0]))).toEqual(Array.from({ length: COUNT / 2 + 1 }, (_, k) => k + 1));
    const files = fs.readdirSync(path.join(maildirDir, '.Work', 'cur')).sort();
    expect(files).toHaveLength(COUNT / 2 + 1);
    for (const line of uidlist.slice(1)) expect(files.some((name) => name.startsWith(line.split(' :')[1]))).toBe(true);
    expect(fs.readdirSync(path.join(maildirDir, '.Work', 'tmp'))).toEqual([]);
  });

  it('a message whose bytes are damaged is left out and named; the others come out in order', async () => {
    const damaged = Store.blobIdOf(bigMessage(4));
    const db = new Level<string, unknown>(path.join(dataDir, 'store'), { valueEncoding: 'json' });
    await db.open();
    await db.sublevel<string, Buffer>('blob', { valueEncoding: 'buffer' }).put(damaged, Buffer.from('garbage'));
    await db.close();
    const store = await Store.open(dataDir);
    const out = path.join(dir, 'mbox');
    const report = await exportStore(store, out, { format: 'mbox', exclusive: true }).finally(() => store.close());
    expect(report.messages).toBe(COUNT - 1);
    expect(report.skipped).toEqual([{ account: ALICE, mailbox: 'INBOX', uid: 3, problem: expect.stringMatching(/damaged/) }]);
    expect(subjects(path.join(out, 'INBOX'))).toEqual(Array.from({ length: COUNT / 2 }, (_, k) => 2 * k).filter((i) => i !== 4));
  });

  it('beside a writer (the daemon): a message expunged during the export still comes out whole', async () => {
    const store = await Store.open(dataDir);
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    const out = path.join(dir, 'mbox');
    let expunging: Promise<void> | undefined;
    // The expunge (and the deletion of the blobs it orphans) must land between two reads of the export:
    // the next read waits for it. Only a delay; the store, its reads and its deletions are the real ones.
    const getBlob = store.getBlob.bind(store);
    store.getBlob = async (blobId) => {
      await expunging;
      return getBlob(blobId);
    };
    try {
      await exportStore(store, out, {
        format: 'mbox',
        onProgress: () => {
          expunging ??= (async () => {
            await store.expungeMessages(
              inbox.id,
              (await store.listMessages(inbox.id)).map((m) => m.uid),
            );
            // A write after it runs after the deletion of the blobs it orphaned (unless something retains them).
            await store.setMeta('test', 1);
          })();
        },
      });
      expect(expunging).toBeDefined();
      expect((await store.listMessages(inbox.id)).length).toBe(0);
    } finally {
      await store.close();
    }
    expect(subjects(path.join(out, 'INBOX'))).toEqual(Array.from({ length: COUNT / 2 }, (_, k) => 2 * k));
  });
});
