/**
 * The change feed: the store announces every committed change here, after its batch is durable.
 * IMAP sessions subscribe to learn of new mail (EXISTS), flag changes and expunges from other sessions
 * and from the POP3 poller; they queue what they hear until a command boundary where RFC 3501 lets
 * them tell the client.
 */
import { EventEmitter } from 'node:events';

export type StoreChange =
  | { kind: 'message-added'; mailboxId: number; uid: number; modseq: number }
  | { kind: 'flags-changed'; mailboxId: number; uid: number; flags: string[]; modseq: number; origin?: unknown }
  | { kind: 'messages-expunged'; mailboxId: number; uids: number[]; modseq: number }
  | { kind: 'mailbox-created'; mailboxId: number; account: string; name: string }
  | { kind: 'mailbox-deleted'; mailboxId: number; account: string; name: string }
  | { kind: 'mailbox-renamed'; mailboxId: number; account: string; oldName: string; newName: string }
  | { kind: 'outbox-changed'; account: string };

export class ChangeFeed {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Every IMAP session subscribes; hundreds of idle sessions are normal, not a leak.
    this.emitter.setMaxListeners(0);
  }

  /** Subscribes; returns the function that unsubscribes. */
  subscribe(listener: (change: StoreChange) => void): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }

  publish(change: StoreChange): void {
    this.emitter.emit('change', change);
  }
}
