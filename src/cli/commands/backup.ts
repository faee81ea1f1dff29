/**
 * `hotbridge backup FILE` (a consistent copy of the store in one file, also while the daemon runs: the
 * daemon writes it from a snapshot of its live store) and `hotbridge restore FILE` (the daemon stopped:
 * the backup is checked and verified before it replaces the store, and the store it replaces is kept).
 */
import path from 'node:path';
import { VERSION } from '../../daemon/version.js';
import { ArchiveError, restoreArchive, StoreError, type BackupReport } from '../../store/index.js';
import { loadConfigOrExplain, UserError } from '../config-option.js';
import { megabytes, requireStopped, viaDaemon, withLock, withOpenStore } from './store-access.js';

export async function runBackup(options: { config?: string; file: string; out: NodeJS.WritableStream }): Promise<number> {
  const config = loadConfigOrExplain(options.config);
  const file = path.resolve(options.file);
  let report = await viaDaemon<BackupReport>(config, 'backup', { file });
  if (report === undefined)
    report = await withOpenStore(config, 'backup', (store) => store.backup(file, { hotbridge: VERSION }, { exclusive: true }));
  options.out.write(
    `Backup written and checked: ${report.file} (${report.messages} messages, ${report.entries} entries, ${megabytes(report.bytes)}, ${report.seconds.toFixed(1)} s).\n`,
  );
  options.out.write(`Put it back with: hotbridge restore ${report.file}\n`);
  return 0;
}

export async function runRestore(options: { config?: string; file: string; out: NodeJS.WritableStream }): Promise<number> {
  const config = loadConfigOrExplain(options.config);
  await requireStopped(config, 'restore');
  try {
    const report = await withLock(config, 'restore', () => restoreArchive(config.dataDir, options.file));
    options.out.write(
      `Restored ${report.file} (made ${report.createdAt}): ${report.verify.counts.messages} messages in ${report.verify.counts.mailboxes} mailboxes, verified.\n`,
    );
    if (report.previous) options.out.write(`The store it replaced is kept in ${report.previous} (delete it when you no longer need it).\n`);
    options.out.write('Start hotbridge again to use it.\n');
    return 0;
  } catch (err) {
    if (err instanceof ArchiveError || err instanceof StoreError)
      throw new UserError(`cannot restore: ${err.message}; the store was not changed`, 1);
    throw err;
  }
}
