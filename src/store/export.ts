/**
 * `hotbridge export --format maildir|mbox DIR [--mailbox NAME]`: every folder, every message byte for byte,
 * with its flags and INTERNALDATE, in a form other mail software reads.
 *
 * - Maildir (maildir.ts): INBOX is DIR itself, other folders Maildir++ subfolders (".Sent"); a file's
 *   mtime is its INTERNALDATE and its info suffix its flags; keywords in `dovecot-keywords`, and a
 *   `dovecot-uidlist` that keeps the UIDs and UIDVALIDITY, so Dovecot serves the folders as they were.
 * - mbox (mbox.ts): one file per folder, in Thunderbird's layout (folder "Work/2024" is DIR/Work.sbd/2024),
 *   which mutt and Dovecot read as well.
 *
 * Reads only through the store's public operations, so it works on the daemon's live store too. A message
 * the store cannot read (damaged) is left out and named in the report; the export goes on.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { StoreError } from './errors.js';
import { MappedPages } from './mapped-pages.js';
import { maildirFileName, maildirFolderDir, maildirInfo, MaildirKeywords } from './formats/maildir.js';
import { encodeMboxEntry } from './formats/mbox.js';
import { HIERARCHY_DELIMITER } from './mailboxes.js';
import type { MailboxRecord, MessageRecord } from './records.js';
import type { Store } from './store.js';

export type ExportFormat = 'maildir' | 'mbox';

export interface ExportOptions {
  format: ExportFormat;
  /** Only this mailbox (and none of its children). */
  mailbox?: string;
  /** Only this account; by default every account (in a directory each when there are several). */
  account?: string;
  /**
   * This process has the store to itself (no daemon): LevelDB is reopened now and then to unmap the table
   * files read so far (their pages count in the RSS, see exportStore). Otherwise the blobs of each group
   * are retained while it is read, so a message expunged meanwhile still comes out whole.
   */
  exclusive?: boolean;
  onProgress?: (done: number) => void;
}

export interface ExportReport {
  dir: string;
  format: ExportFormat;
  mailboxes: number;
  messages: number;
  bytes: number;
  /** Messages left out because the store could not read them. */
  skipped: Array<{ account: string; mailbox: string; uid: number; problem: string }>;
  /** Keywords Maildir had no letter for (more than 26 in one folder). */
  droppedKeywords: number;
  seconds: number;
}

/** Messages read between two yields to the event loop (the daemon keeps serving during an export). */
const YIELD_EVERY = 32;
/**
 * Messages planned and read together. The plan keeps about 60 bytes a message (typed arrays, the blob ids
 * as binary), so a group of this many costs ~4 MB while its messages are read in the order of their blobs.
 */
const GROUP = 65_536;

/**
 * Exports into `dir`, which must not exist or be empty (an export never mixes with other files).
 *
 * Where the memory goes: LevelDB memory-maps the table files it reads, and every read of a message maps
 * the pages around it (the kernel maps 64 KB around a page fault), which count in the RSS. Messages are
 * stored under their hash, so reading them in UID order jumps all over the tables and maps ~60 KB a
 * message until LevelDB drops the table. So the messages of a group are first planned (mailbox, UID,
 * date, flags, blob id), then read in the order of their blob ids: each table is read through once, front
 * to back, and `exclusive` exports reopen LevelDB (which unmaps what was read) whenever the mapped pages
 * grew by 8 MB (mapped-pages.ts). Maildir files are written in that order; an mbox file must have its
 * messages in UID order, so for mbox the group is read twice: once for the length of each entry (which
 * gives every entry its place in the file), once to write each entry at its place.
 */
export async function exportStore(store: Store, dir: string, options: ExportOptions): Promise<ExportReport> {
  const started = performance.now();
  const root = path.resolve(dir);
  if (fs.existsSync(root) && fs.readdirSync(root).length > 0) throw new Error(`${root} is not empty; export into a new or empty directory`);
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  const accounts = options.account ? [options.account.toLowerCase()] : store.listAccounts().sort();
  const report: ExportReport = {
    dir: root,
    format: options.format,
    mailboxes: 0,
    messages: 0,
    bytes: 0,
    skipped: [],
    droppedKeywords: 0,
    seconds: 0,
  };
  const writer = options.format === 'maildir' ? new MaildirWriter(report) : new MboxWriter(report);
  const reader = new SortedReader(store, report, options);
  const plan = new Plan();
  try {
    for (const account of accounts) {
      let mailboxes = store.listMailboxes(account);
      if (options.mailbox !== undefined) {
        const only = store.findMailbox(account, options.mailbox);
        if (!only) throw new StoreError('not-found', `${account} has no mailbox ${options.mailbox}`);
        mailboxes = [only];
      }
      const base = accounts.length > 1 ? path.join(root, account) : root;
      for (const mailbox of mailboxes) {
        report.mailboxes++;
        const levels =
          options.format === 'maildir'
            ? options.mailbox !== undefined
              ? ['INBOX']
              : mailbox.name.split(HIERARCHY_DELIMITER)
            : options.mailbox !== undefined
              ? [mailbox.name.split(HIERARCHY_DELIMITER).pop()!]
              : mailbox.name.split(HIERARCHY_DELIMITER);
        const folder = writer.folder(base, mailbox, levels);
        // Read from disk a batch at a time (a big mailbox's list is not kept in memory for this).
        for await (const batch of store.streamMessages(mailbox.id))
          for (const message of batch) {
            writer.plan(plan, folder, message);
            if (plan.length >= GROUP) await writeGroup(plan, reader, writer);
          }
      }
    }
    await writeGroup(plan, reader, writer);
    writer.finish();
  } finally {
    writer.close();
  }
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

async function writeGroup(plan: Plan, reader: SortedReader, writer: MaildirWriter | MboxWriter): Promise<void> {
  if (plan.length === 0) return;
  await writer.write(plan, reader);
  plan.clear();
}

/** Strings (flag lists, info suffixes) that many messages share, kept once and referred to by number. */
class Interned<T> {
  private readonly numbers = new Map<string, number>();
  readonly values: T[] = [];

  number(key: string, value: T): number {
    let n = this.numbers.get(key);
    if (n === undefined) {
      n = this.values.length;
      this.numbers.set(key, n);
      this.values.push(value);
    }
    return n;
  }
}

/** The messages of a group, in export order (folder by folder, by UID), in typed arrays. */
class Plan {
  length = 0;
  folder = new Uint32Array(GROUP);
  uid = new Uint32Array(GROUP);
  date = new Float64Array(GROUP);
  /** The message's size; once it is read, the size of its bytes, or -1 when they could not be read. */
  size = new Float64Array(GROUP);
  /** What the writer keeps of the flags (Interned). */
  tag = new Uint32Array(GROUP);
  /** SHA-256 blob ids as 32 bytes each; any other id (none is written today) in `otherIds`. */
  private readonly ids = Buffer.alloc(GROUP * 32);
  private readonly otherIds = new Map<number, string>();

  add(folder: number, message: MessageRecord, tag: number): void {
    const i = this.length++;
    this.folder[i] = folder;
    this.uid[i] = message.uid;
    this.date[i] = message.internalDate;
    this.size[i] = message.size;
    this.tag[i] = tag;
    if (/^[0-9a-f]{64}$/.test(message.blobId)) this.ids.write(message.blobId, i * 32, 32, 'hex');
    else this.otherIds.set(i, message.blobId);
  }

  blobId(i: number): string {
    return this.otherIds.get(i) ?? this.ids.toString('hex', i * 32, i * 32 + 32);
  }

  /** The messages' numbers in the order LevelDB keeps their blobs (by id), copies side by side. */
  blobOrder(): Uint32Array {
    const order = new Uint32Array(this.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    if (this.otherIds.size > 0) {
      const keys = Array.from({ length: this.length }, (_, i) => this.blobId(i));
      return order.sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : a - b));
    }
    const ids = this.ids;
    return order.sort((a, b) => ids.compare(ids, b * 32, b * 32 + 32, a * 32, a * 32 + 32) || a - b);
  }

  clear(): void {
    this.length = 0;
    this.otherIds.clear();
  }
}

/**
 * Reads the messages of a plan in blob order, a blob shared by several messages once, and keeps the
 * memory-mapped table pages in bounds (see exportStore).
 */
class SortedReader {
  private readonly mapped = new MappedPages();
  private reads = 0;
  private bytesSinceCheck = 0;

  constructor(
    private readonly store: Store,
    private readonly report: ExportReport,
    private readonly options: ExportOptions,
  ) {}

  /** Calls `each` for every message of the plan with its bytes, or with the reason they cannot be read. */
  async read(plan: Plan, each: (i: number, raw: Buffer | undefined, problem: string | undefined) => void): Promise<void> {
    const order = plan.blobOrder();
    // While the daemon serves from the store, a message expunged meanwhile keeps its bytes until released.
    const release = this.options.exclusive ? undefined : this.store.retainBlobs(Array.from(order, (i) => plan.blobId(i)));
    try {
      let lastId: string | undefined;
      let raw: Buffer | undefined;
      let problem: string | undefined;
      for (const i of order) {
        const blobId = plan.blobId(i);
        if (blobId !== lastId) {
          lastId = blobId;
          raw = undefined;
          problem = undefined;
          try {
            raw = await this.store.getBlob(blobId);
          } catch (err) {
            if (!(err instanceof StoreError)) throw err;
            problem = err.message;
          }
          await this.afterRead(raw?.length ?? 0);
        }
        each(i, raw, problem);
      }
    } finally {
      release?.();
    }
  }

  private async afterRead(bytes: number): Promise<void> {
    this.bytesSinceCheck += bytes;
    if (++this.reads % YIELD_EVERY !== 0) return;
    if (this.options.exclusive && this.mapped.grown(this.bytesSinceCheck)) {
      await this.store.releaseTables();
      this.mapped.released();
    }
    this.bytesSinceCheck = 0;
    this.options.onProgress?.(this.report.messages);
    await yieldToEvents();
  }
}

function skip(report: ExportReport, mailbox: MailboxRecord, uid: number, problem: string): void {
  report.skipped.push({ account: mailbox.account, mailbox: mailbox.name, uid, problem });
}

interface MaildirFolder {
  mailbox: MailboxRecord;
  dir: string;
  keywords: MaildirKeywords;
}

class MaildirWriter {
  private readonly folders: MaildirFolder[] = [];
  private readonly infos = new Interned<string>();
  private readonly host = os.hostname().split('.')[0] || 'localhost';

  constructor(private readonly report: ExportReport) {}

  folder(base: string, mailbox: MailboxRecord, levels: string[]): number {
    const dir = path.join(base, maildirFolderDir(levels));
    for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o700 });
    // Maildir++: a subfolder says it is one (Courier, Dovecot).
    if (dir !== base) fs.writeFileSync(path.join(dir, 'maildirfolder'), '', { mode: 0o600 });
    // Dovecot's uidlist, version 3: UIDVALIDITY and the next UID, then "UID :basename" per message (added
    // group by group, in UID order).
    fs.writeFileSync(path.join(dir, 'dovecot-uidlist'), `3 V${mailbox.uidValidity} N${mailbox.uidNext}\n`, { mode: 0o600 });
    this.folders.push({ mailbox, dir, keywords: new MaildirKeywords() });
    return this.folders.length - 1;
  }

  /** Keyword letters are given in UID order, as the messages are planned. */
  plan(plan: Plan, folder: number, message: MessageRecord): void {
    const { info, dropped } = maildirInfo(message.flags, this.folders[folder].keywords);
    this.report.droppedKeywords += dropped.length;
    plan.add(folder, message, this.infos.number(info, info));
  }

  private fileName(plan: Plan, i: number): string {
    const folder = this.folders[plan.folder[i]];
    const unique = `hb${folder.mailbox.uidValidity}_${plan.uid[i].toString().padStart(10, '0')}`;
    return maildirFileName(plan.date[i], unique, this.host, plan.size[i], this.infos.values[plan.tag[i]]);
  }

  async write(plan: Plan, reader: SortedReader): Promise<void> {
    await reader.read(plan, (i, raw, problem) => {
      const folder = this.folders[plan.folder[i]];
      if (!raw) {
        plan.size[i] = -1;
        skip(this.report, folder.mailbox, plan.uid[i], problem ?? 'not found');
        return;
      }
      plan.size[i] = raw.length;
      const name = this.fileName(plan, i);
      // The Maildir way: written in tmp/, then moved into cur/ whole.
      const temp = path.join(folder.dir, 'tmp', name);
      fs.writeFileSync(temp, raw, { mode: 0o600 });
      const date = new Date(plan.date[i]);
      fs.utimesSync(temp, date, date);
      fs.renameSync(temp, path.join(folder.dir, 'cur', name));
      this.report.messages++;
      this.report.bytes += raw.length;
    });
    // The group's uidlist lines, in UID order.
    let lines = '';
    for (let i = 0; i < plan.length; i++) {
      if (plan.size[i] >= 0) lines += `${plan.uid[i]} :${this.fileName(plan, i).replace(/:2,.*$/, '')}\n`;
      if (lines.length > 0 && (i === plan.length - 1 || plan.folder[i + 1] !== plan.folder[i] || lines.length >= 64 * 1024)) {
        fs.appendFileSync(path.join(this.folders[plan.folder[i]].dir, 'dovecot-uidlist'), lines);
        lines = '';
      }
    }
  }

  finish(): void {
    for (const folder of this.folders) {
      const keywordText = folder.keywords.serialize();
      if (keywordText) fs.writeFileSync(path.join(folder.dir, 'dovecot-keywords'), keywordText, { mode: 0o600 });
    }
  }

  close(): void {}
}

/** A folder's mbox file: Thunderbird's layout, "Work/2024" is Work.sbd/2024. */
function mboxFile(base: string, levels: string[]): string {
  const safe = (level: string) => (level === '.' || level === '..' ? `_${level}` : level);
  return path.join(base, ...levels.slice(0, -1).map((level) => `${safe(level)}.sbd`), safe(levels[levels.length - 1]));
}

/** mbox files open for writing at once (a store may have more folders than the process may open files). */
const OPEN_MBOX_FILES = 32;

class MboxWriter {
  private readonly folders: Array<{ mailbox: MailboxRecord; file: string }> = [];
  /** Where the next entry of each file goes (two folders could share a file name). */
  private readonly ends = new Map<string, number>();
  private readonly flagLists = new Interned<readonly string[]>();
  private readonly open = new Map<string, number>();

  constructor(private readonly report: ExportReport) {}

  folder(base: string, mailbox: MailboxRecord, levels: string[]): number {
    const file = mboxFile(base, levels);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // Thunderbird wants a (possibly empty) file for every folder that has subfolders.
    for (let i = 1; i < levels.length; i++) {
      const parent = mboxFile(base, levels.slice(0, i));
      if (!fs.existsSync(parent)) fs.writeFileSync(parent, '', { mode: 0o600 });
    }
    fs.writeFileSync(file, '', { mode: 0o600, flag: 'a' });
    if (!this.ends.has(file)) this.ends.set(file, fs.statSync(file).size);
    this.folders.push({ mailbox, file });
    return this.folders.length - 1;
  }

  plan(plan: Plan, folder: number, message: MessageRecord): void {
    plan.add(folder, message, this.flagLists.number(message.flags.join('\u0000'), message.flags));
  }

  private entry(plan: Plan, i: number, raw: Buffer): Buffer {
    return encodeMboxEntry(raw, { flags: this.flagLists.values[plan.tag[i]], internalDate: plan.date[i], sender: envelopeSender(raw) });
  }

  async write(plan: Plan, reader: SortedReader): Promise<void> {
    // First reading: the length of each entry (-1: left out), and so where in its file each one goes.
    const length = plan.size;
    await reader.read(plan, (i, raw, problem) => {
      if (raw) length[i] = this.entry(plan, i, raw).length;
      else {
        length[i] = -1;
        skip(this.report, this.folders[plan.folder[i]].mailbox, plan.uid[i], problem ?? 'not found');
      }
    });
    const offset = new Float64Array(plan.length);
    for (let i = 0; i < plan.length; i++) {
      if (length[i] < 0) continue;
      const file = this.folders[plan.folder[i]].file;
      const at = this.ends.get(file)!;
      offset[i] = at;
      this.ends.set(file, at + length[i]);
    }
    // Second reading: each entry written at its place.
    await reader.read(plan, (i, raw) => {
      if (length[i] < 0) return;
      const file = this.folders[plan.folder[i]].file;
      const entry = raw && this.entry(plan, i, raw);
      if (!entry || entry.length !== length[i])
        throw new Error(
          `message UID ${plan.uid[i]} of ${this.folders[plan.folder[i]].mailbox.name} changed during the export; export again`,
        );
      const fd = this.fd(file);
      for (let at = 0; at < entry.length;) at += fs.writeSync(fd, entry, at, entry.length - at, offset[i] + at);
      this.report.messages++;
      this.report.bytes += raw.length;
    });
  }

  private fd(file: string): number {
    let fd = this.open.get(file);
    if (fd !== undefined) return fd;
    if (this.open.size >= OPEN_MBOX_FILES) {
      const [oldest, oldestFd] = this.open.entries().next().value!;
      fs.closeSync(oldestFd);
      this.open.delete(oldest);
    }
    fd = fs.openSync(file, 'r+');
    this.open.set(file, fd);
    return fd;
  }

  finish(): void {}

  close(): void {
    for (const fd of this.open.values()) fs.closeSync(fd);
    this.open.clear();
  }
}

/** The sender for the From line: Return-Path, else the From address, else MAILER-DAEMON (RFC 4155 §2). */
function envelopeSender(raw: Buffer): string | undefined {
  const end = raw.indexOf('\n\n') >= 0 ? raw.indexOf('\n\n') : raw.indexOf('\r\n\r\n');
  const header = raw.toString('latin1', 0, end >= 0 ? end : Math.min(raw.length, 16 * 1024));
  const returnPath = /^return-path:\s*<([^<>\s]*)>/im.exec(header)?.[1];
  if (returnPath) return returnPath;
  const from = /^from:[^\r\n]*?<([^<>\s@]+@[^<>\s]+)>/im.exec(header)?.[1] ?? /^from:\s*([^\s<>@]+@[^\s<>]+)\s*$/im.exec(header)?.[1];
  return from;
}
