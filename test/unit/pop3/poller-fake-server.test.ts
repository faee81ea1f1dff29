/**
 * The POP3 poller against a fake POP3 server on 127.0.0.1 (port 0), with a real Store in a temp dir.
 *
 * A fake server is used here ONLY because Dovecot cannot be made to produce these cases on demand:
 * Outlook.com's throttling reply `-ERR Server Unavailable. 21` (at the greeting or at login), a connection
 * cut in the middle of RETR, a server that goes silent, a LIST that under-reports a message's size, and a
 * slow download to stop (or poll again) in the middle of. The in-memory maildrop also makes the session
 * counting and progress-log tests fast. Everything a real server can do is tested against Dovecot in
 * test/integration/pop3-poller*.test.ts.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AccountConfig } from '../../../src/config/types.js';
import { silentLogger } from '../../../src/runtime/logger.js';
import { StatusBoard } from '../../../src/runtime/status-board.js';
import { Store } from '../../../src/store/index.js';
import { CredentialError, type CredentialSource } from '../../../src/upstream/credentials.js';
import { Pop3Poller } from '../../../src/upstream/pop3/poller.js';
import { nextPollEnd, pop3Status, waitUntil, type Pop3Status } from '../../fixtures/children/poller-account.js';
import { accountConfig } from '../../helpers/accounts.js';
import { CountingSource, loginFrom } from '../../helpers/credentials.js';
import { FAKE_POP3_PASSWORD, FakePop3Server, retrResponse, type FakeMessage } from '../../helpers/fake-pop3-server.js';
import { simpleMessage } from '../../helpers/messages.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';
import { collectUncaught } from '../../helpers/uncaught.js';

const ADDRESS = 'alice@example.test';
const PASSWORD = FAKE_POP3_PASSWORD;

/** Remembers every POP3 status the poller reported, to check what it said between attempts. */
class RecordingStatusBoard extends StatusBoard {
  readonly reports: Pop3Status[] = [];
  override update(section: string, key: string, patch: Record<string, unknown>): void {
    super.update(section, key, patch);
    if (section === 'pop3' && 'state' in patch) this.reports.push({ ...(this.get(section, key) as Pop3Status) });
  }
}

const alicePassword = (): CountingSource => new CountingSource(loginFrom(() => ({ kind: 'password', user: ADDRESS, password: PASSWORD })));

let dir: string;
let store: Store;
let status: RecordingStatusBoard;
let server: FakePop3Server;
const pollers: Pop3Poller[] = [];
const unhandled = collectUncaught();

beforeEach(async () => {
  dir = tempDir();
  store = await Store.open(dir, { accounts: [ADDRESS] });
  status = new RecordingStatusBoard();
  server = new FakePop3Server();
  await server.listen();
});

afterEach(async () => {
  await Promise.all(pollers.splice(0).map((poller) => poller.stop()));
  await server.close();
  await store.close();
  removeDir(dir);
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(unhandled).toEqual([]);
});

function account(overrides: Partial<AccountConfig> = {}, pop3: Partial<AccountConfig['pop3']> = {}): AccountConfig {
  return accountConfig(
    ADDRESS,
    {
      pop3: { host: '127.0.0.1', port: server.port, tls: 'none', timeoutMs: 5000, maxMessageBytes: 1024 * 1024, batchSize: 50, ...pop3 },
      smtp: { host: '127.0.0.1', port: 1, tls: 'none', timeoutMs: 5000 },
    },
    { provider: 'outlook', ...overrides },
  );
}

function poller(
  config: AccountConfig,
  backoff = { initialMs: 100, maxMs: 400 },
  credentials: CredentialSource = alicePassword(),
  logger = silentLogger(),
): Pop3Poller {
  const created = new Pop3Poller({ account: config, store, credentials, logger, status, backoff });
  pollers.push(created);
  return created;
}

function fill(count: number, size = 3000): FakeMessage[] {
  server.maildrop = Array.from({ length: count }, (_, i) => ({ uidl: `uidl-${i + 1}`, raw: simpleMessage(i + 1, size) }));
  return server.maildrop;
}

async function storedUidls(): Promise<string[]> {
  return (await store.listMessages(store.findMailbox(ADDRESS, 'INBOX')!.id)).map((message) => message.uidl!);
}

describe('POP3 poller against a fake server', () => {
  it('backs off exponentially (no tight loop) while Outlook throttles with "-ERR Server Unavailable. 21", then syncs', async () => {
    const messages = fill(5);
    const throttle = '-ERR Server Unavailable. 21\r\n';
    server.intercept = (verb, _line, connection) => {
      if (connection.number === 1 && verb === '') {
        connection.write(throttle);
        connection.socket.end();
        return true;
      }
      if ((connection.number === 2 && verb === 'USER') || (connection.number === 3 && verb === 'PASS')) {
        connection.write(throttle);
        return true;
      }
      return false;
    };
    const credentials = alicePassword();
    const target = poller(account(), { initialMs: 200, maxMs: 5000 }, credentials);
    const started = Date.now();
    target.start();
    await waitUntil(() => pop3Status(status, ADDRESS).state === 'idle' && server.connections.length >= 4, 'the sync after throttling');

    const times = server.connections.map((connection) => connection.at);
    expect(times).toHaveLength(4);
    const gaps = times.slice(1).map((at, i) => at - times[i]);
    // Equal jitter: after the n-th failure the wait is between half and all of 200 ms * 2^(n-1).
    expect(gaps[0]).toBeGreaterThanOrEqual(100 - 5);
    expect(gaps[1]).toBeGreaterThanOrEqual(200 - 5);
    expect(gaps[2]).toBeGreaterThanOrEqual(400 - 5);
    expect(times.filter((at) => at - started < 250).length).toBeLessThanOrEqual(2);
    // Between attempts the status said what was going on, in plain words, and when the next try comes.
    expect(status.reports.map((report) => report.state)).toEqual([
      'syncing',
      'backoff',
      'syncing',
      'backoff',
      'syncing',
      'backoff',
      'syncing',
      'idle',
    ]);
    for (const report of status.reports.filter((r) => r.state === 'backoff')) {
      expect(report.lastError).toMatch(/busy or throttling.*Server Unavailable\. 21/);
    }
    const backoffTimes = status.reports.filter((r) => r.state === 'backoff');
    for (let i = 0; i < backoffTimes.length; i++) {
      // The announced next attempt is when the next connection came (timers fire late, never early).
      const late = times[i + 1] - Date.parse(backoffTimes[i].nextPollAt ?? '');
      expect(late).toBeGreaterThanOrEqual(-2);
      expect(late).toBeLessThan(1000);
    }
    // Throttling is not a refused password.
    expect(credentials.refusals).toBe(0);
    expect(await storedUidls()).toEqual(messages.map((m) => m.uidl));
    expect(pop3Status(status, ADDRESS).lastError).toBeUndefined();
  });

  it('keeps what was stored when the connection is cut mid-RETR, sends no DELE in that session, and finishes later', async () => {
    const messages = fill(10);
    server.intercept = (verb, line, connection) => {
      if (connection.number === 1 && verb === 'RETR' && line === 'RETR 4') {
        const full = retrResponse(messages[3].raw);
        connection.write(full.subarray(0, full.length >> 1));
        connection.socket.destroy();
        return true;
      }
      return false;
    };
    const target = poller(account({ leaveOnServer: false }));
    const first = nextPollEnd(status, ADDRESS);
    target.start();
    const failed = await first;
    expect(failed.state).toBe('backoff');
    expect(failed.lastError).toMatch(/dropped/);
    expect(await storedUidls()).toEqual(['uidl-1', 'uidl-2', 'uidl-3']);
    expect(server.connections[0].commands.some((command) => /^(DELE|QUIT)/.test(command))).toBe(false);
    expect(server.maildrop).toHaveLength(10);

    await waitUntil(() => pop3Status(status, ADDRESS).state === 'idle', 'the retry to finish');
    expect(await storedUidls()).toEqual(messages.map((m) => m.uidl));
    expect(server.maildrop).toHaveLength(0);
    // Every message was sent in full once: the first three before the cut, the rest after it.
    for (const message of messages) expect(server.retrCount(message.uidl)).toBe(1);
  });

  it('gives up on a server that goes silent with a timeout, never hangs, and retries', async () => {
    fill(3);
    // From RETR 2 on, the first connection answers nothing at all (the line stays open).
    let silent = false;
    server.intercept = (verb, line, connection) => {
      if (connection.number !== 1) return false;
      if (verb === 'RETR' && line === 'RETR 2') silent = true;
      return silent;
    };
    const target = poller(account({}, { timeoutMs: 300 }));
    const first = nextPollEnd(status, ADDRESS);
    target.start();
    const failed = await first;
    expect(failed.state).toBe('backoff');
    expect(failed.lastError).toMatch(/did not answer in time/);
    expect(await storedUidls()).toEqual(['uidl-1']);
    await waitUntil(() => pop3Status(status, ADDRESS).state === 'idle', 'the retry to finish');
    expect(await storedUidls()).toEqual(['uidl-1', 'uidl-2', 'uidl-3']);
  });

  it('reports a server that does not speak POP3 as an error and keeps running', async () => {
    fill(1);
    server.intercept = (verb, _line, connection) => {
      if (connection.number !== 1 || verb !== '') return false;
      connection.write('220 smtp.example.org ESMTP\r\n');
      return true;
    };
    const target = poller(account({ pollIntervalMs: 200 }));
    const first = nextPollEnd(status, ADDRESS);
    target.start();
    const failed = await first;
    expect(failed.state).toBe('error');
    expect(failed.lastError).toBeTruthy();
    await waitUntil(() => pop3Status(status, ADDRESS).state === 'idle', 'the next poll');
    expect(await storedUidls()).toEqual(['uidl-1']);
  });

  it('stop() in the middle of a batch drops the session without DELE or QUIT and keeps what was stored', async () => {
    fill(10);
    // A slow download: each message 80 ms after it was asked for (and the UIDL n after it, in order).
    server.intercept = (verb, line, connection) => {
      const [, arg] = line.split(' ');
      if (verb === 'UIDL' && arg !== undefined) {
        // Read now: the timer may fire after the test, when `server` is the next test's.
        const { uidl } = server.maildrop[Number(arg) - 1];
        setTimeout(() => connection.write(`+OK ${arg} ${uidl}\r\n`), 80 * Number(arg) + 1);
        return true;
      }
      if (verb !== 'RETR') return false;
      const message = server.maildrop[Number(arg) - 1];
      connection.commands.push(`RETR-UIDL ${message.uidl}`);
      setTimeout(() => connection.write(retrResponse(message.raw)), 80 * Number(arg));
      return true;
    };
    const target = poller(account({ leaveOnServer: false }));
    target.start();
    await waitUntil(async () => (await storedUidls()).length >= 1, 'the first stored message');
    await target.stop();
    const stored = await storedUidls();
    expect(stored.length).toBeGreaterThanOrEqual(1);
    expect(stored.length).toBeLessThan(10);
    expect((await store.uidlLedger(ADDRESS)).uidls().sort()).toEqual([...stored].sort());
    expect(server.connections).toHaveLength(1);
    expect(server.connections[0].commands.some((command) => /^(DELE|QUIT)/.test(command))).toBe(false);
    expect(server.maildrop).toHaveLength(10);
    expect(pop3Status(status, ADDRESS).nextPollAt).toBeUndefined();
    // Stopped means stopped: no further connection.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.connections).toHaveLength(1);
  });

  it('skips a message that turns out larger than max_message_size although LIST said otherwise, once', async () => {
    const messages = fill(3);
    messages[1].raw = simpleMessage(2, 50_000);
    messages[1].listSize = 500;
    const target = poller(account({}, { maxMessageBytes: 10_000 }));
    const first = nextPollEnd(status, ADDRESS);
    target.start();
    const done = await first;
    expect(done.state).toBe('idle');
    expect(done.skippedTooLarge).toEqual([expect.objectContaining({ uidl: 'uidl-2' })]);
    expect(done.lastWarning).toMatch(/larger than max_message_size/);
    expect(await storedUidls()).toEqual(['uidl-1', 'uidl-3']);
    const second = nextPollEnd(status, ADDRESS);
    target.pollNow();
    expect((await second).state).toBe('idle');
    expect(server.retrCount('uidl-2')).toBe(1);
    expect(await storedUidls()).toEqual(['uidl-1', 'uidl-3']);
  });

  it('fetches a big first sync in bounded sessions, quitting and reconnecting between them', async () => {
    const messages = fill(23, 500);
    const target = poller(account({ leaveOnServer: false }, { batchSize: 10 }));
    const first = nextPollEnd(status, ADDRESS);
    target.start();
    expect((await first).state).toBe('idle');
    expect(await storedUidls()).toEqual(messages.map((m) => m.uidl));
    expect(server.connections).toHaveLength(3);
    for (const connection of server.connections) {
      expect(connection.commands.filter((command) => command.startsWith('RETR-UIDL')).length).toBeLessThanOrEqual(10);
      expect(connection.commands.at(-1)).toBe('QUIT');
    }
    expect(server.maildrop).toHaveLength(0);
    expect(pop3Status(status, ADDRESS).messagesFetched).toBe(23);
  });

  it('logs the progress of a big first sync with done, total and rate', async () => {
    fill(1200, 200);
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const target = poller(account({}, { batchSize: 2000 }), undefined, undefined, pino({ level: 'info' }, sink));
    const first = nextPollEnd(status, ADDRESS);
    target.start();
    expect((await first).state).toBe('idle');
    expect(lines.find((line) => line.msg === 'new messages on the server')).toMatchObject({ new: 1200, onServer: 1200 });
    const progress = lines.filter((line) => String(line.msg).startsWith('sync progress'));
    // How many lines depends on how the group commits fell (batches grow while a write is slow), but
    // batches hold at most 500 messages, so the first line always comes before the end of the sync.
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0].done as number).toBeLessThan(1200);
    for (const line of progress) {
      expect(line).toMatchObject({ total: 1200 });
      expect(line.done as number).toBeGreaterThan(0);
      expect(line.rate as number).toBeGreaterThan(0);
    }
    expect(lines.find((line) => line.msg === 'sync finished')).toMatchObject({ stored: 1200 });
  });

  it('pollNow() during a poll polls again right after it, not at the next interval', async () => {
    fill(3);
    const target = poller(account({ pollIntervalMs: 60 * 60_000 }));
    const first = nextPollEnd(status, ADDRESS);
    target.start();
    target.pollNow();
    await first;
    await waitUntil(() => server.connections.length === 2 && pop3Status(status, ADDRESS).state === 'idle', 'the second poll');
    expect(await storedUidls()).toEqual(['uidl-1', 'uidl-2', 'uidl-3']);
    expect(server.connections[1].commands.filter((command) => command.startsWith('RETR-UIDL'))).toEqual([]);
  });

  it('waits for the user without connecting when the sign-in is needed', async () => {
    fill(1);
    let signedIn = false;
    const credentials = loginFrom(() => {
      if (!signedIn) throw new CredentialError('signin-needed', 'not signed in: run hotbridge login alice@example.test');
      return { kind: 'password', user: ADDRESS, password: PASSWORD };
    });
    const target = poller(account(), undefined, credentials);
    const first = nextPollEnd(status, ADDRESS);
    target.start();
    const waiting = await first;
    expect(waiting).toMatchObject({
      state: 'signin-needed',
      lastError: 'sign-in needed: not signed in: run hotbridge login alice@example.test',
    });
    expect(server.connections).toHaveLength(0);
    signedIn = true;
    const next = nextPollEnd(status, ADDRESS);
    target.pollNow();
    expect((await next).state).toBe('idle');
    expect(await storedUidls()).toEqual(['uidl-1']);
  });
});
