/**
 * Maildir as Dovecot, Courier, mutt and mbsync read it (https://cr.yp.to/proto/maildir.html, Maildir++):
 * one directory per folder with `cur/`, `new/` and `tmp/`; INBOX is the root, other folders are
 * `.Name.Child` beside it (Maildir++: "." separates levels, names in modified UTF-7 as Dovecot keeps them);
 * a message is one file whose name ends in the info suffix `:2,` + flag letters in ASCII order.
 *
 * Keywords have no letters of their own in Maildir: Dovecot gives each of up to 26 keywords a letter from
 * `a` on and writes the table to `dovecot-keywords` in the folder ("0 $Forwarded", "1 Junk", …).
 */
import { decodeMailboxName, encodeMailboxName } from '../../mime/mutf7.js';

/** System flags and their info-suffix letters (the letters must appear in ASCII order). */
const FLAG_LETTERS: ReadonlyArray<[flag: string, letter: string]> = [
  ['\\Draft', 'D'],
  ['\\Flagged', 'F'],
  ['\\Answered', 'R'],
  ['\\Seen', 'S'],
  ['\\Deleted', 'T'],
];
/** "P" (passed: resent, forwarded or bounced) has no IMAP system flag; the usual keyword stands for it. */
const PASSED_KEYWORD = '$Forwarded';
/** Dovecot keeps at most this many keyword letters per folder ("a" to "z"). */
export const MAX_MAILDIR_KEYWORDS = 26;

/** Keyword letters of one folder, as in its `dovecot-keywords` file. */
export class MaildirKeywords {
  private readonly byName = new Map<string, number>();
  private readonly byIndex = new Map<number, string>();

  /** Reads a `dovecot-keywords` file's text ("N keyword" per line). */
  static parse(text: string): MaildirKeywords {
    const table = new MaildirKeywords();
    for (const line of text.split(/\r?\n/)) {
      const match = /^(\d+) (\S.*)$/.exec(line);
      if (!match) continue;
      const index = Number(match[1]);
      if (index >= MAX_MAILDIR_KEYWORDS || table.byIndex.has(index)) continue;
      table.byIndex.set(index, match[2]);
      table.byName.set(match[2].toLowerCase(), index);
    }
    return table;
  }

  /** The letter of a keyword, assigning the next free one; undefined when all 26 are taken. */
  letterFor(keyword: string): string | undefined {
    let index = this.byName.get(keyword.toLowerCase());
    if (index === undefined) {
      if (this.byIndex.size >= MAX_MAILDIR_KEYWORDS) return undefined;
      index = this.byIndex.size;
      this.byIndex.set(index, keyword);
      this.byName.set(keyword.toLowerCase(), index);
    }
    return String.fromCharCode(0x61 + index);
  }

  keywordOf(letter: string): string | undefined {
    return this.byIndex.get(letter.charCodeAt(0) - 0x61);
  }

  get size(): number {
    return this.byIndex.size;
  }

  /** The file's text, or undefined when there are no keywords. */
  serialize(): string | undefined {
    if (this.byIndex.size === 0) return undefined;
    return [...this.byIndex]
      .sort(([a], [b]) => a - b)
      .map(([index, keyword]) => `${index} ${keyword}\n`)
      .join('');
  }
}

/**
 * The info suffix for a message's flags (`:2,FRS` plus keyword letters). Keywords beyond the folder's 26
 * letters are returned in `dropped`, so the caller can say so.
 */
export function maildirInfo(flags: readonly string[], keywords: MaildirKeywords): { info: string; dropped: string[] } {
  const lower = new Set(flags.map((flag) => flag.toLowerCase()));
  let letters = '';
  for (const [flag, letter] of FLAG_LETTERS) if (lower.has(flag.toLowerCase())) letters += letter;
  const dropped: string[] = [];
  const keywordLetters: string[] = [];
  for (const flag of flags) {
    if (flag.startsWith('\\')) continue;
    const letter = keywords.letterFor(flag);
    if (letter === undefined) dropped.push(flag);
    else keywordLetters.push(letter);
  }
  return { info: `:2,${letters}${keywordLetters.sort().join('')}`, dropped };
}

/** The flags a Maildir file name carries (none without an info suffix, as in `new/`). */
export function flagsFromMaildirName(fileName: string, keywords: MaildirKeywords): string[] {
  // The suffix separator is ":" on Unix; some Windows tools write "!" or ";" because ":" is not allowed there.
  const match = /[:;!]2,([A-Za-z]*)$/.exec(fileName);
  if (!match) return [];
  const flags: string[] = [];
  for (const letter of match[1]) {
    const system = FLAG_LETTERS.find(([, l]) => l === letter);
    if (system) flags.push(system[0]);
    else if (letter === 'P') flags.push(PASSED_KEYWORD);
    else if (letter >= 'a' && letter <= 'z') {
      const keyword = keywords.keywordOf(letter);
      if (keyword !== undefined) flags.push(keyword);
    }
  }
  return [...new Set(flags)];
}

/** Escapes in a Maildir++ folder level, as Dovecot's listescape writes them: "." separates levels. */
const LEVEL_ESCAPES: ReadonlyArray<[char: string, escape: string]> = [
  ['\\', '\\5c'],
  ['.', '\\2e'],
];

/**
 * The Maildir++ directory of a folder, relative to the Maildir root: "" for INBOX, ".Work.Projects" for
 * "Work/Projects" (levels in modified UTF-7, a "." inside a level written "\2e").
 */
export function maildirFolderDir(levels: readonly string[]): string {
  if (levels.length === 1 && levels[0] === 'INBOX') return '';
  return (
    '.' +
    levels.map((level) => LEVEL_ESCAPES.reduce((text, [char, escape]) => text.split(char).join(escape), encodeMailboxName(level))).join('.')
  );
}

/** The folder levels of a Maildir++ directory name (".Work.Projects"), undefined when it is not one. */
export function levelsFromMaildirDir(dirName: string): string[] | undefined {
  if (!dirName.startsWith('.') || dirName === '.' || dirName === '..') return undefined;
  const levels: string[] = [];
  for (const part of dirName.slice(1).split('.')) {
    if (part.length === 0) return undefined;
    const unescaped = part.replace(/\\([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    levels.push(decodeMailboxName(unescaped) ?? unescaped);
  }
  return levels;
}

/**
 * A unique, stable file name for an exported message (Maildir's "time.unique.host", with Dovecot's
 * `,S=` size), so that exporting into a fresh directory twice gives the same names.
 */
export function maildirFileName(internalDate: number, unique: string, host: string, size: number, info: string): string {
  // "/" and ":" cannot appear in the host part (Maildir spec: written as \057 and \072).
  const safeHost = host.replace(/\//g, '\\057').replace(/:/g, '\\072') || 'localhost';
  return `${Math.floor(internalDate / 1000)}.${unique}.${safeHost},S=${size}${info}`;
}
