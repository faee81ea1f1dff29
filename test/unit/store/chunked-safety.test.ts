/**
 * Large POP3 messages are stored as chunks (blob-chunks.ts). verify, repair, backup/restore and export must
 * see them as messages like any other: whole when whole, damaged when a chunk is garbled (and then
 * dropped and named by repair, chunks included), and carried byte for byte by a backup and an export.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Level } from 'level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
});
