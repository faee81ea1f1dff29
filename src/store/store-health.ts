/**
 * What went wrong with the store's files, in words a user can act on. LevelDB reports trouble as
 * "IO error: PATH: No space left on device", "Corruption: …" and the like; this module sorts those into
 * the store's fault codes (errors.ts), keeps LevelDB's own text (it names the file), and adds the fix.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StoreError, type StoreFaultCode } from './errors.js';

/** The command that repairs a damaged store (it copies the store aside before it changes anything). */
export const REPAIR_ADVICE =
  'stop hotbridge and run: hotbridge repair (it keeps a copy of the damaged store); or put a backup back with: hotbridge restore FILE';

/** LevelDB's own words for an error, from the error or its cause ("Database failed to open" says nothing). */
export function levelMessage(err: unknown): string {
  const error = err as { message?: string; cause?: { message?: string } };
  const cause = error.cause?.message;
  return cause && cause.length > 0 ? cause : (error.message ?? String(err));
}

/** The fault an error from LevelDB (or the file system under it) stands for; undefined for anything else. */
export function faultOf(err: unknown): Exclude<StoreFaultCode, 'unavailable'> | 'in-use' | undefined {
  if (err instanceof StoreError) return undefined;
  const text = levelMessage(err);
  const code = (err as { code?: string; cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code;
  if (/No space left on device|ENOSPC|Disk quota exceeded|EDQUOT/i.test(text)) return 'no-space';
  if (/Permission denied|EACCES|Operation not permitted|EPERM|Read-only file system|EROFS/i.test(text)) return 'unwritable';
  // LevelDB's lock: flock() on LOCK fails with EAGAIN while another process holds it.
  if (/\block\b.*(Resource temporarily unavailable|already held)/i.test(text)) return 'in-use';
  if (code === 'LEVEL_CORRUPTION' || /^Corruption:/i.test(text)) return 'damaged';
  if (code === 'LEVEL_IO_ERROR' || /^IO error:/i.test(text)) return 'damaged';
  return undefined;
}

/** Free bytes for an unprivileged user on the file system holding `dir`; undefined when it cannot be told. */
export function freeBytes(dir: string): number | undefined {
  try {
    const stats = fs.statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

function megabytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return mb >= 10 ? mb.toFixed(0) : mb.toFixed(1);
}

/** "the disk is full (3.2 MB free in /var/lib/hotbridge)" */
export function diskFullText(dataDir: string): string {
  const free = freeBytes(dataDir);
  return `the disk is full (${free === undefined ? 'unknown space' : `${megabytes(free)} MB`} free in ${dataDir})`;
}

/** The owner of a file in words ("user 1001", or the name when it is ours). */
function ownerOf(file: string): string | undefined {
  try {
    const { uid } = fs.statSync(file);
    const me = os.userInfo();
    return uid === me.uid ? me.username : `user ${uid}`;
  } catch {
    return undefined;
  }
}

/** Says what a permission problem is about: which file, who owns it, who we are, and the fix. */
function unwritableText(dataDir: string, location: string, text: string): string {
  if (/Read-only file system|EROFS/i.test(text)) {
    return `the store in ${location} cannot be written: the file system holding it is mounted read-only (${text}); remount it read-write, or give data_dir another place`;
  }
  const file = /(\/[^:]+): (Permission denied|Operation not permitted)/.exec(text)?.[1] ?? location;
  const me = os.userInfo();
  const owner = ownerOf(file);
  const ownedByOther = owner !== undefined && owner !== me.username;
  return (
    `the store in ${location} cannot be read or written by user ${me.username}: permission denied on ${file}` +
    (ownedByOther ? ` (it belongs to ${owner})` : '') +
    `; run hotbridge as the user that owns the data dir, or give it back: chown -R ${me.username} ${dataDir} && chmod -R u+rwX ${dataDir}`
  );
}

/** A StoreError for a file of the store that the file system refused to us (EACCES, EPERM, EROFS). */
export function permissionProblem(dataDir: string, location: string, file: string, code: string | undefined): StoreError {
  const text = code === 'EROFS' ? `IO error: ${file}: Read-only file system` : `IO error: ${file}: Permission denied`;
  return new StoreError('unwritable', unwritableText(dataDir, location, text));
}

/** A StoreError for a failure to open the store, with the cause, the file it names, and the fix. */
export function explainOpenError(err: unknown, dataDir: string, location: string): StoreError | undefined {
  const text = levelMessage(err);
  switch (faultOf(err)) {
    case 'in-use':
      return new StoreError('in-use', `the store in ${location} is in use by another process (is hotbridge already running?)`);
    case 'unwritable':
      return new StoreError('unwritable', unwritableText(dataDir, location, text));
    case 'no-space':
      return new StoreError(
        'no-space',
        `the store in ${location} cannot be opened: ${diskFullText(dataDir)}; make room on the disk and start again`,
      );
    case 'damaged':
      return new StoreError(
        'damaged',
        `the store in ${location} is damaged and was not opened (LevelDB: ${text}). Nothing was changed; ${REPAIR_ADVICE}`,
      );
    default:
      return undefined;
  }
}

/** A StoreError for a failed write, read or reopen, in the words the servers and the poller pass on. */
export function explainFault(err: unknown, dataDir: string, location: string): StoreError | undefined {
  const text = levelMessage(err);
  switch (faultOf(err)) {
    case 'no-space':
      return new StoreError('no-space', diskFullText(dataDir));
    case 'unwritable':
      return new StoreError('unwritable', unwritableText(dataDir, location, text));
    case 'damaged':
      return new StoreError('damaged', `the store in ${location} is damaged (LevelDB: ${text}); ${REPAIR_ADVICE}`);
    case 'in-use':
      return new StoreError('in-use', `the store in ${location} is in use by another process`);
    default:
      return undefined;
  }
}

/** The LevelDB directory of a data dir. */
export function storeLocation(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'store');
}
