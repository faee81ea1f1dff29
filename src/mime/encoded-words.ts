/**
 * RFC 2047 encoded words (`=?charset?Q?...?=`, `=?charset?B?...?=`) in header text, and decoding bytes
 * in a named charset.
 *
 * UTF-8, US-ASCII and ISO-8859-1 — nearly all mail — are decoded here. Other charsets go to libmime's
 * converters (iconv-lite and encoding-japanese), loaded the first time one is met: they cost about 5 MB
 * of memory in every process that loads them, and an IMAP server that only ever sees UTF-8 never needs
 * them (issue 15).
 */
import { createRequire } from 'node:module';

type CharsetDecoder = (bytes: Buffer, charset: string) => string;
let otherCharsets: CharsetDecoder | undefined;

/** libmime's charset converters, loaded on first use (synchronously: header decoding is synchronous). */
function decodeOtherCharset(bytes: Buffer, charset: string): string {
  if (!otherCharsets) {
    const charsetModule = createRequire(import.meta.url)('libmime/lib/charset.js') as { decode: CharsetDecoder };
    otherCharsets = charsetModule.decode;
  }
  return otherCharsets(bytes, charset);
}

/** Decodes bytes in a charset to a JS string; unknown charsets fall back to UTF-8. */
export function decodeCharset(bytes: Buffer, charset: string): string {
  const cs = charset.toLowerCase();
  if (cs === 'utf-8' || cs === 'utf8' || cs === 'us-ascii' || cs === 'ascii' || cs === '') return bytes.toString('utf8');
  if (cs === 'iso-8859-1' || cs === 'latin1') return bytes.toString('latin1');
  try {
    return decodeOtherCharset(bytes, charset);
  } catch {
    return bytes.toString('utf8');
  }
}

// charset (with an RFC 2231 `*language` suffix at most), encoding, text; none may hold `?` or white space.
const ENCODED_WORD = /=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=/g;
const ONLY_WHITE_SPACE = /^[ \t\r\n]*$/;

/** The bytes an encoded word's text stands for. */
function wordBytes(encoding: string, text: string): Buffer {
  if (encoding === 'B' || encoding === 'b') return Buffer.from(text, 'base64');
  // Q (RFC 2047 §4.2): `_` is a space, `=XX` a byte; a broken `=` stays as written.
  const binary = text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(binary, 'latin1');
}

/**
 * Decodes the encoded words in a header's text (RFC 2047 §6). White space between two encoded words is
 * dropped (§6.2), and adjacent words in one charset are joined as bytes before they are decoded, so a
 * character split across two words (as mailers do with long UTF-8 subjects) comes out whole.
 */
export function decodeEncodedWords(text: string): string {
  if (!text.includes('=?')) return text;
  let decoded = '';
  let end = 0;
  let run: { charset: string; bytes: Buffer[] } | undefined;
  for (const match of text.matchAll(ENCODED_WORD)) {
    const before = text.slice(end, match.index);
    const adjacent = run !== undefined && ONLY_WHITE_SPACE.test(before);
    const charset = match[1].split('*')[0].toLowerCase();
    const bytes = wordBytes(match[2], match[3]);
    if (adjacent && run!.charset === charset) {
      run!.bytes.push(bytes);
    } else {
      if (run) decoded += decodeCharset(Buffer.concat(run.bytes), run.charset);
      if (!adjacent) decoded += before;
      run = { charset, bytes: [bytes] };
    }
    end = match.index + match[0].length;
  }
  if (run) decoded += decodeCharset(Buffer.concat(run.bytes), run.charset);
  return decoded + text.slice(end);
}
