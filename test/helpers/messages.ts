/** Test messages, built as raw bytes (CRLF), including the awkward ones mail software gets wrong. */

export function simpleMessage(n: number, bodyBytes = 200, from = 'sender@example.org', to = 'alice@example.test'): Buffer {
  const body = `Message number ${n}.\r\n` + 'x'.repeat(Math.max(0, bodyBytes - 30)) + '\r\n';
  return Buffer.from(
    `From: Sender <${from}>\r\nTo: ${to}\r\nSubject: Test message ${n}\r\nDate: Fri, 27 Nov 2026 06:00:00 +0000\r\nMessage-ID: <msg-${n}-${Date.now()}@example.org>\r\n\r\n${body}`,
  );
}

/** Messages that break naive clients: dot lines, 8-bit without MIME, a very long line, binary-ish bytes. */
export function awkwardMessages(): Record<string, Buffer> {
  const eightBit = Buffer.concat([
    Buffer.from('From: a@example.org\r\nTo: alice@example.test\r\nSubject: 8-bit without MIME\r\n\r\n'),
    Buffer.from([0xe9, 0xe8, 0xfc, 0xff, 0x80, 0x0d, 0x0a]),
    Buffer.from('Gr\u00fc\u00dfe aus K\u00f6ln\r\n', 'utf8'),
  ]);
  const binaryish = Buffer.alloc(4000);
  for (let i = 0; i < binaryish.length; i++) binaryish[i] = 1 + (i % 254);
  // Keep the line structure intact: no bare CR or LF inside the bytes.
  for (let i = 0; i < binaryish.length; i++) if (binaryish[i] === 0x0a || binaryish[i] === 0x0d) binaryish[i] = 0x20;
  return {
    dots: Buffer.from('From: a@example.org\r\nSubject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n. \r\nend\r\n'),
    eightBit,
    longLine: Buffer.from(`From: a@example.org\r\nSubject: long\r\n\r\n${'L'.repeat(5000)}\r\n`),
    binaryish: Buffer.concat([Buffer.from('From: a@example.org\r\nSubject: binary\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'), binaryish, Buffer.from('\r\n')]),
    nested: Buffer.from(
      [
        'From: a@example.org',
        'Subject: nested',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="outer"',
        '',
        '--outer',
        'Content-Type: multipart/alternative; boundary="inner"',
        '',
        '--inner',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'plain',
        '--inner',
        'Content-Type: text/html; charset=utf-8',
        '',
        '<p>html</p>',
        '--inner--',
        '--outer',
        'Content-Type: application/pdf; name*0="a very long ";',
        ' name*1="file name.pdf"',
        'Content-Transfer-Encoding: base64',
        '',
        'JVBERi0xLjQK',
        '--outer--',
        '',
      ].join('\r\n'),
    ),
  };
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
