// The expunge history behind QRESYNC (RFC 7162 §3.2.5, §5.3): every expunge is remembered with its
// mod-sequence in the expunge's own batch, survives a reopen, stays within its limit by raising the
// mailbox's floor, goes away with its mailbox, and a store written before the history existed answers
// "incomplete" for anything older than its first open.
import path from 'node:path';
import { Level } from 'level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store } from '../../../src/store/index.js';
import type { MailboxRecord } from '../../../src/store/index.js';
import { rangesOf, VanishedLog } from '../../../src/store/vanished-log.js';
import { mergeRanges } from '../../../src/store/uid-ranges.js';
import { simpleMessage } from '../../helpers/messages.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

const ALICE = 'alice@example.test';

describe('expunge history', () => {
  let dir: string;
  let store: Store;

  const open = (limit?: number) => Store.open(dir, { accounts: [ALICE], ...(limit ? { vanishedHistoryLimit: limit } : {}) });
  const inboxId = () => store.findMailbox(ALICE, 'INBOX')!.id;
  const fill = async (count: number) => {
    for (let i = 0; i < count; i++) await store.appendMessage(inboxId(), simpleMessage(i));
  };

  beforeEach(async () => {
    dir = tempDir();
    store = await open();
  });

  afterEach(async () => {
    await store.close();
    removeDir(dir);
  });

  it('answers exactly which UIDs went after a mod-sequence, also after a reopen', async () => {
    await fill(10); // UIDs 1..10, mod-sequences 2..11
    await store.expungeMessages(inboxId(), [2, 3, 4]); // 12
    await store.expungeMessages(inboxId(), [9]); // 13
    await store.moveMessages(inboxId(), [7], store.findMailbox(ALICE, 'Trash')!.id); // 14
    expect(await store.vanishedSince(inboxId(), 11)).toEqual({
      complete: true,
      ranges: [
        [2, 4],
        [7, 7],
        [9, 9],
      ],
    });
    expect(await store.vanishedSince(inboxId(), 12)).toEqual({
      complete: true,
      ranges: [
        [7, 7],
        [9, 9],
      ],
    });
    expect(await store.vanishedSince(inboxId(), 14)).toEqual({ complete: true, ranges: [] });
    expect(await store.vanishedSince(inboxId(), 0)).toEqual({
      complete: true,
      ranges: [
        [2, 4],
        [7, 7],
        [9, 9],
      ],
    });
    await store.close();
    store = await open();
    expect(await store.vanishedSince(inboxId(), 12)).toEqual({
      complete: true,
      ranges: [
        [7, 7],
        [9, 9],
      ],
    });
    expect(store.getMailbox(inboxId())!.highestModseq).toBe(14);
  });

  it('forgets the oldest expunges beyond its limit and says so for older mod-sequences', async () => {
    await store.close();
    store = await open(4);
    await fill(12); // mod-sequences 2..13
    for (const uid of [1, 3, 5, 7, 9]) await store.expungeMessages(inboxId(), [uid]); // 14..18
    // Five ranges over a limit of four: trimmed to three (three quarters), forgetting UIDs 1 and 3.
    const mailbox = store.getMailbox(inboxId())!;
    expect(mailbox.vanishedFloor).toBe(15);
    expect(await store.vanishedSince(inboxId(), 14)).toEqual({ complete: false, ranges: [] });
    expect(await store.vanishedSince(inboxId(), 15)).toEqual({
      complete: true,
      ranges: [
        [5, 5],
        [7, 7],
        [9, 9],
      ],
    });
    await store.close();
    store = await open(4);
    expect(store.getMailbox(inboxId())!.vanishedFloor).toBe(15);
    expect(await store.vanishedSince(inboxId(), 16)).toEqual({
      complete: true,
      ranges: [
        [7, 7],
        [9, 9],
      ],
    });
    // One expunge bigger than the whole limit is not itemised at all.
    await store.expungeMessages(inboxId(), [2, 4, 6, 8, 10]); // 19
    expect(store.getMailbox(inboxId())!.vanishedFloor).toBe(19);
    expect(await store.vanishedSince(inboxId(), 18)).toEqual({ complete: false, ranges: [] });
    expect(await store.vanishedSince(inboxId(), 19)).toEqual({ complete: true, ranges: [] });
  });

  it('deletes the history with its mailbox', async () => {
    const created = await store.createMailbox(ALICE, 'Box');
    await store.appendMessage(created.id, simpleMessage(1));
    await store.expungeMessages(created.id, [1]);
    expect((await store.vanishedSince(created.id, 1)).ranges).toEqual([[1, 1]]);
    await store.deleteMailbox(created.id);
    await store.close();
    const db = new Level<string, unknown>(path.join(dir, 'store'), { valueEncoding: 'json' });
    await db.open();
    const keys: string[] = [];
    for await (const key of db.sublevel<string, unknown>('vanished', { valueEncoding: 'json' }).keys()) keys.push(key);
    await db.close();
    expect(keys).toEqual([]);
    store = await open();
  });

  it('treats a mailbox written before the history existed as complete only from its first open on', async () => {
    await fill(3); // 2..4
    await store.expungeMessages(inboxId(), [1]); // 5
    const id = inboxId();
    await store.close();
    // Rewrite the record as an older hotbridge stored it: no vanishedFloor, and no history entries.
    const db = new Level<string, unknown>(path.join(dir, 'store'), { valueEncoding: 'json' });
    await db.open();
    const mailboxes = db.sublevel<string, MailboxRecord>('mailbox', { valueEncoding: 'json' });
    const key = String(id).padStart(10, '0');
    const record = await mailboxes.get(key);
    delete record!.vanishedFloor;
    await mailboxes.put(key, record!);
    const vanished = db.sublevel<string, unknown>('vanished', { valueEncoding: 'json' });
    for await (const old of vanished.keys()) await vanished.del(old);
    await db.close();
    store = await open();
    expect(await store.vanishedSince(id, 4)).toEqual({ complete: false, ranges: [] });
    expect(await store.vanishedSince(id, 5)).toEqual({ complete: true, ranges: [] });
    await store.expungeMessages(id, [2]); // 6
    expect(await store.vanishedSince(id, 5)).toEqual({ complete: true, ranges: [[2, 2]] });
    await store.close();
    store = await open();
    expect(store.getMailbox(id)!.vanishedFloor).toBe(5);
  });
});

describe('VanishedLog', () => {
  it('turns UIDs into ranges and merges ranges', () => {
    expect(rangesOf([5, 1, 2, 3, 9, 10, 3])).toEqual([
      [1, 3],
      [5, 5],
      [9, 10],
    ]);
    expect(
      mergeRanges([
        [7, 9],
        [1, 2],
        [3, 4],
        [8, 12],
      ]),
    ).toEqual([
      [1, 4],
      [7, 12],
    ]);
  });

  it('plans trimming down to three quarters of the limit, oldest first', () => {
    const log = new VanishedLog([1, 2, 3, 4].map((n) => ({ modseq: n, ranges: [[n * 10, n * 10]] as Array<[number, number]> })));
    expect(log.plan(1, 8)).toEqual({ forget: [], dropNew: false });
    expect(log.plan(5, 8).forget.map((entry) => entry.modseq)).toEqual([1, 2, 3]);
    expect(log.plan(9, 8).dropNew).toBe(true);
    log.forgetUpTo(2);
    expect(log.rangeCount).toBe(2);
    expect(log.since(0)).toEqual([
      [30, 30],
      [40, 40],
    ]);
  });
});
