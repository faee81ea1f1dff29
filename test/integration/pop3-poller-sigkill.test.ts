/**
 * Invariant 1 under SIGKILL (ARCHITECTURE.md): a child process runs the store and the POP3 poller against the
 * lab's Dovecot (test/fixtures/children/poller-run.ts) and is killed in the middle of a first sync, between
 * a durable store batch and DELE, and between QUIT and the ledger noting the deletions. After restarts every
 * message is in INBOX exactly once, byte for byte, and with leave_on_server = false the server ends empty.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AccountConfig } from '../../src/config/types.js';
import { Store } from '../../src/store/index.js';
import { labAccount } from '../fixtures/children/poller-account.js';
import { startLab, LAB_USERS, type Lab } from '../helpers/lab.js';
import { simpleMessage } from '../helpers/messages.js';
import { onEachLine } from '../helpers/each-line.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const CHILD = path.resolve(__dirname, '../fixtures/children/poller-run.ts');
const TOTAL = 300;

let lab: Lab;
const dirs: string[] = [];

beforeAll(async () => {
  lab = await startLab();
});

afterAll(async () => {
  await lab?.stop();
});

afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

interface Run {
  lines: string[];
  /** Messages in the ingest batches the child reported durable (a batch committed just before the kill may be missing). */
  ingested: number;
  /** Messages the child fetched although the store already held them: must stay 0. */
  duplicates: number;
  killed: boolean;
  code: number | null;
}

/**
 * Runs the child; `killWhen` sees every output line, the running count of ingested messages and the lines so far; a true
 * answer SIGKILLs the child at once. Resolves when the child is gone.
 */
function runChild(options: object, killWhen: (line: string, ingested: number, lines: string[]) => boolean = () => false): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const run: Run = { lines: [], ingested: 0, duplicates: 0, killed: false, code: null };
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    onEachLine(child.stdout, (line) => {
      run.lines.push(line);
      const match = /^ingested (\d+) (\d+)$/.exec(line);
      if (match) {
        run.ingested += Number(match[1]);
        run.duplicates += Number(match[2]);
      }
      if (!run.killed && killWhen(line, run.ingested, run.lines)) {
        run.killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    // 'close', not 'exit': every line the child wrote has been read by then.
    child.on('close', (code) => {
      clearTimeout(timer);
      run.code = code;
      resolve(run);
    });
  });
}

interface InboxContents {
  blobIds: string[];
  uidls: string[];
  ledger: number;
}

async function inboxContents(dataDir: string, account: string): Promise<InboxContents> {
  const store = await Store.open(dataDir);
  try {
    const messages = await store.listMessages(store.findMailbox(account, 'INBOX')!.id);
    for (const message of messages) expect(Store.blobIdOf(await store.getBlob(message.blobId))).toBe(message.blobId);
    return { blobIds: messages.map((m) => m.blobId), uidls: messages.map((m) => m.uidl!), ledger: (await store.uidlLedger(account)).size };
  } finally {
    await store.close();
  }
}

function childOptions(dataDir: string, account: AccountConfig, password: string, extra: object = {}): object {
  return { dataDir, account, password, ...extra };
}

/** A last run, left to finish: afterwards INBOX holds each of `raws` exactly once, each under its own UIDL. */
async function runToTheEnd(
  dataDir: string,
  account: AccountConfig,
  password: string,
  raws: Buffer[],
): Promise<{ last: Run; final: InboxContents }> {
  const last = await runChild(childOptions(dataDir, account, password));
  expect(last.lines).toContain('done');
  const final = await inboxContents(dataDir, account.address);
  expect(final.blobIds).toHaveLength(TOTAL);
  expect(new Set(final.blobIds)).toEqual(new Set(raws.map((raw) => Store.blobIdOf(raw))));
  expect(new Set(final.uidls).size).toBe(TOTAL);
  return { last, final };
}

describe('POP3 poller under SIGKILL', () => {
  it('brings every message of a 300-message first sync in exactly once across kills mid-sync', async () => {
    const { user, password } = LAB_USERS.alice;
    await lab.clearMaildir(user);
    const raws = Array.from({ length: TOTAL }, (_, i) => simpleMessage(i, 1000 + (i % 7) * 700));
    await lab.injectMessages(user, raws);
    const dataDir = tempDir();
    dirs.push(dataDir);
    const account = labAccount(lab, user, { leaveOnServer: true }, { batchSize: 100 });

    const first = await runChild(childOptions(dataDir, account, password), (_, ingested) => ingested >= 30);
    expect(first.killed).toBe(true);
    const afterFirst = await inboxContents(dataDir, user);
    expect(afterFirst.blobIds.length).toBeGreaterThanOrEqual(30);
    expect(afterFirst.blobIds.length).toBeLessThan(TOTAL);

    const second = await runChild(childOptions(dataDir, account, password), (_, ingested) => ingested >= 30);
    expect(second.killed).toBe(true);
    const afterSecond = await inboxContents(dataDir, user);
    expect(afterSecond.blobIds.length).toBeGreaterThan(afterFirst.blobIds.length);
    expect(afterSecond.blobIds.length).toBeLessThan(TOTAL);

    const { last, final } = await runToTheEnd(dataDir, account, password, raws);
    expect(final.ledger).toBe(TOTAL);
    // The restarted runs fetched only what was missing: no RETR of a message the store already held.
    expect(first.duplicates + second.duplicates + last.duplicates).toBe(0);
    expect(last.ingested).toBe(TOTAL - afterSecond.blobIds.length);
    expect(await lab.maildirCount(user)).toBe(TOTAL);
  });

  it('with leave_on_server = false loses and doubles nothing when killed between a store batch and DELE, or before noting QUIT', async () => {
    const { user, password } = LAB_USERS.bob;
    await lab.clearMaildir(user);
    const raws = Array.from({ length: TOTAL }, (_, i) => simpleMessage(i, 1500, 'sender@example.org', user));
    await lab.injectMessages(user, raws);
    const dataDir = tempDir();
    dirs.push(dataDir);
    // Sessions of 50 messages, each stored in one or more durable batches, then DELE and QUIT.
    const account = labAccount(lab, user, { leaveOnServer: false }, { batchSize: 50 });

    // Hang right after the first durable batch of session 2 (session 1 has quit), before its DELE: kill.
    const first = await runChild(
      childOptions(dataDir, account, password, { hangAtIngestAfterMark: true }),
      (line, _, lines) => line.startsWith('ingested') && lines.some((earlier) => earlier.startsWith('marked')),
    );
    expect(first.killed).toBe(true);
    expect(first.lines.filter((line) => line.startsWith('marked'))).toEqual(['marked 50']);
    const afterFirst = await inboxContents(dataDir, user);
    expect(afterFirst.blobIds.length).toBeGreaterThan(50);
    expect(afterFirst.blobIds.length).toBeLessThanOrEqual(100);
    // Session 1 quit (its 50 are gone upstream); session 2 never did, so none of its DELE became final.
    expect(await lab.maildirCount(user)).toBe(TOTAL - 50);

    // Next run: QUIT is answered +OK, but the process dies before the ledger notes the deletions.
    const second = await runChild(childOptions(dataDir, account, password, { hangBeforeMark: true }), (line) => line.startsWith('quit-ok'));
    expect(second.killed).toBe(true);
    const afterSecond = await inboxContents(dataDir, user);
    expect(afterSecond.blobIds.length).toBe(afterFirst.blobIds.length + 50);
    // That QUIT removed everything stored so far, including the messages session 2 of the first run had stored.
    expect(await lab.maildirCount(user)).toBe(TOTAL - afterSecond.blobIds.length);

    const { last } = await runToTheEnd(dataDir, account, password, raws);
    expect(await lab.maildirCount(user)).toBe(0);
    // Nothing was fetched twice.
    expect(first.duplicates + second.duplicates + last.duplicates).toBe(0);
    expect(last.ingested).toBe(TOTAL - afterSecond.blobIds.length);

    // A final clean run finds nothing to fetch and leaves the server empty.
    const clean = await runChild(childOptions(dataDir, account, password));
    expect(clean.lines).toContain('done');
    expect(clean.ingested).toBe(0);
    expect((await inboxContents(dataDir, user)).blobIds).toHaveLength(TOTAL);
    expect(await lab.maildirCount(user)).toBe(0);
  });
});
