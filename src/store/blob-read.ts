/**
 * Reading a blob, checked against the hash that names it. Apart from blobs.ts so that the indexes and
 * verify read blobs the same way without depending on the reference counting.
 */
import { createHash } from 'node:crypto';
import type { Snapshot, Sublevels } from './database.js';
import { StoreError } from './errors.js';
import { levelMessage } from './store-health.js';

/** The content hash that names a blob. */
export function blobIdOf(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex');
}

/**
 * Reads a blob and checks it against its hash: bytes damaged on disk are never served as mail (LevelDB
 * does not check its block checksums on reads). Undefined when there is no such blob.
 */
export async function readBlob(blobs: Sublevels['blob'], blobId: string, options: { snapshot?: Snapshot; fillCache?: boolean } = {}): Promise<Buffer | undefined> {
  let raw: Buffer | undefined;
  try {
    // (classic-level's `fillCache` option; abstract-level's option type does not name it.)
    raw = await blobs.get(blobId, options as never);
  } catch (err) {
    throw new StoreError('damaged', `message ${blobId} cannot be read: it is damaged in the store (LevelDB: ${levelMessage(err)}); hotbridge verify lists every damaged message`);
  }
  if (raw !== undefined && blobIdOf(raw) !== blobId) {
    throw new StoreError('damaged', `message ${blobId} is damaged in the store: its bytes no longer match their hash; hotbridge verify lists every damaged message`);
  }
  return raw;
}
