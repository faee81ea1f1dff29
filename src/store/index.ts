/** The store's public face: the only way upstream and downstream share state. */
export { Store, StoreError, DEFAULT_MAILBOXES, HIERARCHY_DELIMITER, normalizeFlags, VANISHED_HISTORY_LIMIT } from './store.js';
export type { AppendOptions, IngestItem, OpenOptions, VanishedAnswer } from './store.js';
export type { StoreChange } from './changes.js';
export type * from './records.js';
export type { MessageIndex } from './mime/index.js';
