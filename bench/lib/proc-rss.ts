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

/** Reads one figure of every process from /proc and sums it over `pid` and all its live descendants. */
function sumOverTree(pid: number, read: (proc: string) => { ppid: number; value: number }): number {
  const parents = new Map<number, number>();
  const values = new Map<number, number>();
  let names: string[];
  try {
    names = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return 0;
  }
  for (const name of names) {
    try {
      const { ppid, value } = read(name);
      parents.set(Number(name), ppid);
      values.set(Number(name), value);
    } catch {
      // the process ended while we looked
    }
  }
  let total = 0;
  for (const [candidate, value] of values) {
    for (let at: number | undefined = candidate; at !== undefined && at > 1; at = parents.get(at)) {
      if (at === pid) {
        total += value;
        break;
      }
    }
  }
  return total;
}

/** RSS in bytes of `pid` and all its descendants together (Dovecot's master and its service processes). */
export function treeRss(pid: number): number {
  return sumOverTree(pid, (proc) => {
    const status = fs.readFileSync(`/proc/${proc}/status`, 'utf8');
    return {
      ppid: Number(/^PPid:\s*(\d+)$/m.exec(status)?.[1]),
      value: Number(/^VmRSS:\s*(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024,
    };
  });
}

/**
 * CPU seconds (user + system) spent by `pid` and all its live descendants, including the children they
 * have already reaped (Dovecot's master reaps each finished `imap` process, whose time then counts in its
 * cutime). CPU per command is a figure a loaded machine barely moves, unlike commands per second.
 */
export function treeCpuSeconds(pid: number): number {
  const ticksPerSecond = 100; // USER_HZ on Linux
  const ticks = sumOverTree(pid, (proc) => {
    const stat = fs.readFileSync(`/proc/${proc}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), value: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]) };
  });
  return ticks / ticksPerSecond;
}
