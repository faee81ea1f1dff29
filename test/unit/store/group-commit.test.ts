/**
 * Group commit (src/store/transaction.ts, WriteQueue): operations queued side by side that name disjoint
 * `touches` share one LevelDB batch; the outcome must be the one of running them one by one. First the
 * queue on its own over a real LevelDB (the batches it writes are counted by wrapping the database's
 * own `_batch`, which still writes), then the store's STORE, EXPUNGE and APPEND sharing batches.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChangeFeed } from '../../../src/store/changes.js';
import { openDatabase, type Database } from '../../../src/store/database.js';
import { KeywordLimitError, MAX_KEYWORDS_PER_MAILBOX, Store, StoreError } from '../../../src/store/index.js';
import { WriteQueue, type QueueOptions, type Transaction } from '../../../src/store/transaction.js';
import { simpleMessage } from '../../helpers/messages.js';
import { closeTempStore, openTempStore, reopenTempStore } from '../../helpers/temp-store.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

const ALICE = 'alice@example.test';

describe('WriteQueue group commit', () => {
  let dir: string;
  let database: Database;
  let queue: WriteQueue;
  /** The `sync` option of every batch written. */
  let batches: boolean[];
  /** What the builds saw and did, in the order they ran. */
  let log: string[];
  /** In-memory state that an operation changes only after its batch is written (as the parts do). */
  let memory: Map<string, number>;

  beforeEach(async () => {
    dir = tempDir();
    database = await openDatabase(dir);
    const db = database.db;
    // Every batch ends in the backend's _batch (abstract-level's public batch() calls it too).
    const backend = db as unknown as { _batch(ops: unknown[], options: { sync?: boolean }): Promise<void> };
    const write = backend._batch.bind(db);
    batches = [];
    backend._batch = (ops, options) => {
      batches.push(options.sync === true);
      return write(ops, options);
    };
    queue = new WriteQueue(db, new ChangeFeed());
    log = [];
    memory = new Map();
  });

  afterEach(async () => {
    await queue.close();
    await database.close();
    removeDir(dir);
  });

  /** An operation that adds one to `key`: reads the written value, puts the new one, changes memory after the write. */
  const increment = (name: string, key: string, options: QueueOptions = {}) =>
    queue.run((txn: Transaction) => {
      const seen = memory.get(key) ?? 0;
      log.push(`${name} saw ${key}=${seen}`);
      txn.put(database.sub.meta, `app:${key}`, seen + 1);
      txn.afterCommit(() => memory.set(key, seen + 1));
      return seen + 1;
    }, options);

  it('writes operations with disjoint keys, queued together, as one batch, built in queue order', async () => {
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((key) => increment(key, key, { touches: [key] })));
    expect(results).toEqual([1, 1, 1, 1]);
    expect(batches).toHaveLength(1);
    expect(log).toEqual(['a saw a=0', 'b saw b=0', 'c saw c=0', 'd saw d=0']);
    expect(await database.sub.meta.getMany(['app:a', 'app:b', 'app:c', 'app:d'])).toEqual([1, 1, 1, 1]);
  });

  it('keeps operations with a key in common apart and in order; others may pass the one left waiting', async () => {
    const results = await Promise.all([
      increment('first', 'x', { touches: ['x'] }),
      increment('second', 'x', { touches: ['x', 'y'] }),
      // Shares y with the one left waiting, so it must not overtake it.
      increment('third', 'y', { touches: ['y'] }),
      increment('fourth', 'z', { touches: ['z'] }),
    ]);
    expect(results).toEqual([1, 2, 1, 1]);
    expect(log).toEqual(['first saw x=0', 'fourth saw z=0', 'second saw x=1', 'third saw y=0']);
    // first and fourth; second; third (its y is second's).
    expect(batches).toHaveLength(3);
    expect(await database.sub.meta.get('app:x')).toBe(2);
  });

  it('lets nothing overtake or join an operation that names no keys', async () => {
    await Promise.all([
      increment('a', 'a', { touches: ['a'] }),
      increment('alone', 'n'),
      increment('b', 'b', { touches: ['b'] }),
      increment('c', 'c', { touches: ['c'] }),
    ]);
    expect(log).toEqual(['a saw a=0', 'alone saw n=0', 'b saw b=0', 'c saw c=0']);
    expect(batches).toHaveLength(3);
  });

  it('fsyncs a shared batch when any of its operations needs it', async () => {
    await Promise.all([
      increment('a', 'a', { touches: ['a'], durability: 'process' }),
      increment('b', 'b', { touches: ['b'], durability: 'process' }),
    ]);
    await Promise.all([increment('c', 'c', { touches: ['c'], durability: 'process' }), increment('d', 'd', { touches: ['d'] })]);
    expect(batches).toEqual([false, true]);
  });

  it('keeps a failing build to its own operation: the others are written, each alone', async () => {
    const failing = queue.run(
      (txn) => {
        txn.put(database.sub.meta, 'app:never', 1);
        throw new StoreError('not-found', 'no such message');
      },
      { touches: ['f'] },
    );
    const [a, , b] = await Promise.allSettled([increment('a', 'a', { touches: ['a'] }), failing, increment('b', 'b', { touches: ['b'] })]);
    expect([a, b]).toEqual([
      { status: 'fulfilled', value: 1 },
      { status: 'fulfilled', value: 1 },
    ]);
    await expect(failing).rejects.toThrow('no such message');
    expect(await database.sub.meta.get('app:never')).toBeUndefined();
    expect(await database.sub.meta.getMany(['app:a', 'app:b'])).toEqual([1, 1]);
    // The shared attempt wrote nothing; then a and b each had a batch of their own.
    expect(batches).toHaveLength(2);
  });

  it('writes keys and values exactly as the sublevels read them back', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 13, 10]);
    const record = { text: 'ünïcode "quoted"\n', list: [1, null, true], nested: { a: 1 } };
    await queue.run((txn) => {
      txn.put(database.sub.blob, 'some-blob', bytes);
      txn.put(database.sub.meta, 'app:record', record);
      txn.put(database.sub.meta, 'app:gone', 1);
      txn.del(database.sub.meta, 'app:gone');
    });
    expect((await database.sub.blob.get('some-blob'))?.equals(bytes)).toBe(true);
    expect(await database.sub.meta.get('app:record')).toEqual(record);
    expect(await database.sub.meta.get('app:gone')).toBeUndefined();
    expect(await database.db.keys({ gte: '!meta!app:', lt: '!meta!app;' }).all()).toEqual(['!meta!app:record']);
  });

  it("refuses a put of nothing with abstract-level's own error, and writes nothing of its batch", async () => {
    const refused = queue.run((txn) => {
      txn.put(database.sub.meta, 'app:first', 1);
      txn.put(database.sub.meta, 'app:nothing', undefined);
    });
    await expect(refused).rejects.toMatchObject({ cause: { code: 'LEVEL_INVALID_VALUE' } });
    expect(await database.sub.meta.get('app:first')).toBeUndefined();
  });

  it('shares at most 32 operations in a batch', async () => {
    await Promise.all(Array.from({ length: 40 }, (_, i) => increment(`op${i}`, `k${i}`, { touches: [`k${i}`] })));
    expect(batches).toHaveLength(2);
  });

  it('refuses the operations still waiting once it is closed, and writes none of them', async () => {
    const running = increment('running', 'r', { touches: ['r'] });
    const closing = queue.close();
    const late = increment('late', 'l', { touches: ['l'] });
    await expect(running).rejects.toMatchObject({ code: 'closed' });
    await expect(late).rejects.toMatchObject({ code: 'closed' });
    await closing;
    expect(batches).toHaveLength(0);
  });
});

describe('Store operations sharing a batch', () => {
  let dir: string;
  let store: Store;

  beforeEach(async () => ({ dir, store } = await openTempStore([ALICE])));
  afterEach(() => closeTempStore(store, dir));

  const reopen = async () => {
    store = await reopenTempStore(store, dir, [ALICE]);
  };

  const inbox = () => store.findMailbox(ALICE, 'INBOX')!;
  const fill = async (count: number) => {
    const uids: number[] = [];
    for (let i = 0; i < count; i++) uids.push((await store.appendMessage(inbox().id, simpleMessage(i))).uid);
    return uids;
  };
  const flagsByUid = async () => Object.fromEntries((await store.listMessages(inbox().id)).map((m) => [m.uid, m.flags]));

  it('gives flag changes, expunges and appends queued together the outcome of running them one by one', async () => {
    const [one, two, three, four] = await fill(4);
    const before = inbox().highestModseq;
    const [seen, flagged, expunged, appended, again] = await Promise.all([
      store.storeFlags(inbox().id, [one], 'add', ['\\Seen']),
      store.storeFlags(inbox().id, [two], 'add', ['\\Flagged']),
      store.expungeMessages(inbox().id, [three]),
      store.appendMessage(inbox().id, simpleMessage(1000)),
      // The same message as the first STORE: it waits for it, and sees its flag.
      store.storeFlags(inbox().id, [one], 'add', ['$Done']),
    ]);
    expect(seen.changed.map((m) => m.uid)).toEqual([one]);
    expect(flagged.changed.map((m) => m.uid)).toEqual([two]);
    expect(expunged).toEqual([three]);
    expect(again.changed[0].flags).toEqual(['\\Seen', '$Done']);
    const modseqs = [seen.changed[0].modseq, flagged.changed[0].modseq, again.changed[0].modseq];
    expect(new Set(modseqs).size).toBe(3);
    expect(Math.min(...modseqs)).toBeGreaterThan(before);
    const expected = { [one]: ['\\Seen', '$Done'], [two]: ['\\Flagged'], [four]: [], [appended.uid]: [] };
    expect(await flagsByUid()).toEqual(expected);
    await reopen();
    expect(await flagsByUid()).toEqual(expected);
    expect(inbox().highestModseq).toBe(Math.max(...modseqs, before + 5));
  });

  it('counts the keywords of flag changes in the same batch towards the mailbox limit', async () => {
    const uids = await fill(5);
    const keywords = (from: number, count: number) => Array.from({ length: count }, (_, i) => `kw${from + i}`);
    // Three messages with 64 keywords each and one with 63: one short of the mailbox's limit.
    for (const [i, uid] of uids.slice(0, 3).entries()) await store.storeFlags(inbox().id, [uid], 'add', keywords(64 * i, 64));
    await store.storeFlags(inbox().id, [uids[3]], 'add', keywords(192, 63));
    expect(MAX_KEYWORDS_PER_MAILBOX).toBe(256);
    const [last, over] = await Promise.allSettled([
      store.storeFlags(inbox().id, [uids[3]], 'add', ['the-last-one']),
      // Queued beside it, on another message: together they would pass the limit.
      store.storeFlags(inbox().id, [uids[4]], 'add', ['one-too-many']),
    ]);
    expect(last.status).toBe('fulfilled');
    expect(over).toMatchObject({ status: 'rejected', reason: expect.any(KeywordLimitError) });
    const inUse = new Set((await store.listMessages(inbox().id)).flatMap((m) => m.flags));
    expect(inUse.size).toBe(256);
    expect(inUse.has('one-too-many')).toBe(false);
  });

  it('keeps an orphaned blob that an APPEND takes back while its deletion is queued', async () => {
    const raw = simpleMessage(7);
    const { uid, blobId } = await store.appendMessage(inbox().id, raw);
    // A reader still shows the message: its blob outlives the expunge as an orphan.
    const release = store.retainBlobs([blobId]);
    await store.expungeMessages(inbox().id, [uid]);
    // The same bytes appended anew, and the reader lets go while that APPEND waits: the blob's deletion
    // is queued behind it, and must see that the APPEND took the blob back.
    const again = store.appendMessage(inbox().id, raw);
    release();
    expect((await again).blobId).toBe(blobId);
    await reopen();
    const [message] = await store.listMessages(inbox().id);
    expect(message.uid).toBe((await again).uid);
    expect((await store.getBlob(message.blobId)).equals(raw)).toBe(true);
  });
});
