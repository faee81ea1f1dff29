/**
 * indexMessage on the MIME torture fixtures: the tree, its byte offsets, the decoded parameters and
 * the searchable data. What Dovecot would answer is checked in dovecot-reference.test.ts; this file
 * checks the index itself, including what Dovecot cannot show (bare-LF offsets, caps, JSON shape).
 */
import { describe, expect, it } from 'vitest';
import { indexMessage, MAX_SEARCH_TEXT, MESSAGE_INDEX_VERSION, type MimePart } from '../../../src/mime/index.js';
import { decodeParam } from '../../../src/mime/content-params.js';
import { toCrlf, toLf } from '../../helpers/messages.js';
import { fixture } from './fixtures.js';

function slice(raw: Buffer, start: number, end: number): string {
  return raw.toString('latin1', start, end);
}

/** The structure without offsets and sizes, to compare a CRLF message with its bare-LF twin. */
function shape(part: MimePart): unknown {
  return {
    type: part.type,
    subtype: part.subtype,
    params: part.params,
    lines: part.lines,
    parts: part.parts?.map(shape),
    message: part.message ? { envelope: part.message.envelope, body: shape(part.message.body) } : undefined,
  };
}

describe('indexMessage', () => {
  it('is plain JSON and carries its version', () => {
    const index = indexMessage(fixture('03-rfc822-attachment'));
    expect(index.version).toBe(MESSAGE_INDEX_VERSION);
    expect(JSON.parse(JSON.stringify(index))).toEqual(index);
  });

  it('finds nested multipart/mixed + alternative parts at exact offsets', () => {
    const raw = fixture('02-nested-multipart');
    const { body } = indexMessage(raw);
    expect(body.type).toBe('multipart');
    expect(body.parts?.map((p) => `${p.type}/${p.subtype}`)).toEqual(['multipart/alternative', 'application/pdf', 'image/png']);
    const [alt, pdf, png] = body.parts!;
    expect(alt.parts?.map((p) => p.subtype)).toEqual(['plain', 'html']);
    const plain = alt.parts![0];
    expect(slice(raw, plain.headerStart, plain.bodyStart)).toBe(
      'Content-Type: text/plain; charset="iso-8859-1"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n',
    );
    // The CRLF before "--inner-boundary" belongs to the boundary (RFC 2046 §5.1.1), the blank line before it does not.
    expect(slice(raw, plain.bodyStart, plain.bodyEnd)).toBe(
      'The report is attached. Caf=E9 budget is up 10%.\r\nSee the chart =\r\nfor details.\r\n',
    );
    expect(plain.lines).toBe(3);
    expect(slice(raw, pdf.bodyStart, pdf.bodyEnd)).toBe('JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg==\r\n');
    expect(pdf.disposition).toEqual({
      type: 'attachment',
      params: [
        ['filename', 'report.pdf'],
        ['size', '48'],
      ],
    });
    expect(pdf.description).toBe('Q4 report');
    expect(png.id).toBe('<chart@example.test>');
    expect(png.language).toEqual(['en']);
    expect(png.location).toBe('chart.png');
    expect(png.lines).toBeUndefined();
    // The multipart body runs to the end, epilogue included.
    expect(body.bodyEnd).toBe(raw.length);
  });

  it('indexes a message/rfc822 attachment with its own envelope and multipart', () => {
    const raw = fixture('03-rfc822-attachment');
    const index = indexMessage(raw);
    const attached = index.body.parts![1];
    expect(`${attached.type}/${attached.subtype}`).toBe('message/rfc822');
    expect(attached.message?.envelope.subject).toBe('=?utf-8?q?Ursprung_=C3=BCberall?=');
    expect(attached.message?.envelope.sender).toEqual([[null, null, 'list-bounces', 'example.test']]);
    expect(attached.message?.body.parts?.map((p) => p.subtype)).toEqual(['plain', 'html']);
    expect(attached.message?.body.headerStart).toBe(attached.bodyStart);
    expect(attached.lines).toBe(slice(raw, attached.bodyStart, attached.bodyEnd).split('\n').length - 1);
    // The nested message's text and headers are searchable, decoded.
    expect(index.text).toContain('grüße aus dem original.');
    expect(index.text).toContain('ursprung überall');
  });

  it('joins RFC 2231 continuations and decodes charset-tagged values', () => {
    const { body } = indexMessage(fixture('04-rfc2231'));
    const [bin, text, gap] = body.parts!;
    expect(bin.params).toEqual([['name', 'a-very-long-file-name-that-continues-over-lines.bin']]);
    expect(bin.disposition?.params).toEqual([['filename*', "utf-8''%E2%82%AC%20price%20list%C3%A9.txt"]]);
    expect(decodeParam(bin.disposition!.params![0])).toEqual(['filename', '€ price listé.txt']);
    expect(text.disposition?.params).toEqual([['filename*', "iso-8859-1'fr'r%E9sum%E9.txt"]]);
    expect(decodeParam(text.disposition!.params![0])).toEqual(['filename', 'résumé.txt']);
    // A set with a gap in its numbering is not joined (RFC 2231 §3).
    expect(gap.params).toEqual([
      ['title*0', 'first'],
      ['title*2', 'third'],
    ]);
  });

  it('decodes encoded-word headers in several charsets for search, keeps them raw for the envelope', () => {
    const index = indexMessage(fixture('05-encoded-words'));
    const header = (name: string): string => index.headers.find(([k]) => k === name)![1];
    expect(header('subject')).toBe('日本語の件名 und €uro café');
    expect(header('to')).toBe('иван петров <ivan@example.ru>, jörg müller <joerg@example.de>');
    expect(header('cc')).toBe('中文 <zh@example.cn>');
    expect(header('from')).toContain('<yamada@example.jp>');
    expect(index.envelope.to?.[1]).toEqual(['=?iso-8859-1?Q?J=F6rg_M=FCller?=', null, 'joerg', 'example.de']);
    expect(index.text).toBe('der preis beträgt 10 €. grüße!\n');
    expect(index.sentDay).toBe(Date.UTC(2024, 0, 5));
    expect(index.sentTime).toBe(Date.UTC(2024, 0, 5, 1, 30));
  });

  it('gives a bare-LF message the same structure as its CRLF twin, with its own offsets', () => {
    const lf = fixture('06-bare-lf-lf');
    expect(lf.includes('\r')).toBe(false);
    const crlf = toCrlf(lf);
    const a = indexMessage(lf);
    const b = indexMessage(crlf);
    expect(shape(a.body)).toEqual(shape(b.body));
    expect(a.envelope).toEqual(b.envelope);
    const first = a.body.parts![0];
    expect(slice(lf, first.bodyStart, first.bodyEnd)).toBe('first part\nwith two lines');
    expect(slice(lf, first.headerStart, first.bodyStart)).toBe('Content-Type: text/plain\n\n');
    expect(a.text).toBe('first part\nwith two lines\nsecond part\n');
    expect(b.text).toBe(a.text);
  });

  it('bare-LF versions of every CRLF fixture parse to the same shape', () => {
    for (const name of [
      '02-nested-multipart',
      '03-rfc822-attachment',
      '11-bad-boundaries',
      '12-digest',
      '13-boundary-prefix',
      '14-edge-parts',
      '22-double-rfc822',
    ]) {
      const crlf = fixture(name);
      expect(shape(indexMessage(toLf(crlf)).body), name).toEqual(shape(indexMessage(crlf).body));
    }
  });

  it('treats a message without header as all body after the empty line', () => {
    const raw = fixture('07-no-header');
    const { body, envelope, headers } = indexMessage(raw);
    expect(body.headerStart).toBe(0);
    expect(body.bodyStart).toBe(2);
    expect(body.bodyEnd).toBe(raw.length);
    expect(envelope).toEqual({});
    expect(headers).toEqual([]);
  });

  it('treats a message without an empty line as all header', () => {
    const raw = fixture('08-header-only');
    const index = indexMessage(raw);
    expect(index.body.bodyStart).toBe(raw.length);
    expect(index.body.bodyEnd).toBe(raw.length);
    expect(index.envelope.subject).toBe('nothing below');
  });

  it('reads 8-bit text without MIME as UTF-8 where valid, latin1 otherwise', () => {
    const index = indexMessage(fixture('09-8bit-no-mime'));
    expect(index.body.params).toEqual([['charset', 'us-ascii']]);
    expect(index.headers.find(([k]) => k === 'subject')![1]).toBe('8-bit without mime été');
    // The body mixes latin1 and UTF-8 bytes: not valid UTF-8 as a whole, so it reads as latin1.
    expect(index.text).toContain('latin-1 body: café, naïve, über.');
  });

  it('parses groups, routes, comments and broken addresses like Dovecot', () => {
    const { envelope } = indexMessage(fixture('10-addresses'));
    expect(envelope.from).toEqual([['John Q. Public', null, 'john', 'example.test']]);
    expect(envelope.to).toEqual([
      [null, null, 'Friends', null],
      [null, null, 'anna', 'example.test'],
      ['Ben B.', null, 'ben', 'example.test'],
      [null, null, null, null],
      [null, null, 'undisclosed-recipients', null],
      [null, null, null, null],
    ]);
    expect(envelope.cc).toEqual([
      [null, '@relay1.example,@relay2.example', 'routed', 'example.test'],
      [null, null, 'localonly', 'MISSING_DOMAIN'],
      ['Quoted "Nick" Name', null, 'q', 'example.test'],
    ]);
    expect(envelope.bcc?.[1]).toEqual([null, null, 'MISSING_MAILBOX', 'MISSING_DOMAIN']);
    expect(envelope.subject).toBe('spaced   subject');
  });

  it('survives malformed boundaries: unclosed inner multipart ends at the outer boundary', () => {
    const raw = fixture('11-bad-boundaries');
    const { body } = indexMessage(raw);
    // "--badly-named-line" starts with "--bad": RFC 2046 only asks for a prefix match, so it is a
    // boundary line (Dovecot agrees) and opens a fourth, empty part.
    expect(body.parts).toHaveLength(4);
    const inner = body.parts![1];
    expect(inner.parts?.map((p) => p.subtype)).toEqual(['plain', 'html']);
    expect(slice(raw, inner.parts![1].bodyStart, inner.parts![1].bodyEnd)).toBe('<p>still inner</p>');
    expect(slice(raw, body.parts![2].bodyStart, body.parts![2].bodyEnd)).toBe('after the unclosed inner multipart');
    expect(body.parts![3].bodyEnd - body.parts![3].headerStart).toBe(0);
  });

  it('defaults multipart/digest parts to message/rfc822', () => {
    const { body } = indexMessage(fixture('12-digest'));
    expect(body.parts?.map((p) => `${p.type}/${p.subtype}`)).toEqual(['message/rfc822', 'message/rfc822', 'text/plain']);
    expect(body.parts![0].message?.envelope.subject).toBe('first digest item');
  });

  it('keeps a multipart without boundary as a multipart with no parts', () => {
    const { body } = indexMessage(fixture('15-multipart-no-boundary'));
    expect(body.parts).toEqual([]);
  });

  it('caps the decoded search text', () => {
    const line = 'word '.repeat(20) + '\r\n';
    const raw = Buffer.from(`Subject: big\r\n\r\n${line.repeat(Math.ceil((MAX_SEARCH_TEXT * 2) / line.length))}`);
    const index = indexMessage(raw);
    expect(index.text.length).toBe(MAX_SEARCH_TEXT);
    expect(index.textTruncated).toBe(true);
  });

  it('reduces HTML to text and resolves entities', () => {
    const raw = Buffer.from(
      'Content-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>p{color:red}</style></head><body><p>Fish &amp; Chips&nbsp;&#8364;5</p><script>var x;</script></body></html>\r\n',
    );
    const { text } = indexMessage(raw);
    expect(text).toContain('fish & chips €5');
    expect(text).not.toContain('color');
    expect(text).not.toContain('var x');
  });

  it('indexes only the plain alternative of multipart/alternative', () => {
    const index = indexMessage(fixture('02-nested-multipart'));
    expect(index.text).toContain('the report is attached. café budget is up 10%.\nsee the chart for details.');
    expect(index.text).not.toContain('<b>');
    expect(index.text.match(/the report is/g)).toHaveLength(1);
  });

  it('reads obsolete date forms', () => {
    const index = indexMessage(fixture('10-addresses'));
    // "7 Jan 24 13:45 EST": two-digit year, no seconds, named zone (RFC 5322 §4.3).
    expect(index.sentTime).toBe(Date.UTC(2024, 0, 7, 18, 45));
    expect(index.sentDay).toBe(Date.UTC(2024, 0, 7));
  });
});
