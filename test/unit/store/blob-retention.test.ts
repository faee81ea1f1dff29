// Expunged messages stay readable while a reader retains their blobs (RFC 2180 §4.1: a session that has
// not told its client of an expunge may still serve the message), and are deleted once nobody does,
// including after a restart or a SIGKILL between the expunge and the deletion.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store, StoreError } from '../../../src/store/index.js';
import { onEachLine } from '../../helpers/each-line.js';
import { simpleMessage } from '../../helpers/messages.js';
import { closeTempStore, openTempStore } from '../../helpers/temp-store.js';

const ALICE = 'alice@example.test';
const CHILD = path.resolve(__dirname, '../../fixtures/children/store-expunger.ts');

describe('blobs of expunged messages', () => {
  let dir: string;
  let store: Store;

  beforeEach(async () => ({ dir, store } = await openTempStore([ALICE])));
  afterEach(() => closeTempStore(store, dir));

  async function appendOne(raw = simpleMessage(1)): Promise<{ inbox: number; uid: number; blobId: string; raw: Buffer }> {
    const inbox = store.findMailbox(ALICE, 'INBOX')!.id;
    const { uid } = await store.appendMessage(inbox, raw);
    const record = (await store.listMessages(inbox)).find((m) => m.uid === uid)!;
    return { inbox, uid, blobId: record.blobId, raw };
  }

  async function gone(blobId: string): Promise<boolean> {
    try {
      await store.getBlob(blobId);
      return false;
    } catch (err) {
      if (err instanceof StoreError && err.code === 'not-found') return true;
      throw err;
    }
  }

  it('nobody retains it: bytes and index go right after the expunge', async () => {
    const { inbox, uid, blobId } = await appendOne();
    await store.expungeMessages(inbox, [uid]);
    await store.settled();
    expect(await gone(blobId)).toBe(true);
    expect(await store.getIndexes([blobId])).toEqual([undefined]);
  });

  it('retained: bytes and index stay readable after the expunge, and go once the last reader lets go', async () => {
    const { inbox, uid, blobId, raw } = await appendOne();
    const first = store.retainBlobs([blobId]);
    const second = store.retainBlobs([blobId]);
    await store.expungeMessages(inbox, [uid]);
    await store.settled();
    expect((await store.getBlob(blobId)).equals(raw)).toBe(true);
    expect((await store.getIndexes([blobId]))[0]?.envelope.subject).toBe('Test message 1');
    first();
    first(); // releasing twice counts once
    await store.settled();
    expect((await store.getBlob(blobId)).equals(raw)).toBe(true);
    second();
    await store.settled();
    expect(await gone(blobId)).toBe(true);
  });

  it('the same message appended again while its orphan is retained: it stays, and its count is right', async () => {
    const { inbox, uid, blobId, raw } = await appendOne();
    const release = store.retainBlobs([blobId]);
    await store.expungeMessages(inbox, [uid]);
    const again = await appendOne(raw);
    expect(again.blobId).toBe(blobId);
    release();
    await store.settled();
    expect((await store.getBlob(blobId)).equals(raw)).toBe(true);
    // The new copy is its only reference: expunging it deletes the blob.
    await store.expungeMessages(inbox, [again.uid]);
    await store.settled();
    expect(await gone(blobId)).toBe(true);
  });

  it('a blob another message still references is not touched by retaining or releasing', async () => {
    const { inbox, uid, blobId, raw } = await appendOne();
    const trash = store.findMailbox(ALICE, 'Trash')!.id;
    await store.copyMessages(inbox, [uid], trash);
    store.retainBlobs([blobId])();
    await store.expungeMessages(inbox, [uid]);
    await store.settled();
    expect((await store.getBlob(blobId)).equals(raw)).toBe(true);
  });

  it('still retained when the store closes: deleted at the next open', async () => {
    const { inbox, uid, blobId } = await appendOne();
    store.retainBlobs([blobId]);
    await store.expungeMessages(inbox, [uid]);
    await store.close();
    store = await Store.open(dir, { accounts: [ALICE] });
    expect(await gone(blobId)).toBe(true);
  });

  it('SIGKILL while the blobs are retained: the next open deletes them', async () => {
    await store.close();
    const blobIds = await new Promise<string[]>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, ALICE, '20'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let ids: string[] = [];
      onEachLine(child.stdout, (line) => {
        if (!line.startsWith('expunged ')) return;
        ids = line.slice('expunged '.length).split(' ');
        child.kill('SIGKILL');
      });
      child.on('error', reject);
      child.on('exit', () => resolve(ids));
    });
    expect(blobIds).toHaveLength(20);
    store = await Store.open(dir, { accounts: [ALICE] });
    for (const blobId of blobIds) expect(await gone(blobId)).toBe(true);
    expect(await store.getIndexes(blobIds)).toEqual(blobIds.map(() => undefined));
  }, 60_000);
});
