/** The store's public face: the only way upstream and downstream share state. */
export { Store, StoreError, DEFAULT_MAILBOXES, HIERARCHY_DELIMITER, normalizeFlags } from './store.js';
export type { AppendOptions, IngestItem, OpenOptions } from './store.js';
export type { StoreChange } from './changes.js';
export type * from './records.js';
export type { MessageIndex } from './mime/index.js';
