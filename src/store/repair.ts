/**
 * `hotbridge repair`, with the daemon stopped (the caller holds the data dir's lock):
 *   1. a store that opens and verifies needs nothing: it is left alone;
 *   2. the store is copied (DATA_DIR/store.incoming) and LevelDB's own repair runs on the copy: it rebuilds
 *      a lost CURRENT or MANIFEST from the table files and salvages what it can read of damaged tables;
 *   3. the copy is made whole from its blobs (rebuild.ts) and verified;
 *   4. the copy takes the store's place (store-swap.ts); the damaged store is kept beside it as
 *      DATA_DIR/store.damaged-TIME, untouched, for a second opinion.
 * Interrupted at any point, the store is the old one or the repaired one (store-swap.ts).
 * What could not be saved is reported by mailbox, date, sender and subject; for messages the poller
 * fetched from an account that leaves mail on the server, `hotbridge resync` fetches them again.
 */
import fs from 'node:fs';
import { Level } from 'level';
import { openLocation, type Database } from './database.js';
import { StoreError } from './errors.js';
import { rebuildFromBlobs, type RebuildReport } from './rebuild.js';
import { levelMessage, permissionProblem, storeLocation } from './store-health.js';
import { prepareIncoming, settleInterruptedSwap, swapInIncoming } from './store-swap.js';
import { stamp } from './backup.js';
import { verifyDatabase, type VerifyReport } from './verify.js';

/** Meta key listing, per account, the UIDLs of fetched messages the last repair could not save (for resync). */
export const LOST_UIDLS_META = 'app:repair-lost-uidls';

export interface RepairOptions {
  /** The configured accounts (lowercase), to own messages nothing else names. */
  accounts: string[];
}

export interface RepairReport {
  /** The store was whole: nothing was changed. */
  nothingToRepair: boolean;
  /** Where the damaged store is kept. */
  damagedCopy?: string;
  rebuild?: RebuildReport;
  verify: VerifyReport;
  /** Lost messages the poller had fetched, per account: `hotbridge resync` can fetch them again. */
  refetchable: Record<string, number>;
  /** What settling an earlier interrupted restore or repair did, if anything. */
  settled?: string;
  /**
   * Table files LevelDB found damaged (wholly or in part): what it could not read of them is gone, and the
   * messages whose every record was in it cannot be named. The files are kept in `kept`.
   */
  unreadable?: { files: number; bytes: number; kept: string };
}

/** Checks that the files can be read and written at all: permissions are not damage, repair cannot fix them. */
function checkAccess(dataDir: string, location: string): void {
  let names: string[];
  try {
    names = [location, ...fs.readdirSync(location).map((file) => `${location}/${file}`)];
  } catch (err) {
    throw permissionProblem(dataDir, location, location, (err as NodeJS.ErrnoException).code);
  }
  for (const name of names) {
    try {
      fs.accessSync(name, fs.constants.R_OK | fs.constants.W_OK);
    } catch (err) {
      throw permissionProblem(dataDir, location, name, (err as NodeJS.ErrnoException).code);
    }
  }
}

export async function repairStore(dataDir: string, options: RepairOptions): Promise<RepairReport> {
  const settled = settleInterruptedSwap(dataDir);
  const location = storeLocation(dataDir);
  if (!fs.existsSync(location)) {
    throw new StoreError(
      'damaged',
      `there is no store in ${location} to repair; if you have a backup, put it back with: hotbridge restore FILE`,
    );
  }
  checkAccess(dataDir, location);

  // A copy to work on: even opening a damaged store can change its files (LevelDB replays its log).
  const incoming = prepareIncoming(dataDir);
  fs.cpSync(location, incoming, { recursive: true });
  fs.rmSync(`${incoming}/LOCK`, { force: true });

  // 1. Perhaps there is nothing to repair.
  const before = await tryVerify(dataDir, incoming);
  const leftovers = before !== undefined && before.notes.length > 0;
  if (before?.ok && !leftovers) {
    fs.rmSync(incoming, { recursive: true, force: true });
    return { nothingToRepair: true, verify: before, refetchable: {}, ...(settled ? { settled } : {}) };
  }

  // 2. LevelDB's repair on the copy (not needed when the store is whole but for leftovers, chunk-leftovers.ts).
  if (!before?.ok) {
    try {
      // classic-level's static repair (LevelDB's RepairDB); `level`'s typings do not declare it.
      await (Level as unknown as { repair(location: string): Promise<void> }).repair(incoming);
    } catch (err) {
      fs.rmSync(incoming, { recursive: true, force: true });
      throw new StoreError(
        'damaged',
        `LevelDB could not repair the copy of the store (${levelMessage(err)}); the store was left as it was. Put a backup back with: hotbridge restore FILE`,
      );
    }
  }

  // What LevelDB's repair could not read whole: it keeps those table files in lost/ (with the logs and the
  // manifest it replaced, which are not losses).
  const lostDir = `${incoming}/lost`;
  const damagedTables = fs.existsSync(lostDir) ? fs.readdirSync(lostDir).filter((name) => /\.(ldb|sst)$/.test(name)) : [];
  const unreadableBytes = damagedTables.reduce((sum, name) => sum + fs.statSync(`${lostDir}/${name}`).size, 0);

  // 3. Whole again from the blobs, and verified.
  let database: Database | undefined;
  let rebuild: RebuildReport;
  let verify: VerifyReport;
  try {
    database = await openLocation(dataDir, incoming, { create: false });
    rebuild = await rebuildFromBlobs(database, options.accounts);
    const refetch: Record<string, string[]> = {};
    for (const lost of rebuild.lost) if (lost.uidl !== undefined && lost.account) (refetch[lost.account] ??= []).push(lost.uidl);
    await database.sub.meta.put(LOST_UIDLS_META, refetch, { sync: true } as never);
    verify = await verifyDatabase(database, { exclusive: true });
    await database.close();
    database = undefined;
  } catch (err) {
    await database?.close().catch(() => undefined);
    fs.rmSync(incoming, { recursive: true, force: true });
    throw err;
  }
  if (!verify.ok) {
    fs.rmSync(incoming, { recursive: true, force: true });
    throw new StoreError(
      'damaged',
      `the repaired copy still does not verify (${verify.problems[0]?.text}); the store was left as it was. Put a backup back with: hotbridge restore FILE`,
    );
  }

  // 4. In its place; the damaged one kept.
  const damagedCopy = swapInIncoming(dataDir, `damaged-${stamp()}`);
  const refetchable: Record<string, number> = {};
  for (const lost of rebuild.lost)
    if (lost.uidl !== undefined && lost.account) refetchable[lost.account] = (refetchable[lost.account] ?? 0) + 1;
  const unreadable =
    damagedTables.length > 0 ? { files: damagedTables.length, bytes: unreadableBytes, kept: `${storeLocation(dataDir)}/lost` } : undefined;
  return {
    nothingToRepair: false,
    ...(damagedCopy ? { damagedCopy } : {}),
    rebuild,
    verify,
    refetchable,
    ...(unreadable ? { unreadable } : {}),
    ...(settled ? { settled } : {}),
  };
}

/** Verifies the store as it is, if it opens at all (undefined when it does not). */
async function tryVerify(dataDir: string, location: string): Promise<VerifyReport | undefined> {
  if (!fs.existsSync(`${location}/CURRENT`)) return undefined;
  let database: Database | undefined;
  try {
    database = await openLocation(dataDir, location, { create: false });
    return await verifyDatabase(database, { exclusive: true });
  } catch {
    return undefined;
  } finally {
    await database?.close().catch(() => undefined);
  }
}
