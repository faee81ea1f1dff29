/**
 * `hotbridge export --format maildir|mbox DIR [--mailbox NAME]` and `hotbridge import PATH [--mailbox NAME]`
 * (store/export.ts, store/import.ts). Both work while the daemon runs (the daemon does them on its store,
 * and mail clients see imported messages at once) and when it does not.
 */
import path from 'node:path';
import { importIntoStore, exportStore, StoreError, type ExportFormat, type ExportReport, type ImportReport } from '../../store/index.js';
import { findAccount, loadConfigOrExplain, UserError } from '../config-option.js';
import { megabytes, viaDaemon, withOpenStore } from './store-access.js';

export async function runExport(options: {
  config?: string;
  dir: string;
  format: ExportFormat;
  mailbox?: string;
  account?: string;
  out: NodeJS.WritableStream;
}): Promise<number> {
  const config = loadConfigOrExplain(options.config);
  const dir = path.resolve(options.dir);
  const account = options.account ? findAccount(config, options.account).address : undefined;
  const body = { dir, format: options.format, ...(options.mailbox ? { mailbox: options.mailbox } : {}), ...(account ? { account } : {}) };
  let report: ExportReport;
  try {
    report =
      (await viaDaemon<ExportReport>(config, 'export', body)) ??
      (await withOpenStore(config, 'export', (store) => exportStore(store, dir, { ...body, exclusive: true })));
  } catch (err) {
    if (err instanceof StoreError || (err instanceof Error && /not empty/.test(err.message)))
      throw new UserError(`cannot export: ${err.message}`, 1);
    throw err;
  }
  options.out.write(
    `Exported ${report.messages} messages (${megabytes(report.bytes)}) from ${report.mailboxes} mailboxes to ${report.dir} as ${report.format}, in ${report.seconds.toFixed(1)} s.\n`,
  );
  if (report.droppedKeywords > 0)
    options.out.write(`  ${report.droppedKeywords} keywords did not fit: Maildir has letters for 26 keywords per folder.\n`);
  for (const skipped of report.skipped)
    options.out.write(`  ✗ left out ${skipped.mailbox} of ${skipped.account}, UID ${skipped.uid}: ${skipped.problem}\n`);
  return report.skipped.length > 0 ? 1 : 0;
}

export async function runImport(options: {
  config?: string;
  source: string;
  mailbox?: string;
  account?: string;
  out: NodeJS.WritableStream;
}): Promise<number> {
  const config = loadConfigOrExplain(options.config);
  if (config.accounts.length === 0) throw new UserError(`there is no account in ${config.file} to import into`, 2);
  const account = options.account ? findAccount(config, options.account).address : config.accounts[0].address;
  if (!options.account && config.accounts.length > 1) options.out.write(`Importing into ${account} (choose another with --account).\n`);
  const source = path.resolve(options.source);
  const body = { source, account, ...(options.mailbox ? { mailbox: options.mailbox } : {}) };
  let report: ImportReport;
  try {
    report =
      (await viaDaemon<ImportReport>(config, 'import', body)) ??
      (await withOpenStore(config, 'import', (store) => importIntoStore(store, source, body)));
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`cannot import ${source}: ${(err as Error).message}; nothing was imported`, 1);
  }
  options.out.write(
    `Imported ${report.added} of ${report.found} messages from ${report.source} (${report.kind}) into ${account}${report.found > report.added ? `; ${report.found - report.added} were there already` : ''}, in ${report.seconds.toFixed(1)} s.\n`,
  );
  for (const [mailbox, n] of Object.entries(report.perMailbox)) options.out.write(`  ${mailbox}: ${n}\n`);
  if (report.created.length > 0) options.out.write(`  new mailboxes: ${report.created.join(', ')}\n`);
  for (const problem of report.problems) options.out.write(`  ✗ ${problem.origin}: ${problem.problem}\n`);
  return 0;
}
