/**
 * What `hotbridge import` reads: Maildir trees (Maildir++ as Dovecot and Courier keep them, or one
 * directory per folder as mbsync's `SubFolders Verbatim` and Dovecot's LAYOUT=fs do), mbox files (alone
 * or in Thunderbird's `Name` + `Name.sbd/` layout) and folders of `.eml` files. Messages come out one at a
 * time, with the folder they belong in, their flags and their date, and their bytes exactly as in the file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseSentDate } from '../../mime/sent-date.js';
import { flagsFromMaildirName, levelsFromMaildirDir, MaildirKeywords } from './maildir.js';
import { MboxSplitter } from './mbox.js';

/** One message found in the import source. */
export interface SourceMessage {
  /** Folder levels ("Work", "Projects"); the caller maps them to a mailbox name. */
  folder: string[];
  raw: Buffer;
  flags: string[];
  /** Milliseconds since the epoch; undefined when the source says nothing usable. */
  internalDate?: number;
  /** Where it came from (a file, or an mbox file and the message's number in it), for messages to the user. */
  origin: string;
}

/** Something in the source that could not be read; the import goes on without it. */
export interface SourceProblem {
  origin: string;
  problem: string;
}

export type SourceKind = 'maildir' | 'mbox' | 'eml' | 'tree';

/** Files that sit in mail folders but are not mail (indexes, settings, Dovecot's and Thunderbird's own). */
const NOT_MAIL =
  /^(\.|dovecot[.-]|subscriptions$|courier|maildirfolder$|msgFilterRules\.dat$|popstate\.dat$|.*\.(msf|dat|json|html|sqlite|lock)$)/i;

function isDir(file: string): boolean {
  try {
    return fs.statSync(file).isDirectory();
  } catch {
    return false;
  }
}

export function isMaildir(dir: string): boolean {
  return isDir(path.join(dir, 'cur')) && (isDir(path.join(dir, 'new')) || isDir(path.join(dir, 'tmp')));
}

/** Whether a file starts like an mbox file (RFC 4155: the first line is a From line). */
export function looksLikeMbox(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(5);
    return fs.readSync(fd, head, 0, 5, 0) === 5 && head.toString('latin1') === 'From ';
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** What a path holds, to name the default folder and to tell the user what was found. */
export function sourceKind(source: string): SourceKind {
  if (!isDir(source)) {
    if (looksLikeMbox(source)) return 'mbox';
    if (/\.eml$/i.test(source)) return 'eml';
    throw new Error(`${source} is neither an mbox file (it does not start with "From "), an .eml file, nor a directory`);
  }
  if (isMaildir(source)) return 'maildir';
  const entries = fs.readdirSync(source);
  if (
    entries.some((name) => /\.eml$/i.test(name)) &&
    !entries.some((name) => isDir(path.join(source, name)) || looksLikeMbox(path.join(source, name)))
  )
    return 'eml';
  return 'tree';
}

/** "Inbox", "inbox", "INBOX" are INBOX (RFC 3501 §5.1). */
function folderLevel(name: string): string {
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

/** A folder's name from an mbox file's name ("Archive.mbox" is "Archive"). */
export function mboxFolderName(file: string): string {
  return folderLevel(path.basename(file).replace(/\.(mbox|mbx)$/i, ''));
}

/**
 * Reads every message under `source`. `root` is the folder of what lies directly in it (a Maildir's own
 * messages, an mbox file's, loose .eml files); `childBase` the folder its subfolders go below.
 */
export async function* readSource(
  source: string,
  root: string[],
  childBase: string[],
  problems: SourceProblem[],
): AsyncGenerator<SourceMessage> {
  if (!isDir(source)) {
    if (looksLikeMbox(source)) yield* readMbox(source, root, problems);
    else yield* readEml(source, root, problems);
    return;
  }
  if (isMaildir(source)) {
    yield* readMaildirTree(source, root, childBase, problems);
    return;
  }
  yield* readPlainDir(source, root, childBase, problems);
}

/** A directory that is not a Maildir: .eml files belong to `root`; mbox files, Maildirs and directories are folders. */
async function* readPlainDir(dir: string, root: string[], childBase: string[], problems: SourceProblem[]): AsyncGenerator<SourceMessage> {
  const names = fs.readdirSync(dir).sort();
  for (const name of names) {
    const file = path.join(dir, name);
    if (NOT_MAIL.test(name)) continue;
    if (isDir(file)) {
      // Thunderbird keeps the children of folder "X" (the mbox file X) in the directory "X.sbd".
      const level = folderLevel(name.replace(/\.sbd$/i, ''));
      const folder = [...childBase, level];
      if (isMaildir(file)) yield* readMaildirTree(file, folder, folder, problems);
      else yield* readPlainDir(file, folder, folder, problems);
    } else if (/\.eml$/i.test(name)) {
      yield* readEml(file, root.length > 0 ? root : ['INBOX'], problems);
    } else if (looksLikeMbox(file)) {
      yield* readMbox(file, [...childBase, mboxFolderName(name)], problems);
    } else if (fs.statSync(file).size > 0) {
      problems.push({ origin: file, problem: 'not an mbox file, a Maildir or an .eml file: left out' });
    }
  }
}

/** A Maildir, its Maildir++ subfolders (".Sent", ".Work.Projects") and its LAYOUT=fs subfolders. */
async function* readMaildirTree(
  dir: string,
  folder: string[],
  childBase: string[],
  problems: SourceProblem[],
): AsyncGenerator<SourceMessage> {
  yield* readMaildir(dir, folder.length > 0 ? folder : ['INBOX'], problems);
  for (const name of fs.readdirSync(dir).sort()) {
    if (name === 'cur' || name === 'new' || name === 'tmp') continue;
    const child = path.join(dir, name);
    if (!isDir(child)) continue;
    const levels = levelsFromMaildirDir(name);
    if (levels && isMaildir(child)) yield* readMaildir(child, [...childBase, ...levels.map(folderLevel)], problems);
    else if (!name.startsWith('.') && isMaildir(child))
      yield* readMaildirTree(child, [...childBase, folderLevel(name)], [...childBase, folderLevel(name)], problems);
  }
}

/** The files of one Maildir folder (new/ and cur/), in the order its uidlist gives, else by time and name. */
async function* readMaildir(dir: string, folder: string[], problems: SourceProblem[]): AsyncGenerator<SourceMessage> {
  let keywords = new MaildirKeywords();
  try {
    keywords = MaildirKeywords.parse(fs.readFileSync(path.join(dir, 'dovecot-keywords'), 'utf8'));
  } catch {
    // No keywords file: no keyword letters.
  }
  const order = uidlistOrder(dir);
  const files: Array<{ file: string; name: string }> = [];
  for (const sub of ['new', 'cur']) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(path.join(dir, sub));
    } catch (err) {
      problems.push({ origin: path.join(dir, sub), problem: (err as Error).message });
    }
    for (const name of names) if (!name.startsWith('.')) files.push({ file: path.join(dir, sub, name), name });
  }
  const base = (name: string) => name.replace(/[:;!]2,.*$/, '');
  const rank = (name: string) => order.get(base(name)) ?? Number.MAX_SAFE_INTEGER;
  const time = (name: string) => Number(/^(\d+)/.exec(name)?.[1] ?? 0);
  files.sort((a, b) => rank(a.name) - rank(b.name) || time(a.name) - time(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const { file, name } of files) {
    let raw: Buffer;
    let mtime: number;
    try {
      raw = fs.readFileSync(file);
      mtime = fs.statSync(file).mtimeMs;
    } catch (err) {
      problems.push({ origin: file, problem: (err as Error).message });
      continue;
    }
    // Dovecot and Courier take a Maildir file's mtime as its INTERNALDATE.
    yield { folder, raw, flags: flagsFromMaildirName(name, keywords), internalDate: Math.floor(mtime), origin: file };
  }
}

/** Dovecot's `dovecot-uidlist` ("UID [fields] :basename"): the folder's message order, by base name. */
function uidlistOrder(dir: string): Map<string, number> {
  const order = new Map<string, number>();
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, 'dovecot-uidlist'), 'utf8');
  } catch {
    return order;
  }
  for (const line of text.split('\n').slice(1)) {
    const match = /^(\d+)\b.*?:(.+)$/.exec(line);
    if (match) order.set(match[2].replace(/[:;!]2,.*$/, ''), Number(match[1]));
  }
  return order;
}

/** The messages of an mbox file, read in chunks (a file of many GB needs no more memory than its largest message). */
async function* readMbox(file: string, folder: string[], problems: SourceProblem[]): AsyncGenerator<SourceMessage> {
  const splitter = new MboxSplitter();
  let n = 0;
  try {
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) {
      for (const message of splitter.push(chunk as Buffer)) yield { folder, ...message, origin: `${file}, message ${++n}` };
    }
    for (const message of splitter.end()) yield { folder, ...message, origin: `${file}, message ${++n}` };
  } catch (err) {
    problems.push({ origin: file, problem: (err as Error).message });
  }
}

/** One .eml file: no flags; the date is the message's own Date field, else the file's time. */
async function* readEml(file: string, folder: string[], problems: SourceProblem[]): AsyncGenerator<SourceMessage> {
  try {
    const raw = fs.readFileSync(file);
    const sent = dateFieldOf(raw);
    yield { folder, raw, flags: [], internalDate: sent ?? Math.floor(fs.statSync(file).mtimeMs), origin: file };
  } catch (err) {
    problems.push({ origin: file, problem: (err as Error).message });
  }
}

/** The instant in a message's Date field (RFC 5322 §3.6.1), if it has a readable one. */
function dateFieldOf(raw: Buffer): number | undefined {
  const ends = [raw.indexOf('\n\n'), raw.indexOf('\r\n\r\n')].filter((i) => i >= 0);
  const header = raw.toString('latin1', 0, ends.length > 0 ? Math.min(...ends) : Math.min(raw.length, 64 * 1024));
  const match = /(?:^|\n)date:[ \t]*(.*(?:\r?\n[ \t].*)*)/i.exec(header);
  if (!match) return undefined;
  return parseSentDate(match[1].replace(/\r?\n/g, ' '))?.time;
}
