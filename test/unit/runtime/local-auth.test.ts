import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientKey, LocalAuthenticator } from '../../../src/runtime/local-auth.js';
import { LocalPasswords } from '../../../src/runtime/local-passwords.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

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
    const passwords = new LocalPasswords(dir);
    const oneAtATime = new LocalAuthenticator(passwords, { accounts: () => [ALICE], baseDelayMs: 100, maxDelayMs: 1000, maxParallel: 1 });
    const started = Date.now();
    const results = await Promise.all(['127.0.0.2', '127.0.0.3', '127.0.0.4'].map((remote) => oneAtATime.verify(ALICE, 'wrong', remote)));
    const elapsed = Date.now() - started;
    expect(results).toEqual([undefined, undefined, undefined]);
    // 100 + 200 + 400 ms of penalties, one after the other (in parallel they would take ~100 ms).
    expect(elapsed).toBeGreaterThanOrEqual(700);
    // The right password still works afterwards, and clears the count.
    expect(await oneAtATime.verify(ALICE, 'right', '127.0.0.5')).toBe(ALICE);
  });

  it('lets a few attempts of one client run at once, and queues the rest', async () => {
    const passwords = new LocalPasswords(dir);
    const four = new LocalAuthenticator(passwords, { accounts: () => [ALICE], baseDelayMs: 300, maxDelayMs: 300, maxParallel: 4 });
    const started = Date.now();
    // Eight wrong guesses at once: four run together (300 ms penalty each), then the next four.
    await Promise.all(Array.from({ length: 8 }, () => four.verify(ALICE, 'wrong', '127.0.0.1')));
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    // Many right logins at once (a client opening connections) all succeed.
    const logins = await Promise.all(Array.from({ length: 20 }, () => four.verify(ALICE, 'right', '127.0.0.1')));
    expect(logins).toEqual(Array.from({ length: 20 }, () => ALICE));
  });

  it('does not make another client wait for the loopback penalties', async () => {
    const order: string[] = [];
    const slow = auth.verify(ALICE, 'wrong', '127.0.0.1').then(() => order.push('loopback'));
    const other = auth.verify(ALICE, 'right', '192.0.2.7').then(() => order.push('other'));
    await Promise.all([slow, other]);
    expect(order).toEqual(['other', 'loopback']);
  });
});
