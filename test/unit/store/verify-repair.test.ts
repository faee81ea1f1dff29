/**
 * What `verify` finds and `repair` rebuilds, case by case, on a real store whose records are changed behind
 * its back (LevelDB opened directly, as damage would): wrong reference counts, a lost message record (its
 * blob goes to "Recovered"), a lost mailbox record, a UIDNEXT below a UID, a wrong index, a damaged blob
 * (lost, named, and fetched again by resync without doubling the others).
 */
import path from 'node:path';
import { Level } from 'level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { repairStore, Store, verifyStoreAt } from '../../../src/store/index.js';
import { simpleMessage } from '../../helpers/messages.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

const ALICE = 'alice@example.test';

/** Opens the closed store's LevelDB directly and hands `edit` the sublevel named. */
type Sub = ReturnType<Level<string, unknown>['sublevel']> & { put(key: string, value: unknown): Promise<void> };

async function behindItsBack(
  dataDir: string,
  sublevel: string,
  edit: (level: Sub) => Promise<void>,
  valueEncoding = 'json',
): Promise<void> {
  const db = new Level<string, unknown>(path.join(dataDir, 'store'), { valueEncoding: 'json' });
  await db.open();
  try {
    await edit(db.sublevel<string, unknown>(sublevel, { valueEncoding }) as unknown as Sub);
  } finally {
    await db.close();
  }
}

describe('verify and repair', () => {
  let dir: string;
  let dataDir: string;
  const raws = [0, 1, 2, 3, 4].map((i) => simpleMessage(i));

  beforeEach(async () => {
    dir = tempDir('hotbridge-verify-');
    dataDir = path.join(dir, 'data');
    const store = await Store.open(dataDir, { accounts: [ALICE] });
    await store.ingestPop3(
      ALICE,
      raws.map((raw, i) => ({ uidl: `u${i}`, raw })),
    );
    await store.close();
  });
  afterEach(() => removeDir(dir));

  const texts = async (options = {}) => (await verifyStoreAt(dataDir, options)).problems.map((p) => p.text).join('\n');
  const blobId = (i: number) => Store.blobIdOf(raws[i]);

  it('finds nothing wrong in a whole store, and repair leaves it alone', async () => {
    const report = await verifyStoreAt(dataDir);
    expect(report.ok).toBe(true);
    expect(report.counts).toMatchObject({ messages: 5, blobs: 5, pop3: 5, outbox: 0 });
    expect((await repairStore(dataDir, { accounts: [ALICE] })).nothingToRepair).toBe(true);
  });

  it('an expunged message a session still held (an orphan awaiting deletion) is neither damage nor a lost record', async () => {
    const store = await Store.open(dataDir);
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    const uid = (await store.listMessages(inbox.id))[2].uid;
    // A session shows it and has not told its client of the expunge yet; the daemon stops meanwhile.
    store.retainBlobs([blobId(2)]);
    await store.expungeMessages(inbox.id, [uid]);
    await store.close();
    const report = await verifyStoreAt(dataDir);
    expect(report.problems).toEqual([]);
    expect(report.counts).toMatchObject({ messages: 4, blobs: 5, orphans: 1 });
    expect((await repairStore(dataDir, { accounts: [ALICE] })).nothingToRepair).toBe(true);
  });

  it('an orphan mark on a message still in a mailbox: named, and removed by repair (the message stays)', async () => {
    await behindItsBack(dataDir, 'orphan', (level) => level.put(blobId(3), true));
    expect(await texts()).toMatch(new RegExp(`message ${blobId(3).slice(0, 12)}… is marked for deletion but referred to 1 times`));
    const report = await repairStore(dataDir, { accounts: [ALICE] });
    expect(report.rebuild).toMatchObject({ orphanMarksCleared: 1, lost: [], recovered: 0 });
    expect((await verifyStoreAt(dataDir)).ok).toBe(true);
    // Opening no longer deletes it.
    const store = await Store.open(dataDir);
    try {
      expect((await store.getBlob(blobId(3))).equals(raws[3])).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('a wrong reference count: named, and counted again by repair', async () => {
    await behindItsBack(dataDir, 'blobref', (level) => level.put(blobId(1), 3));
    expect(await texts()).toMatch(new RegExp(`message ${blobId(1).slice(0, 12)}… is counted 3 times but referred to 1 times`));
    const report = await repairStore(dataDir, { accounts: [ALICE] });
    expect(report.rebuild?.referenceCountsFixed).toBe(1);
    expect(report.rebuild?.lost).toEqual([]);
    expect((await verifyStoreAt(dataDir)).ok).toBe(true);
  });

  it('a lost message record: the message is named as belonging nowhere, and put back into "Recovered"', async () => {
    await behindItsBack(dataDir, 'message', async (level) => {
      for await (const [key, value] of level.iterator()) if ((value as string[])[0] === blobId(2)) await level.del(key);
    });
    expect(await texts()).toMatch(
      /a stored message \(\d+ bytes, from Sender <sender@example\.org>, "Test message 2"\) belongs to no mailbox: its record was lost; hotbridge repair puts it back/,
    );
    const report = await repairStore(dataDir, { accounts: [ALICE] });
    expect(report.rebuild?.recovered).toBe(1);
    expect((await verifyStoreAt(dataDir)).ok).toBe(true);
    const store = await Store.open(dataDir);
    try {
      const recovered = store.findMailbox(ALICE, 'Recovered')!;
      const [message] = await store.listMessages(recovered.id);
      expect((await store.getBlob(message.blobId)).equals(raws[2])).toBe(true);
      expect(await store.listSubscriptions(ALICE)).toContain('Recovered');
    } finally {
      await store.close();
    }
  });

  it('a lost mailbox record: its messages are named, and get a mailbox again', async () => {
    await behindItsBack(dataDir, 'mailbox', async (level) => {
      for await (const [key, value] of level.iterator()) if ((value as { name: string }).name === 'INBOX') await level.del(key);
    });
    expect(await texts()).toMatch(/5 messages belong to a mailbox \(id \d+\) whose record is gone/);
    const report = await repairStore(dataDir, { accounts: [ALICE] });
    expect(report.rebuild?.mailboxesRecreated).toEqual([expect.stringMatching(/^Recovered \d+ of alice@example\.test$/)]);
    expect((await verifyStoreAt(dataDir)).ok).toBe(true);
  });

  it('a UIDNEXT below a UID: named, and raised by repair so no UID is given twice', async () => {
    await behindItsBack(dataDir, 'mailbox', async (level) => {
      for await (const [key, value] of level.iterator())
        if ((value as { name: string }).name === 'INBOX') await level.put(key, { ...(value as object), uidNext: 3 });
    });
    expect(await texts()).toMatch(/INBOX of alice@example\.test: message UID 3 is not below UIDNEXT 3 \(a new message could get its UID\)/);
    const report = await repairStore(dataDir, { accounts: [ALICE] });
    expect(report.rebuild?.countersRaised).toBe(1);
    const store = await Store.open(dataDir);
    try {
      const inbox = store.findMailbox(ALICE, 'INBOX')!;
      expect(inbox.uidNext).toBe(6);
      expect((await store.appendMessage(inbox.id, simpleMessage(99))).uid).toBe(6);
    } finally {
      await store.close();
    }
  });

  it('an index that does not match its message: found by the full check (not the quick one), rebuilt by repair', async () => {
    await behindItsBack(dataDir, 'index', async (level) => {
      const stored = (await level.get(blobId(3))) as { v: number; index: { envelope: { subject?: string } } };
      stored.index.envelope.subject = 'not what the message says';
      await level.put(blobId(3), stored);
    });
    expect(await texts({ quick: true })).toBe('');
    expect(await texts()).toMatch(
      /the index of message from Sender <sender@example\.org>, "Test message 3" does not match the message \(repair rebuilds it\)/,
    );
    await repairStore(dataDir, { accounts: [ALICE] });
    expect((await verifyStoreAt(dataDir)).ok).toBe(true);
  });

  it('a damaged message: named by mailbox, date, sender and subject; repair drops it; resync fetches only it again', async () => {
    await behindItsBack(
      dataDir,
      'blob',
      async (level) => {
        const bytes = Buffer.from((await level.get(blobId(4))) as Buffer);
        bytes[bytes.length - 10] ^= 0x20;
        await level.put(blobId(4), bytes);
      },
      'buffer',
    );
    const before = await verifyStoreAt(dataDir);
    expect(before.ok).toBe(false);
    expect(before.damaged).toEqual([
      expect.objectContaining({
        account: ALICE,
        mailbox: 'INBOX',
        uid: 5,
        from: 'Sender <sender@example.org>',
        subject: 'Test message 4',
        problem: 'its bytes are damaged',
      }),
    ]);

    const report = await repairStore(dataDir, { accounts: [ALICE] });
    expect(report.rebuild?.lost).toEqual([expect.objectContaining({ mailbox: 'INBOX', uid: 5, subject: 'Test message 4', uidl: 'u4' })]);
    expect(report.refetchable).toEqual({ [ALICE]: 1 });
    expect(report.damagedCopy).toMatch(/store\.damaged-/);

    const store = await Store.open(dataDir);
    try {
      expect((await store.uidlLedger(ALICE)).uidls().sort()).toEqual(['u0', 'u1', 'u2', 'u3', 'u4']);
      expect(await store.resyncLost()).toEqual({ [ALICE]: 1 });
      // Only the lost one is forgotten: the poller fetches it again, and nothing else.
      expect((await store.uidlLedger(ALICE)).uidls().sort()).toEqual(['u0', 'u1', 'u2', 'u3']);
      const results = await store.ingestPop3(
        ALICE,
        raws.map((raw, i) => ({ uidl: `u${i}`, raw })),
      );
      expect(results.filter((r) => !r.duplicate).map((r) => r.uidl)).toEqual(['u4']);
      expect(await store.resyncLost()).toEqual({});
    } finally {
      await store.close();
    }
    expect((await verifyStoreAt(dataDir)).ok).toBe(true);
  });
});
