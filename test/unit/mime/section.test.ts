/**
 * BODY[section]<partial>: the section grammar (RFC 3501 §9 section-spec) and byte extraction on
 * messages Dovecot cannot show us as stored (bare LF), plus a few RFC 3501 §6.4.5 examples.
 * Dovecot's own answers for the fixtures are compared in dovecot-reference.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { indexMessage } from '../../../src/mime/index.js';
import { extractSection, findPart, parseSection, partial, SectionSyntaxError } from '../../../src/downstream/imap/fetch/section.js';
import { fixture } from './fixtures.js';

describe('parseSection', () => {
  it.each([
    ['', { part: [] }],
    ['HEADER', { part: [], text: 'HEADER' }],
    ['text', { part: [], text: 'TEXT' }],
    ['1', { part: [1] }],
    ['4.2.1', { part: [4, 2, 1] }],
    ['1.2.MIME', { part: [1, 2], text: 'MIME' }],
    ['3.HEADER', { part: [3], text: 'HEADER' }],
    ['3.TEXT', { part: [3], text: 'TEXT' }],
    ['HEADER.FIELDS (From To)', { part: [], text: 'HEADER.FIELDS', fields: ['From', 'To'] }],
    ['1.2.header.fields.not ("Subject" {8}\r\nX-Spam-1)', { part: [1, 2], text: 'HEADER.FIELDS.NOT', fields: ['Subject', 'X-Spam-1'] }],
    ['HEADER.FIELDS (Content-Type)', { part: [], text: 'HEADER.FIELDS', fields: ['Content-Type'] }],
  ])('reads %j', (spec, expected) => {
    expect(parseSection(spec)).toEqual(expected);
  });

  it.each([
    '0',
    '1.0',
    '01',
    '1.',
    '.1',
    'MIME',
    'HEADERS',
    'HEADER.FIELDS',
    'HEADER.FIELDS ()',
    'HEADER.FIELDS (From',
    'TEXT junk',
    '1..2',
    'HEADER.FIELDS From',
    '1.MIME.1',
    '99999999999',
  ])('refuses %j', (spec) => {
    expect(() => parseSection(spec)).toThrow(SectionSyntaxError);
  });
});

describe('extractSection', () => {
  const lf = fixture('06-bare-lf-lf');
  const lfIndex = indexMessage(lf);
  const get = (raw: Buffer, spec: string): string => extractSection(raw, indexMessage(raw), parseSection(spec)).toString('latin1');

  it('cuts bare-LF messages at their own line ends', () => {
    expect(extractSection(lf, lfIndex, parseSection('1')).toString()).toBe('first part\nwith two lines');
    expect(extractSection(lf, lfIndex, parseSection('1.MIME')).toString()).toBe('Content-Type: text/plain\n\n');
    expect(extractSection(lf, lfIndex, parseSection('2')).toString()).toBe('c2Vjb25kIHBhcnQ=');
    expect(extractSection(lf, lfIndex, parseSection('HEADER.FIELDS (subject FROM)')).toString()).toBe(
      'From: lf@example.test\nSubject: bare LF line endings\n\n',
    );
    const header = extractSection(lf, lfIndex, parseSection('HEADER'));
    const text = extractSection(lf, lfIndex, parseSection('TEXT'));
    expect(Buffer.concat([header, text]).equals(lf)).toBe(true);
  });

  it('HEADER + TEXT of a nested message/rfc822 part add up to the part', () => {
    const raw = fixture('03-rfc822-attachment');
    expect(get(raw, '2.HEADER') + get(raw, '2.TEXT')).toBe(get(raw, '2'));
    expect(get(raw, '2.HEADER')).toMatch(/^Date: Mon, 1 Jan 2024[\s\S]*boundary="orig-alt"\r\n\r\n$/);
    // eslint-disable-next-line no-control-regex -- "not ASCII" is the range from NUL
    expect(get(raw, '2.1')).toBe('Grüße aus dem Original.\r\n'.replace(/[^\x00-\x7f]/g, (c) => Buffer.from(c).toString('latin1')));
    expect(get(raw, '2.2.MIME')).toBe('Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n');
    expect(get(raw, '3.1')).toBe('Just a single-part inner message.');
    expect(get(raw, '3.HEADER.FIELDS (FROM)')).toBe('From: inner@example.test\r\n\r\n');
  });

  it('HEADER.FIELDS keeps message order and whole folded lines; NOT keeps the rest', () => {
    const raw = fixture('01-simple');
    expect(get(raw, 'HEADER.FIELDS (subject received date)')).toBe(
      'Received: from mx.example.test (mx.example.test [192.0.2.1])\r\n\tby mail.example.test with ESMTPS id abc123\r\n\tfor <bob@example.test>; Tue, 02 Jan 2024 09:15:00 +0100\r\n' +
        'Date: Tue, 2 Jan 2024 09:14:59 +0100\r\nSubject: Lunch on Friday?\r\n\r\n',
    );
    const all = get(raw, 'HEADER');
    const not = get(raw, 'HEADER.FIELDS.NOT (Received Return-Path)');
    expect(not.startsWith('Date: ')).toBe(true);
    expect(all.endsWith(not)).toBe(true);
    expect(get(raw, 'HEADER.FIELDS (X-Nothing)')).toBe('\r\n');
  });

  it('gives nothing for parts that do not exist or do not fit the specifier', () => {
    const raw = fixture('01-simple');
    for (const spec of ['2', '1.1', '1.HEADER', '1.TEXT', '3.MIME']) expect(get(raw, spec), spec).toBe('');
    expect(get(raw, '1')).toBe(get(raw, 'TEXT'));
  });

  it('numbers a top-level message/rfc822 body into the encapsulated message', () => {
    const raw = fixture('19-top-level-rfc822');
    const index = indexMessage(raw);
    expect(findPart(index.body, [1])).toBe(index.body);
    expect(get(raw, '1.1')).toBe('wrapped text');
    expect(get(raw, '1.HEADER')).toMatch(/^From: wrapped@example.test\r\n/);
  });
});

describe('partial', () => {
  const bytes = Buffer.from('0123456789');
  it.each([
    [0, 4, '0123'],
    [8, 10, '89'],
    [10, 5, ''],
    [11, 5, ''],
    [3, 0, ''],
    [3, undefined, '3456789'],
  ])('<%d.%s>', (origin, length, expected) => {
    expect(partial(bytes, origin, length).toString()).toBe(expected);
  });
});
