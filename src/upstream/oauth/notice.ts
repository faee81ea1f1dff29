/**
 * The message hotbridge puts into an account's INBOX once when its Microsoft sign-in stops working, so that
 * someone who only ever looks at an old mail client learns what to do. A plain RFC 5322 message with CRLF
 * line ends, ASCII unless the address itself is not (then UTF-8 per RFC 6532, with an RFC 2047 encoded subject).
 */
import crypto from 'node:crypto';

const ASCII = /^[\x20-\x7e]*$/;

/** RFC 2047 §4.1 "B" encoded words of at most 75 characters each, split between characters, never inside one. */
function encodedWords(text: string): string {
  const words: string[] = [];
  let chunk = '';
  for (const ch of text) {
    // The base64 of 45 bytes is 60 characters; with "=?UTF-8?B?" and "?=" a word is 72 characters.
    if (Buffer.byteLength(chunk + ch) > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk !== '') words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join('\r\n ');
}

/** The notice as raw message bytes, ready to be stored as a new INBOX message. */
export function signInNeededNotice(address: string, now: Date = new Date()): Buffer {
  const subject = `hotbridge: sign-in needed for ${address}`;
  const ascii = ASCII.test(address);
  const body = [
    `hotbridge can no longer fetch or send mail for ${address}:`,
    'Microsoft no longer accepts its sign-in (it was revoked, the password was',
    'changed, or it was not used for too long).',
    '',
    'To fix it, run this on the computer where hotbridge runs:',
    '',
    `    hotbridge login ${address}`,
    '',
    'and follow what it says: open the page it shows in any web browser (a',
    'phone will do) and type in the code.',
    '',
    'Until then, the mail already here stays readable as usual. New mail is not',
    'fetched, and mail you send waits in the outbox; it goes out by itself once',
    'you have signed in again.',
    '',
    '-- ',
    'hotbridge (this message was written on your own computer)',
    '',
  ];
  const headers = [
    `Date: ${now.toUTCString().replace('GMT', '+0000')}`,
    'From: hotbridge <hotbridge@localhost>',
    // An address cannot be an encoded word (RFC 2047 §5); a non-ASCII one goes as UTF-8 (RFC 6532 §3.2).
    `To: <${address}>`,
    `Subject: ${ascii ? subject : encodedWords(subject)}`,
    `Message-ID: <signin-needed.${now.getTime()}.${crypto.randomBytes(6).toString('hex')}@hotbridge.localhost>`,
    'MIME-Version: 1.0',
    `Content-Type: text/plain; charset=${ascii ? 'us-ascii' : 'utf-8'}`,
    `Content-Transfer-Encoding: ${ascii ? '7bit' : '8bit'}`,
    'Auto-Submitted: auto-generated',
  ];
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body.join('\r\n')}`, 'utf8');
}
