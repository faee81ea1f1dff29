/**
 * `hotbridge repair` (the daemon stopped): LevelDB's repair on a copy of the store, then everything that can
 * be rebuilt from the messages themselves, a verify, and the copy in the store's place; the damaged store
 * is kept. Says what could not be saved, by mailbox, date, sender and subject, and — for accounts that
 * leave mail on the server — that `hotbridge resync` fetches lost ones again. `hotbridge resync` forgets
 * those messages' UIDLs so the poller fetches them again (while the daemon runs: at once).
 */
import { describeSummary, repairStore, StoreError, type RepairReport } from '../../store/index.js';
import { loadConfigOrExplain, UserError } from '../config-option.js';
import { requireStopped, viaDaemon, withLock, withOpenStore } from './store-access.js';

export async function runRepair(options: { config?: string; out: NodeJS.WritableStream }): Promise<number> {
  const config = loadConfigOrExplain(options.config);
  await requireStopped(config, 'repair');
  let report: RepairReport;
  try {
    report = await withLock(config, 'repair', () =>
      repairStore(config.dataDir, { accounts: config.accounts.map((account) => account.address) }),
    );
  } catch (err) {
    if (err instanceof StoreError) throw new UserError(`cannot repair: ${err.message}`, 1);
    throw err;
  }
  const out = options.out;
  if (report.settled) out.write(`${report.settled}.\n`);
  if (report.nothingToRepair) {
    out.write(
      `Nothing to repair: the store in ${config.dataDir} verifies (${report.verify.counts.messages} messages). Nothing was changed.\n`,
    );
    return 0;
  }
  const rebuild = report.rebuild!;
  out.write(`Repaired the store in ${config.dataDir}; the damaged one is kept in ${report.damagedCopy}.\n`);
  out.write(`  ${rebuild.messages} messages are in the repaired store (verified)`);
  out.write(
    rebuild.recovered > 0 ? `, ${rebuild.recovered} of them put back into the mailbox "Recovered" (their records were lost).\n` : '.\n',
  );
  if (rebuild.mailboxesRecreated.length > 0)
    out.write(`  Mailboxes made again for messages whose mailbox record was lost: ${rebuild.mailboxesRecreated.join(', ')}.\n`);
  out.write(
    `  Rebuilt: ${rebuild.indexesRebuilt} indexes, ${rebuild.referenceCountsFixed} reference counts, ${rebuild.countersRaised} mailbox counters, ${rebuild.ledgerEntriesRestored} POP3 ledger entries.\n`,
  );
  const { leftoverChunks, chunkSetsReattached, stagedImportsDeleted } = rebuild;
  if (chunkSetsReattached > 0)
    out.write(
      `  ${chunkSetsReattached} large message${chunkSetsReattached === 1 ? '' : 's'} whose chunk list was lost put together again from ${chunkSetsReattached === 1 ? 'its' : 'their'} chunks.\n`,
    );
  if (leftoverChunks.sets > 0 || stagedImportsDeleted > 0)
    out.write(
      `  Left-overs deleted (no message was in them): ${[
        leftoverChunks.sets > 0
          ? `${(leftoverChunks.bytes / 1048576).toFixed(1)} MB of chunks of ${leftoverChunks.sets} unfinished or unowned large message${leftoverChunks.sets === 1 ? '' : 's'}`
          : '',
        stagedImportsDeleted > 0
          ? `${stagedImportsDeleted} message${stagedImportsDeleted === 1 ? '' : 's'} of an import that was cut short`
          : '',
      ]
        .filter(Boolean)
        .join('; ')}.\n`,
    );
  if (report.unreadable) {
    const mb = (report.unreadable.bytes / (1024 * 1024)).toFixed(1);
    out.write(
      `\n! LevelDB found ${report.unreadable.files} of its files damaged (${mb} MB, kept in ${report.unreadable.kept}) and saved only what it could read of them.\n`,
    );
    out.write(
      '  Messages whose every trace was in the unreadable part are gone and cannot be named here; if you have a backup, it has them (hotbridge restore FILE).\n',
    );
    for (const account of config.accounts.filter((a) => a.leaveOnServer)) {
      out.write(
        `  ${account.address} leaves mail on the server: the next poll fetches again every message the provider still has that the store no longer knows.\n`,
      );
    }
  }
  if (rebuild.lost.length === 0) {
    out.write(report.unreadable ? '\nNo message that the store still knows of was lost.\n' : 'Nothing was lost.\n');
    return 0;
  }
  out.write(`\nCould not be saved (${rebuild.lost.length}):\n`);
  for (const lost of rebuild.lost.slice(0, 500)) out.write(`  - ${describeSummary(lost)}: ${lost.problem}\n`);
  if (rebuild.lost.length > 500) out.write(`  … and ${rebuild.lost.length - 500} more\n`);
  const refetchable = config.accounts.filter((account) => account.leaveOnServer && (report.refetchable[account.address] ?? 0) > 0);
  for (const account of refetchable) {
    out.write(
      `\n${report.refetchable[account.address]} of the lost messages of ${account.address} came from the provider, which keeps a copy (leave_on_server = true).\n`,
    );
    out.write(`Fetch them again with: hotbridge resync${options.config ? ` --config ${options.config}` : ''}\n`);
  }
  return 0;
}

export async function runResync(options: { config?: string; out: NodeJS.WritableStream }): Promise<number> {
  const config = loadConfigOrExplain(options.config);
  let forgotten = await viaDaemon<Record<string, number>>(config, 'resync', {});
  const running = forgotten !== undefined;
  forgotten ??= await withOpenStore(config, 'resync', (store) => store.resyncLost());
  const total = Object.values(forgotten).reduce((sum, n) => sum + n, 0);
  if (total === 0) {
    options.out.write('Nothing to fetch again: no message a repair lost is waiting for it.\n');
    return 0;
  }
  for (const [account, n] of Object.entries(forgotten))
    if (n > 0) options.out.write(`${account}: ${n} lost messages will be fetched again from the provider.\n`);
  options.out.write(
    running
      ? 'The running hotbridge is fetching them now (hotbridge status shows the progress).\n'
      : 'They are fetched the next time hotbridge runs.\n',
  );
  return 0;
}
