/**
 * Reading a blob's bytes straight from the sublevels, whichever way it is kept: whole in `blob`, or — a large
 * message the poller streamed in — as chunks named by a manifest in `blobchunks` (blob-chunks.ts). For the
 * store itself and for the tools that read the database without a Store around it (a check, a repair), so
 * that none of them takes a chunked message for a missing one. readBlob also checks the bytes against the
 * hash that names them.
 */
import { createHash, type Hash } from 'node:crypto';
import type { ChunkedBlob, Sublevels } from './database.js';
import { StoreError } from './errors.js';
import { levelMessage } from './store-health.js';

/** Read options passed on to LevelDB (a snapshot, for a consistent pass over the database). */
export type BlobReadOptions = { snapshot?: unknown };

type BlobSublevels = Pick<Sublevels, 'blob' | 'blobchunks' | 'chunk'>;

const pad8 = (n: number): string => n.toString().padStart(8, '0');

/** The key of chunk `n` of a chunk set. */
export const chunkKey = (set: string, n: number): string => `${set}!${pad8(n)}`;

/** The key range of a chunk set's chunks. */
export const chunkRange = (set: string): { gt: string; lt: string } => ({ gt: `${set}!`, lt: `${set}!~` });

/** A chunked blob whose chunks are not all there, or not of the size its manifest gives. */
export class DamagedChunksError extends Error {}

/**
 * The bytes of a chunked blob, joined once into a Buffer of its size. With `hash`, each chunk is hashed as it
 * arrives, so checking a 100 MB message costs the event loop a chunk's worth at a time, never the whole.
 */
export async function readChunks(
  sub: Pick<Sublevels, 'chunk'>,
  manifest: ChunkedBlob,
  options: BlobReadOptions = {},
  hash?: Hash,
): Promise<Buffer> {
  const raw = Buffer.allocUnsafe(manifest.size);
  let at = 0;
  let chunks = 0;
  for await (const chunk of sub.chunk.values({ ...chunkRange(manifest.set), ...options } as never)) {
    const piece = chunk as Buffer;
    if (at + piece.length > raw.length) break;
    piece.copy(raw, at);
    hash?.update(piece);
    at += piece.length;
    chunks++;
  }
  if (at !== manifest.size || chunks !== manifest.chunks) {
    throw new DamagedChunksError(
      `chunked blob ${manifest.set} is damaged: ${chunks} of ${manifest.chunks} chunks, ${at} of ${manifest.size} bytes`,
    );
  }
  return raw;
}

/**
 * The bytes of a blob, whole or chunked; undefined when neither form is stored. Not through LevelDB's block
 * cache: a message read once would push out the metadata read constantly (classic-level's `fillCache`).
 */
export async function readStoredBlob(
  sub: BlobSublevels,
  blobId: string,
  options: BlobReadOptions = {},
  hash?: Hash,
): Promise<Buffer | undefined> {
  const raw = await sub.blob.get(blobId, { fillCache: false, ...options } as never);
  if (raw !== undefined) {
    hash?.update(raw);
    return raw;
  }
  const manifest = await sub.blobchunks.get(blobId, options as never);
  return manifest === undefined ? undefined : readChunks(sub, manifest, options, hash);
}

/** Whether a blob's bytes are stored, whole or chunked (without reading them). */
export async function hasStoredBlob(sub: BlobSublevels, blobId: string, options: BlobReadOptions = {}): Promise<boolean> {
  return (await sub.blob.has(blobId, options as never)) || (await sub.blobchunks.has(blobId, options as never));
}

/** The ids of every stored blob: the whole ones, then the chunked ones. */
export async function storedBlobIds(sub: BlobSublevels, options: BlobReadOptions = {}): Promise<string[]> {
  const ids: string[] = [];
  for await (const key of sub.blob.keys(options as never)) ids.push(key as string);
  for await (const key of sub.blobchunks.keys(options as never)) ids.push(key as string);
  return ids;
}

/** The content hash that names a blob. */
export function blobIdOf(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex');
}

/**
 * Reads a blob, whole or chunked, and checks it against its hash: bytes damaged on disk are never served
 * as mail (LevelDB does not check its block checksums on reads). Undefined when there is no such blob; a
 * StoreError `damaged` when it cannot be read or does not match, so one broken message fails alone.
 */
export async function readBlob(sub: BlobSublevels, blobId: string, options: BlobReadOptions = {}): Promise<Buffer | undefined> {
  let raw: Buffer | undefined;
  const hash = createHash('sha256');
  try {
    raw = await readStoredBlob(sub, blobId, options, hash);
  } catch (err) {
    throw new StoreError(
      'damaged',
      `message ${blobId} cannot be read: it is damaged in the store (${err instanceof DamagedChunksError ? err.message : `LevelDB: ${levelMessage(err)}`}); hotbridge verify lists every damaged message`,
    );
  }
  if (raw !== undefined && hash.digest('hex') !== blobId) {
    throw new StoreError(
      'damaged',
      `message ${blobId} is damaged in the store: its bytes no longer match their hash; hotbridge verify lists every damaged message`,
    );
  }
  return raw;
}
