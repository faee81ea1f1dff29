/**
 * `hotbridge verify [--quick] [--json]`: checks every message, blob hash, index, reference count, UID rule,
 * the POP3 ledger and the outbox (store/verify.ts), and says what is wrong in words. Exit 0 only when all
 * is well, 1 when something is wrong or the store cannot be opened. Works while the daemon runs (it asks
 * the daemon, which checks from a snapshot of its live store) and when it does not.
 */
import type { HotbridgeConfig } from '../../config/types.js';
import { describeSummary, REPAIR_ADVICE, StoreError, verifyStoreAt, type VerifyReport } from '../../store/index.js';
import { loadConfigOrExplain } from '../config-option.js';
import { megabytes, viaDaemon, withLock } from './store-access.js';

export async function runVerify(options: {
  config?: string;
  quick?: boolean;
  json?: boolean;
  out: NodeJS.WritableStream;
}): Promise<number> {
  const config = loadConfigOrExplain(options.config);
  let report: VerifyReport | undefined;
  let cannotOpen: string | undefined;
  report = await viaDaemon<VerifyReport>(config, 'verify', { quick: options.quick === true });
  if (report === undefined) {
    try {
      report = await withLock(config, 'verify', () => verifyStoreAt(config.dataDir, { quick: options.quick === true }));
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      cannotOpen = err.message;
    }
  }
  if (options.json) {
    options.out.write(`${JSON.stringify(report ?? { ok: false, cannotOpen }, null, 2)}\n`);
    return report?.ok ? 0 : 1;
  }
  if (!report) {
    options.out.write(`✗ the store cannot be opened: ${cannotOpen}\n`);
    return 1;
  }
  options.out.write(formatVerifyReport(report, config));
  return report.ok ? 0 : 1;
}

export function formatVerifyReport(report: VerifyReport, config: HotbridgeConfig): string {
  const { counts } = report;
  const lines = [
    `Checked ${counts.messages} messages in ${counts.mailboxes} mailboxes (${counts.blobs} stored, ${megabytes(counts.bytes)}), ${counts.outbox} waiting to be sent, ${counts.pop3} POP3 ledger entries, in ${config.dataDir}.`,
  ];
  // Leftovers are no problem: said, not counted (older daemons send no notes).
  const notes = (report.notes ?? []).map((note) => `  note: ${note}`);
  if (report.ok) {
    lines.push('✓ the store is whole: every message reads back exactly as it was stored, and every record agrees with it', ...notes);
    return `${lines.join('\n')}\n`;
  }
  lines.push(`✗ ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}:`);
  for (const problem of report.problems) lines.push(`  - ${problem.text}`);
  lines.push(...notes);
  if (report.damaged.length > 0) {
    lines.push('', `Messages that cannot be read (${report.damaged.length}):`);
    for (const message of report.damaged.slice(0, 200)) lines.push(`  - ${describeSummary(message)}: ${message.problem}`);
  }
  lines.push('', `fix: ${REPAIR_ADVICE}`);
  return `${lines.join('\n')}\n`;
}
