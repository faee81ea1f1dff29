/**
 * A stored message as POP3 sends it (RFC 1939 §3): lines end in CRLF, a line that starts with "." gets
 * one more "." in front (byte-stuffing), and ".\r\n" ends the response. A message stored with CRLF line
 * ends goes out byte for byte, so what a client gets after undoing the stuffing is exactly what was
 * stored; a bare LF (a message that came in that way over IMAP APPEND) goes out as CRLF.
 *
 * The size LIST and STAT report is that of the message with CRLF line ends, before stuffing (RFC 1939
 * §11: the octet count "as transmitted" in CRLF form, and Dovecot's "virtual size"): a client counting
 * the octets of what RETR gave it, with the stuffing undone, gets this number.
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n');
const DOT_BYTE = Buffer.from('.');
const TERMINATOR = Buffer.from('.\r\n');

/** The RFC 1939 size: the stored octets plus one CR for each LF that has none before it. */
export function pop3Size(raw: Buffer): number {
  let size = raw.length;
  for (let lf = raw.indexOf(LF); lf >= 0; lf = raw.indexOf(LF, lf + 1)) {
    if (lf === 0 || raw[lf - 1] !== CR) size += 1;
  }
  return size;
}

/**
 * Where the part TOP sends ends: the header, the empty line after it, and `bodyLines` lines of the body
 * (RFC 1939 §7, TOP). A message without an empty line is all header.
 */
export function topEnd(raw: Buffer, bodyLines: number): number {
  let lineStart = 0;
  // The header: up to and including the first empty line.
  for (;;) {
    const lf = raw.indexOf(LF, lineStart);
    if (lf < 0) return raw.length;
    const empty = lf === lineStart || (lf === lineStart + 1 && raw[lineStart] === CR);
    lineStart = lf + 1;
    if (empty) break;
  }
  let end = lineStart;
  for (let n = 0; n < bodyLines && end < raw.length; n++) {
    const lf = raw.indexOf(LF, end);
    end = lf < 0 ? raw.length : lf + 1;
  }
  return end;
}

/**
 * The pieces to send for `raw` (whole, or up to `end`), stuffed and CRLF-terminated, ending with the
 * ".\r\n" line. Unchanged runs are views into `raw`, so a normal message is sent without copying.
 */
export function transmissionPieces(raw: Buffer, end = raw.length): Buffer[] {
  const pieces: Buffer[] = [];
  let runStart = 0;
  let lineStart = 0;
  while (lineStart < end) {
    if (raw[lineStart] === DOT) {
      if (lineStart > runStart) pieces.push(raw.subarray(runStart, lineStart));
      pieces.push(DOT_BYTE);
      runStart = lineStart;
    }
    const found = raw.indexOf(LF, lineStart);
    const lf = found < 0 || found >= end ? -1 : found;
    if (lf < 0) break;
    if (lf === 0 || raw[lf - 1] !== CR) {
      if (lf > runStart) pieces.push(raw.subarray(runStart, lf));
      pieces.push(CRLF);
      runStart = lf + 1;
    }
    lineStart = lf + 1;
  }
  if (end > runStart) pieces.push(raw.subarray(runStart, end));
  // The last line needs its CRLF before the terminator (a message that does not end in a line break).
  if (end > 0 && raw[end - 1] !== LF) pieces.push(CRLF);
  pieces.push(TERMINATOR);
  return pieces;
}

/** Undoes transmissionPieces (the client side, for tests): the lines between the status line and ".". */
export function unstuff(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let start = 0;
  while (start < body.length) {
    const lf = body.indexOf(LF, start);
    const next = lf < 0 ? body.length : lf + 1;
    const line = body.subarray(start, next);
    if (line.length === 3 && line.equals(TERMINATOR)) break;
    out.push(line[0] === DOT ? line.subarray(1) : line);
    start = next;
  }
  return Buffer.concat(out);
}
