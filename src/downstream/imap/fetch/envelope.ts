/**
 * FETCH ENVELOPE (RFC 3501 §7.4.2): `(date subject from sender reply-to to cc bcc in-reply-to
 * message-id)`, built from the raw header values kept in the message index.
 *
 *   S: * 12 FETCH (ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes"
 *      (("Terry Gray" NIL "gray" "cac.washington.edu")) ... NIL NIL "<B27397-0100000@cac.washington.edu>"))
 */
import type { Envelope, AddressParts, MessageIndex } from '../../../mime/index.js';
import { encodeNString } from '../wire/encode.js';

const NIL = Buffer.from('NIL');

/** An nstring from a binary string (one char per byte), so 8-bit header bytes go out unchanged. */
export function binaryNString(value: string | null | undefined): Buffer {
  return value === null || value === undefined ? NIL : encodeNString(Buffer.from(value, 'latin1'));
}

/** `((name adl mailbox host)...)` or NIL for an absent or empty list. */
function addressList(list: AddressParts[] | undefined): Buffer {
  if (!list || list.length === 0) return NIL;
  const parts: Buffer[] = [Buffer.from('(')];
  for (const address of list) {
    parts.push(Buffer.from('('));
    address.forEach((field, i) => {
      if (i > 0) parts.push(Buffer.from(' '));
      parts.push(binaryNString(field));
    });
    parts.push(Buffer.from(')'));
  }
  parts.push(Buffer.from(')'));
  return Buffer.concat(parts);
}

/** Encodes an envelope; sender and reply-to default to from, as RFC 3501 §7.4.2 requires. */
export function encodeEnvelope(env: Envelope): Buffer {
  const fields: Buffer[] = [
    binaryNString(env.date),
    binaryNString(env.subject),
    addressList(env.from),
    addressList(env.sender ?? env.from),
    addressList(env.replyTo ?? env.from),
    addressList(env.to),
    addressList(env.cc),
    addressList(env.bcc),
    binaryNString(env.inReplyTo),
    binaryNString(env.messageId),
  ];
  const out: Buffer[] = [Buffer.from('(')];
  fields.forEach((f, i) => {
    if (i > 0) out.push(Buffer.from(' '));
    out.push(f);
  });
  out.push(Buffer.from(')'));
  return Buffer.concat(out);
}

/** The ENVELOPE of a message, parenthesized, ready to follow `ENVELOPE ` in a FETCH response. */
export function renderEnvelope(index: MessageIndex): Buffer {
  return encodeEnvelope(index.envelope);
}
