/**
 * The POP3 poller against a real Dovecot (the upstream lab, test/helpers/lab.ts) over TLS with the lab CA:
 * byte-exact ingest, the deletion policies, a wrong and then fixed password, XOAUTH2, too-large messages,
 * and new mail reaching the change feed while a first sync is still running.
 * Kills in the middle of a sync are in pop3-poller-sigkill.test.ts; faults no real server produces on
 * demand (throttling replies, cut connections) are in test/unit/pop3/poller-faults.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AccountConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { StatusBoard } from '../../src/runtime/status-board.js';
import type { StoreChange } from '../../src/store/changes.js';
import { Store } from '../../src/store/index.js';
import { PasswordFileSource, type CredentialSource } from '../../src/upstream/credentials.js';
import { Pop3Poller } from '../../src/upstream/pop3/poller.js';
import { labAccount, nextPollEnd, pop3Status, waitUntil } from '../fixtures/children/poller-account.js';
import { CountingSource, loginFrom } from '../helpers/credentials.js';
import { startLab, LAB_USERS, type Lab } from '../helpers/lab.js';
import { awkwardMessages, bigMessage, simpleMessage } from '../helpers/messages.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { collectUncaught } from '../helpers/uncaught.js';

const ALICE = LAB_USERS.alice.user;

let lab: Lab;
let dir: string;
let store: Store;
let status: StatusBoard;
const pollers: Pop3Poller[] = [];
const unhandled = collectUncaught({ exceptions: false });

beforeAll(async () => {
  lab = await startLab({ oauth: true });
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

function alicePassword(): CountingSource {
  return new CountingSource(loginFrom(() => ({ kind: 'password', user: ALICE, password: LAB_USERS.alice.password })));
}

function poller(account: AccountConfig, credentials: CredentialSource = alicePassword(), extra: { now?: () => number } = {}): Pop3Poller {
  const created = new Pop3Poller({
    account,
    store,
    credentials,
    logger: silentLogger(),
    status,
    backoff: { initialMs: 100, maxMs: 400 },
    ...extra,
  });
  pollers.push(created);
  return created;
}

/** Starts (or re-polls) and waits until that poll ended; returns the status then. */
async function pollOnce(target: Pop3Poller, first = false): Promise<ReturnType<typeof pop3Status>> {
  const end = nextPollEnd(status, ALICE);
  if (first) target.start();
  else target.pollNow();
  return end;
}

async function inboxBytes(): Promise<Buffer[]> {
  const inbox = store.findMailbox(ALICE, 'INBOX')!;
  return Promise.all((await store.listMessages(inbox.id)).map((message) => store.getBlob(message.blobId)));
}

describe('POP3 poller against Dovecot', () => {
  it('stores awkward messages byte for byte, in server order, with the arrival date from their header', async () => {
    // Bare LF line ends cannot pass through POP3 unchanged (RFC 1939 §3: lines end in CRLF).
    const awkward = awkwardMessages().filter((message) => message.name !== 'bare LF line ends');
    const dated = simpleMessage(1, 300).toString('latin1').replace('Fri, 27 Nov 2026 06:00:00 +0000', 'Tue, 03 Mar 2020 10:00:00 +0000');
    const injected = [...awkward.map((message) => message.raw), bigMessage(3), Buffer.from(dated, 'latin1')];
    await lab.injectMessages(ALICE, injected);
    const result = await pollOnce(poller(labAccount(lab, ALICE)), true);
    expect(result.state).toBe('idle');
    expect(result.lastSuccessAt).toBeDefined();
    expect(result.messagesFetched).toBe(injected.length);
    const stored = await inboxBytes();
    expect(stored.length).toBe(injected.length);
    for (let i = 0; i < injected.length; i++) expect(stored[i].equals(injected[i]), `message ${i} differs`).toBe(true);
    const messages = await store.listMessages(store.findMailbox(ALICE, 'INBOX')!.id);
    expect(new Date(messages[injected.length - 1].internalDate).toISOString()).toBe('2020-03-03T10:00:00.000Z');
    // leave_on_server = true (the default): everything is still upstream, and a second poll fetches nothing.
    expect(await lab.maildirCount(ALICE)).toBe(injected.length);
  });

  it('keeps upstream copies with leave_on_server = true and deletes them after storing with false; forgets deleted UIDLs', async () => {
    const raws = Array.from({ length: 6 }, (_, i) => simpleMessage(i, 500));
    await lab.injectMessages(ALICE, raws);
    const keep = poller(labAccount(lab, ALICE, { leaveOnServer: true }));
    await pollOnce(keep, true);
    expect(await lab.maildirCount(ALICE)).toBe(6);
    expect((await inboxBytes()).length).toBe(6);
    await pollOnce(keep);
    expect((await inboxBytes()).length).toBe(6);
    await keep.stop();

    const remove = poller(labAccount(lab, ALICE, { leaveOnServer: false }));
    const result = await pollOnce(remove, true);
    expect(result.state).toBe('idle');
    expect(await lab.maildirCount(ALICE)).toBe(0);
    const ledger = await store.uidlLedger(ALICE);
    expect(ledger.deletedUpstream().sort()).toEqual(ledger.uidls().sort());
    // Nothing was fetched twice, and the next poll forgets the UIDLs the server no longer lists.
    expect((await inboxBytes()).length).toBe(6);
    await pollOnce(remove);
    expect(ledger.size).toBe(0);
    expect((await inboxBytes()).length).toBe(6);
  });

  it('deletes copies fetched longer ago than delete_on_server_after, and only those', async () => {
    await lab.injectMessages(ALICE, [simpleMessage(1), simpleMessage(2), simpleMessage(3)]);
    const account = labAccount(lab, ALICE, { leaveOnServer: true, deleteOnServerAfterMs: 1000 });
    const first = poller(account);
    await pollOnce(first, true);
    expect(await lab.maildirCount(ALICE)).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await lab.injectMessages(ALICE, [simpleMessage(4), simpleMessage(5)]);
    await pollOnce(first);
    // The three old copies are gone; the two fetched in this very poll stay.
    expect(await lab.maildirCount(ALICE)).toBe(2);
    expect((await inboxBytes()).length).toBe(5);
  });

  it('deletes the upstream copy of a message expunged over IMAP with delete_on_expunge', async () => {
    await lab.injectMessages(ALICE, [simpleMessage(1), simpleMessage(2), simpleMessage(3)]);
    const account = labAccount(lab, ALICE, { leaveOnServer: true, deleteOnExpunge: true });
    const target = poller(account);
    await pollOnce(target, true);
    expect(await lab.maildirCount(ALICE)).toBe(3);
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    const second = (await store.listMessages(inbox.id))[1];
    await store.expungeMessages(inbox.id, [second.uid]);
    await pollOnce(target);
    expect(await lab.maildirCount(ALICE)).toBe(2);
    expect((await store.uidlLedger(ALICE)).get(second.uidl!)?.deletedUpstreamAt).toBeDefined();
    // The other two stay on the server and in the store; nothing is fetched again.
    await pollOnce(target);
    expect(await lab.maildirCount(ALICE)).toBe(2);
    expect((await inboxBytes()).length).toBe(2);
  });

  it('keeps running with a wrong password, says so in plain words, and recovers when the password file is fixed', async () => {
    await lab.injectMessages(ALICE, [simpleMessage(1), simpleMessage(2)]);
    const secrets = tempDir();
    try {
      const file = path.join(secrets, 'alice.secret');
      fs.writeFileSync(file, 'not-the-password\n', { mode: 0o600 });
      const credentials = new CountingSource(new PasswordFileSource(ALICE, file));
      const account = labAccount(lab, ALICE, { pollIntervalMs: 300 });
      const target = poller(account, credentials);
      const failed = await pollOnce(target, true);
      expect(failed.state).toBe('error');
      expect(failed.lastError).toMatch(/^authentication failed: the provider refused the password/);
      expect(failed.lastError).not.toContain('not-the-password');
      expect(Date.parse(failed.nextPollAt!)).toBeGreaterThan(Date.parse(failed.lastErrorAt!));
      expect(credentials.refusals).toBe(1);
      // Still polling on its own: another attempt fails the same way.
      const again = await nextPollEnd(status, ALICE);
      expect(again.state).toBe('error');
      expect(credentials.refusals).toBe(2);
      fs.writeFileSync(file, `${LAB_USERS.alice.password}\n`);
      await waitUntil(() => pop3Status(status, ALICE).state === 'idle', 'recovery after the password fix');
      const recovered = pop3Status(status, ALICE);
      expect(recovered.lastError).toBeUndefined();
      expect(Date.parse(recovered.lastSuccessAt!)).toBeGreaterThan(Date.parse(again.lastErrorAt!));
      expect((await inboxBytes()).length).toBe(2);
    } finally {
      removeDir(secrets);
    }
  });

  it('logs in with XOAUTH2, and reports a refused token as a refused sign-in (Outlook wording)', async () => {
    await lab.injectMessages(ALICE, [simpleMessage(1)]);
    lab.setToken('good-token', ALICE);
    let token = 'revoked-token';
    const credentials = new CountingSource(loginFrom(() => ({ kind: 'xoauth2', user: ALICE, accessToken: token })));
    const target = poller(labAccount(lab, ALICE, { provider: 'outlook' }), credentials);
    const failed = await pollOnce(target, true);
    expect(failed.state).toBe('error');
    expect(failed.lastError).toMatch(/^authentication failed: the provider refused the sign-in/);
    expect(failed.lastError).toMatch(/POP may be switched off/);
    expect(failed.lastError).not.toContain('revoked-token');
    expect(credentials.refusals).toBe(1);
    token = 'good-token';
    const ok = await pollOnce(target);
    expect(ok.state).toBe('idle');
    expect((await inboxBytes()).length).toBe(1);
  });

  it('leaves a message larger than max_message_size on the server, says so, and does not try it again', async () => {
    const small = [simpleMessage(1), simpleMessage(2)];
    await lab.injectMessages(ALICE, [small[0], bigMessage(1), small[1]]);
    const account = labAccount(lab, ALICE, { leaveOnServer: false }, { maxMessageBytes: 256 * 1024 });
    const target = poller(account);
    const result = await pollOnce(target, true);
    expect(result.state).toBe('idle');
    expect(result.lastWarning).toMatch(/larger than max_message_size \(256 KB\) and stays on the server/);
    expect(result.skippedTooLarge).toHaveLength(1);
    expect(await lab.maildirCount(ALICE)).toBe(1);
    const stored = await inboxBytes();
    expect(stored.map((raw) => raw.equals(small[0]) || raw.equals(small[1]))).toEqual([true, true]);
    const again = await pollOnce(target);
    expect(again.state).toBe('idle');
    expect(again.skippedTooLarge).toHaveLength(1);
    expect(await lab.maildirCount(ALICE)).toBe(1);
    expect((await inboxBytes()).length).toBe(2);
  });

  it('publishes new messages on the change feed while a first sync is still running', async () => {
    const total = 150;
    await lab.injectMessages(
      ALICE,
      Array.from({ length: total }, (_, i) => simpleMessage(i, 2000)),
    );
    const inbox = store.findMailbox(ALICE, 'INBOX')!;
    // Each event notes what the poller reported at that moment, and which synchronous burst it came in.
    const seen: Array<{ burst: number; state?: string; done?: number; total?: number }> = [];
    let burst = 0;
    let burstOpen = false;
    const unsubscribe = store.changes.subscribe((change: StoreChange) => {
      if (change.kind !== 'message-added' || change.mailboxId !== inbox.id) return;
      if (!burstOpen) {
        burst++;
        burstOpen = true;
        setImmediate(() => (burstOpen = false));
      }
      const now = pop3Status(status, ALICE);
      seen.push({ burst, state: now.state, done: now.progress?.done, total: now.progress?.total });
    });
    try {
      const result = await pollOnce(poller(labAccount(lab, ALICE, {}, { batchSize: 40 })), true);
      expect(result.state).toBe('idle');
    } finally {
      unsubscribe();
    }
    expect(seen).toHaveLength(total);
    // The first messages were announced while the poller still reported 0 of 150 done: not at the end.
    expect(seen[0]).toMatchObject({ state: 'syncing', done: 0, total });
    expect(seen.filter((event) => event.state === 'syncing' && event.done! < total / 2).length).toBeGreaterThan(0);
    // In several separate commits (the store writes what arrived while it wrote the last batch), the first
    // of them small: not one burst at the end.
    const bursts = new Map<number, number>();
    for (const event of seen) bursts.set(event.burst, (bursts.get(event.burst) ?? 0) + 1);
    expect(bursts.size).toBeGreaterThanOrEqual(3);
    expect(bursts.get(1)!).toBeLessThan(total / 2);
  });

  it('verifies the certificate: without the lab CA, or with an unreadable ca_file, it reports an error in plain words', async () => {
    await lab.injectMessages(ALICE, [simpleMessage(1)]);
    const untrusted = poller(labAccount(lab, ALICE, {}, { caFile: undefined }));
    const failed = await pollOnce(untrusted, true);
    expect(failed.state).toBe('error');
    expect(failed.lastError).toMatch(/^secure connection to 127\.0\.0\.1:\d+ failed: .*certificate/);
    await untrusted.stop();
    const missing = poller(labAccount(lab, ALICE, {}, { caFile: path.join(dir, 'no-such-ca.pem') }));
    const unreadable = await pollOnce(missing, true);
    expect(unreadable).toMatchObject({ state: 'error', lastError: `cannot read ca_file ${path.join(dir, 'no-such-ca.pem')} (ENOENT)` });
    expect((await inboxBytes()).length).toBe(0);
  });
});
