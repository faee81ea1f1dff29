/**
 * A quick look at the store for `hotbridge doctor`, without changing anything: is there one, does it open,
 * does a quick verify (no re-indexing) find it whole, and is there room on the disk. Creates nothing, takes
 * no lock, finishes no interrupted restore; a store the daemon holds is not opened (doctor asks the daemon).
 */
import fs from 'node:fs';
import path from 'node:path';
import { openLocation } from './database.js';
import { StoreError } from './errors.js';
import { diskFullText, freeBytes, levelMessage, REPAIR_ADVICE, storeLocation } from './store-health.js';
import { mayCreateStore } from './store-presence.js';
import { verifyDatabase, type VerifyReport } from './verify.js';

/** Below this much free space on the data dir's disk, doctor warns (the outbox and the poller need room). */
export const LOW_DISK_BYTES = 100 * 1024 * 1024;

export interface StoreInspection {
  state: 'none' | 'ok' | 'problems' | 'cannot-open';
  /** One line, in words. */
  text: string;
  fix?: string;
  report?: VerifyReport;
}

export async function inspectStore(dataDir: string): Promise<StoreInspection> {
  const absolute = path.resolve(dataDir);
  const location = storeLocation(absolute);
  try {
    if (!fs.existsSync(absolute) || mayCreateStore(absolute, location))
      return { state: 'none', text: `no store yet in ${location} (hotbridge makes it at its first run)` };
  } catch (err) {
    if (err instanceof StoreError) return { state: 'cannot-open', ...textAndFix(err) };
    throw err;
  }
  let database;
  try {
    database = await openLocation(absolute, location, { create: false });
  } catch (err) {
    if (err instanceof StoreError) return { state: 'cannot-open', ...textAndFix(err) };
    return { state: 'cannot-open', text: `the store in ${location} does not open (LevelDB: ${levelMessage(err)})`, fix: REPAIR_ADVICE };
  }
  try {
    const report = await verifyDatabase(database, { quick: true });
    if (!report.ok)
      return {
        state: 'problems',
        text: `the store has ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}: ${report.problems[0].text}`,
        fix: `see them all: hotbridge verify; then ${REPAIR_ADVICE}`,
        report,
      };
    return {
      state: 'ok',
      text: `the store is whole (${report.counts.messages} messages, quick check; hotbridge verify checks every index too)`,
      report,
    };
  } finally {
    await database.close();
  }
}

/** The disk holding the data dir has room (undefined when it cannot be told). */
export function diskRoom(dataDir: string): { low: boolean; text: string } | undefined {
  const free = freeBytes(fs.existsSync(dataDir) ? dataDir : path.dirname(dataDir));
  if (free === undefined) return undefined;
  if (free < LOW_DISK_BYTES) return { low: true, text: diskFullText(dataDir).replace('the disk is full', 'the disk is nearly full') };
  return { low: false, text: `${Math.round(free / (1024 * 1024))} MB free on the disk holding ${dataDir}` };
}

/** The problem and its fix, apart: a permission problem is fixed by the owner, not by a repair. */
function textAndFix(err: StoreError): { text: string; fix: string } {
  if (err.code === 'in-use') return { text: err.message, fix: 'stop the other hotbridge, or run doctor while it runs' };
  const cut = err.code === 'unwritable' ? err.message.indexOf('; ') : -1;
  if (cut > 0) return { text: err.message.slice(0, cut), fix: err.message.slice(cut + 2) };
  const advice = err.message.indexOf(REPAIR_ADVICE);
  return { text: advice > 0 ? err.message.slice(0, advice).replace(/[;.\s]+$/, '') : err.message, fix: REPAIR_ADVICE };
}
