/**
 * Large blobs stored as chunks while they arrive (src/store/blob-chunks.ts): a spooled message is part of no
 * mailbox until its ingest batch commits it; the same bytes are never kept twice; a chunked blob goes with
 * its last reference, chunks included; and a spool a crash left behind is gone after the next open.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BLOB_CHUNK_BYTES, Store, type BlobSpool } from '../../../src/store/index.js';
import { waitUntil } from '../../fixtures/children/poller-account.js';
import { bigMessage, simpleMessage } from '../../helpers/messages.js';
import { closeTempStore, openTempStore } from '../../helpers/temp-store.js';

const ALICE = 'alice@example.test';

let dir: string;
let store: Store;

beforeEach(async () => ({ dir, store } = await openTempStore([ALICE])));
afterEach(() => closeTempStore(store, dir));

/** Writes `raw` into a new spool in pieces of `piece` bytes. */
function spoolOf(raw: Buffer, piece = 256 * 1024): BlobSpool {
  const spool = store.spoolBlob();
  for (let at = 0; at < raw.length; at += piece) spool.write(raw.subarray(at, at + piece));
  return spool;
}

async function inbox(): Promise<Array<{ uid: number; uidl?: string; raw: Buffer }>> {
  const messages = await store.listMessages(store.findMailbox(ALICE, 'INBOX')!.id);
  return Promise.all(messages.map(async (m) => ({ uid: m.uid, uidl: m.uidl, raw: await store.getBlob(m.blobId) })));
}

describe('chunked blobs', () => {
  it('stores a spooled message as chunks, byte for byte, with its index, in one ingest', async () => {
    const raw = bigMessage(5);
    const spooled = await spoolOf(raw).finish();
    expect(spooled.id).toBe(Store.blobIdOf(raw));
    expect(spooled.size).toBe(raw.length);
    expect(spooled.chunks).toBeGreaterThanOrEqual(Math.floor(raw.length / BLOB_CHUNK_BYTES));
    // Written, but part of nothing yet: a spool in progress.
    expect(await store.chunkReport()).toMatchObject({ spools: 1, chunkedBlobs: 0, strayChunks: 0 });
    expect(await inbox()).toEqual([]);

    const [result] = await store.ingestPop3(ALICE, [{ uidl: 'big-1', spooled }]);
    expect(result).toMatchObject({ uidl: 'big-1', duplicate: false });
    const [stored] = await inbox();
    expect(stored.raw.equals(raw)).toBe(true);
    const [index] = await store.getIndexes([spooled.id]);
    expect(index!.size).toBe(raw.length);
    expect(index!.envelope.subject).toBe('big');
    expect(index!.body.parts).toHaveLength(2);
    expect((await store.uidlLedger(ALICE)).get('big-1')).toMatchObject({ blobId: spooled.id, size: raw.length });
    expect(await store.chunkReport()).toMatchObject({ spools: 0, chunkedBlobs: 1, strayChunks: 0, chunks: spooled.chunks });
  });

  it('keeps one copy of the same bytes: a spool of a blob already stored is deleted in the ingest batch', async () => {
    const raw = bigMessage(2);
    await store.ingestPop3(ALICE, [{ uidl: 'whole', raw }]);
    const spooled = await spoolOf(raw).finish();
    await store.ingestPop3(ALICE, [{ uidl: 'spooled', spooled }]);
    const messages = await inbox();
    expect(messages.map((m) => m.uidl)).toEqual(['whole', 'spooled']);
    for (const message of messages) expect(message.raw.equals(raw)).toBe(true);
    expect(await store.chunkReport()).toEqual({ spools: 0, chunkedBlobs: 0, chunks: 0, strayChunks: 0 });
  });

  it('keeps one chunk set when the same bytes come twice in one batch, and none for a UIDL already stored', async () => {
    const raw = bigMessage(2);
    const [a, b, c] = [await spoolOf(raw).finish(), await spoolOf(raw).finish(), await spoolOf(raw, 100_000).finish()];
    await store.ingestPop3(ALICE, [
      { uidl: 'one', spooled: a },
      { uidl: 'two', spooled: b },
    ]);
    expect(await store.chunkReport()).toMatchObject({ spools: 1, chunkedBlobs: 1, strayChunks: 0 });
    const [duplicate] = await store.ingestPop3(ALICE, [{ uidl: 'one', spooled: c }]);
    expect(duplicate.duplicate).toBe(true);
    expect(await store.chunkReport()).toEqual({ spools: 0, chunkedBlobs: 1, chunks: a.chunks, strayChunks: 0 });
    expect((await inbox()).map((m) => m.uidl)).toEqual(['one', 'two']);
  });

  it('deletes the chunks with the last reference (COPY keeps them, EXPUNGE of both takes them)', async () => {
    const raw = bigMessage(3);
    await store.ingestPop3(ALICE, [{ uidl: 'big', spooled: await spoolOf(raw).finish() }]);
    const inboxId = store.findMailbox(ALICE, 'INBOX')!.id;
    const trash = store.findMailbox(ALICE, 'Trash')!;
    const { pairs } = await store.copyMessages(inboxId, [1], trash.id);
    await store.expungeMessages(inboxId, [1]);
    const [copy] = await store.listMessages(trash.id);
    expect((await store.getBlob(copy.blobId)).equals(raw)).toBe(true);
    expect((await store.chunkReport()).chunkedBlobs).toBe(1);
    await store.expungeMessages(trash.id, [pairs[0][1]]);
    // The bytes go in a batch after the expunge's, once no reader retains them (blob-retention.ts).
    await waitUntil(async () => (await store.chunkReport()).chunks === 0, 'the orphaned blob to be deleted');
    expect(await store.chunkReport()).toEqual({ spools: 0, chunkedBlobs: 0, chunks: 0, strayChunks: 0 });
    await expect(store.getBlob(copy.blobId)).rejects.toMatchObject({ code: 'not-found' });
  });

  it('keeps an expunged chunked blob readable while a reader retains it, and deletes its chunks after', async () => {
    const raw = bigMessage(3);
    const spooled = await spoolOf(raw).finish();
    await store.ingestPop3(ALICE, [{ uidl: 'big', spooled }]);
    const inboxId = store.findMailbox(ALICE, 'INBOX')!.id;
    const release = store.retainBlobs([spooled.id]);
    await store.expungeMessages(inboxId, [1]);
    await store.setSubscribed(ALICE, 'INBOX', true); // any later operation: the deletion would have run by now
    expect((await store.getBlob(spooled.id)).equals(raw)).toBe(true);
    expect((await store.chunkReport()).chunks).toBe(spooled.chunks);
    release();
    await waitUntil(async () => (await store.chunkReport()).chunks === 0, 'the released blob to be deleted');
    expect(await store.chunkReport()).toEqual({ spools: 0, chunkedBlobs: 0, chunks: 0, strayChunks: 0 });
  });

  it('discard() deletes what a spool wrote', async () => {
    const spool = spoolOf(bigMessage(3));
    await spool.discard();
    expect(await store.chunkReport()).toEqual({ spools: 0, chunkedBlobs: 0, chunks: 0, strayChunks: 0 });
  });

  it('deletes at open a spool that was never committed (the process died while writing it or before its batch)', async () => {
    const written = spoolOf(bigMessage(3));
    await written.finish();
    const half = store.spoolBlob();
    half.write(bigMessage(2));
    // The store closes with both spools on disk and neither in a message.
    await store.close();
    store = await Store.open(dir, { accounts: [ALICE] });
    expect(await store.chunkReport()).toEqual({ spools: 0, chunkedBlobs: 0, chunks: 0, strayChunks: 0 });
    await store.ingestPop3(ALICE, [{ uidl: 'small', raw: simpleMessage(1) }]);
    expect((await inbox()).map((m) => m.uidl)).toEqual(['small']);
  });

  it('asks its writer to wait while much is still to be written, and never holds more than that', async () => {
    const spool = store.spoolBlob();
    let waits = 0;
    for (let i = 0; i < 40; i++) {
      spool.write(Buffer.alloc(BLOB_CHUNK_BYTES, i));
      const busy = spool.backlog();
      if (busy) {
        waits++;
        await busy;
      }
    }
    const spooled = await spool.finish();
    expect(spooled.size).toBe(40 * BLOB_CHUNK_BYTES);
    expect(waits).toBeGreaterThan(0);
    await spool.discard();
  });
});
