import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { Level } from 'level';
import { Store, StoreError, type StoreChange } from '../../../src/store/index.js';
import { awkwardMessages, simpleMessage } from '../../helpers/messages.js';
import { closeTempStore, openTempStore, reopenTempStore } from '../../helpers/temp-store.js';

const ALICE = 'alice@example.test';

describe('Store', () => {
  let dir: string;
  let store: Store;

  beforeEach(async () => ({ dir, store } = await openTempStore([ALICE])));
  afterEach(() => closeTempStore(store, dir));

  const reopen = async () => {
    store = await reopenTempStore(store, dir, [ALICE]);
  };

  it('creates the default mailboxes with their special-use attributes, once', async () => {
    const names = store.listMailboxes(ALICE).map((m) => [m.name, m.specialUse ?? null]);
    expect(names).toEqual([
      ['INBOX', null],
      ['Drafts', '\\Drafts'],
      ['Junk', '\\Junk'],
      ['Sent', '\\Sent'],
      ['Trash', '\\Trash'],
    ]);
    await reopen();
    expect(store.listMailboxes(ALICE)).toHaveLength(5);
    expect(await store.listSubscriptions(ALICE)).toEqual(expect.arrayContaining(['INBOX', 'Sent', 'Drafts', 'Trash', 'Junk']));
  });

  it('gives each mailbox a distinct UIDVALIDITY that survives a reopen', async () => {
    const before = store.listMailboxes(ALICE).map((m) => m.uidValidity);
    expect(new Set(before).size).toBe(before.length);
    await reopen();
    expect(store.listMailboxes(ALICE).map((m) => m.uidValidity)).toEqual(before);
  });

  it('keeps message bytes exactly, including 8-bit and dot lines', async () => {
    const inbox = store.findMailbox(ALICE, 'inbox')!;
    for (const { raw } of awkwardMessages()) {
      const { uid } = await store.appendMessage(inbox.id, raw, { flags: ['\\seen', 'Custom'] });
      const record = (await store.listMessages(inbox.id)).find((m) => m.uid === uid)!;
      expect(record.flags).toEqual(['\\Seen', 'Custom']);
      expect(record.size).toBe(raw.length);
      expect((await store.getBlob(record.blobId)).equals(raw)).toBe(true);
    }
  });

  it('allocates dense, growing UIDs that are never reused after expunge', async () => {
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    const uids: number[] = [];
    for (let i = 0; i < 5; i++) uids.push((await store.appendMessage(inbox.id, simpleMessage(i))).uid);
    expect(uids).toEqual([1, 2, 3, 4, 5]);
    await store.expungeMessages(inbox.id, [5, 4]);
    await reopen();
    const next = await store.appendMessage(store.findMailbox(ALICE, 'INBOX')!.id, simpleMessage(9));
    expect(next.uid).toBe(6);
    expect((await store.listMessages(inbox.id)).map((m) => m.uid)).toEqual([1, 2, 3, 6]);
  });

  it('changes flags with mod-sequences, honours UNCHANGEDSINCE, and leaves no-op stores alone', async () => {
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    await store.appendMessage(inbox.id, simpleMessage(1));
    await store.appendMessage(inbox.id, simpleMessage(2));
    const start = store.getMailbox(inbox.id)!.highestModseq;
    const added = await store.storeFlags(inbox.id, [1, 2], 'add', ['\\Seen']);
    expect(added.changed.map((m) => [m.uid, m.flags])).toEqual([
      [1, ['\\Seen']],
      [2, ['\\Seen']],
    ]);
    expect(store.getMailbox(inbox.id)!.highestModseq).toBe(start + 2);
    const noop = await store.storeFlags(inbox.id, [1], 'add', ['\\SEEN']);
    expect(noop.changed).toEqual([]);
    const guarded = await store.storeFlags(inbox.id, [1, 2], 'add', ['\\Flagged'], { unchangedSince: start + 1 });
    expect(guarded.changed.map((m) => m.uid)).toEqual([1]);
    expect(guarded.modifiedSince).toEqual([2]);
    const removed = await store.storeFlags(inbox.id, [1], 'remove', ['\\seen']);
    expect(removed.changed[0].flags).toEqual(['\\Flagged']);
  });

  it('keeps each message its own flags when messages read back from disk share a flag list', async () => {
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    for (const n of [1, 2, 3]) await store.appendMessage(inbox.id, simpleMessage(n), { flags: ['\\Seen', 'todo'] });
    await reopen();
    const again = store.findMailbox(ALICE, 'INBOX')!;
    await store.storeFlags(again.id, [1], 'add', ['\\Flagged']);
    await store.storeFlags(again.id, [2], 'remove', ['todo']);
    const flags = (await store.listMessages(again.id)).map((m) => [m.uid, m.flags]);
    expect(flags).toEqual([
      [1, ['\\Seen', 'todo', '\\Flagged']],
      [2, ['\\Seen']],
      [3, ['\\Seen', 'todo']],
    ]);
  });

  it('keeps the POP3 UIDL of a message that has one, and gives others no uidl field, before and after a reopen', async () => {
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    await store.ingestPop3(ALICE, [{ uidl: 'uidl-1', raw: simpleMessage(1) }]);
    await store.appendMessage(inbox.id, simpleMessage(2));
    const fields = async () => (await store.listMessages(inbox.id)).map((record) => Object.keys(record).sort());
    const expected = [
      ['blobId', 'flags', 'internalDate', 'modseq', 'size', 'uid', 'uidl'],
      ['blobId', 'flags', 'internalDate', 'modseq', 'size', 'uid'],
    ];
    expect(await fields()).toEqual(expected);
    expect((await store.listMessages(inbox.id))[0].uidl).toBe('uidl-1');
    await reopen();
    expect(await fields()).toEqual(expected);
    expect((await store.listMessages(inbox.id))[0].uidl).toBe('uidl-1');
  });

  it('copies and moves with COPYUID pairs and shares the blob', async () => {
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    const trash = store.findMailbox(ALICE, 'Trash')!;
    const raw = simpleMessage(1);
    await store.appendMessage(inbox.id, raw, { flags: ['\\Seen'] });
    const copied = await store.copyMessages(inbox.id, [1], trash.id);
    expect(copied.pairs).toEqual([[1, 1]]);
    expect(copied.uidValidity).toBe(trash.uidValidity);
    const moved = await store.moveMessages(inbox.id, [1], trash.id);
    expect(moved.pairs).toEqual([[1, 2]]);
    expect(await store.listMessages(inbox.id)).toHaveLength(0);
    const inTrash = await store.listMessages(trash.id);
    expect(inTrash.map((m) => [m.uid, m.flags])).toEqual([
      [1, ['\\Seen']],
      [2, ['\\Seen']],
    ]);
    await store.expungeMessages(trash.id, [1]);
    expect((await store.getBlob(inTrash[1].blobId)).equals(raw)).toBe(true);
    await store.expungeMessages(trash.id, [2]);
    // The bytes go in a batch of their own, right after (blob-retention.ts).
    await store.settled();
    await expect(store.getBlob(inTrash[1].blobId)).rejects.toThrow(StoreError);
  });

  it('creates, renames (with children) and deletes mailboxes; INBOX rename moves its messages', async () => {
    await store.createMailbox(ALICE, 'Projects');
    await store.createMailbox(ALICE, 'Projects/2026');
    await expect(store.createMailbox(ALICE, 'Projects')).rejects.toMatchObject({ code: 'exists' });
    const child = store.findMailbox(ALICE, 'Projects/2026')!;
    await store.renameMailboxes(ALICE, [
      { from: 'Projects', to: 'Work' },
      { from: 'Projects/2026', to: 'Work/2026' },
    ]);
    expect(store.findMailbox(ALICE, 'Work/2026')?.id).toBe(child.id);
    expect(store.findMailbox(ALICE, 'Work/2026')?.uidValidity).toBe(child.uidValidity);
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    await store.appendMessage(inbox.id, simpleMessage(1));
    await store.renameMailboxes(ALICE, [{ from: 'inbox', to: 'Old mail' }]);
    expect(await store.listMessages(inbox.id)).toHaveLength(0);
    expect(await store.listMessages(store.findMailbox(ALICE, 'Old mail')!.id)).toHaveLength(1);
    await expect(store.deleteMailbox(inbox.id)).rejects.toMatchObject({ code: 'not-allowed' });
    await store.deleteMailbox(store.findMailbox(ALICE, 'Old mail')!.id);
    await reopen();
    expect(store.findMailbox(ALICE, 'Old mail')).toBeUndefined();
    expect(store.findMailbox(ALICE, 'Work/2026')).toBeDefined();
  });

  it('renames all or nothing: a taken or doubled target, or a missing source, changes no name', async () => {
    await store.createMailbox(ALICE, 'a');
    await store.createMailbox(ALICE, 'a/x');
    await store.createMailbox(ALICE, 'b/x');
    const before = store.listMailboxes(ALICE).map((m) => m.name);
    await expect(
      store.renameMailboxes(ALICE, [
        { from: 'a', to: 'b' },
        { from: 'a/x', to: 'b/x' },
      ]),
    ).rejects.toMatchObject({ code: 'exists' });
    await expect(
      store.renameMailboxes(ALICE, [
        { from: 'a', to: 'c' },
        { from: 'a/x', to: 'c' },
      ]),
    ).rejects.toMatchObject({ code: 'exists' });
    await expect(
      store.renameMailboxes(ALICE, [
        { from: 'a', to: 'c' },
        { from: 'a/gone', to: 'c/gone' },
      ]),
    ).rejects.toMatchObject({ code: 'not-found' });
    await expect(
      store.renameMailboxes(ALICE, [
        { from: 'INBOX', to: 'c' },
        { from: 'a', to: 'd' },
      ]),
    ).rejects.toMatchObject({ code: 'not-allowed' });
    expect(store.listMailboxes(ALICE).map((m) => m.name)).toEqual(before);
  });

  it('publishes changes only after they are durable', async () => {
    const seen: StoreChange[] = [];
    store.changes.subscribe((change) => seen.push(change));
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    await store.appendMessage(inbox.id, simpleMessage(1));
    const { changed } = await store.storeFlags(inbox.id, [1], 'add', ['\\Seen']);
    await store.expungeMessages(inbox.id, [1]);
    expect(seen.map((c) => c.kind)).toEqual(['message-added', 'flags-changed', 'messages-expunged']);
    // Neutral: what changed and its mod-sequence (which the writer also got back), not who changed it.
    expect(seen[1]).toEqual({ kind: 'flags-changed', mailboxId: inbox.id, uid: 1, flags: ['\\Seen'], modseq: changed[0].modseq });
  });

  it('says what happened to an outbox entry, so its worker can tell new submissions from its own updates', async () => {
    const seen: StoreChange[] = [];
    store.changes.subscribe((change) => seen.push(change));
    const entry = await store.enqueueOutbox({ account: ALICE, from: ALICE, recipients: ['a@example.org'] }, simpleMessage(1));
    await store.updateOutbox({ ...entry, attempts: 1 });
    await store.finishOutbox(entry.id);
    expect(seen).toEqual([
      { kind: 'outbox-changed', account: ALICE, entryId: entry.id, event: 'queued' },
      { kind: 'outbox-changed', account: ALICE, entryId: entry.id, event: 'updated' },
      { kind: 'outbox-changed', account: ALICE, entryId: entry.id, event: 'finished' },
    ]);
  });

  it('indexes a submission only once it lands in a mailbox (its Sent copy), in the batch that finishes it', async () => {
    // Read from the LevelDB files themselves, with the store closed: reading through the store would
    // compute a missing index on the spot.
    const storedIndex = async (blobId: string) => {
      await store.close();
      const db = new Level<string, unknown>(path.join(dir, 'store'), { valueEncoding: 'json' });
      try {
        return await db.sublevel<string, unknown>('index', { valueEncoding: 'json' }).get(blobId);
      } finally {
        await db.close();
        store = await Store.open(dir, { accounts: [ALICE] });
      }
    };
    const raw = simpleMessage(7);
    const entry = await store.enqueueOutbox({ account: ALICE, from: ALICE, recipients: ['a@example.org'] }, raw);
    expect(await storedIndex(entry.blobId)).toBeUndefined();
    await store.finishOutbox(entry.id, [{ mailbox: 'Sent', raw, flags: ['\\Seen'] }]);
    const [copy] = await store.listMessages(store.findMailbox(ALICE, 'Sent')!.id);
    expect(copy.blobId).toBe(entry.blobId);
    expect(await storedIndex(copy.blobId)).toBeDefined();
    const [index] = await store.getIndexes([copy.blobId], { text: true });
    expect(index!.text).toContain('message number 7');
  });

  it('places a bounce or Sent copy in a default mailbox the user deleted, made again in the same batch', async () => {
    await store.deleteMailbox(store.findMailbox(ALICE, 'Sent')!.id);
    const entry = await store.enqueueOutbox({ account: ALICE, from: ALICE, recipients: ['a@example.org'] }, simpleMessage(1));
    await store.finishOutbox(entry.id, [{ mailbox: 'Sent', raw: simpleMessage(1) }]);
    const sent = store.findMailbox(ALICE, 'Sent')!;
    expect(sent.specialUse).toBe('\\Sent');
    expect(await store.listMessages(sent.id)).toHaveLength(1);
    expect(await store.listSubscriptions(ALICE)).toContain('Sent');
  });

  it('queues submissions durably and finishes them with a bounce in the same batch', async () => {
    const raw = simpleMessage(1);
    const entry = await store.enqueueOutbox({ account: ALICE, from: ALICE, recipients: ['a@example.org', 'b@example.org'] }, raw);
    await reopen();
    const [queued] = await store.listOutbox(ALICE);
    expect(queued).toMatchObject({ id: entry.id, pending: ['a@example.org', 'b@example.org'], attempts: 0 });
    expect((await store.getBlob(queued.blobId)).equals(raw)).toBe(true);
    await store.updateOutbox({ ...queued, attempts: 1, pending: ['b@example.org'], delivered: ['a@example.org'] });
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    await store.finishOutbox(entry.id, [{ mailbox: 'INBOX', raw: simpleMessage(99) }]);
    expect(await store.listOutbox()).toEqual([]);
    expect(await store.listMessages(inbox.id)).toHaveLength(1);
    await store.settled();
    await expect(store.getBlob(queued.blobId)).rejects.toThrow(StoreError);
  });

  it('reads indexes in batches, with the body text only when asked for', async () => {
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    await store.appendMessage(inbox.id, simpleMessage(1));
    await store.appendMessage(inbox.id, simpleMessage(2));
    const [first, second] = await store.listMessages(inbox.id);
    const plain = await store.getIndexes([first.blobId, 'no-such-blob', second.blobId]);
    expect(plain[1]).toBeUndefined();
    expect(plain[0]!.envelope).toBeDefined();
    expect(plain[0]!.text).toBe('');
    const withText = await store.getIndexes([second.blobId], { text: true });
    expect(withText[0]!.text).toContain('message number 2');
    // The text survives a reopen, and the cached index without it is not mistaken for it.
    await reopen();
    expect((await store.getIndexes([first.blobId], { text: true }))[0]!.text).toContain('message number 1');
    expect((await store.getIndexes([first.blobId]))[0]!.text).toBe('');
  });

  it('refuses a second open of the same data dir in one process', async () => {
    await expect(Store.open(dir)).rejects.toMatchObject({ code: 'in-use' });
  });

  it('keeps its files private', async () => {
    const mode = fs.statSync(dir).mode & 0o777;
    expect(mode & 0o077).toBe(0);
    expect(fs.existsSync(path.join(dir, 'store'))).toBe(true);
  });
});
