/**
 * The data items of FETCH (RFC 3501 §6.4.5) as parsed from the command: macros expanded, RFC822.*
 * mapped onto their BODY[] equivalents, sections parsed by fetch/section.ts.
 */
import { ImapError } from './errors.js';
import { parseSection, SectionSyntaxError, type SectionSpec } from './fetch/section.js';
import type { ArgReader } from './wire/args.js';

/** One FETCH data item, as parsed. */
export type FetchItem =
  | { kind: 'UID' }
  | { kind: 'FLAGS' }
  | { kind: 'INTERNALDATE' }
  | { kind: 'RFC822.SIZE' }
  | { kind: 'MODSEQ' }
  | { kind: 'ENVELOPE' }
  | { kind: 'BODY' }
  | { kind: 'BODYSTRUCTURE' }
  | SectionItem;

/** A piece of the message itself: BODY[section]<partial>, BODY.PEEK[...], RFC822, RFC822.HEADER, RFC822.TEXT. */
export interface SectionItem {
  kind: 'section';
  /** The name in the response: `BODY[...]` (with `<origin>` for a partial) or RFC822, RFC822.HEADER, RFC822.TEXT. */
  label: string;
  section: SectionSpec;
  /** Reading it sets \Seen (not BODY.PEEK, not RFC822.HEADER). */
  setsSeen: boolean;
  partial?: { origin: number; length: number };
}

/** The macros of §6.4.5. */
const MACROS: Record<string, FetchItem['kind'][]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

const SIMPLE = new Set<string>(['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'MODSEQ', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE']);

/** The FETCH item list: a macro, one item, or a parenthesized list of items. */
export function parseFetchItems(args: ArgReader): FetchItem[] {
  if (args.peek() === 0x28) {
    const items = args.list(() => parseItem(args), 'a list of fetch items');
    if (items.length === 0) throw ImapError.bad('The fetch item list is empty');
    return items;
  }
  const first = args.itemName('a fetch item or macro').toUpperCase();
  const macro = MACROS[first];
  if (macro) return macro.map((kind) => ({ kind }) as FetchItem);
  return [parseItem(args, first)];
}

function parseItem(args: ArgReader, already?: string): FetchItem {
  const name = already ?? args.itemName('a fetch item').toUpperCase();
  if ((name === 'BODY' || name === 'BODY.PEEK') && args.accept('[')) {
    const text = args.bracketed();
    let section: SectionSpec;
    try {
      section = parseSection(text);
    } catch (err) {
      if (err instanceof SectionSyntaxError) throw ImapError.bad(`Invalid section [${text}]: ${err.message}`);
      throw err;
    }
    let partial: SectionItem['partial'];
    if (args.accept('<')) {
      const origin = args.number('the partial origin');
      args.expect('.', 'the "." of <origin.length>');
      const length = args.nzNumber('the partial length');
      args.expect('>');
      partial = { origin, length };
    }
    const label = `BODY[${sectionLabel(section)}]${partial ? `<${partial.origin}>` : ''}`;
    return { kind: 'section', label, section, setsSeen: name === 'BODY', ...(partial ? { partial } : {}) };
  }
  switch (name) {
    case 'RFC822':
      return { kind: 'section', label: 'RFC822', section: { part: [] }, setsSeen: true };
    case 'RFC822.HEADER':
      return { kind: 'section', label: 'RFC822.HEADER', section: { part: [], text: 'HEADER' }, setsSeen: false };
    case 'RFC822.TEXT':
      return { kind: 'section', label: 'RFC822.TEXT', section: { part: [], text: 'TEXT' }, setsSeen: true };
  }
  if (SIMPLE.has(name)) return { kind: name } as FetchItem;
  if (name === 'BODY.PEEK') throw ImapError.bad('BODY.PEEK needs a section, e.g. BODY.PEEK[]');
  throw ImapError.bad(`Unknown fetch item ${name}`);
}

/** The section as the response names it: `1.2.HEADER.FIELDS (FROM TO)`, field names upper-cased. */
export function sectionLabel(section: SectionSpec): string {
  let label = section.part.join('.');
  if (section.text) label += (label ? '.' : '') + section.text;
  if (section.fields) {
    const names = section.fields.map((field) =>
      /^[A-Za-z0-9!#$&'+\-.^_`|~]+$/.test(field) ? field.toUpperCase() : `"${field.replace(/["\\]/g, '\\$&')}"`,
    );
    label += ` (${names.join(' ')})`;
  }
  return label;
}
