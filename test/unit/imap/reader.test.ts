// The command reader (src/downstream/imap/wire/reader.ts): framing of lines and literals, limits.
import { describe, expect, test } from 'vitest';
import { CommandReader, type ReaderEvent } from '../../../src/downstream/imap/wire/reader.js';

const LIMITS = { maxLineBytes: 1024, maxLiteralBytes: 4096 };

function drain(reader: CommandReader, mode: 'command' | 'line' = 'command'): ReaderEvent[] {
  const events: ReaderEvent[] = [];
  for (let event = reader.next(mode); event; event = reader.next(mode)) events.push(event);
  return events;
}

function text(event: ReaderEvent | undefined): string[] {
  if (!event || event.kind !== 'command') throw new Error(`not a command: ${JSON.stringify(event)}`);
  return [...event.command.segments.map((s) => s.toString('latin1')), '|', ...event.command.literals.map((l) => l.toString('latin1'))];
}

describe('CommandReader', () => {
  test('reads CRLF and bare LF lines, several per chunk', () => {
    const reader = new CommandReader(LIMITS);
    reader.push(Buffer.from('a NOOP\r\nb NOOP\nc NO'));
    const events = drain(reader);
    expect(events.map(text)).toEqual([
      ['a NOOP', '|'],
      ['b NOOP', '|'],
    ]);
    reader.push(Buffer.from('OP\r\n'));
    expect(text(reader.next())).toEqual(['c NOOP', '|']);
  });

  test('a line dribbled one byte at a time', () => {
    const reader = new CommandReader(LIMITS);
    const line = 'a1 LOGIN alice secret\r\n';
    const events: ReaderEvent[] = [];
    for (const byte of Buffer.from(line)) {
      reader.push(Buffer.from([byte]));
      events.push(...drain(reader));
    }
    expect(events.map(text)).toEqual([['a1 LOGIN alice secret', '|']]);
  });

  test('synchronizing literal: continue, then the bytes, then the rest of the command', () => {
    const reader = new CommandReader(LIMITS);
    reader.push(Buffer.from('a APPEND INBOX {5}\r\n'));
    const first = reader.next();
    expect(first?.kind).toBe('continue');
    expect(reader.next()).toBeUndefined();
    reader.push(Buffer.from('he'));
    expect(reader.next()).toBeUndefined();
    reader.push(Buffer.from('l\r\n'));
    reader.push(Buffer.from(' tail\r\n'));
    expect(text(reader.next())).toEqual(['a APPEND INBOX {5}', ' tail', '|', 'hel\r\n']);
  });

  test('non-synchronizing literal (LITERAL+) needs no continuation; binary bytes pass unchanged', () => {
    const reader = new CommandReader(LIMITS);
    const bytes = Buffer.from([0, 1, 13, 10, 255, 128, 10]);
    reader.push(Buffer.concat([Buffer.from('a APPEND INBOX {7+}\r\n'), bytes, Buffer.from('\r\nb NOOP\r\n')]));
    const events = drain(reader);
    expect(events).toHaveLength(2);
    const [append] = events;
    if (append.kind !== 'command') throw new Error('expected a command');
    expect(append.command.literals[0].equals(bytes)).toBe(true);
    expect(text(events[1])).toEqual(['b NOOP', '|']);
  });

  test('zero-length literal and several literals in one command', () => {
    const reader = new CommandReader(LIMITS);
    reader.push(Buffer.from('a LOGIN {0+}\r\n {3+}\r\nabc\r\n'));
    expect(text(reader.next())).toEqual(['a LOGIN {0+}', ' {3+}', '', '|', '', 'abc']);
  });

  test('a synchronizing literal over the limit is refused from its size; the stream goes on', () => {
    const reader = new CommandReader(LIMITS);
    reader.push(Buffer.from('x1 APPEND INBOX {4097}\r\nx2 NOOP\r\n'));
    expect(reader.next()).toEqual({ kind: 'literal-too-large', tag: 'x1', command: 'APPEND', size: 4097, synchronizing: true });
    expect(text(reader.next())).toEqual(['x2 NOOP', '|']);
  });

  test('a non-synchronizing literal over the limit stops the reader: nothing more is buffered', () => {
    const reader = new CommandReader(LIMITS);
    reader.push(Buffer.from('x1 APPEND INBOX {999999999+}\r\n'));
    reader.push(Buffer.alloc(100_000, 0x41));
    expect(reader.next()).toMatchObject({ kind: 'literal-too-large', synchronizing: false });
    expect(reader.buffered).toBe(0);
    reader.push(Buffer.alloc(100_000, 0x41));
    expect(reader.buffered).toBe(0);
    expect(reader.next()).toBeUndefined();
  });

  test('a literal size too big for any number is refused too', () => {
    const reader = new CommandReader(LIMITS);
    reader.push(Buffer.from('x1 LOGIN {99999999999999999999}\r\n'));
    expect(reader.next()).toMatchObject({ kind: 'literal-too-large', tag: 'x1', command: 'LOGIN' });
  });

  test('a line over the limit is reported once and discarded up to its end, without being kept', () => {
    const reader = new CommandReader(LIMITS);
    reader.push(Buffer.from('t1 SEARCH '));
    reader.push(Buffer.alloc(2000, 0x41));
    expect(reader.next()).toEqual({ kind: 'line-too-long', tag: 't1' });
    expect(reader.buffered).toBe(0);
    reader.push(Buffer.alloc(5000, 0x41));
    expect(reader.next()).toBeUndefined();
    expect(reader.buffered).toBe(0);
    reader.push(Buffer.from('AAA\r\nt2 NOOP\r\n'));
    expect(text(reader.next())).toEqual(['t2 NOOP', '|']);
  });

  test('a complete over-long line in one chunk', () => {
    const reader = new CommandReader(LIMITS);
    reader.push(Buffer.concat([Buffer.from('t1 X '), Buffer.alloc(3000, 0x42), Buffer.from('\r\nt2 NOOP\r\n')]));
    expect(drain(reader)).toEqual([
      { kind: 'line-too-long', tag: 't1' },
      { kind: 'command', command: { segments: [Buffer.from('t2 NOOP')], literals: [] } },
    ]);
  });

  test('the text around literals counts towards the line limit', () => {
    const reader = new CommandReader(LIMITS);
    const part = `${'A'.repeat(600)} {1+}\r\nx`;
    reader.push(Buffer.from(`t1 X ${part}${part}\r\n`));
    const events = drain(reader);
    expect(events[0]).toEqual({ kind: 'line-too-long', tag: 't1' });
  });

  test("raw lines on request (AUTHENTICATE, IDLE's DONE) are not searched for literals", () => {
    const reader = new CommandReader(LIMITS);
    reader.push(Buffer.from('DONE {5}\r\na NOOP\r\n'));
    expect(reader.next('line')).toEqual({ kind: 'line', line: Buffer.from('DONE {5}') });
    expect(text(reader.next())).toEqual(['a NOOP', '|']);
  });

  test('reset() forgets buffered input (STARTTLS)', () => {
    const reader = new CommandReader(LIMITS);
    reader.push(Buffer.from('injected NOOP\r\n'));
    reader.reset();
    expect(reader.next()).toBeUndefined();
  });

  test('abandon() drops a command whose literal was refused before it was sent', () => {
    const reader = new CommandReader(LIMITS);
    reader.push(Buffer.from('a APPEND nothere {10}\r\nb NOOP\r\n'));
    expect(reader.next()?.kind).toBe('continue');
    reader.abandon();
    expect(text(reader.next())).toEqual(['b NOOP', '|']);
  });
});
