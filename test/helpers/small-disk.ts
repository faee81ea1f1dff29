/**
 * A small file system of its own for a test (tmpfs, mounted by the test as root), to fill up for real:
 * the full-disk tests need ENOSPC from the kernel, not a mock. Under CI, or when we cannot mount, the test
 * fails with the reason: a full-disk test that silently did not run proves nothing.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SmallDisk {
  dir: string;
  /** Bytes an unprivileged writer may still use (statfs bavail). */
  freeBytes(): number;
  /** Puts a file of `bytes` zeros on the disk (room to give back later with `release`). */
  reserve(name: string, bytes: number): void;
  /** Deletes a file made by `reserve`: that much room comes back. */
  release(name: string): void;
  unmount(): void;
}

export function mountSmallDisk(megabytes: number): SmallDisk {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-small-disk-'));
  try {
    if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('not root');
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m,mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    const why = err instanceof Error ? (err as { stderr?: Buffer }).stderr?.toString().trim() || err.message : String(err);
    throw new Error(
      `the full-disk test needs a small tmpfs of its own and could not mount one (${why}); run the tests as root${process.env.CI ? ' (CI=true: this is a failure, not a skip)' : ''}`,
      { cause: err },
    );
  }
  let mounted = true;
  return {
    dir,
    freeBytes: () => {
      const stats = fs.statfsSync(dir);
      return stats.bavail * stats.bsize;
    },
    reserve: (name, bytes) => {
      const fd = fs.openSync(path.join(dir, name), 'w');
      try {
        const chunk = Buffer.alloc(1024 * 1024);
        for (let written = 0; written < bytes; written += chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - written));
      } finally {
        fs.closeSync(fd);
      }
    },
    release: (name) => fs.rmSync(path.join(dir, name), { force: true }),
    unmount: () => {
      if (!mounted) return;
      mounted = false;
      // Lazy: a process the test killed may still be letting go of its files.
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
