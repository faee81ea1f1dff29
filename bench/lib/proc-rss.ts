/**
 * Resident memory of other processes from Linux's /proc (for Dovecot's per-connection `imap`
 * processes, which the benchmark cannot ask itself). Returns nothing on systems without /proc.
 */
import fs from 'node:fs';

/** RSS in bytes of each live child of `parentPid` whose command name is `comm`. */
export function childrenRss(parentPid: number, comm: string): number[] {
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const sizes: number[] = [];
  for (const pid of pids) {
    try {
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const name = /^Name:\s*(.*)$/m.exec(status)?.[1];
      const ppid = Number(/^PPid:\s*(\d+)$/m.exec(status)?.[1]);
      const rssKb = Number(/^VmRSS:\s*(\d+) kB$/m.exec(status)?.[1]);
      if (name === comm && ppid === parentPid && rssKb > 0) sizes.push(rssKb * 1024);
    } catch {
      // the process ended while we looked
    }
  }
  return sizes;
}

/** RSS in bytes of `pid` and all its descendants together (Dovecot's master and its service processes). */
export function treeRss(pid: number): number {
  const parents = new Map<number, number>();
  const rss = new Map<number, number>();
  let names: string[];
  try {
    names = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return 0;
  }
  for (const name of names) {
    try {
      const status = fs.readFileSync(`/proc/${name}/status`, 'utf8');
      parents.set(Number(name), Number(/^PPid:\s*(\d+)$/m.exec(status)?.[1]));
      rss.set(Number(name), Number(/^VmRSS:\s*(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024);
    } catch {
      // the process ended while we looked
    }
  }
  let total = 0;
  for (const [candidate, bytes] of rss) {
    for (let at: number | undefined = candidate; at !== undefined && at > 1; at = parents.get(at)) {
      if (at === pid) {
        total += bytes;
        break;
      }
    }
  }
  return total;
}
