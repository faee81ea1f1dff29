/**
 * The poller's pure parts: backoff delays, the deletion policy, the arrival date taken from a header,
 * the plain-words failure descriptions, and the ingest batcher's grouping and ordering.
 */
import { describe, expect, it } from 'vitest';
import { CredentialError } from '../../../src/upstream/credentials.js';
import { arrivalDateOf } from '../../../src/upstream/pop3/arrival-date.js';
import { Backoff } from '../../../src/upstream/pop3/backoff.js';
import { chooseDeletions, uidlsToForget, type ListedMessage } from '../../../src/upstream/pop3/deletion-policy.js';
import { Pop3Error, errorFromServerReply } from '../../../src/upstream/pop3/errors.js';
import { IngestBatcher } from '../../../src/upstream/pop3/ingest-batcher.js';
import { CaFileError, LoginRefused, describeFailure } from '../../../src/upstream/pop3/poll-failure.js';
import type { IngestItem } from '../../../src/store/index.js';
import { LedgerView } from '../../../src/store/uidl-ledger.js';
import type { Pop3LedgerEntry } from '../../../src/store/records.js';

describe('Backoff', () => {
  it('doubles from initialMs up to maxMs, with the wait between half and all of that', () => {
    const low = new Backoff({ initialMs: 1000, maxMs: 8000 }, () => 0);
    const high = new Backoff({ initialMs: 1000, maxMs: 8000 }, () => 0.999999);
    expect(Array.from({ length: 6 }, () => low.next())).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
    expect(Array.from({ length: 6 }, () => high.next())).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect(low.attempts).toBe(6);
    low.reset();
    expect(low.attempts).toBe(0);
    expect(low.next()).toBe(500);
  });

  it('never waits less than half of initialMs, whatever the random numbers (no tight loop)', () => {
    const backoff = new Backoff({ initialMs: 30_000, maxMs: 30 * 60_000 });
    for (let i = 0; i < 200; i++) {
      const delay = backoff.next();
      expect(delay).toBeGreaterThanOrEqual(15_000);
      expect(delay).toBeLessThanOrEqual(30 * 60_000);
    }
  });

  it('refuses settings that would loop or never wait', () => {
    expect(() => new Backoff({ initialMs: 0, maxMs: 10 })).toThrow(RangeError);
    expect(() => new Backoff({ initialMs: 100, maxMs: 10 })).toThrow(RangeError);
  });
});

describe('deletion policy', () => {
  const now = 1_000_000_000_000;
  const entry = (uidl: string, extra: Partial<Pop3LedgerEntry> = {}): [string, Pop3LedgerEntry] => [
    uidl,
    { uidl, blobId: `b-${uidl}`, fetchedAt: now - 1000, ...extra },
  ];
  const listing: ListedMessage[] = [
    { msg: 1, uidl: 'a' },
    { msg: 2, uidl: 'b' },
    { msg: 3, uidl: 'c' },
    { msg: 4, uidl: 'not-stored' },
  ];
  const ledger = new LedgerView(
    new Map([
      entry('a', { fetchedAt: now - 20 * 86_400_000 }),
      entry('b', { expungedLocallyAt: now - 10 }),
      entry('c'),
      entry('gone', { deletedUpstreamAt: now - 5 }),
      entry('vanished'),
    ]),
  );

  it('deletes nothing the store does not hold, and with leave_on_server everything it holds', () => {
    expect(chooseDeletions(listing, ledger, { leaveOnServer: false, deleteOnExpunge: false }, now)).toEqual([
      { msg: 1, uidl: 'a', reason: 'stored' },
      { msg: 2, uidl: 'b', reason: 'stored' },
      { msg: 3, uidl: 'c', reason: 'stored' },
    ]);
  });

  it('keeps everything with leave_on_server and no other rule', () => {
    expect(chooseDeletions(listing, ledger, { leaveOnServer: true, deleteOnExpunge: false }, now)).toEqual([]);
  });

  it('deletes copies fetched longer ago than delete_on_server_after', () => {
    expect(
      chooseDeletions(listing, ledger, { leaveOnServer: true, deleteOnServerAfterMs: 14 * 86_400_000, deleteOnExpunge: false }, now),
    ).toEqual([{ msg: 1, uidl: 'a', reason: 'older-than-limit' }]);
  });

  it('deletes copies expunged locally with delete_on_expunge', () => {
    expect(chooseDeletions(listing, ledger, { leaveOnServer: true, deleteOnExpunge: true }, now)).toEqual([
      { msg: 2, uidl: 'b', reason: 'expunged-locally' },
    ]);
  });

  it('never deletes a message whose UIDL the server lists twice', () => {
    const doubled = [...listing, { msg: 5, uidl: 'c' }];
    expect(chooseDeletions(doubled, ledger, { leaveOnServer: false, deleteOnExpunge: false }, now).map((d) => d.uidl)).toEqual(['a', 'b']);
  });

  it('forgets only UIDLs deleted upstream that the server no longer lists', () => {
    expect(uidlsToForget(listing, ledger)).toEqual(['gone']);
    expect(uidlsToForget([...listing, { msg: 9, uidl: 'gone' }], ledger)).toEqual([]);
  });
});

describe('arrivalDateOf', () => {
  const now = Date.parse('2025-06-01T00:00:00Z');
  it('takes the topmost Received date, folded and with a comment', () => {
    const raw = Buffer.from(
      'Received: from mx.example.org by mail.example.net;\r\n Tue, 20 May 2025 08:01:02 +0200 (CEST)\r\nReceived: from a by b; Mon, 19 May 2025 00:00:00 +0000\r\nDate: Sun, 18 May 2025 00:00:00 +0000\r\n\r\nbody; Fri, 01 Jan 2021 00:00:00 +0000\r\n',
    );
    expect(new Date(arrivalDateOf(raw, now)!).toISOString()).toBe('2025-05-20T06:01:02.000Z');
  });

  it('falls back to Date, and ignores dates in the future or before 1990', () => {
    expect(new Date(arrivalDateOf(Buffer.from('Date: Sun, 18 May 2025 00:00:00 +0000\r\n\r\n'), now)!).toISOString()).toBe(
      '2025-05-18T00:00:00.000Z',
    );
    expect(arrivalDateOf(Buffer.from('Date: Sun, 18 May 2031 00:00:00 +0000\r\n\r\n'), now)).toBeUndefined();
    expect(arrivalDateOf(Buffer.from('Received: x; Thu, 01 Jan 1970 00:00:00 +0000\r\n\r\n'), now)).toBeUndefined();
    expect(arrivalDateOf(Buffer.from('Subject: none\r\n\r\nDate: Sun, 18 May 2025 00:00:00 +0000\r\n'), now)).toBeUndefined();
    expect(arrivalDateOf(Buffer.from('Date: not a date\r\n\r\n'), now)).toBeUndefined();
  });
});

describe('describeFailure', () => {
  const context = { address: 'you@hotmail.com', provider: 'outlook', host: 'outlook.office365.com', port: 995 };
  const custom = { ...context, provider: 'custom' };
  const refusal = errorFromServerReply('PASS', '[AUTH] Authentication failed.', 'auth');

  it('says a refused password in plain words, with the server text', () => {
    const failure = describeFailure(new LoginRefused('password', refusal), custom);
    expect(failure).toMatchObject({ state: 'error', temporary: false });
    expect(failure.text).toBe(
      'authentication failed: the provider refused the password (the server said: "[AUTH] Authentication failed.")',
    );
  });

  it('for Outlook, says POP may be switched off, or that passwords are no longer accepted', () => {
    expect(describeFailure(new LoginRefused('xoauth2', refusal), context).text).toMatch(
      /^authentication failed: the provider refused the sign-in .*; POP may be switched off for this account \(Outlook\.com → Settings.*run hotbridge login you@hotmail\.com$/,
    );
    expect(describeFailure(new LoginRefused('password', refusal), context).text).toMatch(/no longer accepts passwords/);
  });

  it('backs off on throttling, drops and timeouts; waits for the user on sign-in, TLS and CA problems', () => {
    const throttled = errorFromServerReply('PASS', 'Server Unavailable. 21', 'auth');
    expect(describeFailure(throttled, context)).toMatchObject({ state: 'backoff', temporary: true });
    expect(describeFailure(throttled, context).text).toBe(
      'the provider is busy or throttling this account (the server said: "Server Unavailable. 21"); trying again later',
    );
    expect(describeFailure(new Pop3Error('io', 'closed', { temporary: true }), context).state).toBe('backoff');
    expect(describeFailure(new Pop3Error('timeout', 'slow', { temporary: true }), context).state).toBe('backoff');
    expect(describeFailure(new CredentialError('temporary', 'token endpoint down'), context).state).toBe('backoff');
    expect(describeFailure(new CredentialError('signin-needed', 'run hotbridge login you@hotmail.com'), context)).toMatchObject({
      state: 'signin-needed',
      text: 'sign-in needed: run hotbridge login you@hotmail.com',
    });
    expect(describeFailure(new CredentialError('no-password', 'the password file x is empty'), context).state).toBe('error');
    expect(describeFailure(new Pop3Error('tls', 'TLS with h:995 failed: self-signed certificate'), context)).toMatchObject({
      state: 'error',
      temporary: false,
    });
    expect(describeFailure(new CaFileError('/etc/ca.pem', 'ENOENT'), context).text).toBe('cannot read ca_file /etc/ca.pem (ENOENT)');
    expect(describeFailure('weird', context)).toMatchObject({ state: 'error', text: 'sync failed: weird' });
  });
});

describe('IngestBatcher', () => {
  const item = (n: number, size = 10): IngestItem => ({ uidl: `u${n}`, raw: Buffer.alloc(size, 0x61) });

  /** A store whose ingests finish when the test says so. */
  function slowStore() {
    const calls: Array<{ uidls: string[]; finish: () => void; fail: (error: Error) => void }> = [];
    return {
      calls,
      store: {
        ingestPop3: (_account: string, items: IngestItem[]) =>
          new Promise<Array<{ uidl: string; duplicate: boolean }>>((resolve, reject) => {
            calls.push({
              uidls: items.map((i) => i.uidl),
              finish: () => resolve(items.map((i) => ({ uidl: i.uidl, duplicate: false }))),
              fail: reject,
            });
          }),
      },
    };
  }
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  it('writes at once when idle, and groups what arrives during a write into the next batch (group commit), in order', async () => {
    const { calls, store } = slowStore();
    const stored: string[][] = [];
    const batcher = new IngestBatcher({
      store,
      account: 'a',
      maxMessages: 100,
      maxBytes: 1e9,
      onStored: (_r, items) => stored.push(items.map((i) => i.uidl)),
    });
    await batcher.add(item(1));
    await tick();
    expect(calls.map((c) => c.uidls)).toEqual([['u1']]);
    for (const n of [2, 3, 4]) await batcher.add(item(n));
    await tick();
    expect(calls).toHaveLength(1);
    calls[0].finish();
    await tick();
    expect(calls.map((c) => c.uidls)).toEqual([['u1'], ['u2', 'u3', 'u4']]);
    const drained = batcher.drain();
    calls[1].finish();
    await drained;
    expect(stored).toEqual([['u1'], ['u2', 'u3', 'u4']]);
  });

  it('holds the caller back while the waiting group is full (by count or by bytes)', async () => {
    const { calls, store } = slowStore();
    const batcher = new IngestBatcher({ store, account: 'a', maxMessages: 2, maxBytes: 1000, onStored: () => undefined });
    await batcher.add(item(1));
    await batcher.add(item(2));
    let released = false;
    const third = batcher.add(item(3)).then(() => (released = true));
    await tick();
    expect(released).toBe(false);
    calls[0].finish();
    await third;
    expect(calls.map((c) => c.uidls)).toEqual([['u1'], ['u2', 'u3']]);
    released = false;
    const big = batcher.add(item(4, 5000)).then(() => (released = true));
    await tick();
    expect(released).toBe(false);
    calls[1].finish();
    await big;
    const drained = batcher.drain();
    await tick();
    calls[2].finish();
    await drained;
    expect(calls.map((c) => c.uidls)).toEqual([['u1'], ['u2', 'u3'], ['u4']]);
  });

  it('after a failed write drops what waits and reports the failure', async () => {
    const { calls, store } = slowStore();
    const batcher = new IngestBatcher({ store, account: 'a', maxMessages: 100, maxBytes: 1e9, onStored: () => undefined });
    await batcher.add(item(1));
    await batcher.add(item(2));
    await tick();
    calls[0].fail(new Error('disk full'));
    await expect(batcher.drain()).rejects.toThrow('disk full');
    await expect(batcher.add(item(3))).rejects.toThrow('disk full');
    expect(calls).toHaveLength(1);
  });
});
