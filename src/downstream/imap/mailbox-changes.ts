/**
 * The store's change feed, sorted by mailbox for the sessions of one server. Each selected mailbox's
 * view wants the changes of that mailbox only; subscribing every view to the whole feed would make each
 * change (a STORE on 10,000 messages is 10,000 of them) run past every session of every mailbox. Here
 * the server holds one subscription while any view listens, and each change goes to the views of its
 * own mailbox.
 */
import type { StoreChange } from '../../store/index.js';

type Listener = (change: StoreChange) => void;

/** What this needs of the store's ChangeFeed. */
export interface ChangeSource {
  subscribe(listener: Listener): () => void;
}

export class MailboxChanges {
  private readonly listeners = new Map<number, Set<Listener>>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly feed: ChangeSource) {}

  /** Hears every change about one mailbox from now on; returns the function that stops it. */
  subscribe(mailboxId: number, listener: Listener): () => void {
    let set = this.listeners.get(mailboxId);
    if (!set) this.listeners.set(mailboxId, (set = new Set()));
    set.add(listener);
    this.unsubscribe ??= this.feed.subscribe((change) => this.route(change));
    return () => {
      const current = this.listeners.get(mailboxId);
      if (!current?.delete(listener)) return;
      if (current.size === 0) this.listeners.delete(mailboxId);
      if (this.listeners.size === 0) {
        this.unsubscribe?.();
        this.unsubscribe = undefined;
      }
    };
  }

  private route(change: StoreChange): void {
    if (!('mailboxId' in change)) return;
    const set = this.listeners.get(change.mailboxId);
    if (set) for (const listener of set) listener(change);
  }
}
