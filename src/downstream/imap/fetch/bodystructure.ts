/**
 * FETCH BODY and BODYSTRUCTURE (RFC 3501 §7.4.2, grammar in §9 `body`). BODY is the basic form;
 * BODYSTRUCTURE adds the extension data: for a multipart its parameters, disposition, language and
 * location; for a single part its MD5, disposition, language and location. Child bodies of a
 * multipart follow each other without a space (`1*body`), then the subtype.
 *
 *   S: * 1 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1 NIL NIL NIL NIL)
 *      ("application" "pdf" ("name" "a.pdf") NIL NIL "base64" 4096 NIL ("attachment" ("filename" "a.pdf")) NIL NIL)
 *      "mixed" ("boundary" "xyz") NIL NIL NIL))
 */
import type { MessageIndex, MimeParam, MimePart } from '../../../mime/index.js';
import { encodeEnvelope, binaryNString } from './envelope.js';

const NIL = Buffer.from('NIL');
const SP = Buffer.from(' ');
const OPEN = Buffer.from('(');
const CLOSE = Buffer.from(')');

/**
 * What a multipart without any parseable part shows as its one child: IMAP's grammar needs at
 * least one body in a multipart (§9 `body-type-mpart`), and an empty text/plain says "nothing here".
 */
const EMPTY_PART: MimePart = {
  headerStart: 0,
  bodyStart: 0,
  bodyEnd: 0,
  type: 'text',
  subtype: 'plain',
  params: [['charset', 'us-ascii']],
  lines: 0,
};

function params(list: MimeParam[] | undefined): Buffer {
  if (!list || list.length === 0) return NIL;
  const out: Buffer[] = [OPEN];
  list.forEach(([k, v], i) => {
    if (i > 0) out.push(SP);
    out.push(binaryNString(k), SP, binaryNString(v));
  });
  out.push(CLOSE);
  return Buffer.concat(out);
}

function disposition(part: MimePart): Buffer {
  if (!part.disposition) return NIL;
  return Buffer.concat([OPEN, binaryNString(part.disposition.type), SP, params(part.disposition.params), CLOSE]);
}

function language(part: MimePart): Buffer {
  if (!part.language || part.language.length === 0) return NIL;
  const out: Buffer[] = [OPEN];
  part.language.forEach((tag, i) => {
    if (i > 0) out.push(SP);
    out.push(binaryNString(tag));
  });
  out.push(CLOSE);
  return Buffer.concat(out);
}

function encodePart(part: MimePart, extended: boolean, out: Buffer[]): void {
  out.push(OPEN);
  if (part.parts) {
    const children = part.parts.length > 0 ? part.parts : [EMPTY_PART];
    for (const child of children) encodePart(child, extended, out);
    out.push(SP, binaryNString(part.subtype));
    if (extended) {
      out.push(SP, params(part.params), SP, disposition(part), SP, language(part), SP, binaryNString(part.location));
    }
    out.push(CLOSE);
    return;
  }
  out.push(
    binaryNString(part.type),
    SP,
    binaryNString(part.subtype),
    SP,
    params(part.params),
    SP,
    binaryNString(part.id),
    SP,
    binaryNString(part.description),
    SP,
    binaryNString(part.encoding ?? '7bit'),
    SP,
    Buffer.from(String(part.bodyEnd - part.bodyStart)),
  );
  if (part.message) {
    out.push(SP, encodeEnvelope(part.message.envelope), SP);
    encodePart(part.message.body, extended, out);
    out.push(SP, Buffer.from(String(part.lines ?? 0)));
  } else if (part.type.toLowerCase() === 'text') {
    out.push(SP, Buffer.from(String(part.lines ?? 0)));
  }
  if (extended) {
    out.push(SP, binaryNString(part.md5), SP, disposition(part), SP, language(part), SP, binaryNString(part.location));
  }
  out.push(CLOSE);
}

/** BODY (extended=false) or BODYSTRUCTURE (extended=true) of a message, parenthesized. */
export function renderBodyStructure(index: MessageIndex, extended: boolean): Buffer {
  return renderPartStructure(index.body, extended);
}

/** The same for any part of the tree (used for nested messages and by tests). */
export function renderPartStructure(part: MimePart, extended: boolean): Buffer {
  const out: Buffer[] = [];
  encodePart(part, extended, out);
  return Buffer.concat(out);
}
