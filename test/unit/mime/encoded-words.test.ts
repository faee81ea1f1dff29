// RFC 2047 encoded words, decoded by our own code for UTF-8, US-ASCII and ISO-8859-1 and by libmime's
// converters (loaded only then) for other charsets. The results are checked against the text each
// sample encodes, and against libmime's decodeWords (which the code replaces) wherever the two should agree.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import libmime from 'libmime';
import { describe, expect, test } from 'vitest';
import { decodeHeaderText } from '../../../src/mime/content-params.js';
import { decodeEncodedWords } from '../../../src/mime/encoded-words.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const b64 = (bytes: Buffer): string => bytes.toString('base64');
const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');

/** [encoded, what it says] */
const SAMPLES: Array<[string, string]> = [
  ['=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=', 'Grüße'],
  ['=?utf-8?b?R3LDvMOfZQ==?=', 'Grüße'],
  ['=?ISO-8859-1?Q?caf=E9_cr=E8me?=', 'café crème'],
  ['=?us-ascii?Q?plain?=', 'plain'],
  ['Re: =?UTF-8?Q?caf=C3=A9?= and more', 'Re: café and more'],
  ['=?UTF-8?Q?a?= b', 'a b'],
  ['a =?UTF-8?Q?b?=', 'a b'],
  ['=?UTF-8?Q?one?= =?UTF-8?Q?_two?=', 'one two'],
  ['=?UTF-8?Q?one?=\r\n =?UTF-8?Q?two?=', 'onetwo'],
  ['=?ISO-8859-1?Q?=E9?= =?UTF-8?Q?=C3=A9?=', 'éé'],
  ['=?UTF-8*en?Q?Hello?=', 'Hello'],
  ['=?koi8-r?B?8NLJ18XU?=', 'Привет'],
  ['=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=', 'テスト'],
  ['=?UTF-8?Q?unterminated', '=?UTF-8?Q?unterminated'],
  ['no words at all', 'no words at all'],
];

describe('encoded words', () => {
  test.each(SAMPLES)('%j', (encoded, text) => {
    expect(decodeEncodedWords(encoded)).toBe(text);
  });

  test('the same results as libmime.decodeWords', () => {
    for (const [encoded] of SAMPLES) expect(decodeEncodedWords(encoded), encoded).toBe(libmime.decodeWords(encoded));
  });

  test('a UTF-8 character split across two words (base64 and Q) comes out whole', () => {
    const bytes = utf8('日本語のテキスト');
    const [left, right] = [bytes.subarray(0, 7), bytes.subarray(7)];
    expect(decodeEncodedWords(`=?UTF-8?B?${b64(left)}?= =?UTF-8?B?${b64(right)}?=`)).toBe('日本語のテキスト');
    const q = (part: Buffer) => [...part].map((byte) => `=${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('');
    expect(decodeEncodedWords(`=?UTF-8?Q?${q(left)}?=\r\n =?UTF-8?Q?${q(right)}?=`)).toBe('日本語のテキスト');
  });

  test('8-bit UTF-8 header text around encoded words is read as UTF-8 (RFC 6532)', () => {
    const raw = utf8('Grüße, =?UTF-8?Q?caf=C3=A9?=').toString('latin1');
    expect(decodeHeaderText(raw)).toBe('Grüße, café');
  });

  test("libmime's converters are loaded only when a charset other than UTF-8, ASCII or latin1 is met", () => {
    // In a process of its own, since other tests here load them: index a UTF-8 message, then decode koi8-r.
    const script = `
      import { createRequire } from 'node:module';
      import { indexMessage } from './src/mime/index.ts';
      import { decodeEncodedWords } from './src/mime/encoded-words.ts';
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((file) => /[\\\\/](libmime|iconv-lite|encoding-japanese)[\\\\/]/.test(file));
      indexMessage(Buffer.from('Subject: =?UTF-8?Q?caf=C3=A9?=\\r\\nContent-Type: text/plain; charset=utf-8\\r\\n\\r\\ncaf\\u00e9\\r\\n'));
      const before = loaded();
      const text = decodeEncodedWords('=?koi8-r?B?8NLJ18XU?=');
      console.log(JSON.stringify({ before, after: loaded(), text }));
    `;
    const output = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(JSON.parse(output.trim().split('\n').at(-1)!)).toEqual({ before: false, after: true, text: 'Привет' });
  });
});
