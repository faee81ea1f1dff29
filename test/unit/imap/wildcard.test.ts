// LIST wildcards (RFC 3501 §6.3.8) matched by hand in linear steps (src/downstream/imap/wildcard.ts):
// what "*" and "%" select, and the patterns that froze the daemon when they were regular expressions
// (issue 11). The cost is asserted in the matcher's own step count, never in time.
import { describe, expect, test } from 'vitest';
import { listMatcher } from '../../../src/downstream/imap/mailbox-names.js';
import { WildcardPattern } from '../../../src/downstream/imap/wildcard.js';

const match = (pattern: string, name: string) => new WildcardPattern(pattern, '/').test(name);

describe('what the wildcards select', () => {
  test.each([
    ['*', '', true],
    ['*', 'a/b/c', true],
    ['%', '', true],
    ['%', 'abc', true],
    ['%', 'a/b', false],
    ['a/%', 'a/b', true],
    ['a/%', 'a/b/c', false],
    ['a/*', 'a/b/c', true],
    ['a/*', 'a', false],
    ['a*', 'a', true],
    ['a%b', 'axxb', true],
    ['a%b', 'ax/xb', false],
    ['a*b', 'ax/xb', true],
    ['%/%', 'a/b', true],
    ['%/%', 'a/b/c', false],
    ['*/%', 'a/b/c', true],
    ['%*', 'a/b', true],
    ['*%', 'a/b', true],
    ['%%', 'a/b', false],
    ['abc', 'abc', true],
    ['abc', 'abcd', false],
    ['abc', 'ab', false],
    ['a.b', 'axb', false],
    ['(a)[b]{c}^$|+?\\', '(a)[b]{c}^$|+?\\', true],
    ['*x', 'yyyx', true],
    ['*x*', 'yyy', false],
    ['Ü*', 'Über/alles', true],
    ['%😀', 'a😀', true],
    ['%😀', 'a/😀', false],
  ])('%s against %s: %s', (pattern, name, expected) => {
    expect(match(pattern, name)).toBe(expected);
  });

  test('the reference is prefixed, and INBOX at the start matches in any case', () => {
    expect(listMatcher('a/', '%')('a/b')).toBe(true);
    expect(listMatcher('a/', '/%')('a/b')).toBe(true);
    expect(listMatcher('', 'inbox')('INBOX')).toBe(true);
    expect(listMatcher('', 'Inbox/%')('INBOX/sub')).toBe(true);
    expect(listMatcher('', 'sent')('Sent')).toBe(false);
  });
});

describe('pathological patterns cost linear steps, not backtracking', () => {
  const name = 'a'.repeat(1000);
  test('forty alternating wildcards and a letter (the pattern that froze the daemon)', () => {
    const pattern = new WildcardPattern(`${'*%'.repeat(40)}x`, '/');
    expect(pattern.test(name)).toBe(false);
    // The run of wildcards is one "*": at most two states are active per character.
    expect(pattern.lastSteps).toBeLessThanOrEqual(2 * name.length);
    expect(pattern.test(`${name}x`)).toBe(true);
  });

  test.each([
    ['%'.repeat(5000) + 'x'],
    ['a%'.repeat(500) + 'b'],
    ['a*'.repeat(500) + 'b'],
    ['*a%'.repeat(300) + 'b'],
    ['%a*'.repeat(300) + 'b'],
    ['*/%'.repeat(300)],
  ])('%s: a bounded number of active states per character', (source) => {
    const pattern = new WildcardPattern(source, '/');
    for (const candidate of [name, `${'a/'.repeat(500)}b`, 'ab'.repeat(500)]) {
      pattern.test(candidate);
      expect(pattern.lastSteps).toBeLessThanOrEqual(4 * candidate.length);
    }
  });

  test('the worst case is a "*" before a long run of literals: still at most quadratic in the name, whatever the pattern', () => {
    const pattern = new WildcardPattern(`*${'a'.repeat(60_000)}b`, '/');
    // Refused before a step: the name is shorter than the pattern's literals.
    expect(pattern.test(name)).toBe(false);
    expect(pattern.lastSteps).toBe(0);
    const short = new WildcardPattern(`*${'a'.repeat(500)}b`, '/');
    expect(short.test(name)).toBe(false);
    expect(short.lastSteps).toBeLessThanOrEqual(name.length * name.length);
  });

  test('a pattern as long as a command line compiles and answers', () => {
    const pattern = new WildcardPattern('*%'.repeat(32_000), '/');
    expect(pattern.test(name)).toBe(true);
    expect(pattern.lastSteps).toBeLessThanOrEqual(2 * name.length);
  });
});
