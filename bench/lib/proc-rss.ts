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
