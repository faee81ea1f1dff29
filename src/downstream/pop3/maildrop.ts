/**
 * The one door between the POP3 server and the store: what a POP3 session needs of the account's INBOX
 * (RFC 1939 §8: the maildrop). Only this file knows the store's API, so adapting to a new store door is
 * a change here and nowhere else.
 */
import type { Store, StoreChange } from '../../store/index.js';

/** One message of the maildrop as it was at login. */
export interface MaildropMessage {
  uid: number;
  /** Identifies the stored bytes (content hash): equal ids, equal bytes. */
  blobId: string;
}

/** The INBOX at the moment a POP3 session entered the TRANSACTION state (RFC 1939 §4). */
export interface MaildropSnapshot {
  mailboxId: number;
  uidValidity: number;
  /** In UID order: message number n is messages[n - 1]. */
  messages: MaildropMessage[];
}

/** The store as the POP3 server sees it. */
export interface Pop3Maildrop {
  /** The account's INBOX now; undefined when the account has none. */
  open(account: string): Promise<MaildropSnapshot | undefined>;
  /** The stored bytes of a message; undefined when it is no longer in the mailbox (expunged meanwhile). */
  read(mailboxId: number, message: MaildropMessage): Promise<Buffer | undefined>;
  /** Removes the messages in one durable batch; resolves with the UIDs that were still there. */
  expunge(mailboxId: number, uids: readonly number[]): Promise<number[]>;
  /** Calls `listener` with the UIDs other sessions expunge from the mailbox; returns the unsubscribe. */
  onExpunged(mailboxId: number, listener: (uids: readonly number[]) => void): () => void;
}

/** Binary search in a UID-ordered list (the store keeps mailboxes so). */
function hasUid(records: ReadonlyArray<{ uid: number }>, uid: number): boolean {
  let low = 0;
  let high = records.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const at = records[mid].uid;
    if (at === uid) return true;
    if (at < uid) low = mid + 1;
    else high = mid - 1;
  }
  return false;
}

/** The subset of the store this adapter uses. */
export type MaildropStore = Pick<Store, 'changes' | 'findMailbox' | 'getMailbox' | 'listMessages' | 'getBlob' | 'expungeMessages'>;

/** The maildrop backed by the store: INBOX of each account. */
export function storeMaildrop(store: MaildropStore): Pop3Maildrop {
  return {
    async open(account) {
      const inbox = store.findMailbox(account, 'INBOX');
      if (!inbox) return undefined;
      const records = await store.listMessages(inbox.id);
      return { mailboxId: inbox.id, uidValidity: inbox.uidValidity, messages: records.map(({ uid, blobId }) => ({ uid, blobId })) };
    },
    async read(mailboxId, message) {
      if (!store.getMailbox(mailboxId)) return undefined;
      if (!hasUid(await store.listMessages(mailboxId), message.uid)) return undefined;
      try {
        return await store.getBlob(message.blobId);
      } catch {
        // The last reference went between the check and the read: expunged meanwhile.
        return undefined;
      }
    },
    expunge: (mailboxId, uids) => store.expungeMessages(mailboxId, uids),
    onExpunged(mailboxId, listener) {
      return store.changes.subscribe((change: StoreChange) => {
        if (change.kind === 'messages-expunged' && change.mailboxId === mailboxId) listener(change.uids);
      });
    },
  };
}
