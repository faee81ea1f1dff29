// The local login checks with the real password file and real scrypt hashes (the queue's own rules are
// in password-check-queue.test.ts). No durations are asserted: the order in which answers arrive and
// the counters say what happened.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientKey, LocalAuthenticator, type LocalAuthOptions } from '../../../src/runtime/local-auth.js';
import { LocalPasswords } from '../../../src/runtime/local-passwords.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

const ALICE = 'alice@example.test';

describe('local logins', () => {
  let dir: string;
  let passwords: LocalPasswords;
  const fresh = (options: Partial<LocalAuthOptions> = {}): LocalAuthenticator =>
    new LocalAuthenticator(passwords, { accounts: () => [ALICE], baseDelayMs: 100, maxDelayMs: 1000, ...options });

  beforeAll(async () => {
    dir = tempDir();
    passwords = new LocalPasswords(dir);
    await passwords.set(ALICE, 'right');
  });
  afterAll(() => removeDir(dir));

  it('counts every loopback address as one client', () => {
    expect(clientKey('127.0.0.1')).toBe('loopback');
    expect(clientKey('127.8.9.10')).toBe('loopback');
    expect(clientKey('::1')).toBe('loopback');
    expect(clientKey('::ffff:127.0.0.2')).toBe('loopback');
    expect(clientKey('192.0.2.7')).toBe('192.0.2.7');
  });

  it('accepts the right password for a configured account only, case-insensitively', async () => {
    const auth = fresh();
    expect(await auth.verify('Alice@Example.test', 'right', '127.0.0.1')).toBe(ALICE);
    expect(await auth.verify('bob@example.test', 'right', '127.0.0.1')).toBeUndefined();
    expect(await auth.verify(ALICE, 'Right', '127.0.0.1')).toBeUndefined();
  });

  it('answers a right password before the penalties of failures queued ahead of it from the same client', async () => {
    // maxDelayMs far above what eight hashes take, so the order below cannot depend on the machine's load.
    const auth = fresh({ baseDelayMs: 20_000, maxDelayMs: 20_000 });
    const order: string[] = [];
    const controller = new AbortController();
    const wrong = Array.from({ length: 8 }, (_, i) =>
      auth.verify(ALICE, `wrong ${i}`, `127.0.0.${i + 2}`, { signal: controller.signal }).then(() => order.push('wrong')),
    );
    const right = await auth.verify(ALICE, 'right', '127.0.0.1');
    order.push('right');
    expect(right).toBe(ALICE);
    // Every failure was still waiting out its penalty: none held up the right password.
    expect(order).toEqual(['right']);
    controller.abort();
    await Promise.all(wrong);
    // Checks still queued when their clients left were dropped; every other one failed.
    const counts = auth.counts();
    expect(counts.successes).toBe(1);
    expect(counts.failures + counts.dropped).toBe(8);
  });

  it('drops the queued checks of clients that went away, and cuts their penalty short', async () => {
    const auth = fresh({ maxChecks: 1, baseDelayMs: 20_000, maxDelayMs: 20_000 });
    const clients = Array.from({ length: 6 }, () => new AbortController());
    const attempts = clients.map((client, i) => auth.verify(ALICE, `guess ${i}`, '127.0.0.1', { signal: client.signal }));
    // All six are queued or running; they all leave before the first check can have finished.
    for (const client of clients) client.abort();
    expect(await Promise.all(attempts)).toEqual(Array.from({ length: 6 }, () => undefined));
    const counts = auth.counts();
    // One check was already running (a hash cannot be stopped); the five behind it never ran.
    expect(counts.hashes).toBe(1);
    expect(counts.dropped).toBe(5);
    expect(counts).toMatchObject({ running: 0, waiting: 0 });
  });

  it('answers a login checked before from its cache, without a hash', async () => {
    const auth = fresh();
    expect(await auth.verify(ALICE, 'right', '127.0.0.1')).toBe(ALICE);
    expect(auth.counts().hashes).toBe(1);
    for (let i = 0; i < 20; i++) expect(await auth.verify(ALICE.toUpperCase(), 'right', '127.0.0.1')).toBe(ALICE);
    expect(auth.counts()).toMatchObject({ hashes: 1, cacheHits: 20, successes: 21 });
  });

  it('checks a login that several connections make at once with one hash', async () => {
    const auth = fresh();
    const logins = await Promise.all(Array.from({ length: 5 }, () => auth.verify(ALICE, 'right', '127.0.0.1')));
    expect(logins).toEqual(Array.from({ length: 5 }, () => ALICE));
    expect(auth.counts()).toMatchObject({ hashes: 1, successes: 5 });
  });

  it('lets the others check for themselves when the first of them goes away before its check ran', async () => {
    const auth = fresh({ maxChecks: 1 });
    const blocker = auth.verify(ALICE, 'a wrong one', '192.0.2.1');
    const leaving = new AbortController();
    const first = auth.verify(ALICE, 'right', '127.0.0.1', { signal: leaving.signal });
    const second = auth.verify(ALICE, 'right', '127.0.0.1');
    leaving.abort();
    expect(await first).toBeUndefined();
    expect(await second).toBe(ALICE);
    await blocker;
    expect(auth.counts()).toMatchObject({ dropped: 1, hashes: 2 });
  });

  it('never takes a wrong password for a cached right one, and keeps the penalty of a remembered failure', async () => {
    const auth = fresh({ baseDelayMs: 20_000, maxDelayMs: 20_000 });
    expect(await auth.verify(ALICE, 'right', '127.0.0.1')).toBe(ALICE);
    const controller = new AbortController();
    const order: string[] = [];
    const first = auth.verify(ALICE, 'stale', '127.0.0.1', { signal: controller.signal }).then((result) => order.push(`stale:${result}`));
    // The failure is checked (one hash) and then waits its penalty; wait for the check to finish.
    await expect.poll(() => auth.counts().failures, { timeout: 30_000 }).toBe(1);
    const again = auth
      .verify(ALICE, 'stale', '127.0.0.1', { signal: controller.signal })
      .then((result) => order.push(`stale again:${result}`));
    await expect.poll(() => auth.counts().failureCacheHits, { timeout: 30_000 }).toBe(1);
    // Remembered as a failure: no second hash, and still not answered (the penalty runs) while a right login is.
    expect(await auth.verify(ALICE, 'right', '127.0.0.1')).toBe(ALICE);
    order.push('right');
    expect(order).toEqual(['right']);
    controller.abort();
    await Promise.all([first, again]);
    expect(order.sort()).toEqual(['right', 'stale again:undefined', 'stale:undefined']);
    expect(auth.counts()).toMatchObject({ hashes: 2, failures: 2, failureCacheHits: 1 });
  });

  it('drops the cache when the password file changes (hotbridge password)', async () => {
    const auth = fresh();
    expect(await auth.verify(ALICE, 'right', '127.0.0.1')).toBe(ALICE);
    expect(await auth.verify(ALICE, 'next', '127.0.0.1')).toBeUndefined();
    await passwords.set(ALICE, 'next');
    try {
      const before = auth.counts().hashes;
      expect(await auth.verify(ALICE, 'right', '127.0.0.1')).toBeUndefined();
      expect(await auth.verify(ALICE, 'next', '127.0.0.1')).toBe(ALICE);
      // Both were checked against the new file, neither answered from the old cache.
      expect(auth.counts().hashes).toBe(before + 2);
    } finally {
      await passwords.set(ALICE, 'right');
    }
  });

  it('does not let a cached login in once its account is no longer configured', async () => {
    let accounts = [ALICE];
    const auth = fresh({ accounts: () => accounts });
    expect(await auth.verify(ALICE, 'right', '127.0.0.1')).toBe(ALICE);
    accounts = [];
    expect(await auth.verify(ALICE, 'right', '127.0.0.1')).toBeUndefined();
    accounts = [ALICE];
    expect(await auth.verify(ALICE, 'right', '127.0.0.1')).toBe(ALICE);
  });

  it('does not make another client wait for the loopback penalties', async () => {
    const auth = fresh({ baseDelayMs: 20_000, maxDelayMs: 20_000 });
    const order: string[] = [];
    const leaving = new AbortController();
    const slow = auth.verify(ALICE, 'wrong', '127.0.0.1', { signal: leaving.signal }).then(() => order.push('loopback'));
    await auth.verify(ALICE, 'right', '192.0.2.7').then(() => order.push('other'));
    expect(order).toEqual(['other']);
    leaving.abort();
    await slow;
    expect(order).toEqual(['other', 'loopback']);
  });
});
