/**
 * \Recent (RFC 3501 §2.3.2): a message is recent in exactly one session, the first one that has the
 * mailbox selected read-write after the message arrived. The server keeps, per mailbox, the highest
 * UID some session has claimed; everything above it is still recent for whoever looks first.
 *
 * The claim lives in memory. At start-up every existing mailbox counts as fully claimed, so a restart
 * does not make old mail recent again; mail the poller stores afterwards is recent for the first
 * session to see it.
 */
export class RecentTracker {
  private readonly claimed = new Map<number, number>();

  /** `mailboxes`: id and UIDNEXT of every mailbox that exists at start-up. */
  constructor(mailboxes: Iterable<{ id: number; uidNext: number }>) {
    for (const mailbox of mailboxes) this.claimed.set(mailbox.id, mailbox.uidNext - 1);
  }

  /** The highest claimed UID (messages above it are recent for the next session to claim them). */
  claimedUpTo(mailboxId: number): number {
    return this.claimed.get(mailboxId) ?? 0;
  }

  /** Claims every UID up to `highestUid`; returns the previous claim (UIDs above it are now this caller's). */
  claim(mailboxId: number, highestUid: number): number {
    const previous = this.claimedUpTo(mailboxId);
    if (highestUid > previous) this.claimed.set(mailboxId, highestUid);
    return previous;
  }

  /** A mailbox was deleted: a new one with the same id never exists, but forget the entry anyway. */
  forget(mailboxId: number): void {
    this.claimed.delete(mailboxId);
  }
}
