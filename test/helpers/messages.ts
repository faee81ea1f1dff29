/** Test messages, built as raw bytes (CRLF), including the awkward ones mail software gets wrong. */
import { randomBytes } from 'node:crypto';

/** A message from lines, each ended by CRLF; by default latin1, so a character below U+0100 is one byte. */
export const crlfLines = (lines: string[], encoding: 'latin1' | 'utf8' = 'latin1'): Buffer =>
  Buffer.from(lines.join('\r\n') + '\r\n', encoding);

/** The same message with every line ending turned into CRLF (a CRLF stays as it is). */
export function toCrlf(raw: Buffer): Buffer {
  return Buffer.from(raw.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

/** The same message with every line ending turned into a bare LF. */
export function toLf(raw: Buffer): Buffer {
  return Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
}

export function simpleMessage(n: number, bodyBytes = 200, from = 'sender@example.org', to = 'alice@example.test'): Buffer {
  const body = `Message number ${n}.\r\n` + 'x'.repeat(Math.max(0, bodyBytes - 30)) + '\r\n';
  return Buffer.from(
    `From: Sender <${from}>\r\nTo: ${to}\r\nSubject: Test message ${n}\r\nDate: Fri, 27 Nov 2026 06:00:00 +0000\r\nMessage-ID: <msg-${n}-${Date.now()}@example.org>\r\n\r\n${body}`,
  );
}

export interface AwkwardMessage {
  name: AwkwardName;
  raw: Buffer;
}

export type AwkwardName =
  | 'leading dots'
  | '8-bit without MIME'
  | '5000-character line'
  | 'nested multiparts'
  | 'RFC 2231 parameters'
  | 'bare LF line ends'
  | 'binary-ish bytes'
  | '3 MB message';

/**
 * Messages that break careless mail code, for byte-exactness tests: each must come back from the
 * server exactly as it was stored. (The bare-LF one cannot pass through POP3 unchanged: RFC 1939 §3
 * lines end in CRLF, and a POP3 server sends its LF line ends as CRLF.)
 */
export function awkwardMessages(): AwkwardMessage[] {
  const leadingDots = crlfLines([
    'From: dots@example.test',
    'Subject: leading dots',
    '',
    '.',
    '..',
    '.hidden line',
    '...three',
    '. ',
    'last line',
  ]);

  // 8-bit bytes with no MIME declaration at all (latin-1 and invalid UTF-8), in header and body.
  const eightBit = Buffer.concat([
    Buffer.from('From: =?x?= J\xf6rg <joerg@example.test>\r\nSubject: Gr\xfc\xdfe aus K\xf6ln\r\n\r\n', 'latin1'),
    Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x82, 0x0d, 0x0a, 0xff, 0xfe, 0x80, 0x0d, 0x0a]),
    Buffer.from('Sch\xf6ne Gr\xfc\xdfe.\r\n', 'latin1'),
  ]);

  const longLine = crlfLines([
    'From: long@example.test',
    'Subject: a 5000-character line',
    '',
    'x'.repeat(2500) + 'y'.repeat(2500),
    'after',
  ]);

  const nested = crlfLines([
    'From: nested@example.test',
    'Subject: nested multiparts',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: multipart/alternative; boundary="b2"',
    '',
    '--b2',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'plain',
    '--b2',
    'Content-Type: multipart/related; boundary="b3"',
    '',
    '--b3',
    'Content-Type: text/html; charset=us-ascii',
    '',
    '<p>html</p>',
    '--b3',
    'Content-Type: image/png',
    'Content-Transfer-Encoding: base64',
    '',
    'iVBORw0KGgo=',
    '--b3--',
    '--b2--',
    '--b1',
    'Content-Type: message/rfc822',
    '',
    'From: inner@example.test',
    'Subject: inner',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="i1"',
    '',
    '--i1',
    'Content-Type: text/plain',
    '',
    'inner text',
    '--i1--',
    '--b1--',
    'epilogue',
  ]);

  const rfc2231 = crlfLines([
    'From: params@example.test',
    'Subject: RFC 2231 parameters',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary=x',
    '',
    '--x',
    "Content-Type: application/octet-stream; name*=UTF-8''%E2%82%AC%20rates.txt",
    'Content-Disposition: attachment; filename*0*=UTF-8\'\'%E2%82%AC%20; filename*1="rates"; filename*2=.txt',
    'Content-Transfer-Encoding: base64',
    '',
    'AAECAw==',
    '--x--',
  ]);

  const bareLf = Buffer.from('From: lf@example.test\nSubject: bare LF line ends\n\nline one\nline two\n', 'latin1');

  // Every byte value but NUL, CR and LF, as an attachment sent without encoding: the line structure stays intact.
  const binaryish = Buffer.alloc(4000);
  for (let i = 0; i < binaryish.length; i++) binaryish[i] = 1 + (i % 254);
  for (let i = 0; i < binaryish.length; i++) if (binaryish[i] === 0x0a || binaryish[i] === 0x0d) binaryish[i] = 0x20;
  const binary = Buffer.concat([
    Buffer.from(
      'From: a@example.org\r\nSubject: binary\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: 8bit\r\n\r\n',
    ),
    binaryish,
    Buffer.from('\r\n'),
  ]);

  // ~3 MB: a base64 attachment of random bytes.
  const blob = randomBytes(2_250_000).toString('base64').replace(/.{76}/g, '$&\r\n');
  const large = Buffer.concat([
    crlfLines([
      'From: big@example.test',
      'Subject: a 3 MB message',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary=big',
      '',
      '--big',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: base64',
      '',
    ]),
    Buffer.from(blob + '\r\n--big--\r\n'),
  ]);

  return [
    { name: 'leading dots', raw: leadingDots },
    { name: '8-bit without MIME', raw: eightBit },
    { name: '5000-character line', raw: longLine },
    { name: 'nested multiparts', raw: nested },
    { name: 'RFC 2231 parameters', raw: rfc2231 },
    { name: 'bare LF line ends', raw: bareLf },
    { name: 'binary-ish bytes', raw: binary },
    { name: '3 MB message', raw: large },
  ];
}

/** One of the awkward messages, by name. */
export function awkwardMessage(name: AwkwardName): Buffer {
  return awkwardMessages().find((message) => message.name === name)!.raw;
}

/** A multi-megabyte message with a base64 attachment. */
export function bigMessage(megabytes: number): Buffer {
  const lines: string[] = [];
  const line = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3';
  const count = Math.ceil((megabytes * 1024 * 1024) / (line.length + 2));
  for (let i = 0; i < count; i++) lines.push(line);
  return Buffer.from(
    `From: a@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${lines.join('\r\n')}\r\n--b--\r\n`,
  );
}
