/** fast-check generators of MIME-looking messages, shared by the fuzz and Dovecot differential tests. */
import fc from 'fast-check';

const BOUNDARIES = ['b', 'bb', 'b1', 'x'];

/** Lines that make parsers work: structure headers, boundaries (also prefixes and closers), junk. */
export function mimeLine(options: { bogusTypes: boolean }): fc.Arbitrary<string> {
  const fixed = [
    '',
    'Content-Type: multipart/mixed; boundary=b',
    'Content-Type: multipart/alternative; boundary="bb"',
    'Content-Type: multipart/digest; boundary=b1',
    'Content-Type: message/rfc822',
    'Content-Type: text/plain; charset=utf-8',
    "Content-Type: text/html; charset*=utf-8''x; name*0=a; name*1*=%E2",
    'Content-Transfer-Encoding: base64',
    'Content-Transfer-Encoding: quoted-printable',
    "Content-Disposition: attachment; filename*=utf-8''%C3%A9",
    'Content-Language: en, fr',
    'From: "A (b)" <a@b>, group: c@d, <@r:e@f>;, (comment) g, <>',
    'To: =?utf-8?q?=C3=A9?= <x@y>, =?bogus?b?!!!?=',
    'Subject: =?utf-8?B?w6k=?= =?iso-2022-jp?B?GyRCJDMbKEI=?=',
    'Date: 31 Feb 99 25:61 XYZ',
    'Message-ID: <m@x>',
    ' continued',
    '\tcontinued',
    'no colon here',
    '=E9=\t=ZZ =',
    'aGVsbG8=',
    '<p>&amp;&#0;&#x110000;</p>',
  ];
  if (options.bogusTypes) fixed.push('Content-Type: bogus', 'Content-Type: text');
  return fc.oneof(
    fc.constantFrom(...fixed),
    fc.constantFrom(...BOUNDARIES).chain((b) => fc.constantFrom(`--${b}`, `--${b}--`, `--${b}  `, `--${b}x`)),
    fc.string({ maxLength: 30 }),
  );
}

/** A message of up to 60 such lines with mixed (or only CRLF) line ends. */
export function mimeMessage(options: { crlfOnly: boolean; bogusTypes: boolean }): fc.Arbitrary<Buffer> {
  const newline = options.crlfOnly ? fc.constant('\r\n') : fc.constantFrom('\r\n', '\n', '\r', '');
  return fc
    .array(fc.tuple(mimeLine(options), newline), { maxLength: 60 })
    .map((lines) => Buffer.from(lines.map(([l, nl]) => l + nl).join(''), 'utf8'));
}
