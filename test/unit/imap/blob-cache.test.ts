// The server's cache of recently read message bytes: hits need no store read, concurrent readers of a
// blob share one, it stays within its bound (least recently used out, big messages never in), and a
// failed read is not remembered.
import { describe, expect, test } from 'vitest';
import { BlobCache } from '../../../src/downstream/imap/blob-cache.js';
import { StoreError } from '../../../src/store/index.js';

function loaderOf(blobs: Map<string, Buffer>) {
  const reads: string[] = [];
  const load = async (blobId: string) => {
    reads.push(blobId);
    await new Promise((resolve) => setImmediate(resolve));
    const raw = blobs.get(blobId);
    if (!raw) throw new StoreError('not-found', `blob ${blobId} is missing`);
    return raw;
  };
  return { reads, load };
}

describe('BlobCache', () => {
  test('a second read is a hit; concurrent reads share one store read', async () => {
    const { reads, load } = loaderOf(new Map([['a', Buffer.from('aaa')]]));
    const cache = new BlobCache(load, 1024);
    expect(cache.peek('a')).toBeUndefined();
    const [first, second] = await Promise.all([cache.get('a'), cache.get('a')]);
    expect(first).toBe(second);
    expect(cache.peek('a')?.toString()).toBe('aaa');
    expect(await cache.get('a')).toBe(first);
    expect(reads).toEqual(['a']);
  });

  test('stays within its bound, least recently used out; a blob over a quarter of it is not kept', async () => {
    const blobs = new Map(['a', 'b', 'c', 'd', 'e'].map((id) => [id, Buffer.alloc(100, id)]));
    blobs.set('big', Buffer.alloc(101));
    const { reads, load } = loaderOf(blobs);
    const cache = new BlobCache(load, 400 /* bytes: four of them */);
    for (const id of ['a', 'b', 'c', 'd']) await cache.get(id);
    expect(cache.size).toBe(400);
    cache.peek('a'); // a is now the most recently used, b the least
    await cache.get('e');
    expect(cache.size).toBe(400);
    expect(cache.peek('b')).toBeUndefined();
    for (const id of ['a', 'c', 'd', 'e']) expect(cache.peek(id)).toBeDefined();
    expect((await cache.get('big')).length).toBe(101);
    expect(cache.peek('big')).toBeUndefined();
    expect(cache.size).toBe(400);
    expect(reads).toEqual(['a', 'b', 'c', 'd', 'e', 'big']);
  });

  test('a blob that is gone: the error reaches the caller and nothing is cached', async () => {
    const { reads, load } = loaderOf(new Map());
    const cache = new BlobCache(load, 1000);
    await expect(cache.get('gone')).rejects.toMatchObject({ code: 'not-found' });
    await expect(cache.get('gone')).rejects.toMatchObject({ code: 'not-found' });
    expect(reads).toEqual(['gone', 'gone']);
    expect(cache.size).toBe(0);
  });
});
