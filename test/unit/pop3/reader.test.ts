import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Pop3ResponseReader, MAX_STATUS_LINE, STREAM_CHUNK, type BodySink, type Pop3Response } from '../../../src/upstream/pop3/reader.js';
import { Pop3Error } from '../../../src/upstream/pop3/errors.js';

/** RFC 1939 §3 as a server does it: a leading "." on a line gets another, then ".\r\n" ends the response. */
function dotStuff(message: Buffer): Buffer {
  const lines: Buffer[] = [];
  let start = 0;
  while (start < message.length) {
    const lf = message.indexOf(0x0a, start);
    const end = lf === -1 ? message.length : lf + 1;
    const line = message.subarray(start, end);
    if (line[0] === 0x2e) lines.push(Buffer.from('.'));
    lines.push(line);
    start = end;
  }
  // A message that does not end with CRLF gets one, as a server must before the terminator.
  if (message.length > 0 && !message.subarray(-2).equals(Buffer.from('\r\n'))) lines.push(Buffer.from('\r\n'));
  lines.push(Buffer.from('.\r\n'));
  return Buffer.concat(lines);
}

function multiLineResponse(message: Buffer, status = '+OK message follows'): Buffer {
  return Buffer.concat([Buffer.from(`${status}\r\n`), dotStuff(message)]);
}

/** Feeds `wire` in the given pieces and reads responses of the given shapes as they complete. */
function readAll(pieces: Buffer[], shapes: Array<'single' | 'multi'>, limit?: number): Pop3Response[] {
  const reader = new Pop3ResponseReader();
  const out: Pop3Response[] = [];
  for (const piece of pieces) {
    reader.push(piece);
    for (;;) {
      if (out.length === shapes.length) break;
      const response = reader.read(shapes[out.length], limit);
      if (response === undefined) break;
      out.push(response);
    }
  }
  expect(out).toHaveLength(shapes.length);
  expect(reader.buffered).toBe(0);
  return out;
}

function splitAt(wire: Buffer, points: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let start = 0;
  for (const point of [...points].sort((a, b) => a - b)) {
    pieces.push(Buffer.from(wire.subarray(start, point)));
    start = point;
  }
  pieces.push(Buffer.from(wire.subarray(start)));
  return pieces;
}

function oneByteAtATime(wire: Buffer): Buffer[] {
  return [...wire].map((byte) => Buffer.from([byte]));
}

const AWKWARD = Buffer.concat([
  Buffer.from('From: a@example.test\r\nSubject: dots\r\n\r\n'),
  Buffer.from('.leading dot\r\n'),
  Buffer.from('.\r\n'),
  Buffer.from('..two dots\r\n'),
  Buffer.from('not at start .\r\n'),
  Buffer.from([0x38, 0x2d, 0x62, 0x69, 0x74, 0x3a, 0x20, 0x80, 0x9f, 0xc3, 0xa9, 0xff, 0xfe, 0x0d, 0x0a]),
  Buffer.from('\r\n'),
  Buffer.from('last line\r\n'),
]);

describe('Pop3ResponseReader', () => {
  it('reads single-line responses: +OK, -ERR and a SASL continuation', () => {
    const wire = Buffer.from('+OK POP3 ready <1.2@x>\r\n-ERR [AUTH] Authentication failed.\r\n+ \r\n+\r\n');
    const [ok, err, cont, bare] = readAll([wire], ['single', 'single', 'single', 'single']);
    expect(ok).toEqual({ status: 'ok', text: 'POP3 ready <1.2@x>' });
    expect(err).toEqual({ status: 'err', text: '[AUTH] Authentication failed.' });
    expect(cont).toEqual({ status: 'continue', text: '' });
    expect(bare).toEqual({ status: 'continue', text: '' });
  });

  it('undoes dot-stuffing and stops at "." alone, keeping CRLF and 8-bit bytes', () => {
    const wire = Buffer.concat([
      Buffer.from('+OK 99 octets\r\n'),
      Buffer.from('..x\r\n'),
      Buffer.from('..\r\n'),
      Buffer.from('...\r\n'),
      Buffer.from('a.b\r\n'),
      Buffer.from([0x80, 0xff, 0x0d, 0x0a]),
      Buffer.from('.\r\n'),
    ]);
    const [response] = readAll([wire], ['multi']);
    expect(response.status).toBe('ok');
    expect(response.text).toBe('99 octets');
    expect(response.body).toEqual(Buffer.concat([Buffer.from('.x\r\n.\r\n..\r\na.b\r\n'), Buffer.from([0x80, 0xff, 0x0d, 0x0a])]));
  });

  it('returns an empty body for "+OK" followed directly by the terminator', () => {
    const [response] = readAll([Buffer.from('+OK\r\n.\r\n')], ['multi']);
    expect(response).toEqual({ status: 'ok', text: '', body: Buffer.alloc(0), size: 0 });
  });

  it('gives -ERR to a multi-line command as one line, without waiting for a body', () => {
    const wire = Buffer.from('-ERR no such message\r\n+OK next\r\n');
    const [err, ok] = readAll([wire], ['multi', 'single']);
    expect(err).toEqual({ status: 'err', text: 'no such message' });
    expect(ok).toEqual({ status: 'ok', text: 'next' });
  });

  it('reads the same responses when split at every byte boundary, and when fed one byte at a time', () => {
    const wire = Buffer.concat([
      Buffer.from('+OK hello\r\n'),
      multiLineResponse(AWKWARD),
      Buffer.from('-ERR nope\r\n'),
      multiLineResponse(Buffer.from('.\r\n')),
    ]);
    const shapes: Array<'single' | 'multi'> = ['single', 'multi', 'multi', 'multi'];
    const expected = readAll([wire], shapes);
    expect(expected[1].body).toEqual(AWKWARD);
    expect(expected[3].body).toEqual(Buffer.from('.\r\n'));
    for (let point = 1; point < wire.length; point++) {
      expect(readAll(splitAt(wire, [point]), shapes)).toEqual(expected);
    }
    // Two split points, including the CRLF pairs split from each other and from the dots.
    for (let a = 1; a < wire.length; a += 3) {
      for (let b = a + 1; b < wire.length; b += 5) {
        expect(readAll(splitAt(wire, [a, b]), shapes)).toEqual(expected);
      }
    }
    expect(readAll(oneByteAtATime(wire), shapes)).toEqual(expected);
  });

  it('keeps a lone LF as it came and accepts ".\\n" as the terminator from a sloppy server', () => {
    const [response] = readAll([Buffer.from('+OK\r\nbare\nline\r\n.\n')], ['multi']);
    expect(response.body).toEqual(Buffer.from('bare\nline\r\n'));
  });

  it('fails a body over the limit with TOO-LARGE at the limit, without reading on (an endless answer costs the limit)', () => {
    const big = Buffer.from('0123456789\r\n'.repeat(100));
    const wire = multiLineResponse(big);
    const tenBytes = Array.from({ length: Math.ceil(wire.length / 10) }, (_, i) => wire.subarray(i * 10, i * 10 + 10));
    for (const pieces of [tenBytes, oneByteAtATime(wire)]) {
      const reader = new Pop3ResponseReader();
      let error: unknown;
      let consumed = 0;
      for (const piece of pieces) {
        reader.push(piece);
        consumed += piece.length;
        try {
          expect(reader.read('multi', 100)).toBeUndefined();
        } catch (caught) {
          error = caught;
          break;
        }
      }
      expect(error).toMatchObject({ kind: 'protocol', code: 'TOO-LARGE' });
      // Stopped within a line of the limit: the rest of the answer was never asked for.
      expect(consumed).toBeLessThan('+OK message follows\r\n'.length + 100 + 24);
    }
  });

  it('refuses a listing line longer than MAX_STATUS_LINE instead of buffering it', () => {
    const reader = new Pop3ResponseReader();
    reader.push(Buffer.from('+OK\r\n1 abc\r\n'));
    expect(reader.read('multi')).toBeUndefined();
    reader.push(Buffer.alloc(MAX_STATUS_LINE, 0x41));
    expect(reader.read('multi')).toBeUndefined();
    reader.push(Buffer.from('A'));
    expect(() => reader.read('multi')).toThrow(/listing line longer than/);
  });

  it('streams a body into a sink in pieces of at most STREAM_CHUNK bytes, an over-long line included', () => {
    const reader = new Pop3ResponseReader();
    const pieces: Buffer[] = [];
    const sink: BodySink = { write: (parts, bytes) => void pieces.push(Buffer.concat(parts, bytes)) };
    const longLine = Buffer.concat([Buffer.from('.'), Buffer.alloc(3 * STREAM_CHUNK, 0x61), Buffer.from('\r\n')]);
    const message = Buffer.concat([Buffer.from('Subject: long\r\n\r\n'), longLine, Buffer.from('.\r\nend\r\n')]);
    const wire = Buffer.concat([Buffer.from('+OK\r\nSubject: long\r\n\r\n.'), longLine, Buffer.from('..\r\nend\r\n.\r\n')]);
    let response: Pop3Response | undefined;
    let mostBuffered = 0;
    for (let at = 0; at < wire.length; at += 16 * 1024) {
      reader.push(wire.subarray(at, at + 16 * 1024));
      response = reader.read('multi', Number.MAX_SAFE_INTEGER, sink);
      mostBuffered = Math.max(mostBuffered, reader.buffered);
    }
    expect(response).toEqual({ status: 'ok', text: '', size: message.length });
    expect(Buffer.concat(pieces).equals(message)).toBe(true);
    for (const piece of pieces) expect(piece.length).toBeLessThanOrEqual(STREAM_CHUNK + 64 * 1024);
    // The long line did not wait for its LF: nothing close to it was ever held unparsed.
    expect(mostBuffered).toBeLessThanOrEqual(64 * 1024 + 16 * 1024);
    expect(reader.buffered).toBe(0);
  });

  it('tells whether what follows an answer begins like a status line, and waits when it cannot tell yet', () => {
    const verdict = (bytes: string): boolean | undefined => {
      const reader = new Pop3ResponseReader();
      if (bytes.length > 0) reader.push(Buffer.from(bytes, 'latin1'));
      return reader.nextLooksLikeStatus();
    };
    for (const yes of ['+OK ', '+OK\r\n', '+ok done', '-ERR no', '-err\r\n', '+OK\n']) expect(verdict(yes)).toBe(true);
    for (const no of ['the rest of the message', 'X', '+OKAY', '-ERROR', '.\r\n', '\r\n', '+ \r\n', ' +OK'])
      expect(verdict(no)).toBe(false);
    for (const unsure of ['', '+', '+O', '+OK', '-', '-ER', '-ERR']) expect(verdict(unsure)).toBeUndefined();
  });

  it('accepts a body of exactly the limit', () => {
    const body = Buffer.from('.abc\r\n'.repeat(10)); // 60 bytes after unstuffing
    const [response] = readAll([multiLineResponse(body)], ['multi'], 60);
    expect(response.body).toEqual(body);
  });

  it('rejects a status line that is not POP3 as a protocol error', () => {
    const reader = new Pop3ResponseReader();
    reader.push(Buffer.from('HTTP/1.1 400 Bad Request\r\n'));
    expect(() => reader.read('single')).toThrow(Pop3Error);
    const again = new Pop3ResponseReader();
    again.push(Buffer.from('+OKAY\r\n'));
    try {
      again.read('single');
      expect.unreachable('a malformed status line must throw');
    } catch (error) {
      expect(error).toBeInstanceOf(Pop3Error);
      expect((error as Pop3Error).kind).toBe('protocol');
    }
  });

  it('rejects an endless status line instead of buffering it', () => {
    const reader = new Pop3ResponseReader();
    reader.push(Buffer.alloc(MAX_STATUS_LINE, 0x2b));
    expect(reader.read('single')).toBeUndefined();
    reader.push(Buffer.from('x'));
    expect(() => reader.read('single')).toThrow(/longer than/);
  });

  it('rejects a continuation where a multi-line answer is due', () => {
    const reader = new Pop3ResponseReader();
    reader.push(Buffer.from('+ go on\r\n'));
    expect(() => reader.read('multi')).toThrow(Pop3Error);
  });

  it('reads a 3 MB message in 64 KiB chunks (no quadratic joining: its speed is in npm run bench)', () => {
    const line = Buffer.from(`${'x'.repeat(74)}\r\n`);
    const dotLine = Buffer.from('.dot\r\n');
    const message = Buffer.concat(Array.from({ length: 40_000 }, (_, i) => (i % 97 === 0 ? dotLine : line)));
    const wire = multiLineResponse(message);
    const pieces: Buffer[] = [];
    for (let at = 0; at < wire.length; at += 65536) pieces.push(wire.subarray(at, at + 65536));
    const [response] = readAll(pieces, ['multi']);
    expect(response.body!.equals(message)).toBe(true);
  });

  it('also streams one 5 MB line fed in 1 KiB chunks', () => {
    const message = Buffer.concat([Buffer.alloc(5 * 1024 * 1024, 0x61), Buffer.from('\r\n')]);
    const wire = multiLineResponse(message);
    const reader = new Pop3ResponseReader();
    const pieces: Buffer[] = [];
    let response: Pop3Response | undefined;
    for (let at = 0; at < wire.length; at += 1024) {
      reader.push(wire.subarray(at, at + 1024));
      response = reader.read('multi', Number.MAX_SAFE_INTEGER, { write: (parts, bytes) => void pieces.push(Buffer.concat(parts, bytes)) });
    }
    expect(response?.size).toBe(message.length);
    expect(Buffer.concat(pieces).equals(message)).toBe(true);
  });

  it('property: any message, dot-stuffed and cut into any pieces, comes back byte for byte', () => {
    // Lines of arbitrary bytes except CR and LF (POP3 and maildir are line based), ending in CRLF.
    const lineArb = fc
      .uint8Array({ maxLength: 40 })
      .map((bytes) => Buffer.from(bytes.filter((b) => b !== 0x0a && b !== 0x0d)))
      .chain((bytes) =>
        fc.constantFrom(
          bytes,
          Buffer.concat([Buffer.from('.'), bytes]),
          Buffer.concat([Buffer.from('..'), bytes]),
          Buffer.alloc(0),
          Buffer.from('.'),
        ),
      );
    const messageArb = fc
      .array(lineArb, { maxLength: 30 })
      .map((lines) => Buffer.concat(lines.flatMap((line) => [line, Buffer.from('\r\n')])));
    fc.assert(
      fc.property(fc.array(messageArb, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 12 }), (messages, cuts) => {
        const wire = Buffer.concat(messages.map((message) => multiLineResponse(message)));
        const points = [...new Set(cuts.map((cut) => cut % (wire.length + 1)))];
        const responses = readAll(
          splitAt(wire, points),
          messages.map(() => 'multi'),
        );
        responses.forEach((response, i) => expect(response.body).toEqual(messages[i]));
      }),
      { numRuns: 500 },
    );
  });
});
