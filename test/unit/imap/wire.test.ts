// Small wire-level pieces: modified UTF-7 mailbox names, sequence sets, LIST patterns, the argument reader.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ImapError } from '../../../src/downstream/imap/errors.js';
import { isUndecodable, listMatcher, undecodableName, validateNewName } from '../../../src/downstream/imap/mailbox-names.js';
import { ArgReader } from '../../../src/downstream/imap/wire/args.js';
import { decodeMailboxName, encodeMailboxName } from '../../../src/downstream/imap/wire/mutf7.js';
import { formatSequenceSet, parseSequenceSet, resolveSequenceSet, STAR } from '../../../src/downstream/imap/wire/sequence-set.js';

describe('modified UTF-7 (RFC 3501 §5.1.3)', () => {
  test.each([
    ['INBOX', 'INBOX'],
    ['Entwürfe', 'Entw&APw-rfe'],
    ['~peter/mail/台北/日本語', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'],
    ['Tom & Jerry', 'Tom &- Jerry'],
    ['😀 smile', '&2D3eAA- smile'],
    ['Ärger', '&AMQ-rger'],
  ])('%s <-> %s', (name, wire) => {
    expect(encodeMailboxName(name)).toBe(wire);
    expect(decodeMailboxName(wire)).toBe(name);
  });

  test.each(['&', '&AMQ', '&A-', '&AGE-', '&*-', 'tab\there', '8bit\u00e9'])('rejects %j', (wire) => {
    expect(decodeMailboxName(wire)).toBeUndefined();
  });

  test('round trip for any string', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (name) => decodeMailboxName(encodeMailboxName(name)) === name));
  });
});

describe('sequence sets', () => {
  test('parse and resolve', () => {
    expect(parseSequenceSet('1:4,7,9:*')).toEqual([
      [1, 4],
      [7, 7],
      [9, STAR],
    ]);
    expect(resolveSequenceSet(parseSequenceSet('9:*,1:4,3,5')!, 12)).toEqual([
      [1, 5],
      [9, 12],
    ]);
    // "559:*" with 500 as the largest still includes 500 (RFC 3501 §6.4.8).
    expect(resolveSequenceSet(parseSequenceSet('559:*')!, 500)).toEqual([[500, 559]]);
    expect(resolveSequenceSet(parseSequenceSet('4:2')!, 10)).toEqual([[2, 4]]);
  });

  test.each(['', '0', '1:', ':1', '1,,2', '1:2:3', 'a', '01', '4294967296', '-1'])('rejects %j', (text) => {
    expect(parseSequenceSet(text)).toBeUndefined();
  });

  test('compact formatting', () => {
    expect(formatSequenceSet([1, 2, 3, 5, 7, 8])).toBe('1:3,5,7:8');
    expect(formatSequenceSet([])).toBe('');
  });
});

describe('LIST patterns and new names', () => {
  test('"*" crosses the delimiter, "%" does not; INBOX is case-insensitive', () => {
    const star = listMatcher('', 'a/*');
    const percent = listMatcher('', 'a/%');
    expect([star('a/b'), star('a/b/c'), star('b/c')]).toEqual([true, true, false]);
    expect([percent('a/b'), percent('a/b/c')]).toEqual([true, false]);
    expect(listMatcher('', 'inbox')('INBOX')).toBe(true);
    expect(listMatcher('', 'Inbox/%')('INBOX/sub')).toBe(true);
    expect(listMatcher('', 'sent')('Sent')).toBe(false);
    expect(listMatcher('a/', '%')('a/b')).toBe(true);
    expect(listMatcher('', 'a.b')('axb')).toBe(false);
  });

  test('names CREATE accepts', () => {
    // CREATE's trailing delimiter means "children will follow" (RFC 3501 §6.3.3); RENAME has no such form.
    expect(validateNewName('foo/', { trailingDelimiter: true })).toBe('foo');
    expect(() => validateNewName('foo/')).toThrow(ImapError);
    expect(validateNewName('inbox/Sub')).toBe('INBOX/Sub');
    expect(validateNewName('a.b/..c/.d.')).toBe('a.b/..c/.d.');
    for (const bad of [
      '',
      '/',
      'a//b',
      '/a',
      'a//',
      '.',
      '..',
      'a/./b',
      'a/../b',
      'a/..',
      './a',
      'a*',
      'b%',
      'tab\t',
      undecodableName('&Jjo'),
    ]) {
      expect(() => validateNewName(bad, { trailingDelimiter: true }), bad).toThrow(
        expect.objectContaining({ status: 'NO', code: 'CANNOT' }),
      );
    }
  });
});

describe('ArgReader', () => {
  const reader = (text: string, literals: string[] = []) => {
    const segments = text.split('\u0001').map((s) => Buffer.from(s, 'latin1'));
    return new ArgReader({ segments, literals: literals.map((l) => Buffer.from(l)) });
  };

  test('astring forms', () => {
    const args = reader('atom "quo\\"ted" {3}\u0001 tail]', ['lit']);
    expect(args.astring().toString()).toBe('atom');
    args.space();
    expect(args.astring().toString()).toBe('quo"ted');
    args.space();
    expect(args.astring().toString()).toBe('lit');
    args.space();
    expect(args.astring().toString()).toBe('tail]');
    args.end();
  });

  test('date and date-time', () => {
    expect(reader('1-Feb-1994').date()).toBe(Date.UTC(1994, 1, 1));
    expect(reader('"17-Jul-1996 02:44:25 -0700"').dateTime()).toBe(Date.UTC(1996, 6, 17, 9, 44, 25));
    expect(reader('" 5-Jan-2024 09:00:00 +0100"').dateTime()).toBe(Date.UTC(2024, 0, 5, 8, 0, 0));
    expect(() => reader('31-Foo-1994').date()).toThrow(ImapError);
  });

  test('mailbox names: modified UTF-7, UTF-8 from lax clients, INBOX in any case', () => {
    expect(reader('&AMQ-rger').mailbox()).toBe('Ärger');
    expect(reader('"\u00c3\u0084rger"').mailbox()).toBe('Ärger');
    expect(reader('iNbOx').mailbox()).toBe('INBOX');
    // Not modified UTF-7, but well-formed syntax: it names no mailbox (NO later), it is not BAD.
    expect(isUndecodable(reader('"&Jjo"').mailbox())).toBe(true);
    expect(isUndecodable(reader('&AMQ-rger').mailbox())).toBe(false);
  });

  test('flags', () => {
    expect(reader('(\\seen $Label \\FLAGGED)').flagList()).toEqual(['\\Seen', '$Label', '\\Flagged']);
    expect(() => reader('(\\Nope)').flagList()).toThrow(/Invalid system flag/);
  });
});
