import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../../src/store/index.js';
import { onEachLine } from '../../helpers/each-line.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

const ALICE = 'alice@example.test';
const CHILD = path.resolve(__dirname, '../../fixtures/children/store-writer.ts');

/** Runs the writer until it has acknowledged `killAfter` messages, then SIGKILLs it mid-stream. */
function runWriterAndKill(dataDir: string, total: number, batch: number, killAfter: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, ALICE, String(total), String(batch)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acked: string[] = [];
    onEachLine(child.stdout, (line) => {
      if (line.startsWith('ack ')) acked.push(line.slice(4));
      if (acked.length >= killAfter && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', () => resolve(acked));
  });
}

describe('store durability under SIGKILL', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) removeDir(dir);
  });

  it('keeps every acknowledged message exactly once, with dense growing UIDs, across repeated kills', async () => {
    dir = tempDir();
    const total = 400;
    const acknowledged = new Set<string>();
    for (const killAfter of [37, 120, 250]) {
      for (const uidl of await runWriterAndKill(dir, total, 3, killAfter)) acknowledged.add(uidl);
      const store = await Store.open(dir);
      try {
        const inbox = store.findMailbox(ALICE, 'INBOX')!;
        const messages = await store.listMessages(inbox.id);
        const uidls = messages.map((m) => m.uidl!);
        // Every acknowledged message is there, and nothing is there twice.
        for (const uidl of acknowledged) expect(uidls).toContain(uidl);
        expect(new Set(uidls).size).toBe(uidls.length);
        // UIDs are dense (no expunges happened) and growing; UIDNEXT is past the last.
        expect(messages.map((m) => m.uid)).toEqual(messages.map((_, i) => i + 1));
        expect(store.getMailbox(inbox.id)!.uidNext).toBe(messages.length + 1);
        // The ledger agrees with the mailbox: a UIDL is marked exactly when its message is stored.
        expect((await store.uidlLedger(ALICE)).uidls().sort()).toEqual([...uidls].sort());
        for (const message of messages) expect((await store.getBlob(message.blobId)).length).toBe(message.size);
      } finally {
        await store.close();
      }
    }
    // Finally let it run to the end: all messages, once each.
    await runWriterAndKill(dir, total, 3, Number.POSITIVE_INFINITY);
    const store = await Store.open(dir);
    try {
      const messages = await store.listMessages(store.findMailbox(ALICE, 'INBOX')!.id);
      expect(messages).toHaveLength(total);
      expect(new Set(messages.map((m) => m.uidl)).size).toBe(total);
    } finally {
      await store.close();
    }
  });

  it('keeps the same promises for batches large enough to be written in turns (chained batch)', async () => {
    dir = tempDir();
    // 150 messages a batch are over a thousand puts: the transaction hands them to LevelDB a slice of the
    // event loop at a time (store/transaction.ts), and a kill can land while that is under way.
    const total = 900;
    const acknowledged = new Set<string>();
    for (const killAfter of [150, 450]) {
      for (const uidl of await runWriterAndKill(dir, total, 150, killAfter)) acknowledged.add(uidl);
      const store = await Store.open(dir);
      try {
        const inbox = store.findMailbox(ALICE, 'INBOX')!;
        const messages = await store.listMessages(inbox.id);
        const uidls = messages.map((m) => m.uidl!);
        for (const uidl of acknowledged) expect(uidls).toContain(uidl);
        expect(new Set(uidls).size).toBe(uidls.length);
        // A batch is all there or not at all: whole batches only, dense UIDs, the ledger in step.
        expect(messages.length % 150).toBe(0);
        expect(messages.map((m) => m.uid)).toEqual(messages.map((_, i) => i + 1));
        expect((await store.uidlLedger(ALICE)).uidls().sort()).toEqual([...uidls].sort());
      } finally {
        await store.close();
      }
    }
  });
});
