/**
 * Readable text of a body part for SEARCH BODY/TEXT (RFC 3501 §6.4.4): the content transfer
 * encoding undone (RFC 2045 §6.7, §6.8), the charset converted to a JS string, HTML reduced to its
 * text. Search works on this text, lower-cased, so it is computed once at ingest.
 */
import libqp from 'libqp';
import { decodeCharset } from './encoded-words.js';

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Undoes base64 / quoted-printable; other encodings (7bit, 8bit, binary, unknown) pass through. */
export function decodeTransferEncoding(bytes: Buffer, encoding: string | undefined): Buffer {
  const enc = (encoding ?? '').toLowerCase();
  if (enc === 'base64') return Buffer.from(bytes.toString('latin1'), 'base64');
  if (enc === 'quoted-printable') return libqp.decode(bytes);
  return bytes;
}

/**
 * Bytes in a declared charset to text. Mail that declares no charset or US-ASCII but carries 8-bit
 * bytes (common without MIME) is read as UTF-8 when it is valid UTF-8, otherwise as latin1.
 */
export function bytesToText(bytes: Buffer, charset: string | undefined): string {
  const cs = (charset ?? 'us-ascii').toLowerCase();
  if (cs === 'us-ascii' || cs === 'ascii' || cs === 'utf-8' || cs === 'utf8') {
    try {
      return utf8Strict.decode(bytes);
    } catch {
      return cs.startsWith('utf') ? bytes.toString('utf8') : bytes.toString('latin1');
    }
  }
  return decodeCharset(bytes, cs);
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** The text of an HTML body: scripts, styles and tags removed, common entities resolved. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
      if (name[0] === '#') {
        const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : whole;
      }
      return ENTITIES[name.toLowerCase()] ?? whole;
    })
    .replace(/[ \t\r\n]+/g, ' ');
}
