/**
 * Never create a store where one existed. LevelDB's `createIfMissing` cannot tell a new data dir from one
 * whose `CURRENT` file was lost: it starts an empty database, replays the last log and deletes the older
 * tables — most of the mail. So the store is created only on the first run in a data dir (no store yet,
 * and no record that there ever was one); every other open uses the store that is there or refuses, with
 * the cause and the way out.
 *
 * The record is `store-created` in the data dir (beside, not inside, the LevelDB directory), written once
 * when the store is created or first opened by a hotbridge that knows about it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StoreError } from './errors.js';
import { permissionProblem, REPAIR_ADVICE } from './store-health.js';

const MARKER = 'store-created';

export function markerFile(dataDir: string): string {
  return path.join(dataDir, MARKER);
}

function listing(dataDir: string, dir: string): string[] | undefined {
  try {
    return fs.readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EACCES' || code === 'EPERM') throw permissionProblem(dataDir, dir, dir, code);
    throw err;
  }
}

/**
 * Decides whether opening the store may create it: true only when there is none and never was. Throws a
 * StoreError explaining what is missing when a store existed but cannot be opened as it is.
 */
export function mayCreateStore(dataDir: string, location: string): boolean {
  const files = listing(dataDir, location);
  if (files?.includes('CURRENT')) return false;
  const marker = readMarker(dataDir);
  // LevelDB writes LOCK and LOG before anything else; a directory with only those never held data.
  const data = (files ?? []).filter((name) => !/^(LOCK|LOG|LOG\.old)$/.test(name));
  if (data.length === 0 && marker === undefined) return true;
  const since = marker?.createdAt
    ? ` (created ${marker.createdAt})`
    : marker?.recordedAt
      ? ` (in use since at least ${marker.recordedAt})`
      : '';
  if (files === undefined) {
    throw new StoreError(
      'damaged',
      `the store directory ${location} is missing, but this data dir had a store${since}. hotbridge will not start an empty one in its place. ` +
        `If you moved it, put it back; if you have a backup: hotbridge restore FILE; to really start over with no mail, remove ${markerFile(dataDir)}`,
    );
  }
  const missing = data.some((name) => name.startsWith('MANIFEST-')) ? 'its CURRENT file' : 'its CURRENT and MANIFEST files';
  throw new StoreError(
    'damaged',
    `the store in ${location}${since} is missing ${missing}: opening it as it is would start an empty store and delete the older data files, so it was not opened and nothing was changed; ${REPAIR_ADVICE}`,
  );
}

interface Marker {
  createdAt?: string;
  /** For a store made by a hotbridge from before the marker: when it was first seen. */
  recordedAt?: string;
}

function readMarker(dataDir: string): Marker | undefined {
  try {
    return JSON.parse(fs.readFileSync(markerFile(dataDir), 'utf8')) as Marker;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // A damaged marker still says that a store existed.
    return {};
  }
}

/**
 * Records that this data dir has a store (after it was created, or first opened by a hotbridge that knows
 * the marker); durable before it returns. A data dir that cannot be written keeps working without it.
 */
export function recordStore(dataDir: string, created: boolean): void {
  const file = markerFile(dataDir);
  if (fs.existsSync(file)) return;
  const temp = `${file}.${process.pid}.tmp`;
  try {
    const fd = fs.openSync(temp, 'w', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(created ? { createdAt: new Date().toISOString() } : { recordedAt: new Date().toISOString() }) + '\n');
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
    const dir = fs.openSync(dataDir, 'r');
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
  } catch (err) {
    fs.rmSync(temp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS' && code !== 'ENOSPC') throw err;
  }
}
