/**
 * Chunks that are no part of any message (blob-chunks.ts), for `verify` to name and `repair` to clean:
 * - unfinished sets: a large message was being fetched when hotbridge stopped (its set is still marked in
 *   progress). The next start deletes them, and the poller fetches the message again. While the daemon
 *   runs, such a set may simply be a message arriving now.
 * - stray sets: chunks with neither a manifest nor a mark. Nothing deletes them by itself. Either a
 *   manifest was lost (then the chunks may still be a whole message a record names: repair puts the
 *   manifest back), or they are waste.
 */
import { chunkRange } from './blob-read.js';
import type { ChunkedBlob, Snapshot, Sublevels } from './database.js';

export interface ChunkSet {
  set: string;
  chunks: number;
  bytes: number;
}

export interface ChunkLeftovers {
  unfinished: ChunkSet[];
  stray: ChunkSet[];
}

type Sub = Pick<Sublevels, 'chunk' | 'chunkset' | 'blobchunks'>;

export async function findChunkLeftovers(sub: Sub, snapshot?: Snapshot): Promise<ChunkLeftovers> {
  const options = snapshot ? { snapshot } : {};
  const owned = new Set<string>();
  for await (const manifest of sub.blobchunks.values(options as never)) owned.add((manifest as ChunkedBlob).set);
  const marked = new Set<string>();
  for await (const set of sub.chunkset.keys(options as never)) marked.add(set as string);
  const found = new Map<string, number>();
  for await (const key of sub.chunk.keys(options as never)) {
    const set = (key as string).slice(0, (key as string).indexOf('!'));
    if (!owned.has(set)) found.set(set, (found.get(set) ?? 0) + 1);
  }
  const leftovers: ChunkLeftovers = { unfinished: [], stray: [] };
  for (const [set, chunks] of found) {
    let bytes = 0;
    for await (const value of sub.chunk.values({ ...chunkRange(set), ...options } as never)) bytes += (value as Buffer).length;
    (marked.has(set) ? leftovers.unfinished : leftovers.stray).push({ set, chunks, bytes });
  }
  // A mark with no chunk yet (the first batch was not written) is unfinished too.
  for (const set of marked) if (!found.has(set) && !owned.has(set)) leftovers.unfinished.push({ set, chunks: 0, bytes: 0 });
  return leftovers;
}
