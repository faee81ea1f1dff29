/**
 * The store's door: the only module of src/store that the rest of src/ may import (the dependency rule in
 * .dependency-cruiser.cjs holds everyone to it). The daemon opens the `Store`; every other part gets the
 * one interface written for it (doors.ts), with the records, errors and change events they speak of.
 */

// The store itself, for the daemon that opens it and hands out its doors.
export { Store, type OpenOptions, verifyStoreAt, ONE_PASS_TABLES } from './store.js';

// One door per user.
export type { ImapStore, PollerStore, SubmissionStore, RelayStore } from './doors.js';
export type { CopyResult, Delivery, FlagStoreResult, IngestItem, IngestResult, MailboxRename } from './doors.js';
export type { UidlLedgerView } from './uidl-ledger.js';
export type { AppendOptions } from './messages.js';
export type { VanishedAnswer } from './expunge-history.js';
// Large messages written to disk as they arrive (PollerStore.spoolBlob).
export type { BlobSpool, SpooledBlob } from './blob-chunks.js';
export { BLOB_CHUNK_BYTES } from './blob-chunks.js';

// What the doors speak of.
export type * from './records.js';
export { StoreError, type StoreErrorCode } from './errors.js';
export type { ChangeSource, OutboxEvent, StoreChange } from './changes.js';

// The flag vocabulary and its limits, one definition for the store and the servers.
export { SYSTEM_FLAGS, canonicalSystemFlag, isKeyword, type FlagChange } from './flags.js';
export {
  KeywordLimitError,
  MAX_KEYWORD_LENGTH,
  MAX_KEYWORDS_PER_MAILBOX,
  MAX_KEYWORDS_PER_MESSAGE,
  checkMailboxKeywords,
  keywordCount,
  keywordsInUse,
} from './keyword-limits.js';

// UID sets and lookups in UID-ordered lists.
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
export { findByUid, firstAtOrAbove, indexOfUid } from './uid-search.js';
