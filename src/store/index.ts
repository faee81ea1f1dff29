/** The store's public face: the only way upstream and downstream share state. */
export { Store, StoreError, DEFAULT_MAILBOXES, HIERARCHY_DELIMITER, normalizeFlags, VANISHED_HISTORY_LIMIT, BLOB_CHUNK_BYTES } from './store.js';
export type { AppendOptions, BlobSpool, Delivery, IngestItem, OpenOptions, SpooledBlob, VanishedAnswer } from './store.js';
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
