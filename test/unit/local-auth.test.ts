import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientKey, LocalAuthenticator } from '../../src/daemon/local-auth.js';
import { LocalPasswords } from '../../src/store/local-passwords.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const ALICE = 'alice@example.test';

describe('local logins', () => {
  let dir: string;
  let auth: LocalAuthenticator;
  beforeAll(async () => {
    dir = tempDir();
    const passwords = new LocalPasswords(dir);
    await passwords.set(ALICE, 'right');
    auth = new LocalAuthenticator(passwords, { accounts: () => [ALICE], baseDelayMs: 100, maxDelayMs: 1000 });
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
    expect(await auth.verify('Alice@Example.test', 'right', '127.0.0.1')).toBe(ALICE);
    expect(await auth.verify('bob@example.test', 'right', '127.0.0.1')).toBeUndefined();
  });

  it('makes parallel guesses from many loopback addresses wait their turn and their growing penalty', async () => {
    const started = Date.now();
    const results = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((remote) => auth.verify(ALICE, 'wrong', remote)));
    const elapsed = Date.now() - started;
    expect(results).toEqual([undefined, undefined, undefined]);
    // 100 + 200 + 400 ms of penalties, one after the other (in parallel they would take ~100 ms).
    expect(elapsed).toBeGreaterThanOrEqual(700);
    // The right password still works afterwards, and clears the count.
    expect(await auth.verify(ALICE, 'right', '127.0.0.5')).toBe(ALICE);
  });

  it('does not make another client wait for the loopback penalties', async () => {
    const order: string[] = [];
    const slow = auth.verify(ALICE, 'wrong', '127.0.0.1').then(() => order.push('loopback'));
    const other = auth.verify(ALICE, 'right', '192.0.2.7').then(() => order.push('other'));
    await Promise.all([slow, other]);
    expect(order).toEqual(['other', 'loopback']);
  });
});
