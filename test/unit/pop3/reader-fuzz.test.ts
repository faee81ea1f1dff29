// Fuzzing what a POP3 server can send the client's response reader (src/upstream/pop3/reader.ts): whatever
// arrives, the reader either returns responses or throws a Pop3Error, never keeps more than its limits, and
// hands out bodies byte for byte — streamed (as the poller reads messages) or collected (listings) alike.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Pop3Error } from '../../../src/upstream/pop3/errors.js';
import { MAX_STATUS_LINE, Pop3ResponseReader, STREAM_CHUNK, type BodySink, type ResponseShape } from '../../../src/upstream/pop3/reader.js';
import { fuzzRuns } from '../../helpers/fuzz.js';

/** RFC 1939 §3 as a server must do it: a leading "." doubled, a final CRLF if missing, then ".". */
function dotStuff(message: Buffer): Buffer {
  const text = message.toString('latin1');
  const stuffed = text.replace(/^\./gm, '..');
  return Buffer.from(`+OK\r\n${stuffed}${stuffed.length > 0 && !stuffed.endsWith('\r\n') ? '\r\n' : ''}.\r\n`, 'latin1');
}

/** Lines that exercise the dot rules and long lines; bytes are anything but CR and LF. */
const lineArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .uint8Array({ maxLength: 60 })
      .map((bytes) => Buffer.from(bytes.filter((b) => b !== 0x0a && b !== 0x0d)).toString('latin1')),
  },
  { weight: 2, arbitrary: fc.constantFrom('.', '..', '...', '.x', '..x', '', ' .', '-- boundary', '+OK', '-ERR') },
  { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 200_000 }).map((n) => (n % 2 === 0 ? '.' : '') + 'L'.repeat(n)) },
);
const messageArb = fc.array(lineArb, { maxLength: 30 }).map((lines) => Buffer.from(lines.map((line) => `${line}\r\n`).join(''), 'latin1'));

function cutInto(wire: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (wire.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    pieces.push(wire.subarray(start, point));
    start = point;
  }
  pieces.push(wire.subarray(start));
  return pieces.filter((piece) => piece.length > 0);
}

describe('POP3 reader fuzz', () => {
  test('any message, dot-stuffed and cut anywhere, streams out byte for byte in bounded pieces', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 16 }), (messages, cuts) => {
        const wire = Buffer.concat(messages.map(dotStuff));
        const reader = new Pop3ResponseReader();
        const got: Buffer[][] = messages.map(() => []);
        let done = 0;
        const sinkFor = (i: number): BodySink => ({
          write: (parts, bytes) => {
            expect(bytes).toBeLessThanOrEqual(STREAM_CHUNK + 64 * 1024 + wire.length);
            got[i].push(Buffer.concat(parts, bytes));
          },
        });
        for (const piece of cutInto(wire, cuts)) {
          reader.push(piece);
          for (;;) {
            if (done === messages.length) break;
            const response = reader.read('multi', Number.MAX_SAFE_INTEGER, sinkFor(done));
            if (response === undefined) break;
            expect(response.size).toBe(messages[done].length);
            done++;
          }
        }
        expect(done).toBe(messages.length);
        messages.forEach((message, i) => expect(Buffer.concat(got[i]).equals(message)).toBe(true));
        expect(reader.buffered).toBe(0);
      }),
      { numRuns: fuzzRuns(300) },
    );
  });

  test('streamed and collected bodies are the same bytes', () => {
    fc.assert(
      fc.property(messageArb, fc.array(fc.nat(), { maxLength: 8 }), (message, cuts) => {
        const wire = dotStuff(message);
        const collected = new Pop3ResponseReader();
        const streamed = new Pop3ResponseReader();
        const pieces: Buffer[] = [];
        let collectedBody: Buffer | undefined;
        let streamedDone = false;
        for (const piece of cutInto(wire, cuts)) {
          collected.push(piece);
          streamed.push(piece);
          try {
            collectedBody ??= collected.read('multi')?.body;
          } catch (error) {
            // A collected body refuses lines over MAX_STATUS_LINE (it is for listings); streaming takes them.
            expect(String(error)).toMatch(/listing line longer/);
            collectedBody = message;
          }
          streamedDone ||=
            streamed.read('multi', Number.MAX_SAFE_INTEGER, { write: (parts, bytes) => void pieces.push(Buffer.concat(parts, bytes)) }) !==
            undefined;
        }
        expect(streamedDone).toBe(true);
        expect(collectedBody).toBeDefined();
        expect(Buffer.concat(pieces).equals(collectedBody!)).toBe(true);
      }),
      { numRuns: fuzzRuns(200) },
    );
  });

  // Bytes that look like POP3 often enough to reach every state of the reader.
  const pop3ish = fc.oneof(
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 80 }).map((bytes) => Buffer.from(bytes)) },
    {
      weight: 3,
      arbitrary: fc
        .constantFrom('+OK\r\n', '-ERR x\r\n', '+ \r\n', '.\r\n', '..\r\n', '\r\n', '\n', '.', '\r', '+OK', 'line\r\n', '+OKAY\r\n')
        .map((s) => Buffer.from(s)),
    },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 100_000 }).map((n) => Buffer.alloc(n, 0x41)) },
  );

  test('random bytes: responses or a Pop3Error, never another exception, never an unbounded backlog', () => {
    fc.assert(
      fc.property(
        fc.array(pop3ish, { maxLength: 40 }),
        fc.array(fc.constantFrom<ResponseShape | 'stream'>('single', 'multi', 'stream'), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 200_000 }),
        (chunks, shapes, limit) => {
          const reader = new Pop3ResponseReader();
          let step = 0;
          let streamed = 0;
          const sink: BodySink = { write: (_parts, bytes) => void (streamed += bytes) };
          try {
            for (const chunk of chunks) {
              reader.push(chunk);
              for (;;) {
                const shape = shapes[step % shapes.length];
                const response = shape === 'stream' ? reader.read('multi', limit, sink) : reader.read(shape, limit);
                if (response === undefined) break;
                step++;
                if (response.body) expect(response.body.length).toBeLessThanOrEqual(limit);
                if (response.size !== undefined) expect(response.size).toBeLessThanOrEqual(limit);
              }
              // What waits unparsed is at most one line in progress (a status line, a listing line, or the
              // start of a long streamed line), plus the chunk that just came.
              expect(reader.buffered).toBeLessThanOrEqual(MAX_STATUS_LINE + chunk.length);
            }
          } catch (error) {
            expect(error).toBeInstanceOf(Pop3Error);
          }
          expect(streamed).toBeLessThanOrEqual(limit * chunks.length + limit);
        },
      ),
      { numRuns: fuzzRuns(400) },
    );
  });

  test('an endless body stops at its limit: TOO-LARGE, with no more than the limit read into it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 200, max: 70_000 }), fc.boolean(), (limit, chunkSize, stream) => {
        const reader = new Pop3ResponseReader();
        reader.push(Buffer.from('+OK\r\n'));
        const chunk = Buffer.from('endless line, endless line\r\n'.repeat(Math.ceil(chunkSize / 28)).slice(0, chunkSize));
        let taken = 0;
        const sink: BodySink = { write: (_parts, bytes) => void (taken += bytes) };
        let pushed = 0;
        let error: unknown;
        while (error === undefined && pushed < limit + 2 * chunkSize + 200_000) {
          reader.push(chunk);
          pushed += chunk.length;
          try {
            expect(stream ? reader.read('multi', limit, sink) : reader.read('multi', limit)).toBeUndefined();
          } catch (caught) {
            error = caught;
          }
        }
        // Streamed: cut at the limit. Collected (a listing): the same, or earlier for a line without end.
        if (stream || chunk.includes(0x0a)) expect(error).toMatchObject({ kind: 'protocol', code: 'TOO-LARGE' });
        else expect(error).toMatchObject({ kind: 'protocol' });
        expect(taken).toBeLessThanOrEqual(limit);
        // It stopped within a chunk (and a line) of the limit: the rest was never asked for.
        expect(pushed).toBeLessThanOrEqual(limit + chunk.length + MAX_STATUS_LINE + 5);
      }),
      { numRuns: fuzzRuns(100) },
    );
  });
});
