/**
 * Deterministic test mailboxes for bench/imap.bench.ts: the same seed gives the same bytes, so
 * hotbridge and Dovecot are loaded with identical messages.
 */

import { seededRandom } from '../../test/helpers/random.js';

/** Deterministic numbers in [0, 1): see test/helpers/random.ts. */
export const random = seededRandom;

const WORDS = (
  'the quick brown fox jumps over lazy dog meeting report budget invoice project schedule ' +
  'travel holiday photo family weekend dinner contract update review draft minutes agenda ' +
  'garden kitchen bicycle river mountain coffee letter parcel ticket concert library'
).split(' ');

/** A word that appears in about one message in a hundred (a SEARCH TEXT needle). */
export const RARE_WORD = 'quokka';

function sentence(next: () => number, n: number): string {
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(WORDS[Math.floor(next() * WORDS.length)]);
  return words.join(' ');
}

function textLines(next: () => number, bytes: number, rare: boolean): string {
  const lines: string[] = [];
  let size = 0;
  const rareAt = rare ? Math.floor(next() * 40) : -1;
  for (let i = 0; size < bytes; i++) {
    let line = sentence(next, 6 + Math.floor(next() * 4));
    if (i === rareAt) line += ` ${RARE_WORD}`;
    if (i % 29 === 0) line = `.${line}`;
    lines.push(line);
    size += line.length + 2;
  }
  return lines.join('\r\n') + '\r\n';
}

function base64Lines(next: () => number, bytes: number): string {
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4) data.writeUInt32LE(Math.floor(next() * 2 ** 32), Math.min(i, bytes - 4));
  return data.toString('base64').replace(/.{76}/g, '$&\r\n') + '\r\n';
}

function header(n: number, to: string, subject: string, extra: string): string {
  const day = 1 + (n % 28);
  return (
    `From: Sender ${n % 500} <sender${n % 500}@example.org>\r\n` +
    `To: ${to}\r\n` +
    (n % 7 === 0 ? `Cc: Carol <carol@example.net>, dave@example.net\r\n` : '') +
    `Subject: ${subject}\r\n` +
    `Date: ${['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][n % 7]}, ${day} Mar 2026 10:${String(n % 60).padStart(2, '0')}:00 +0000\r\n` +
    `Message-ID: <imap-bench-${n}@example.org>\r\n` +
    'MIME-Version: 1.0\r\n' +
    extra
  );
}

export interface MixOptions {
  /** Largest attachment in KB (the big 15% of messages get 50 KB up to this). */
  maxAttachmentKb: number;
  /** Seed: different mailboxes, same recipe. */
  seed: number;
}

/**
 * A realistic mix: 60% plain text 2-10 KB (some with an encoded-word Subject), 25%
 * multipart/alternative text + HTML 8-30 KB in quoted-printable, 15% multipart/mixed with a
 * base64 attachment of 50 KB .. maxAttachmentKb. About 1% contain RARE_WORD in the text.
 */
export function mixedMessage(n: number, to: string, options: MixOptions): Buffer {
  const next = random(options.seed * 1_000_003 + n);
  next();
  const r = next();
  const rare = next() < 0.01;
  const subjectWords = sentence(next, 3 + Math.floor(next() * 4));
  if (r < 0.6) {
    const subject = n % 10 === 0 ? `=?UTF-8?B?${Buffer.from(`Grüße ${subjectWords}`).toString('base64')}?=` : `Note ${n}: ${subjectWords}`;
    const head = header(n, to, subject, 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n');
    return Buffer.from(head + textLines(next, 2048 + next() * 8192, rare), 'utf8');
  }
  if (r < 0.85) {
    const boundary = `alt-${n}-boundary`;
    const text = textLines(next, 4096 + next() * 8192, rare);
    const html = `<html><body><p>${textLines(next, 4096 + next() * 8192, false).replace(/\r\n/g, '</p>=\r\n<p>')}</p></body></html>\r\n`;
    const head = header(n, to, `Newsletter ${n}: ${subjectWords}`, `Content-Type: multipart/alternative; boundary="${boundary}"\r\n\r\n`);
    return Buffer.from(
      head +
        `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${text}` +
        `--${boundary}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${html}` +
        `--${boundary}--\r\n`,
      'utf8',
    );
  }
  const boundary = `mixed-${n}-boundary`;
  const attachmentKb = 50 + next() * Math.max(0, options.maxAttachmentKb - 50);
  const head = header(n, to, `Document ${n}: ${subjectWords}`, `Content-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n`);
  return Buffer.from(
    head +
      `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${textLines(next, 1024 + next() * 2048, rare)}` +
      `--${boundary}\r\nContent-Type: application/pdf; name="doc-${n}.pdf"\r\nContent-Disposition: attachment; filename="doc-${n}.pdf"\r\n` +
      `Content-Transfer-Encoding: base64\r\n\r\n${base64Lines(next, Math.floor(attachmentKb * 1024 * 0.75))}` +
      `--${boundary}--\r\n`,
    'utf8',
  );
}

/** A small (~600 byte) message for the 100,000-message mailbox. */
export function smallMessage(n: number, to: string): Buffer {
  return Buffer.from(
    header(n, to, `Small message ${n}`, 'Content-Type: text/plain; charset=us-ascii\r\n\r\n') +
      `Line of message ${n} with some words to index for search.\r\n`.repeat(5),
  );
}
