/**
 * `hotbridge import PATH [--mailbox NAME]`: Maildir trees, mbox files and folders of .eml files into the
 * store, with their flags and dates, byte for byte. One import is one change (import-staging.ts): cut
 * short, it leaves nothing behind.
 *
 * Importing the same files again adds nothing: a message counts as present when its mailbox already holds
 * as many messages with the same bytes (the same content hash) as the source has — so a source that
 * holds a message twice gives it twice, once.
 */
import path from 'node:path';
import { indexMessage } from '../mime/index.js';
import { blobIdOf } from './blobs.js';
import { normalizeFlags } from './flags.js';
import { mboxFolderName, readSource, sourceKind, type SourceKind, type SourceProblem } from './formats/import-sources.js';
import type { ImportItem } from './import-staging.js';
import { HIERARCHY_DELIMITER } from './mailboxes.js';
import type { Store } from './store.js';

export interface ImportOptions {
  account: string;
  /** The mailbox for what lies directly in PATH; subfolders go below it. */
  mailbox?: string;
  onProgress?: (seen: number, added: number) => void;
}

export interface ImportReport {
  source: string;
  kind: SourceKind;
  /** Messages found in the source. */
  found: number;
  /** Messages added (the others were there already). */
  added: number;
  /** Added per mailbox. */
  perMailbox: Record<string, number>;
  /** Mailboxes the import created. */
  created: string[];
  problems: SourceProblem[];
  seconds: number;
}

/** Messages staged per batch, and the bytes of one batch at most (memory stays bounded). */
const STAGE_MESSAGES = 200;
const STAGE_BYTES = 16 * 1024 * 1024;

/** The mailbox name for folder levels; the levels are checked like an IMAP CREATE would (no empty level). */
function mailboxName(levels: string[]): string {
  // Control characters cannot be in a mailbox name (downstream/imap/mailbox-names.ts).
  const clean = levels.map(
    (level) =>
      level
        // eslint-disable-next-line no-control-regex
        .replace(/[\u0000-\u001f\u007f]/g, ' ')
        .replace(new RegExp(`\\${HIERARCHY_DELIMITER}`, 'g'), '_')
        .trim() || '_',
  );
  const name = clean.join(HIERARCHY_DELIMITER);
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

export async function importIntoStore(store: Store, source: string, options: ImportOptions): Promise<ImportReport> {
  const started = performance.now();
  const resolved = path.resolve(source);
  const kind = sourceKind(resolved);
  const account = options.account.toLowerCase();
  const explicit = options.mailbox?.split(HIERARCHY_DELIMITER).filter((level) => level.length > 0);
  // What lies directly in PATH: the mailbox given, else INBOX for a Maildir, the file's name for an mbox
  // file, the directory's name for a folder of .eml files; a tree of folders goes in at the top level.
  const root =
    explicit ??
    (kind === 'maildir' ? ['INBOX'] : kind === 'mbox' ? [mboxFolderName(resolved)] : kind === 'eml' ? [mboxFolderName(resolved)] : []);
  const childBase = explicit ?? [];
  const problems: SourceProblem[] = [];
  const report: ImportReport = { source: resolved, kind, found: 0, added: 0, perMailbox: {}, created: [], problems, seconds: 0 };

  // Content hashes already in each target mailbox (and how often), and how often the source had each.
  const present = new Map<string, Map<string, number>>();
  const seen = new Map<string, number>();
  const presentIn = async (mailbox: string): Promise<Map<string, number>> => {
    let counts = present.get(mailbox);
    if (counts) return counts;
    counts = new Map();
    const record = store.findMailbox(account, mailbox);
    if (record)
      for (const message of await store.listMessages(record.id)) counts.set(message.blobId, (counts.get(message.blobId) ?? 0) + 1);
    present.set(mailbox, counts);
    return counts;
  };

  const importId = `${Date.now().toString(36)}-${process.pid}`;
  let batch: ImportItem[] = [];
  let batchBytes = 0;
  let staged = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await store.stageImport(importId, staged, batch);
    staged += batch.length;
    batch = [];
    batchBytes = 0;
  };
  try {
    for await (const message of readSource(resolved, root, childBase, problems)) {
      report.found++;
      const mailbox = mailboxName(message.folder.length > 0 ? message.folder : ['INBOX']);
      const blobId = blobIdOf(message.raw);
      const key = `${mailbox}\u0000${blobId}`;
      const count = (seen.get(key) ?? 0) + 1;
      seen.set(key, count);
      if (count <= ((await presentIn(mailbox)).get(blobId) ?? 0)) continue;
      batch.push({
        account,
        mailbox,
        flags: normalizeFlags(message.flags),
        internalDate: message.internalDate ?? Date.now(),
        blob: { id: blobId, size: message.raw.length, raw: message.raw, index: indexMessage(message.raw) },
      });
      batchBytes += message.raw.length;
      report.perMailbox[mailbox] = (report.perMailbox[mailbox] ?? 0) + 1;
      if (batch.length >= STAGE_MESSAGES || batchBytes >= STAGE_BYTES) {
        await flush();
        options.onProgress?.(report.found, staged);
      }
    }
    await flush();
    const published = await store.publishImport(importId);
    report.added = published.added;
    report.created = published.created;
  } catch (err) {
    await store.discardImport(importId).catch(() => undefined);
    throw err;
  }
  report.seconds = (performance.now() - started) / 1000;
  return report;
}
