/**
 * The change feed: the store announces every committed change here, after its batch is durable. IMAP
 * sessions subscribe to learn of new mail (EXISTS), flag changes and expunges from other sessions and from
 * the POP3 poller, and queue what they hear until a command boundary where RFC 3501 lets them tell the
 * client; the outbox worker hears of new submissions.
 *
 * Changes say what changed, not who changed it: a subscriber that made a change itself knows that from
 * the answer it got (a flag change's mod-sequence is unique within its mailbox).
 */
import { EventEmitter } from 'node:events';

/** What happened to an outbox entry: queued by a submission, updated by an attempt, or done. */
export type OutboxEvent = 'queued' | 'updated' | 'finished';

export type StoreChange =
  | { kind: 'message-added'; mailboxId: number; uid: number; modseq: number }
  | { kind: 'flags-changed'; mailboxId: number; uid: number; flags: string[]; modseq: number }
  | { kind: 'messages-expunged'; mailboxId: number; uids: number[]; modseq: number }
  | { kind: 'mailbox-created'; mailboxId: number; account: string; name: string }
  | { kind: 'mailbox-deleted'; mailboxId: number; account: string; name: string }
  | { kind: 'mailbox-renamed'; mailboxId: number; account: string; oldName: string; newName: string }
  | { kind: 'outbox-changed'; account: string; entryId: string; event: OutboxEvent };

/** The side of the feed a subscriber sees. */
export interface ChangeSource {
  /** Subscribes; returns the function that unsubscribes. */
  subscribe(listener: (change: StoreChange) => void): () => void;
}

export class ChangeFeed implements ChangeSource {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Every IMAP session subscribes; hundreds of idle sessions are normal, not a leak.
    this.emitter.setMaxListeners(0);
  }

  subscribe(listener: (change: StoreChange) => void): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }

  publish(change: StoreChange): void {
    this.emitter.emit('change', change);
  }
}
