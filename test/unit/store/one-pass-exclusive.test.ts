/**
 * Backup and export with the store to themselves (`exclusive`, the CLI with the daemon stopped) close and
 * reopen LevelDB every 16 MB read to unmap its table files. A store of more than that, in several
 * mailboxes, must still come out whole: every message once, the backup restorable to the same messages.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
});
