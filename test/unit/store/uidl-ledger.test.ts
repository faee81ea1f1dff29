/**
 * The POP3 UIDL ledger (src/store/uidl-ledger.ts): on its own, over a real LevelDB and the store's write
 * queue, and through the store's ingest, expunge and move, which write it in their own batches.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChangeFeed } from '../../../src/store/changes.js';
import { openDatabase, type Database } from '../../../src/store/database.js';
import { WriteQueue } from '../../../src/store/transaction.js';
import { UidlLedger } from '../../../src/store/uidl-ledger.js';
import { Store } from '../../../src/store/index.js';
import { simpleMessage } from '../../helpers/messages.js';
import { closeTempStore, openTempStore } from '../../helpers/temp-store.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';

describe('UidlLedger on its own', () => {
  let dir: string;
  let database: Database;
  let queue: WriteQueue;
  let ledger: UidlLedger;

  const open = async () => {
    database = await openDatabase(dir);
    queue = new WriteQueue(database.db, new ChangeFeed());
    ledger = new UidlLedger(database.sub);
  };
  const reopen = async () => {
    await queue.close();
    await database.close();
    await open();
  };

  beforeEach(async () => {
    dir = tempDir();
    await open();
  });

  afterEach(async () => {
    await queue.close();
    await database.close();
    removeDir(dir);
  });

  const fetched = (uidl: string, fetchedAt = 1000) => ({ uidl, blobId: `blob-${uidl}`, fetchedAt });
  const entriesOf = async (account: string) => {
    const view = await ledger.view(account);
    return view.uidls().map((uidl) => view.get(uidl));
  };

  it('keeps what was fetched, per account, across a reopen', async () => {
    await queue.run((txn) =>
      Promise.all([ledger.recordFetched(txn, ALICE, fetched('a1')), ledger.recordFetched(txn, ALICE, fetched('a2'))]),
    );
    await queue.run((txn) => ledger.recordFetched(txn, BOB, fetched('b1')));
    await reopen();
    expect((await ledger.view(ALICE)).uidls().sort()).toEqual(['a1', 'a2']);
    expect(await entriesOf(BOB)).toEqual([fetched('b1')]);
  });

  it('changes nothing, on disk or in memory, when the transaction fails', async () => {
    await queue.run((txn) => ledger.recordFetched(txn, ALICE, fetched('kept')));
    const failing = queue.run(async (txn) => {
      await ledger.recordFetched(txn, ALICE, fetched('lost'));
      await ledger.markDeletedUpstream(txn, ALICE, ['kept'], 2000);
      throw new Error('the operation fails before its commit');
    });
    await expect(failing).rejects.toThrow('fails before its commit');
    expect(await entriesOf(ALICE)).toEqual([fetched('kept')]);
    await reopen();
    expect(await entriesOf(ALICE)).toEqual([fetched('kept')]);
  });

  it('gives a view that answers from the ledger as it is when asked (the poller takes one per session)', async () => {
    const view = await ledger.view(ALICE);
    expect(view.size).toBe(0);
    await queue.run((txn) => ledger.recordFetched(txn, ALICE, fetched('new')));
    expect(view.has('new')).toBe(true);
    expect(view.deletedUpstream()).toEqual([]);
    await queue.run((txn) => ledger.markDeletedUpstream(txn, ALICE, ['new'], 7000));
    expect(view.deletedUpstream()).toEqual(['new']);
    expect(view.get('new')?.deletedUpstreamAt).toBe(7000);
    expect(view.uidls()).toEqual(['new']);
  });

  it('marks upstream deletions and local expunges of known UIDLs only, and forgets them', async () => {
    await queue.run((txn) => Promise.all(['u1', 'u2', 'u3'].map((uidl) => ledger.recordFetched(txn, ALICE, fetched(uidl)))));
    await queue.run((txn) => ledger.markDeletedUpstream(txn, ALICE, ['u1', 'never-fetched'], 5000));
    await queue.run((txn) => ledger.markExpungedLocally(txn, ALICE, ['u2'], 6000));
    await reopen();
    const entries = await ledger.view(ALICE);
    expect(entries.get('u1')).toEqual({ ...fetched('u1'), deletedUpstreamAt: 5000 });
    expect(entries.get('u2')).toEqual({ ...fetched('u2'), expungedLocallyAt: 6000 });
    expect(entries.get('u3')).toEqual(fetched('u3'));
    expect(entries.has('never-fetched')).toBe(false);
    await queue.run((txn) => ledger.forget(txn, ALICE, ['u1', 'never-fetched']));
    await reopen();
    expect((await ledger.view(ALICE)).uidls().sort()).toEqual(['u2', 'u3']);
  });
});

describe('the UIDL ledger through the store', () => {
  let dir: string;
  let store: Store;

  beforeEach(async () => ({ dir, store } = await openTempStore([ALICE])));
  afterEach(() => closeTempStore(store, dir));

  it('ingests POP3 messages once per UIDL, atomically with the ledger', async () => {
    const first = await store.ingestPop3(ALICE, [
      { uidl: 'u1', raw: simpleMessage(1) },
      { uidl: 'u2', raw: simpleMessage(2) },
      { uidl: 'u1', raw: simpleMessage(1) },
    ]);
    expect(first.map((r) => [r.uidl, r.uid ?? null, r.duplicate])).toEqual([
      ['u1', 1, false],
      ['u2', 2, false],
      ['u1', null, true],
    ]);
    await store.close();
    store = await Store.open(dir, { accounts: [ALICE] });
    const again = await store.ingestPop3(ALICE, [{ uidl: 'u2', raw: simpleMessage(2) }]);
    expect(again[0].duplicate).toBe(true);
    expect((await store.uidlLedger(ALICE)).uidls().sort()).toEqual(['u1', 'u2']);
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    expect((await store.listMessages(inbox.id)).map((m) => m.uidl)).toEqual(['u1', 'u2']);
  });

  it('marks the ledger when a POP3 message is expunged locally', async () => {
    await store.ingestPop3(ALICE, [{ uidl: 'gone', raw: simpleMessage(1) }]);
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    await store.expungeMessages(inbox.id, [1]);
    expect((await store.uidlLedger(ALICE)).get('gone')?.expungedLocallyAt).toBeTypeOf('number');
  });

  it('does not mark a POP3 message for upstream deletion when it is only moved, and the moved copy keeps its origin', async () => {
    await store.ingestPop3(ALICE, [{ uidl: 'filed', raw: simpleMessage(1) }]);
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    const archive = await store.createMailbox(ALICE, 'Archive');
    await store.moveMessages(inbox.id, [1], archive.id);
    expect((await store.uidlLedger(ALICE)).get('filed')?.expungedLocallyAt).toBeUndefined();
    const [moved] = await store.listMessages(archive.id);
    expect(moved.uidl).toBe('filed');
    await store.expungeMessages(archive.id, [moved.uid]);
    expect((await store.uidlLedger(ALICE)).get('filed')?.expungedLocallyAt).toBeTypeOf('number');
  });
});
