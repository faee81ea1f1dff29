/**
 * The one door between the IMAP server and the store: the store methods the server may call. The
 * store never speaks IMAP; the server never touches LevelDB.
 */
import type { Store } from '../../store/index.js';

/** The store as the IMAP server sees it (a subset of Store, so tests and readers know what is used). */
export type MailStore = Pick<
  Store,
  | 'changes'
  | 'listMailboxes'
  | 'findMailbox'
  | 'getMailbox'
  | 'createMailbox'
  | 'deleteMailbox'
  | 'renameMailbox'
  | 'listSubscriptions'
  | 'setSubscribed'
  | 'listMessages'
  | 'getBlob'
  | 'retainBlobs'
  | 'getIndex'
  | 'getIndexes'
  | 'appendMessage'
  | 'storeFlags'
  | 'copyMessages'
  | 'moveMessages'
  | 'expungeMessages'
  | 'vanishedSince'
>;
