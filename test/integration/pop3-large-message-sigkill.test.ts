/**
 * Invariant 1 for a large message under SIGKILL (ARCHITECTURE.md): a child process runs the store and the
 * POP3 poller against the lab's Dovecot (test/fixtures/children/poller-run.ts) while a 24 MiB message is
 * written to the store's spool in chunks as RETR brings it (store/blob-chunks.ts). It is killed while those
 * chunks are being written, and again as the batch that commits the message starts. After every kill and
 * reopen nothing is lost, nothing is doubled, no chunk is left that belongs to nothing, and with
 * leave_on_server = false the server still holds every message the store does not.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AccountConfig } from '../../src/config/types.js';
import { Store } from '../../src/store/index.js';
import { labAccount } from '../fixtures/children/poller-account.js';
import { onEachLine } from '../helpers/each-line.js';
import { startLab, LAB_USERS, type Lab } from '../helpers/lab.js';
import { bigMessage, simpleMessage } from '../helpers/messages.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const CHILD = path.resolve(__dirname, '../fixtures/children/poller-run.ts');

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
  killed: boolean;
}

/** Runs the child; SIGKILLs it at the first output line `killWhen` accepts. Resolves when it is gone. */
function runChild(
  dataDir: string,
  account: AccountConfig,
  password: string,
  killWhen: (line: string) => boolean = () => false,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const options = { dataDir, account, password, logSpool: true };
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const run: Run = { lines: [], killed: false };
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    onEachLine(child.stdout, (line) => {
      run.lines.push(line);
      if (!run.killed && killWhen(line)) {
        run.killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(run);
    });
  });
}

interface Contents {
  raws: Buffer[];
  chunks: { spools: number; chunkedBlobs: number; chunks: number; strayChunks: number };
}

/** Opens the store as the daemon would after a crash (abandoned spools go), and reads INBOX and the chunks. */
async function contents(dataDir: string, account: string): Promise<Contents> {
  const store = await Store.open(dataDir);
  try {
    const messages = await store.listMessages(store.findMailbox(account, 'INBOX')!.id);
    const raws = await Promise.all(messages.map((message) => store.getBlob(message.blobId)));
    return { raws, chunks: await store.chunkReport() };
  } finally {
    await store.close();
  }
}

function count(raws: Buffer[], wanted: Buffer): number {
  return raws.filter((raw) => raw.equals(wanted)).length;
}

describe('a large POP3 message under SIGKILL', () => {
  it('loses, doubles and leaves behind nothing when killed while its chunks are written and as its batch commits', async () => {
    const { user, password } = LAB_USERS.bob;
    await lab.clearMaildir(user);
    const big = bigMessage(24);
    const small = [simpleMessage(1, 500, 'sender@example.org', user), simpleMessage(2, 500, 'sender@example.org', user)];
    await lab.injectMessages(user, [small[0], big, small[1]]);
    const dataDir = tempDir();
    dirs.push(dataDir);
    const account = labAccount(lab, user, { leaveOnServer: false }, { maxMessageBytes: 64 * 1024 * 1024 });

    // 1. In the middle of the chunk writes.
    const first = await runChild(
      dataDir,
      account,
      password,
      (line) => /^spooled (\d+)$/.test(line) && Number(line.split(' ')[1]) >= 8 * 1024 * 1024,
    );
    expect(first.killed).toBe(true);
    const afterFirst = await contents(dataDir, user);
    expect(afterFirst.chunks).toEqual({ spools: 0, chunkedBlobs: 0, chunks: 0, strayChunks: 0 });
    expect(count(afterFirst.raws, big)).toBe(0);
    expect(afterFirst.raws.every((raw) => small.some((message) => message.equals(raw)))).toBe(true);
    // No QUIT came: the server keeps everything.
    expect(await lab.maildirCount(user)).toBe(3);

    // 2. As the batch that commits the message starts (it may or may not have become durable).
    const second = await runChild(dataDir, account, password, (line) => line === 'committing');
    expect(second.killed).toBe(true);
    const afterSecond = await contents(dataDir, user);
    expect(afterSecond.chunks.spools).toBe(0);
    expect(afterSecond.chunks.strayChunks).toBe(0);
    expect(count(afterSecond.raws, big)).toBeLessThanOrEqual(1);
    expect(afterSecond.chunks.chunkedBlobs).toBe(count(afterSecond.raws, big));
    if (afterSecond.chunks.chunkedBlobs === 0) expect(afterSecond.chunks.chunks).toBe(0);
    for (const message of small) expect(count(afterSecond.raws, message)).toBeLessThanOrEqual(1);
    expect(await lab.maildirCount(user)).toBe(3);

    // 3. To the end: each message once, byte for byte; the server empty; only the big blob's chunks remain.
    const last = await runChild(dataDir, account, password);
    expect(last.lines).toContain('done');
    const final = await contents(dataDir, user);
    expect(final.raws).toHaveLength(3);
    expect(count(final.raws, big)).toBe(1);
    for (const message of small) expect(count(final.raws, message)).toBe(1);
    expect(final.chunks).toMatchObject({ spools: 0, chunkedBlobs: 1, strayChunks: 0 });
    expect(await lab.maildirCount(user)).toBe(0);
  });
});
