/**
 * Putting a whole new LevelDB directory in the store's place (`hotbridge restore`, `hotbridge repair`) so
 * that a crash at any moment leaves the old store or the new one, never a mix and never none:
 *
 *   1. the new store is built in DATA_DIR/store.incoming (a crash here leaves the old store; the leftover
 *      directory is removed the next time the store opens);
 *   2. DATA_DIR/store-swap.json names what moves where, synced;
 *   3. DATA_DIR/store → DATA_DIR/store.<aside> (the old store, kept for the user);
 *   4. DATA_DIR/store.incoming → DATA_DIR/store; the journal goes.
 *
 * A crash between 3 and 4 leaves no `store` but the journal: the next open finishes the swap (forward, the
 * new store is complete). A crash between 2 and 3 leaves the old store with the journal: the swap is
 * undone (the new store is dropped; the command can simply be run again).
 */
import fs from 'node:fs';
import path from 'node:path';

const JOURNAL = 'store-swap.json';
const INCOMING = 'store.incoming';

interface Journal {
  aside: string;
  startedAt: string;
}

export function incomingLocation(dataDir: string): string {
  return path.join(dataDir, INCOMING);
}

function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A fresh, empty place to build the new store in (what a crashed earlier attempt left is removed). */
export function prepareIncoming(dataDir: string): string {
  const incoming = incomingLocation(dataDir);
  fs.rmSync(incoming, { recursive: true, force: true });
  return incoming;
}

/**
 * Puts the complete store in DATA_DIR/store.incoming in the store's place; the old one (if any) is kept
 * as DATA_DIR/store.<asideSuffix>. Returns where the old one went.
 */
export function swapInIncoming(dataDir: string, asideSuffix: string): string | undefined {
  const store = path.join(dataDir, 'store');
  const incoming = incomingLocation(dataDir);
  const aside = path.join(dataDir, `store.${asideSuffix}`);
  const journal: Journal = { aside: path.basename(aside), startedAt: new Date().toISOString() };
  const journalFile = path.join(dataDir, JOURNAL);
  const fd = fs.openSync(journalFile, 'w', 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(journal) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  syncDir(dataDir);
  const hadStore = fs.existsSync(store);
  if (hadStore) fs.renameSync(store, aside);
  fs.renameSync(incoming, store);
  syncDir(dataDir);
  fs.rmSync(journalFile, { force: true });
  syncDir(dataDir);
  return hadStore ? aside : undefined;
}

/**
 * Before the store opens: finishes or undoes a swap a crash interrupted, and removes a half-built new
 * store. Returns what it did, in words (undefined when there was nothing to do).
 */
export function settleInterruptedSwap(dataDir: string): string | undefined {
  const store = path.join(dataDir, 'store');
  const incoming = incomingLocation(dataDir);
  const journalFile = path.join(dataDir, JOURNAL);
  let journal: Journal | undefined;
  try {
    journal = JSON.parse(fs.readFileSync(journalFile, 'utf8')) as Journal;
  } catch {
    journal = undefined;
  }
  if (journal === undefined) {
    if (!fs.existsSync(incoming)) return undefined;
    fs.rmSync(incoming, { recursive: true, force: true });
    fs.rmSync(journalFile, { force: true });
    return 'removed a new store that an interrupted restore or repair had not finished; the store is as it was before';
  }
  let done: string;
  if (!fs.existsSync(store) && fs.existsSync(incoming)) {
    fs.renameSync(incoming, store);
    done = `finished an interrupted restore or repair: the new store is in place, the old one is ${path.join(dataDir, journal.aside)}`;
  } else if (fs.existsSync(incoming)) {
    fs.rmSync(incoming, { recursive: true, force: true });
    done = 'undid an interrupted restore or repair before it changed anything: the store is as it was before';
  } else {
    done = 'finished an interrupted restore or repair';
  }
  syncDir(dataDir);
  fs.rmSync(journalFile, { force: true });
  syncDir(dataDir);
  return done;
}
