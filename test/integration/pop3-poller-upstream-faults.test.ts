/**
 * Upstream faults a real Dovecot can be made to show (the upstream lab, test/helpers/lab.ts), and what the
 * poller and `hotbridge status` make of them:
 *  - UIDLs that change between sessions: removing Maildir/dovecot-uidlist and the index makes Dovecot number
 *    the messages anew under a new UIDVALIDITY, and its UIDLs (pop3_uidl_format %08Xu%08Xv) change with it —
 *    what a provider that rebuilds a mailbox does. Nothing is downloaded or stored twice.
 *  - a message larger than max_message_size, quoted in plain status with its real size.
 * Faults Dovecot cannot show (no dot-stuffing, lying sizes, endless answers) are in
 * test/unit/pop3/poller-broken-provider.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AccountConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { StatusBoard } from '../../src/runtime/status-board.js';
import { formatStatus } from '../../src/runtime/status-format.js';
import { Store } from '../../src/store/index.js';
import { Pop3Client } from '../../src/upstream/pop3/client.js';
import { Pop3Poller } from '../../src/upstream/pop3/poller.js';
import { labAccount, nextPollEnd, pop3Status } from '../fixtures/children/poller-account.js';
import { loginFrom } from '../helpers/credentials.js';
import { startLab, LAB_USERS, type Lab } from '../helpers/lab.js';
import { simpleMessage } from '../helpers/messages.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { collectUncaught } from '../helpers/uncaught.js';

const { user: ALICE, password: PASSWORD } = LAB_USERS.alice;

let lab: Lab;
let dir: string;
let store: Store;
let status: StatusBoard;
const pollers: Pop3Poller[] = [];
const unhandled = collectUncaught({ exceptions: false });

beforeAll(async () => {
  lab = await startLab();
});

afterAll(async () => {
  await lab?.stop();
});

beforeEach(async () => {
  await lab.clearMaildir(ALICE);
  dir = tempDir();
  store = await Store.open(dir, { accounts: [ALICE] });
  status = new StatusBoard();
});

afterEach(async () => {
  await Promise.all(pollers.splice(0).map((poller) => poller.stop()));
  await store.close();
  removeDir(dir);
  expect(unhandled).toEqual([]);
});

function poller(account: AccountConfig): Pop3Poller {
  const created = new Pop3Poller({
    account,
    store,
    credentials: loginFrom(() => ({ kind: 'password', user: ALICE, password: PASSWORD })),
    logger: silentLogger(),
    status,
    backoff: { initialMs: 100, maxMs: 400 },
  });
  pollers.push(created);
  return created;
}

async function pollOnce(target: Pop3Poller, first = false): Promise<ReturnType<typeof pop3Status> & Record<string, unknown>> {
  const end = nextPollEnd(status, ALICE);
  if (first) target.start();
  else target.pollNow();
  return (await end) as ReturnType<typeof pop3Status> & Record<string, unknown>;
}

async function serverUidls(): Promise<string[]> {
  const client = await Pop3Client.connect({ host: lab.host, port: lab.pop3sPort, tls: 'implicit', ca: lab.ca });
  await client.loginPassword(ALICE, PASSWORD);
  const listing = await client.uidl();
  await client.quit();
  return listing.map((entry) => entry.uidl);
}

async function inbox(): Promise<Array<{ uidl: string; raw: Buffer }>> {
  const messages = await store.listMessages(store.findMailbox(ALICE, 'INBOX')!.id);
  return Promise.all(messages.map(async (message) => ({ uidl: message.uidl!, raw: await store.getBlob(message.blobId) })));
}

function statusText(): string {
  return formatStatus({
    daemon: { pid: 1, version: 'test', startedAt: new Date().toISOString(), dataDir: dir, config: 'test.toml' },
    accounts: [
      {
        address: ALICE,
        provider: 'custom',
        auth: 'password',
        localPassword: true,
        pop3: pop3Status(status, ALICE),
        outbox: { queued: [] },
      },
    ],
    listeners: { imap: { addresses: [], connections: 0 }, smtp: { addresses: [] } },
  });
}

/**
 * Makes Dovecot forget its UIDs (and so its UIDLs): the next session numbers the maildir anew. Its new
 * UIDVALIDITY is the time in seconds, so a second must pass since the last one was made.
 */
async function forgetDovecotUids(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const maildir = path.join(lab.dir, 'dovecot/mail', ALICE, 'Maildir');
  for (const name of fs.readdirSync(maildir)) {
    if (name.startsWith('dovecot')) fs.rmSync(path.join(maildir, name), { force: true });
  }
}

describe('POP3 poller against Dovecot whose UIDLs change', () => {
  it('downloads nothing again and stores no copy when every UIDL changed, and says so in status', async () => {
    const raws = [simpleMessage(1), simpleMessage(2, 5000), simpleMessage(3, 700)];
    await lab.injectMessages(ALICE, raws);
    const target = poller(labAccount(lab, ALICE, { pollIntervalMs: 60 * 60_000 }));
    expect((await pollOnce(target, true)).state).toBe('idle');
    const before = await serverUidls();
    expect((await inbox()).map((m) => m.uidl)).toEqual(before);

    await forgetDovecotUids();
    const after = await serverUidls();
    expect(after).toHaveLength(3);
    // Every UIDL is new: the test really shows the fault.
    for (const uidl of after) expect(before).not.toContain(uidl);

    const polled = await pollOnce(target);
    expect(polled.state).toBe('idle');
    const stored = await inbox();
    expect(stored.map((m) => m.uidl)).toEqual(after);
    stored.forEach((message, i) => expect(message.raw.equals(raws[i])).toBe(true));
    expect((await store.uidlLedger(ALICE)).uidls().sort()).toEqual([...after].sort());
    expect(polled.uidlChanges).toMatchObject({ recognised: 3 });
    expect(statusText()).toMatch(/! the server gave 3 messages new UIDLs .*not downloaded again/);

    // And the renamed entries behave like any other: a poll after that is quiet.
    const quiet = await pollOnce(target);
    expect(quiet.state).toBe('idle');
    expect((await inbox()).length).toBe(3);
  });

  it('with leave_on_server off, deletes the renamed messages upstream as the stored mail they are', async () => {
    const raws = [simpleMessage(1), simpleMessage(2)];
    await lab.injectMessages(ALICE, raws);
    const keep = poller(labAccount(lab, ALICE, { leaveOnServer: true }));
    await pollOnce(keep, true);
    await keep.stop();
    await forgetDovecotUids();
    const deleting = poller(labAccount(lab, ALICE, { leaveOnServer: false }));
    expect((await pollOnce(deleting, true)).state).toBe('idle');
    expect((await inbox()).length).toBe(2);
    expect(await lab.maildirCount(ALICE)).toBe(0);
  });
});

describe('a message larger than max_message_size on Dovecot', () => {
  it('is quoted with its real size in plain status, and the rest is fetched', async () => {
    const big = simpleMessage(2, 2 * 1024 * 1024);
    await lab.injectMessages(ALICE, [simpleMessage(1), big, simpleMessage(3)]);
    const done = await pollOnce(poller(labAccount(lab, ALICE, {}, { maxMessageBytes: 1024 * 1024 })), true);
    expect(done.state).toBe('idle');
    expect((await inbox()).length).toBe(2);
    expect(done.skippedTooLarge).toEqual([expect.objectContaining({ size: big.length, atLeast: false })]);
    expect(statusText()).toMatch(/! 1 message left on the server, larger than max_message_size \(1\.0 MB\): 2\.0 MB/);
  });
});
