// @ts-check
/**
 * What a process's resident memory is made of, from Linux's /proc/PID/smaps (for the benchmarks' RSS
 * figures): the node binary's own pages (code, its embedded V8 snapshot and ICU data), other shared
 * libraries, LevelDB's table files (memory-mapped by LevelDB as it reads them), other files, and
 * anonymous memory split into the V8 heap (when the process is this one) and the rest (malloc: LevelDB's
 * block cache and memtable, Buffers, thread stacks). File-backed pages count: the kernel counts them in
 * RSS, so the figures do too. Plain JavaScript, so the server child can use it without tsx.
 */
import fs from 'node:fs';
import v8 from 'node:v8';

/**
 * @typedef {{ rss: number, nodeBinary: number, libraries: number, levelTables: number, otherFiles: number,
 *   anon: number, v8Heap?: number }} RssParts
 * All in bytes; `anon` includes `v8Heap` (V8's physical heap size, known only for the calling process).
 */

/**
 * @param {number | 'self'} pid
 * @returns {RssParts | undefined} undefined where there is no /proc
 */
export function rssParts(pid = 'self') {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return undefined;
  }
  const binary = pid === 'self' ? fs.realpathSync(process.execPath) : fs.realpathSync(`/proc/${pid}/exe`);
  const parts = { rss: 0, nodeBinary: 0, libraries: 0, levelTables: 0, otherFiles: 0, anon: 0 };
  /** @type {keyof typeof parts} */
  let current = 'anon';
  for (const line of text.split('\n')) {
    // A mapping's header: "start-end perms offset dev inode [path]".
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (header) {
      const [, inode, name] = header;
      if (inode === '0' || name === '' || name.startsWith('[')) current = 'anon';
      else if (name === binary) current = 'nodeBinary';
      else if (/\.(ldb|sst)( \(deleted\))?$/.test(name)) current = 'levelTables';
      else if (/\.so(\.[\d.]+)?$/.test(name) || name.includes('.so.')) current = 'libraries';
      else current = 'otherFiles';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss) {
      const bytes = Number(rss[1]) * 1024;
      parts[current] += bytes;
      parts.rss += bytes;
    }
  }
  return pid === 'self' ? { ...parts, v8Heap: v8.getHeapStatistics().total_physical_size } : parts;
}
