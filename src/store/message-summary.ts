/**
 * A message described the way a person recognises it — mailbox, date, sender, subject — for the reports
 * of `hotbridge verify` and `hotbridge repair` ("INBOX, 2024-05-01, Bob <bob@example.org>, "Hello"").
 */
import { decodeHeaderText } from '../mime/content-params.js';
import type { MessageIndex } from '../mime/index.js';

export interface MessageSummary {
  account?: string;
  mailbox?: string;
  uid?: number;
  /** INTERNALDATE, ISO 8601. */
  date?: string;
  from?: string;
  subject?: string;
}

/** Sender and subject from a message's index (undefined parts when it has none). */
export function senderAndSubject(index: MessageIndex | undefined): Pick<MessageSummary, 'from' | 'subject'> {
  if (!index) return {};
  const out: Pick<MessageSummary, 'from' | 'subject'> = {};
  const first = index.envelope.from?.[0];
  if (first) {
    const [name, , mailbox, host] = first;
    const address = mailbox && host ? `${mailbox}@${host}` : (mailbox ?? '');
    const shown = name ? decodeHeaderText(name) : '';
    out.from = shown && address ? `${shown} <${address}>` : shown || address || undefined;
  }
  if (index.envelope.subject !== undefined) out.subject = decodeHeaderText(index.envelope.subject);
  return out;
}

/** One line: `INBOX of ann@x, UID 17, 2024-05-01, from Bob <bob@x>, "Hello"`. */
export function describeSummary(summary: MessageSummary): string {
  const parts: string[] = [];
  if (summary.mailbox !== undefined) parts.push(summary.account ? `${summary.mailbox} of ${summary.account}` : summary.mailbox);
  if (summary.uid !== undefined) parts.push(`UID ${summary.uid}`);
  if (summary.date) parts.push(summary.date.slice(0, 10));
  parts.push(summary.from ? `from ${summary.from}` : 'sender unknown');
  parts.push(summary.subject !== undefined ? `"${summary.subject}"` : 'subject unknown');
  return parts.join(', ');
}
