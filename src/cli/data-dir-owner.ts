/**
 * Files a command run as root writes into a data dir that belongs to someone else (the system service's
 * `hotbridge` user) are given to that owner, so the service can read a new sign-in or local password at
 * once: `sudo hotbridge login you@hotmail.com` just works.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Chowns everything under `dataDir` that is not its owner's to the owner of `dataDir`; only as root. */
export function giveToDataDirOwner(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  let owner: fs.Stats;
  try {
    owner = fs.statSync(dataDir);
  } catch {
    return;
  }
  if (owner.uid === 0) return;
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const stat = fs.lstatSync(full);
      if (stat.uid !== owner.uid || stat.gid !== owner.gid) fs.lchownSync(full, owner.uid, owner.gid);
      // The store (LevelDB) is the daemon's own and never written by these commands; skip its many files.
      if (entry.isDirectory() && entry.name !== 'store') walk(full);
    }
  };
  walk(dataDir);
}
