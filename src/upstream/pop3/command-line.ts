/** Command lines the POP3 client sends (RFC 1939 §3). */
import { Pop3Error } from './errors.js';

/** RFC 1939 §3: commands are lines; a CR or LF inside an argument would smuggle in a second command. */
export function commandLine(text: string): Buffer {
  if (/[\r\n\0]/.test(text)) throw new Pop3Error('protocol', 'a POP3 command argument contains CR, LF or NUL');
  return Buffer.from(`${text}\r\n`, 'utf8');
}

/** A message number as RFC 1939 §4 has them: 1 and up. */
export function messageNumber(msg: number): number {
  if (!Number.isSafeInteger(msg) || msg < 1) throw new Pop3Error('protocol', `not a POP3 message number: ${msg}`);
  return msg;
}
