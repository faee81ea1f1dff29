/**
 * Gives the memory glibc's malloc holds free back to the system, every few seconds.
 *
 * Measured under imaptest's load (bench/imap-stress.bench.ts): afterwards glibc's heap held ~38 MB of
 * which ~9 MB was in use, and it stays so, because malloc returns memory only from the top of its heap
 * and what is still in use (the blob cache, sessions, LevelDB's buffers) is spread over it. No setting
 * of glibc's tried changed that (MALLOC_MMAP_THRESHOLD_ at 32, 64 and 128 KB, mxfast, trim threshold);
 * malloc_trim(0) does, and Node cannot call it, hence the small addon (malloc-trim.c, built where a C
 * compiler and glibc are). Where it is not built, this does nothing.
 */
import { createRequire } from 'node:module';

/**
 * How often the free memory is handed back. A call costs under a millisecond when there is little to give
 * back and ~9 ms when 60 MB is (measured), so every 10 s is a negligible share of the loop.
 */
export const TRIM_INTERVAL_MS = 10_000;

interface TrimAddon {
  /** malloc_trim(0): true when memory was handed back. */
  trim(): boolean;
}

let addon: TrimAddon | null | undefined;

/** The addon, or null where it is not built (not Linux with glibc, no C compiler at build time). */
export function mallocTrimAddon(): TrimAddon | null {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)('./malloc-trim.node') as TrimAddon;
    } catch {
      addon = null;
    }
  }
  return addon;
}

/** Starts handing free memory back every `intervalMs`; returns the function that stops it. */
export function startMemoryTrimmer(intervalMs = TRIM_INTERVAL_MS): () => void {
  const trimmer = mallocTrimAddon();
  if (!trimmer) return () => undefined;
  const timer = setInterval(() => trimmer.trim(), intervalMs);
  // The daemon's other work keeps it alive; this must not.
  timer.unref();
  return () => clearInterval(timer);
}
