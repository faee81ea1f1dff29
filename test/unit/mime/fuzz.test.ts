/**
 * Robustness: indexMessage never throws, whatever the bytes; every offset in the index stays inside
 * the message; sections are cut from inside the message; ENVELOPE and BODYSTRUCTURE stay
 * well-formed IMAP data. Random bytes, plus random messages built from MIME-looking lines (random
 * bytes alone almost never form a multipart).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzRuns } from '../../helpers/fuzz.js';
import { indexMessage, type MessageIndex, type MimePart } from '../../../src/mime/index.js';
import { renderEnvelope } from '../../../src/downstream/imap/fetch/envelope.js';
import { renderBodyStructure } from '../../../src/downstream/imap/fetch/bodystructure.js';
import { extractSection, parseSection } from '../../../src/downstream/imap/fetch/section.js';
import { readValue } from './imap-data.js';
import { mimeMessage } from './mime-arbitrary.js';

function checkOffsets(part: MimePart, lo: number, hi: number, size: number): void {
  expect(part.headerStart).toBeGreaterThanOrEqual(lo);
  expect(part.bodyStart).toBeGreaterThanOrEqual(part.headerStart);
  expect(part.bodyEnd).toBeGreaterThanOrEqual(part.bodyStart);
  expect(part.bodyEnd).toBeLessThanOrEqual(Math.min(hi, size));
  for (const child of part.parts ?? []) checkOffsets(child, part.bodyStart, part.bodyEnd, size);
  if (part.message) checkOffsets(part.message.body, part.bodyStart, part.bodyEnd, size);
}

const SECTIONS = [
  '',
  'HEADER',
  'TEXT',
  '1',
  '2',
  '1.1',
  '1.2',
  '2.1',
  '1.1.1',
  '2.2.1',
  '1.MIME',
  '2.MIME',
  '1.1.MIME',
  '1.HEADER',
  '2.TEXT',
  '3.HEADER',
  '1.2.3.4.5.6',
  'HEADER.FIELDS (From Content-Type)',
  '2.HEADER.FIELDS.NOT (Subject)',
].map((s) => ({ spec: s, section: parseSection(s) }));

function checkMessage(raw: Buffer): MessageIndex {
  const index = indexMessage(raw);
  expect(index.size).toBe(raw.length);
  checkOffsets(index.body, 0, raw.length, raw.length);
  expect(JSON.parse(JSON.stringify(index))).toEqual(index);
  readValue(renderEnvelope(index));
  readValue(renderBodyStructure(index, false));
  readValue(renderBodyStructure(index, true));
  for (const { spec, section } of SECTIONS) {
    const bytes = extractSection(raw, index, section);
    if (section.text === 'HEADER.FIELDS' || section.text === 'HEADER.FIELDS.NOT') {
      expect(bytes.length, spec).toBeLessThanOrEqual(raw.length + 4);
    } else if (bytes.length > 0) {
      // A plain section is a view into the stored message, never a copy from elsewhere.
      expect(bytes.buffer, spec).toBe(raw.buffer);
      expect(bytes.byteOffset, spec).toBeGreaterThanOrEqual(raw.byteOffset);
      expect(bytes.byteOffset + bytes.length, spec).toBeLessThanOrEqual(raw.byteOffset + raw.length);
    }
  }
  return index;
}

const mimeLike = mimeMessage({ crlfOnly: false, bogusTypes: true });

describe('indexMessage robustness', () => {
  it('never throws and stays in bounds on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        checkMessage(Buffer.from(bytes));
      }),
      { numRuns: fuzzRuns(300) },
    );
  });

  it('never throws and stays in bounds on random MIME-looking messages', () => {
    fc.assert(
      fc.property(mimeLike, (raw) => {
        checkMessage(raw);
      }),
      { numRuns: fuzzRuns(1000) },
    );
  });

  it('handles a sub-buffer of a larger allocation (offsets are relative to the message)', () => {
    const big = Buffer.from('JUNK BEFORE\r\nContent-Type: text/plain\r\n\r\nbody\r\nJUNK AFTER');
    const raw = big.subarray(13, big.length - 10);
    const index = checkMessage(raw);
    expect(extractSection(raw, index, parseSection('TEXT')).toString()).toBe('body\r\n');
  });

  it('copes with pathological sizes quickly', () => {
    const started = Date.now();
    // 300 nested multiparts (deeper than the 100-level limit).
    let deep = 'leaf\r\n';
    for (let i = 299; i >= 0; i--) deep = `Content-Type: multipart/mixed; boundary=d${i}\r\n\r\n--d${i}\r\n${deep}\r\n--d${i}--\r\n`;
    checkMessage(Buffer.from(deep));
    // 10,000 parts.
    const many = 'Content-Type: multipart/mixed; boundary=m\r\n\r\n' + '--m\r\n\r\nx\r\n'.repeat(10_000) + '--m--\r\n';
    const manyIndex = indexMessage(Buffer.from(many));
    expect(manyIndex.body.parts!.length).toBeGreaterThan(4000);
    // A 2 MB header line and 200,000 lines that start like boundaries.
    indexMessage(Buffer.from(`Subject: ${'=?utf-8?q?a?= '.repeat(150_000)}\r\n\r\nx`));
    indexMessage(Buffer.from('Content-Type: multipart/mixed; boundary=zz\r\n\r\n' + '--z\r\n'.repeat(200_000)));
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
