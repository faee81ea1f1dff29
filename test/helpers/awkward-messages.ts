// Messages that break careless mail code, for byte-exactness tests: each must come back from the
// server exactly as it was stored.
import { randomBytes } from 'node:crypto';

export interface AwkwardMessage {
  name: string;
  raw: Buffer;
}

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n') + '\r\n', 'latin1');

export function awkwardMessages(): AwkwardMessage[] {
  const leadingDots = crlf([
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

  const longLine = crlf(['From: long@example.test', 'Subject: a 5000-character line', '', 'x'.repeat(2500) + 'y'.repeat(2500), 'after']);

  const nested = crlf([
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

  const rfc2231 = crlf([
    'From: params@example.test',
    'Subject: RFC 2231 parameters',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary=x',
    '',
    '--x',
    "Content-Type: application/octet-stream; name*=UTF-8''%E2%82%AC%20rates.txt",
    "Content-Disposition: attachment; filename*0*=UTF-8''%E2%82%AC%20; filename*1=\"rates\"; filename*2=.txt",
    'Content-Transfer-Encoding: base64',
    '',
    'AAECAw==',
    '--x--',
  ]);

  const bareLf = Buffer.from('From: lf@example.test\nSubject: bare LF line ends\n\nline one\nline two\n', 'latin1');

  // ~3 MB: a base64 attachment of random bytes.
  const blob = randomBytes(2_250_000).toString('base64').replace(/.{76}/g, '$&\r\n');
  const large = Buffer.concat([
    crlf(['From: big@example.test', 'Subject: a 3 MB message', 'MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary=big', '', '--big', 'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64', '']),
    Buffer.from(blob + '\r\n--big--\r\n'),
  ]);

  return [
    { name: 'leading dots', raw: leadingDots },
    { name: '8-bit without MIME', raw: eightBit },
    { name: '5000-character line', raw: longLine },
    { name: 'nested multiparts', raw: nested },
    { name: 'RFC 2231 parameters', raw: rfc2231 },
    { name: 'bare LF line ends', raw: bareLf },
    { name: '3 MB message', raw: large },
  ];
}
