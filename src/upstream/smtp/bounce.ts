/**
 * The bounce a user finds in INBOX when the provider refused a message for good: a multipart/report
 * (RFC 6522) with a readable explanation, a message/delivery-status part (RFC 3464) naming each failed
 * recipient with the provider's exact reply, and the original message. Old clients show the first
 * part; the second is there for clients and tools that read DSNs.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { encode as qpEncode, wrap as qpWrap } from 'libqp';
import { decodeHeaderText } from '../../mime/content-params.js';
import { readHeaderFields, unfold } from '../../mime/raw-header.js';
import type { OutboxFailure } from '../../store/index.js';

const CRLF = '\r\n';
/** Above this the bounce carries only the original's header (text/rfc822-headers, RFC 6522 §4). */
export const MAX_RETURNED_MESSAGE_BYTES = 10 * 1024 * 1024;

export interface BounceInput {
  /** The account the bounce is for (To:). */
  account: string;
  /** The submitted message, byte for byte. */
  original: Buffer;
  /** When hotbridge accepted the message (Arrival-Date). */
  arrivalDate: number;
  /** Recipients refused for good, each with the provider's reply as received. */
  failures: readonly OutboxFailure[];
  /** Recipients that did get the message (named in the text so the user knows who has it). */
  delivered: readonly string[];
  /** Recipients hotbridge is still trying. */
  stillTrying: readonly string[];
  /** The provider's SMTP host (Remote-MTA). */
  remoteMta: string;
  /** This machine's name (Reporting-MTA). */
  reportingMta: string;
  /** Set when the message expired in the queue: the attempts made and how long it waited. */
  expired?: { attempts: number; ageMs: number };
  now: number;
}

/** The enhanced status code (RFC 3463) in a reply, or one made from its basic code. */
export function statusOf(reply: string, fallback = '5.0.0'): string {
  const enhanced = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply);
  if (enhanced) return enhanced[1];
  const basic = /^([245])\d\d\b/.exec(reply);
  return basic ? `${basic[1]}.0.0` : fallback;
}

/** RFC 5322 §3.3 date-time in UTC. */
export function rfc5322Date(ms: number): string {
  const date = new Date(ms);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${days[date.getUTCDay()]}, ${two(date.getUTCDate())} ${months[date.getUTCMonth()]} ${date.getUTCFullYear()} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`;
}

/** Where the header block of a message ends (just after the blank line, or the end). */
export function headerEnd(raw: Buffer): number {
  for (let pos = 0; pos < raw.length;) {
    if (raw[pos] === 0x0a) return pos + 1;
    if (raw[pos] === 0x0d && raw[pos + 1] === 0x0a) return pos + 2;
    const lf = raw.indexOf(0x0a, pos);
    if (lf < 0) return raw.length;
    pos = lf + 1;
  }
  return raw.length;
}

function originalSubject(raw: Buffer): string {
  const field = readHeaderFields(raw, 0, headerEnd(raw)).find((candidate) => candidate.key === 'subject');
  return field ? decodeHeaderText(unfold(field.value)) : '';
}

/** A reply on one line of printable ASCII, as the Diagnostic-Code field needs (RFC 3464 §2.3.6). */
function oneLine(reply: string): string {
  return reply
    .replace(/\r?\n/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
}

function diagnosticCode(reply: string): string {
  // "smtp" only for an SMTP reply; anything else (connection refused, timeout) is our own text.
  return /^\d{3}([ -]|$)/.test(reply) ? `smtp; ${oneLine(reply)}` : `X-hotbridge; ${oneLine(reply)}`;
}

function humanDuration(ms: number): string {
  const hours = ms / 3_600_000;
  if (hours >= 48) return `${Math.round(hours / 24)} days`;
  if (hours >= 1) return `${Math.round(hours)} hours`;
  return `${Math.max(1, Math.round(ms / 60_000))} minutes`;
}

function explanation(input: BounceInput, subject: string): string {
  const lines: string[] = [];
  lines.push(`This is hotbridge on ${input.reportingMta}, the program that sends your mail on to ${input.remoteMta}.`);
  lines.push('');
  if (input.expired) {
    lines.push(
      `Your message could not be delivered to the recipients below. hotbridge tried ${input.expired.attempts} times ` +
        `over ${humanDuration(input.expired.ageMs)} and has now given up. The last answer is quoted below.`,
    );
  } else {
    lines.push(`Your message could not be delivered to the recipients below. The provider's server refused it;`);
    lines.push(`its exact answer is quoted under each address.`);
  }
  lines.push('');
  lines.push(`  Subject: ${subject === '' ? '(no subject)' : subject}`);
  lines.push(`  Sent:    ${rfc5322Date(input.arrivalDate)}`);
  lines.push('');
  for (const failure of input.failures) {
    lines.push(`<${failure.recipient}>`);
    for (const replyLine of failure.reply.split(/\r?\n/)) lines.push(`    ${replyLine}`);
    lines.push('');
  }
  if (input.delivered.length > 0) {
    lines.push('The message was delivered to:');
    for (const recipient of input.delivered) lines.push(`    <${recipient}>`);
    lines.push('');
  }
  if (input.stillTrying.length > 0) {
    lines.push('hotbridge is still trying to deliver it to:');
    for (const recipient of input.stillTrying) lines.push(`    <${recipient}>`);
    lines.push('');
  }
  lines.push('Your original message is attached.');
  return lines.join(CRLF) + CRLF;
}

function deliveryStatus(input: BounceInput): string {
  const blocks: string[][] = [[`Reporting-MTA: dns; ${input.reportingMta}`, `Arrival-Date: ${rfc5322Date(input.arrivalDate)}`]];
  for (const failure of input.failures) {
    blocks.push([
      `Final-Recipient: rfc822; ${failure.recipient}`,
      'Action: failed',
      // An expired message keeps the transient status of its last reply (RFC 3463: 4.4.7 "delivery time expired").
      `Status: ${statusOf(failure.reply, input.expired ? '4.4.7' : '5.0.0')}`,
      `Remote-MTA: dns; ${input.remoteMta}`,
      `Diagnostic-Code: ${diagnosticCode(failure.reply)}`,
      `Last-Attempt-Date: ${rfc5322Date(input.now)}`,
    ]);
  }
  return blocks.map((block) => block.join(CRLF) + CRLF).join(CRLF);
}

/** Content-Transfer-Encoding for the returned message: it is never re-encoded (RFC 2046 §5.2.1). */
function identityEncoding(raw: Buffer): '7bit' | '8bit' | 'binary' {
  let lineLength = 0;
  let eightBit = false;
  for (const byte of raw) {
    if (byte === 0x0a) {
      lineLength = 0;
      continue;
    }
    if (byte === 0x00) return 'binary';
    if (++lineLength > 998) return 'binary';
    if (byte >= 0x80) eightBit = true;
  }
  return eightBit ? '8bit' : '7bit';
}

/** libmime, loaded the first time a bounce needs an encoded word: it costs some 6 MB in every process that loads it. */
function libmime(): typeof import('libmime').default {
  return createRequire(import.meta.url)('libmime') as typeof import('libmime').default;
}

function headerWord(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) ? text : libmime().encodeWords(text, 'Q', 52);
}

/** Builds the bounce message (CRLF line ends), ready for the account's INBOX. */
export function buildBounce(input: BounceInput): Buffer {
  const boundary = `hotbridge-report-${randomBytes(12).toString('hex')}`;
  const subject = originalSubject(input.original);
  const text = qpWrap(qpEncode(Buffer.from(explanation(input, subject), 'utf8')), 76).replace(/\r?\n/g, CRLF);
  const returnWhole = input.original.length <= MAX_RETURNED_MESSAGE_BYTES;
  const returned = returnWhole ? input.original : input.original.subarray(0, headerEnd(input.original));
  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@hotbridge.invalid>`,
    `To: <${input.account}>`,
    `Subject: ${headerWord(`Undelivered Mail Returned to Sender${subject === '' ? '' : `: ${subject}`}`)}`,
    `Date: ${rfc5322Date(input.now)}`,
    `Message-ID: <${input.now}.${randomBytes(6).toString('hex')}@hotbridge.invalid>`,
    // RFC 3834 §5: an automatic reply; clients and filters must not answer it automatically.
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
  ];
  const parts = [
    Buffer.from(head.join(CRLF) + CRLF + CRLF + 'This is a delivery status report in MIME format.' + CRLF + CRLF),
    Buffer.from(
      `--${boundary}${CRLF}Content-Type: text/plain; charset=utf-8${CRLF}Content-Transfer-Encoding: quoted-printable${CRLF}${CRLF}`,
    ),
    Buffer.from(text.endsWith(CRLF) ? text : text + CRLF),
    Buffer.from(`${CRLF}--${boundary}${CRLF}Content-Type: message/delivery-status${CRLF}${CRLF}`),
    Buffer.from(deliveryStatus(input)),
    Buffer.from(
      `${CRLF}--${boundary}${CRLF}` +
        (returnWhole
          ? `Content-Type: message/rfc822${CRLF}Content-Transfer-Encoding: ${identityEncoding(returned)}${CRLF}`
          : `Content-Type: text/rfc822-headers${CRLF}Content-Transfer-Encoding: ${identityEncoding(returned) === '7bit' ? '7bit' : '8bit'}${CRLF}`) +
        CRLF,
    ),
    returned,
    // The boundary delimiter must start on a line of its own (RFC 2046 §5.1.1).
    Buffer.from(`${returned.length > 0 && returned[returned.length - 1] !== 0x0a ? CRLF : ''}${CRLF}--${boundary}--${CRLF}`),
  ];
  return Buffer.concat(parts);
}
