/**
 * `hotbridge resync` end to end, against the lab's real Dovecot over POP3S, with `leave_on_server = true`:
 * the daemon fetches a mailbox; stopped, the store loses messages; then what comes back from the provider
 * is exactly what is missing, and nothing that is still here is fetched twice.
 * - a damaged message: `repair` drops it and names it, `resync` forgets its UIDL, the next poll fetches
 *   that one message again (the poller says so: one new message on the server);
 * - messages whose records and POP3 ledger entries were lost together (deleted while stopped): the next
 *   poll fetches them by itself, `resync` has nothing to do.
 * Every message ends up in INBOX once, byte for byte, under its own UIDL.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Level } from 'level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/index.js';
import { runCli, startDaemon, writeTestConfig, type RunningDaemon, type TestConfig } from '../helpers/cli.js';
import { LAB_USERS, startLab, type Lab } from '../helpers/lab.js';
import { simpleMessage } from '../helpers/messages.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const ALICE = LAB_USERS.alice.user;
const COUNT = 12;

let lab: Lab;
let dir: string;
let config: TestConfig;
const raws = Array.from({ length: COUNT }, (_, i) => simpleMessage(100 + i, 800 + i * 50));

beforeAll(async () => {
  lab = await startLab();
  await lab.clearMaildir(ALICE);
  await lab.injectMessages(ALICE, raws);
  dir = tempDir('hotbridge-resync-');
  const passwordFile = path.join(dir, 'alice.secret');
  fs.writeFileSync(passwordFile, `${LAB_USERS.alice.password}\n`, { mode: 0o600 });
  config = await writeTestConfig(dir, [
    {
      address: ALICE,
      extra: 'poll_interval = "1s"\nleave_on_server = true',
      passwordFile,
      pop3: { host: lab.host, port: lab.pop3sPort, tls: 'implicit', caFile: lab.caFile },
    },
  ]);
});

afterAll(async () => {
  await lab?.stop();
  if (dir) removeDir(dir);
});

const cli = async (args: string[]) => {
  const result = await runCli([...args, '--config', config.file], { timeoutMs: 60_000 });
  return { ...result, out: result.stdout + result.stderr };
};

/** Runs the daemon until a poll that started after it started has succeeded; returns what it logged. */
async function pollOnce(): Promise<string> {
  const daemon: RunningDaemon = await startDaemon(config.file);
  try {
    const started = Date.now();
    for (let tries = 0; ; tries++) {
      const status = await cli(['status', '--json']);
      const pop3 =
        status.code === 0 ? (JSON.parse(status.stdout) as { accounts: Array<{ pop3: { lastSuccessAt?: string } }> }).accounts[0].pop3 : {};
      if (pop3.lastSuccessAt && Date.parse(pop3.lastSuccessAt) >= started - 1000) break;
      if (tries > 100) throw new Error(`no successful poll; log:\n${daemon.log()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return daemon.log();
  } finally {
    expect(await daemon.stop()).toBe(0);
  }
}

/** How many new messages the poller found on the server, poll by poll (its log). */
const newOnServer = (log: string): number[] =>
  log
    .split('\n')
    .filter((line) => line.includes('new messages on the server'))
    .map((line) => Number(/\bnew=(\d+)/.exec(line)?.[1]));

/** INBOX: each message's hash and UIDL, after checking its bytes. */
async function inbox(): Promise<{ hashes: string[]; uidls: string[] }> {
  const store = await Store.open(config.dataDir);
  try {
    const messages = await store.listMessages(store.findMailbox(ALICE, 'INBOX')!.id);
    for (const message of messages) expect(Store.blobIdOf(await store.getBlob(message.blobId))).toBe(message.blobId);
    return { hashes: messages.map((m) => m.blobId), uidls: messages.map((m) => m.uidl!) };
  } finally {
    await store.close();
  }
}

/** The store holds every lab message exactly once, each under its own UIDL; the server still has them all. */
async function expectWhole(): Promise<void> {
  const { hashes, uidls } = await inbox();
  expect(hashes).toHaveLength(COUNT);
  expect(new Set(hashes)).toEqual(new Set(raws.map((raw) => Store.blobIdOf(raw))));
  expect(new Set(uidls).size).toBe(COUNT);
  expect(await lab.maildirCount(ALICE)).toBe(COUNT);
}

/** Opens the stopped daemon's LevelDB directly, as damage would. */
async function behindItsBack(edit: (db: Level<string, unknown>) => Promise<void>): Promise<void> {
  const db = new Level<string, unknown>(path.join(config.dataDir, 'store'), { valueEncoding: 'json' });
  await db.open();
  try {
    await edit(db);
  } finally {
    await db.close();
  }
}

describe('resync against the real POP3 server (leave_on_server = true)', () => {
  it('fetches the first time, and a poll with nothing missing fetches nothing', async () => {
    expect(newOnServer(await pollOnce())[0]).toBe(COUNT);
    await expectWhole();
    expect(newOnServer(await pollOnce())).toEqual([]);
  }, 120_000);

  it('a damaged message: repair drops and names it, resync fetches exactly that one again', async () => {
    const damaged = raws[4];
    await behindItsBack((db) =>
      db.sublevel<string, Buffer>('blob', { valueEncoding: 'buffer' }).put(Store.blobIdOf(damaged), Buffer.from('garbled bytes')),
    );
    const verify = await cli(['verify']);
    expect(verify.code, verify.out).toBe(1);
    expect(verify.out).toMatch(/INBOX of alice@example\.test, UID 5, .*"Test message 104": its bytes are damaged/);
    const repair = await cli(['repair']);
    expect(repair.code, repair.out).toBe(0);
    expect(repair.out).toMatch(/Could not be saved \(1\):/);
    expect(repair.out).toMatch(/Fetch them again with: hotbridge resync/);
    expect((await inbox()).hashes).toHaveLength(COUNT - 1);

    const resync = await cli(['resync']);
    expect(resync.code, resync.out).toBe(0);
    expect(resync.out).toMatch(/alice@example\.test: 1 lost messages will be fetched again from the provider/);
    // A second resync has nothing left to forget.
    expect((await cli(['resync'])).out).not.toMatch(/will be fetched again/);

    expect(newOnServer(await pollOnce())).toEqual([1]);
    await expectWhole();
    const { hashes } = await inbox();
    // Fetched again, it is the newest message of INBOX.
    expect(hashes[hashes.length - 1]).toBe(Store.blobIdOf(damaged));
    expect((await cli(['verify'])).code).toBe(0);
  }, 180_000);

  it('messages lost with their ledger entries (deleted while stopped) come back by the next poll alone', async () => {
    const lost = [raws[0], raws[9]].map((raw) => Store.blobIdOf(raw));
    const store = await Store.open(config.dataDir);
    const inboxId = store.findMailbox(ALICE, 'INBOX')!.id;
    const gone = (await store.listMessages(inboxId)).filter((m) => lost.includes(m.blobId));
    await store.close();
    expect(gone).toHaveLength(2);
    await behindItsBack(async (db) => {
      const batch = db.batch();
      for (const message of gone) {
        batch.del(`${inboxId.toString().padStart(10, '0')}!${message.uid.toString().padStart(10, '0')}`, {
          sublevel: db.sublevel('message'),
        } as never);
        batch.del(`${ALICE}\u0000${message.uidl}`, { sublevel: db.sublevel('pop3') } as never);
        batch.del(message.blobId, { sublevel: db.sublevel('blob') } as never);
        batch.del(message.blobId, { sublevel: db.sublevel('blobref') } as never);
      }
      await batch.write();
    });
    expect((await inbox()).hashes).toHaveLength(COUNT - 2);
    const resync = await cli(['resync']);
    expect(resync.code, resync.out).toBe(0);
    expect(resync.out).not.toMatch(/will be fetched again/);
    expect(newOnServer(await pollOnce())).toEqual([2]);
    await expectWhole();
  }, 180_000);
});
