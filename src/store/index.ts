/** The store's public face: the only way upstream and downstream share state. */
export { Store, StoreError, DEFAULT_MAILBOXES, HIERARCHY_DELIMITER, normalizeFlags, VANISHED_HISTORY_LIMIT, verifyStoreAt, ONE_PASS_TABLES } from './store.js';
export type { AppendOptions, Delivery, IngestItem, OpenOptions, VanishedAnswer } from './store.js';
export { ChangeFeed, type StoreChange } from './changes.js';
export type * from './records.js';
export {
  KeywordLimitError,
  MAX_KEYWORD_LENGTH,
  MAX_KEYWORDS_PER_MAILBOX,
  MAX_KEYWORDS_PER_MESSAGE,
  checkMailboxKeywords,
  checkMessageKeywords,
  keywordCount,
  keywordsInUse,
} from './keyword-limits.js';
export { inRanges, mergeRanges, type UidRanges } from './uid-ranges.js';
export type { StoreFaultCode } from './errors.js';
export type { StoreHealth } from './write-recovery.js';
// Backup, restore, verify, repair, export and import (issue 12).
export type { VerifyReport, VerifyProblem, VerifyOptions } from './verify.js';
export type { BackupReport, RestoreReport } from './backup.js';
export { restoreArchive } from './backup.js';
export { ArchiveError } from './backup-archive.js';
export { repairStore, type RepairReport } from './repair.js';
export { exportStore, type ExportFormat, type ExportReport } from './export.js';
export { importIntoStore, type ImportReport } from './import.js';
export { describeSummary, type MessageSummary } from './message-summary.js';
export { REPAIR_ADVICE, freeBytes } from './store-health.js';
export { inspectStore, diskRoom, type StoreInspection } from './store-check.js';
