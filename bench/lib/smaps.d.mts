/** Types of bench/lib/smaps.mjs (plain JavaScript, so the server child can run it without tsx). */

/** What a process's RSS is made of, in bytes; `anon` includes `v8Heap` (known only for the calling process). */
export interface RssParts {
  rss: number;
  nodeBinary: number;
  libraries: number;
  levelTables: number;
  otherFiles: number;
  anon: number;
  v8Heap?: number;
}

/** The parts of `pid`'s RSS (default: this process), or undefined where there is no /proc. */
export function rssParts(pid?: number | 'self'): RssParts | undefined;
