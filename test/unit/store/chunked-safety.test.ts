/**
 * Large POP3 messages are stored as chunks (blob-chunks.ts). verify, repair, backup/restore and export must
 * see them as messages like any other: whole when whole, damaged when a chunk is garbled (and then
 * dropped and named by repair, chunks included), and carried byte for byte by a backup and an export.
 * Leftovers (chunk-leftovers.ts) are notes, not problems: chunks of a fetch cut short, chunks that belong
 * to nothing, the messages of an import cut short; repair deletes them, and puts back a large message whose
 * chunk list alone was lost.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Level } from 'level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { indexMessage } from '../../../src/mime/index.js';
import { exportStore, repairStore, restoreArchive, Store, verifyStoreAt } from '../../../src/store/index.js';
import { bigMessage, simpleMessage } from '../../helpers/messages.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

const ALICE = 'alice@example.test';

describe('chunked messages in verify, repair, backup and export', () => {
  let dir: string;
  let dataDir: string;
  const big = bigMessage(3);
  const small = simpleMessage(1);

  beforeEach(async () => {
    dir = tempDir('hotbridge-chunked-safety-');
    dataDir = path.join(dir, 'data');
    const store = await Store.open(dataDir, { accounts: [ALICE] });
    const spool = store.spoolBlob();
    for (let at = 0; at < big.length; at += 256 * 1024) spool.write(big.subarray(at, at + 256 * 1024));
    const spooled = await spool.finish();
    await store.ingestPop3(ALICE, [
      { uidl: 'big', spooled },
      { uidl: 'small', raw: small },
    ]);
    expect(await store.chunkReport()).toMatchObject({ chunkedBlobs: 1, strayChunks: 0 });
    await store.close();
  });
  afterEach(() => removeDir(dir));

  it('verify counts a chunked message as a whole one', async () => {
    const report = await verifyStoreAt(dataDir);
    expect(report.problems).toEqual([]);
    expect(report.counts).toMatchObject({ messages: 2, blobs: 2 });
  });

  it('a garbled chunk: verify names the message, repair drops it with its chunks and keeps the other', async () => {
    const db = new Level<string, unknown>(path.join(dataDir, 'store'), { valueEncoding: 'json' });
    await db.open();
    try {
      const chunks = db.sublevel<string, Buffer>('chunk', { valueEncoding: 'buffer' });
      const [key, value] = (await chunks.iterator({ limit: 1 }).all())[0];
      const garbled = Buffer.from(value);
      garbled[10] ^= 0xff;
      await chunks.put(key, garbled);
    } finally {
      await db.close();
    }
    const report = await verifyStoreAt(dataDir);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.text).join('\n')).toMatch(/INBOX of alice@example\.test, UID 1, .*: its bytes are damaged/);
    const repaired = await repairStore(dataDir, { accounts: [ALICE] });
    expect(repaired.rebuild?.lost).toEqual([expect.objectContaining({ mailbox: 'INBOX', uid: 1, uidl: 'big' })]);
    expect((await verifyStoreAt(dataDir)).ok).toBe(true);
    const store = await Store.open(dataDir);
    try {
      const messages = await store.listMessages(store.findMailbox(ALICE, 'INBOX')!.id);
      expect(messages.map((m) => m.uidl)).toEqual(['small']);
      expect(await store.chunkReport()).toMatchObject({ chunkedBlobs: 0, chunks: 0, strayChunks: 0 });
    } finally {
      await store.close();
    }
  });

  it('a backup and an export carry the chunked message byte for byte', async () => {
    const file = path.join(dir, 'b.hbk');
    const store = await Store.open(dataDir);
    const out = path.join(dir, 'mbox');
    try {
      await store.backup(file);
      await exportStore(store, out, { format: 'mbox' });
    } finally {
      await store.close();
    }
    expect(fs.readFileSync(path.join(out, 'INBOX')).includes(big.subarray(big.length - 4096))).toBe(true);
    fs.rmSync(path.join(dataDir, 'store'), { recursive: true, force: true });
    await restoreArchive(dataDir, file);
    const restored = await Store.open(dataDir);
    try {
      const [first] = await restored.listMessages(restored.findMailbox(ALICE, 'INBOX')!.id);
      expect((await restored.getBlob(first.blobId)).equals(big)).toBe(true);
    } finally {
      await restored.close();
    }
  });

  /** Opens the closed store's LevelDB directly, as damage or a crash would leave it. */
  async function behindItsBack(edit: (db: Level<string, unknown>) => Promise<void>): Promise<void> {
    const db = new Level<string, unknown>(path.join(dataDir, 'store'), { valueEncoding: 'json' });
    await db.open();
    try {
      await edit(db);
    } finally {
      await db.close();
    }
  }
  const chunkLevel = (db: Level<string, unknown>) => db.sublevel<string, Buffer>('chunk', { valueEncoding: 'buffer' });

  it('leftovers are notes, not problems; repair deletes them and says so', async () => {
    // An import that was cut short: staged, never published.
    const store = await Store.open(dataDir);
    const raw = simpleMessage(7);
    await store.stageImport('imp1', 0, [
      {
        account: ALICE,
        mailbox: 'INBOX',
        flags: [],
        internalDate: Date.now(),
        blob: { id: Store.blobIdOf(raw), size: raw.length, raw, index: indexMessage(raw) },
      },
    ]);
    // Closed without publishing, as a kill would leave it (the next start would drop it; verify sees it first).
    await store.close();

    await behindItsBack(async (db) => {
      // Then (the start above would have deleted it) a fetch cut short: its set still marked in progress.
      // And chunks nothing owns or marks.
      await db.sublevel<string, { startedAt: number }>('chunkset', { valueEncoding: 'json' }).put('cutshort', { startedAt: Date.now() });
      await chunkLevel(db).put('cutshort!00000000', Buffer.alloc(300_000, 1));
      await chunkLevel(db).put('nobody!00000000', Buffer.alloc(200_000, 2));
      await chunkLevel(db).put('nobody!00000001', Buffer.alloc(100_000, 3));
    });
    const report = await verifyStoreAt(dataDir);
    expect(report.ok).toBe(true);
    expect(report.problems).toEqual([]);
    expect(report.leftovers).toEqual({ unfinishedChunkSets: 1, strayChunkSets: 1, chunkBytes: 600_000, stagedImports: 1 });
    const notes = report.notes.join('\n');
    expect(notes).toMatch(
      /1 large message was being fetched when hotbridge stopped \(293 KB written so far\): deleted at the next start or by hotbridge repair/,
    );
    expect(notes).toMatch(
      /293 KB of message parts \(the chunks of 1 large message\) belong to no message: left over.*hotbridge repair deletes them/,
    );
    expect(notes).toMatch(/an import was cut short: 1 message it had stored but not yet put in a mailbox/);

    const repaired = await repairStore(dataDir, { accounts: [ALICE] });
    expect(repaired.nothingToRepair).toBe(false);
    expect(repaired.rebuild).toMatchObject({
      leftoverChunks: { sets: 2, bytes: 600_000 },
      chunkSetsReattached: 0,
      stagedImportsDeleted: 1,
      lost: [],
      recovered: 0,
    });
    const after = await verifyStoreAt(dataDir);
    expect(after.ok).toBe(true);
    expect(after.notes).toEqual([]);
    expect(after.counts).toMatchObject({ messages: 2, blobs: 2 });
    const reopened = await Store.open(dataDir);
    try {
      expect(await reopened.chunkReport()).toMatchObject({ spools: 0, chunkedBlobs: 1, strayChunks: 0 });
    } finally {
      await reopened.close();
    }
    // Nothing left: a second repair has nothing to do.
    expect((await repairStore(dataDir, { accounts: [ALICE] })).nothingToRepair).toBe(true);
  });

  it('a large message whose chunk list alone was lost: verify says its bytes are gone, repair puts it back whole', async () => {
    await behindItsBack((db) => db.sublevel('blobchunks', { valueEncoding: 'json' }).del(Store.blobIdOf(big)));
    const report = await verifyStoreAt(dataDir);
    expect(report.ok).toBe(false);
    expect(report.leftovers.strayChunkSets).toBe(1);
    const repaired = await repairStore(dataDir, { accounts: [ALICE] });
    expect(repaired.rebuild).toMatchObject({ chunkSetsReattached: 1, leftoverChunks: { sets: 0, bytes: 0 }, lost: [] });
    expect((await verifyStoreAt(dataDir)).ok).toBe(true);
    const store = await Store.open(dataDir);
    try {
      const messages = await store.listMessages(store.findMailbox(ALICE, 'INBOX')!.id);
      expect(messages.map((m) => m.uidl)).toEqual(['big', 'small']);
      expect((await store.getBlob(messages[0].blobId)).equals(big)).toBe(true);
    } finally {
      await store.close();
    }
  });
});
