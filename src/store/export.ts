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
import { RELEASE_TABLES_EVERY_BYTES } from './backup.js';
import { StoreError } from './errors.js';
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
   * files read so far (their pages count in the RSS, see backup.ts).
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

/** Exports into `dir`, which must not exist or be empty (an export never mixes with other files). */
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
      // Read from disk a batch at a time (a big mailbox's list is not kept in memory for this).
      const batches = store.streamMessages(mailbox.id);
      if (options.format === 'maildir') await exportMaildirFolder(store, base, mailbox, batches, report, options);
      else await exportMboxFolder(store, base, mailbox, batches, report, options);
    }
  }
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

/** A message's bytes, or undefined (and a note in the report) when the store cannot read them. */
async function readMessage(
  store: Store,
  mailbox: MailboxRecord,
  message: MessageRecord,
  report: ExportReport,
): Promise<Buffer | undefined> {
  try {
    return await store.getBlob(message.blobId);
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    report.skipped.push({ account: mailbox.account, mailbox: mailbox.name, uid: message.uid, problem: err.message });
    return undefined;
  }
}

/** Bytes read since LevelDB was last reopened (exclusive exports), per export. */
const readSinceRelease = new WeakMap<ExportReport, number>();

async function progress(store: Store, report: ExportReport, options: ExportOptions, bytes: number): Promise<void> {
  const read = (readSinceRelease.get(report) ?? 0) + bytes;
  readSinceRelease.set(report, read);
  if (options.exclusive && read >= RELEASE_TABLES_EVERY_BYTES) {
    readSinceRelease.set(report, 0);
    await store.releaseTables();
  }
  if (report.messages % YIELD_EVERY !== 0) return;
  options.onProgress?.(report.messages);
  await yieldToEvents();
}

async function exportMaildirFolder(
  store: Store,
  base: string,
  mailbox: MailboxRecord,
  batches: AsyncIterable<MessageRecord[]>,
  report: ExportReport,
  options: ExportOptions,
): Promise<void> {
  const levels = options.mailbox !== undefined ? ['INBOX'] : mailbox.name.split(HIERARCHY_DELIMITER);
  const dir = path.join(base, maildirFolderDir(levels));
  for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o700 });
  // Maildir++: a subfolder says it is one (Courier, Dovecot).
  if (dir !== base) fs.writeFileSync(path.join(dir, 'maildirfolder'), '', { mode: 0o600 });
  const keywords = new MaildirKeywords();
  const host = os.hostname().split('.')[0] || 'localhost';
  const uidlist: string[] = [];
  for await (const batch of batches)
    for (const message of batch) {
      const raw = await readMessage(store, mailbox, message, report);
      if (!raw) continue;
      const { info, dropped } = maildirInfo(message.flags, keywords);
      report.droppedKeywords += dropped.length;
      const unique = `hb${mailbox.uidValidity}_${message.uid.toString().padStart(10, '0')}`;
      const name = maildirFileName(message.internalDate, unique, host, raw.length, info);
      // The Maildir way: written in tmp/, then moved into cur/ whole.
      const temp = path.join(dir, 'tmp', name);
      fs.writeFileSync(temp, raw, { mode: 0o600 });
      const date = new Date(message.internalDate);
      fs.utimesSync(temp, date, date);
      fs.renameSync(temp, path.join(dir, 'cur', name));
      uidlist.push(`${message.uid} :${name.replace(/:2,.*$/, '')}`);
      report.messages++;
      report.bytes += raw.length;
      await progress(store, report, options, raw.length);
    }
  const keywordText = keywords.serialize();
  if (keywordText) fs.writeFileSync(path.join(dir, 'dovecot-keywords'), keywordText, { mode: 0o600 });
  // Dovecot's uidlist, version 3: UIDVALIDITY and the next UID, then "UID :basename" per message.
  fs.writeFileSync(
    path.join(dir, 'dovecot-uidlist'),
    `3 V${mailbox.uidValidity} N${mailbox.uidNext}\n${uidlist.map((line) => `${line}\n`).join('')}`,
    { mode: 0o600 },
  );
}

/** A folder's mbox file: Thunderbird's layout, "Work/2024" is Work.sbd/2024. */
function mboxFile(base: string, levels: string[]): string {
  const safe = (level: string) => (level === '.' || level === '..' ? `_${level}` : level);
  return path.join(base, ...levels.slice(0, -1).map((level) => `${safe(level)}.sbd`), safe(levels[levels.length - 1]));
}

async function exportMboxFolder(
  store: Store,
  base: string,
  mailbox: MailboxRecord,
  batches: AsyncIterable<MessageRecord[]>,
  report: ExportReport,
  options: ExportOptions,
): Promise<void> {
  const levels = options.mailbox !== undefined ? [mailbox.name.split(HIERARCHY_DELIMITER).pop()!] : mailbox.name.split(HIERARCHY_DELIMITER);
  const file = mboxFile(base, levels);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // Thunderbird wants a (possibly empty) file for every folder that has subfolders.
  for (let i = 1; i < levels.length; i++) {
    const parent = mboxFile(base, levels.slice(0, i));
    if (!fs.existsSync(parent)) fs.writeFileSync(parent, '', { mode: 0o600 });
  }
  const out = fs.createWriteStream(file, { mode: 0o600, flags: 'a' });
  const closed = new Promise<void>((resolve, reject) => {
    out.once('close', resolve);
    out.once('error', reject);
  });
  try {
    for await (const batch of batches)
      for (const message of batch) {
        const raw = await readMessage(store, mailbox, message, report);
        if (!raw) continue;
        const entry = encodeMboxEntry(raw, { flags: message.flags, internalDate: message.internalDate, sender: envelopeSender(raw) });
        if (!out.write(entry)) await new Promise<void>((resolve) => out.once('drain', resolve));
        report.messages++;
        report.bytes += raw.length;
        await progress(store, report, options, raw.length);
      }
  } finally {
    out.end();
    await closed;
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
