/**
 * The text keys of SEARCH (RFC 3501 §6.4.4): BODY, TEXT, HEADER, FROM/TO/CC/BCC/SUBJECT, answered
 * from the message index (decoded, lower-cased text computed at ingest), never from the raw message.
 * Matching is a case-insensitive substring match on decoded text, as §6.4.4 asks.
 *
 *   C: A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"
 *   S: * SEARCH 2 84 882
 */
import { addressSearchText, type MessageIndex } from '../../../mime/index.js';
import type { AddressField } from './keys.js';

/** A search string in the form the index stores text: lower-cased, line breaks as `\n`. */
export function normalizeNeedle(needle: string): string {
  return needle.replace(/\r\n?/g, '\n').toLowerCase();
}

/**
 * HEADER field-name string: whether a top-level header field of that name contains the string.
 * An empty string matches every message that has the field at all (§6.4.4).
 */
export function headerContains(index: MessageIndex, field: string, needle: string): boolean {
  const name = field.toLowerCase();
  const wanted = normalizeNeedle(needle);
  for (const [key, value] of index.headers) {
    if (key === name && value.includes(wanted)) return true;
  }
  return false;
}

/**
 * The searchable text of each address field, computed once per index object (the store keeps parsed
 * indexes in a cache, so a repeated search over the same messages does not rebuild it).
 */
const addressTexts = new WeakMap<MessageIndex, Partial<Record<AddressField, string>>>();

function addressText(index: MessageIndex, field: AddressField): string {
  let texts = addressTexts.get(index);
  if (!texts) {
    texts = {};
    addressTexts.set(index, texts);
  }
  return (texts[field] ??= addressSearchText(index.envelope[field] ?? []));
}

/**
 * FROM, TO, CC, BCC (RFC 3501 §6.4.4): the field as written (decoded), or any of its addresses read the
 * way addressSearchText writes them, contains the string. So `FROM user@domain.org` finds
 * `<user (comment)@ (comment) domain.org>` and `user@domain.org (Name)` alike, and `TO groupname` finds a
 * group; an empty string matches every message that has the field.
 */
export function addressFieldContains(index: MessageIndex, field: AddressField, needle: string): boolean {
  if (headerContains(index, field, needle)) return true;
  return needle !== '' && addressText(index, field).includes(normalizeNeedle(needle));
}

/** SUBJECT: the decoded Subject contains the string. */
export function subjectContains(index: MessageIndex, needle: string): boolean {
  return headerContains(index, 'subject', needle);
}

/** BODY: the decoded text of the message body contains the string. */
export function bodyContains(index: MessageIndex, needle: string): boolean {
  return index.text.includes(normalizeNeedle(needle));
}

/** TEXT: the header (names and decoded values) or the body contains the string. */
export function textContains(index: MessageIndex, needle: string): boolean {
  const wanted = normalizeNeedle(needle);
  const spansName = wanted.includes(':');
  for (const [key, value] of index.headers) {
    if (value.includes(wanted) || key.includes(wanted)) return true;
    if (spansName && `${key}: ${value}`.includes(wanted)) return true;
  }
  return index.text.includes(wanted);
}
