/**
 * The selected mailbox as one session sees it (RFC 3501 §2.3.1.2, ARCHITECTURE.md invariant 4).
 *
 * Message sequence numbers belong to the session: they change only when the session tells its client
 * (EXISTS, EXPUNGE). The store's change feed arrives at any time; the view only notes it, and
 * `sync()` turns the notes into untagged responses at a point where RFC 3501 allows them: EXPUNGE
 * never while answering FETCH, STORE or SEARCH (§7.4.1), because the client's sequence numbers would
 * shift under its feet. Until then an expunged message keeps its number, and its last-known metadata.
 */
import {
  firstAtOrAbove,
  indexOfUid,
  isKeyword,
  keywordsInUse,
  SYSTEM_FLAGS,
  type MailboxRecord,
  type MessageRecord,
  type StoreChange,
} from '../../store/index.js';
import type { MailStore } from './backend.js';
import type { MailboxChanges } from './mailbox-changes.js';
import { TimeSlice } from '../../runtime/time-slice.js';
import { ImapError } from './errors.js';
import { formatFlags, mayCreateKeywords } from './flags.js';
import type { ResponseOutput } from './output.js';
import type { RecentTracker } from './recent.js';
import { formatSequenceSet, largestExplicit, resolveSequenceSet, STAR, type SequenceSet } from './wire/sequence-set.js';

/** What SessionView.sync() may send now. */
export interface SyncOptions {
  /** Whether EXPUNGE (or VANISHED) responses may be sent now. */
  expunges: boolean;
  /** QRESYNC is enabled: expunges go out as `VANISHED` (RFC 7162 §3.2.10). */
  vanished?: boolean;
  /** CONDSTORE is enabled: flag updates carry MODSEQ (RFC 7162 §3.1.4). */
  modseq?: boolean;
  /** The connection's turn on the event loop: 50,000 EXPUNGE lines are written in turns. */
  slice?: TimeSlice;
}

/** One session's view of its selected mailbox: its sequence numbers, \Recent set and pending updates. */
export class SessionView {
  /**
   * The client's view: index = sequence number - 1, ascending UIDs. At first the store's own list
   * (which the store replaces rather than changes, message-list.ts): copied only when the view first
   * differs from it, so a session that selects 100,000 messages and changes nothing holds no copy.
   */
  private records: readonly MessageRecord[] = [];
  private ownsRecords = false;
  private readonly recentUids = new Set<number>();
  /** Keywords announced in the last FLAGS response (lower case -> as written). */
  private keywords = new Map<string, string>();
  // Notes from the change feed, waiting for sync(): UID -> the mod-sequence of the change.
  private readonly expunged = new Map<number, number>();
  /**
   * UID -> the mod-sequences of flag changes heard of, oldest first. This session's own changes are
   * among them until its STORE returns (the feed announces a change before the write resolves); then
   * `applyOwnFlags` takes them out by their mod-sequence, unique within the mailbox (RFC 7162 §3.1.1),
   * so the client is not told of its own change as if another session had made it.
   */
  private readonly flagsChanged = new Map<number, number[]>();
  private hasNew = false;
  /** Mod-sequence of the oldest new message not announced yet (Infinity when none). */
  private oldestNewModseq = Infinity;
  /** The highest mod-sequence of any change this view has heard of (or loaded). */
  private latestModseq = 0;
  private keywordsChanged = false;
  private deleted = false;
  /**
   * Releases of the blobs of messages expunged elsewhere that this view still shows: their bytes stay
   * readable until the client is told (RFC 2180 §4.1), then the store may delete them.
   */
  private retained: Array<() => void> = [];
  private unsubscribe: () => void = () => undefined;
  private wake: (() => void) | undefined;

  private constructor(
    private readonly store: MailStore,
    private readonly recent: RecentTracker,
    readonly mailboxId: number,
    readonly readOnly: boolean,
  ) {}

  /**
   * Selects a mailbox: loads its messages and claims its \Recent messages unless read-only. `changes` is
   * the server's feed sorted by mailbox; without it the view listens to the store's whole feed. The
   * loops over a large mailbox take turns on the event loop (`slice`).
   */
  static async open(
    store: MailStore,
    recent: RecentTracker,
    mailbox: MailboxRecord,
    readOnly: boolean,
    changes?: MailboxChanges,
    slice = new TimeSlice(),
  ): Promise<SessionView> {
    const view = new SessionView(store, recent, mailbox.id, readOnly);
    // Subscribe before loading, so nothing committed in between is missed.
    const listener = (change: StoreChange) => view.onChange(change);
    view.unsubscribe = changes ? changes.subscribe(mailbox.id, listener) : store.changes.subscribe(listener);
    try {
      view.records = await store.listMessages(mailbox.id);
    } catch (err) {
      view.unsubscribe();
      throw err;
    }
    // Changes heard while loading stay noted: a message added after the list was taken would
    // otherwise never be announced. A note about something the list already has is harmless.
    view.latestModseq = Math.max(view.latestModseq, view.mailbox.highestModseq);
    // An expunge heard while loading, of a message the list still had: retained like any other.
    view.retainExpunged([...view.expunged.keys()]);
    await view.claimRecent(view.records, slice);
    for (const record of view.records) {
      if (slice.due()) await slice.yield();
      view.noteKeywords(record.flags);
    }
    view.keywordsChanged = false;
    return view;
  }

  close(): void {
    this.unsubscribe();
    this.wake = undefined;
    this.releaseRetained();
  }

  /** The view's own array of records, to change: a copy of the store's list the first time. */
  private writableRecords(): MessageRecord[] {
    if (!this.ownsRecords) {
      this.records = this.records.slice();
      this.ownsRecords = true;
    }
    return this.records as MessageRecord[];
  }

  /** Keeps the bytes of these expunged messages readable while this view still shows them. */
  private retainExpunged(uids: readonly number[]): void {
    const blobIds: string[] = [];
    for (const uid of uids) {
      const seq = this.seqOf(uid);
      if (seq > 0) blobIds.push(this.records[seq - 1].blobId);
    }
    if (blobIds.length > 0) this.retained.push(this.store.retainBlobs(blobIds));
  }

  private releaseRetained(): void {
    const releases = this.retained;
    this.retained = [];
    for (const release of releases) release();
  }

  /** The mailbox record as the store has it now (UIDNEXT, HIGHESTMODSEQ, name). */
  get mailbox(): MailboxRecord {
    const record = this.store.getMailbox(this.mailboxId);
    if (!record) throw ImapError.no('The selected mailbox no longer exists', 'NONEXISTENT');
    return record;
  }

  /** Whether the mailbox was deleted by another session (the connection must end, RFC 3501 has no other way). */
  get wasDeleted(): boolean {
    return this.deleted;
  }

  get exists(): number {
    return this.records.length;
  }

  get recentCount(): number {
    return this.recentUids.size;
  }

  /** The message at a sequence number (1-based). */
  at(seq: number): MessageRecord {
    return this.records[seq - 1];
  }

  isRecent(uid: number): boolean {
    return this.recentUids.has(uid);
  }

  /** Whether the store has expunged this message but the client has not been told yet. */
  isExpunged(uid: number): boolean {
    return this.expunged.has(uid);
  }

  /** The messages as the client knows them, ascending by UID (index = sequence number - 1). */
  messages(): readonly MessageRecord[] {
    return this.records;
  }

  /** Whether expunges are waiting for a moment when they may be sent. */
  hasHeldExpunges(): boolean {
    return this.expunged.size > 0;
  }

  /**
   * The HIGHESTMODSEQ this client may be told now (RFC 7162 §3.2, §6): the newest mod-sequence the
   * view knows of, but below every change it has not reported yet, so a client that caches the value
   * and reconnects with it can never miss a change that was held back (an expunge during FETCH).
   */
  reportableModseq(): number {
    let oldestPending = this.oldestNewModseq;
    for (const modseq of this.expunged.values()) oldestPending = Math.min(oldestPending, modseq);
    for (const modseqs of this.flagsChanged.values()) oldestPending = Math.min(oldestPending, modseqs[0]);
    return oldestPending === Infinity ? this.latestModseq : Math.min(this.latestModseq, oldestPending - 1);
  }

  /** Flags as the client sees them, \Recent included. */
  flagsOf(record: MessageRecord): string {
    return formatFlags(record.flags, this.recentUids.has(record.uid));
  }

  /** Sequence number of a UID in this view, or 0. */
  seqOf(uid: number): number {
    return indexOfUid(this.records, uid) + 1;
  }

  /**
   * Sequence numbers, ascending, named by a set of sequence numbers. A number beyond EXISTS, or "*" in
   * an empty mailbox, is a client error (RFC 3501 §9 `seq-number`): BAD.
   */
  seqsFromSequenceSet(set: SequenceSet, lenient = false): number[] {
    const exists = this.records.length;
    if (!lenient && (largestExplicit(set) > exists || (exists === 0 && set.some(([a, b]) => a === STAR || b === STAR)))) {
      throw ImapError.bad('Invalid message sequence number (beyond the number of messages in the mailbox)');
    }
    const out: number[] = [];
    for (const [low, high] of resolveSequenceSet(set, exists)) {
      for (let seq = Math.max(1, low); seq <= Math.min(high, exists); seq++) out.push(seq);
    }
    return out;
  }

  /** Sequence numbers, ascending, of the messages whose UIDs are in the set; unknown UIDs are ignored. */
  seqsFromUidSet(set: SequenceSet): number[] {
    const last = this.records.length > 0 ? this.records[this.records.length - 1].uid : 0;
    const out: number[] = [];
    for (const [low, high] of resolveSequenceSet(set, last)) {
      for (let i = firstAtOrAbove(this.records, low); i < this.records.length && this.records[i].uid <= high; i++) out.push(i + 1);
    }
    return out;
  }

  /** Keywords for the FLAGS response: the system flags plus every keyword in use (RFC 3501 §7.2.6). */
  flagsResponse(): string {
    return `FLAGS (${[...SYSTEM_FLAGS, ...this.keywords.values()].join(' ')})`;
  }

  /**
   * PERMANENTFLAGS: every flag may be stored, and new keywords may be created (`\*`) until the mailbox
   * holds as many distinct keywords as it may (RFC 3501 §2.3.2); none when read-only.
   */
  permanentFlagsCode(): string {
    if (this.readOnly) return 'PERMANENTFLAGS ()';
    const newKeywords = mayCreateKeywords(keywordsInUse(this.records).size) ? ['\\*'] : [];
    return `PERMANENTFLAGS (${[...SYSTEM_FLAGS, ...this.keywords.values(), ...newKeywords].join(' ')})`;
  }

  /** Sequence number of the first message without \Seen, or 0. */
  firstUnseen(): number {
    for (let i = 0; i < this.records.length; i++) {
      if (!this.records[i].flags.includes('\\Seen')) return i + 1;
    }
    return 0;
  }

  /**
   * Applies this session's own flag changes at once (STORE, implicit \Seen) and takes them out of the
   * changes waiting to be announced: the command's own responses tell the client.
   */
  applyOwnFlags(changed: readonly MessageRecord[]): void {
    for (const record of changed) {
      const seq = this.seqOf(record.uid);
      // A newer change by someone else may have been heard already: the view keeps the newest flags.
      if (seq > 0 && this.records[seq - 1].modseq <= record.modseq) {
        this.writableRecords()[seq - 1] = { ...this.records[seq - 1], flags: record.flags, modseq: record.modseq };
      }
      this.noteKeywords(record.flags);
      const heard = this.flagsChanged.get(record.uid);
      if (!heard) continue;
      const others = heard.filter((modseq) => modseq !== record.modseq);
      if (others.length > 0) this.flagsChanged.set(record.uid, others);
      else this.flagsChanged.delete(record.uid);
    }
  }

  /** IDLE: `listener` runs (at most once per turn of the event loop) whenever something waits for sync(). */
  onPending(listener: (() => void) | undefined): void {
    this.wake = listener;
    if (listener && this.hasPending()) listener();
  }

  hasPending(): boolean {
    return this.hasNew || this.expunged.size > 0 || this.flagsChanged.size > 0 || this.keywordsChanged || this.deleted;
  }

  private onChange(change: StoreChange): void {
    switch (change.kind) {
      case 'message-added':
        if (change.mailboxId !== this.mailboxId) return;
        this.latestModseq = Math.max(this.latestModseq, change.modseq);
        this.hasNew = true;
        this.oldestNewModseq = Math.min(this.oldestNewModseq, change.modseq);
        break;
      case 'flags-changed': {
        if (change.mailboxId !== this.mailboxId) return;
        this.latestModseq = Math.max(this.latestModseq, change.modseq);
        const seq = this.seqOf(change.uid);
        if (seq > 0) this.writableRecords()[seq - 1] = { ...this.records[seq - 1], flags: change.flags, modseq: change.modseq };
        this.noteKeywords(change.flags);
        const heard = this.flagsChanged.get(change.uid);
        if (heard) heard.push(change.modseq);
        else this.flagsChanged.set(change.uid, [change.modseq]);
        break;
      }
      case 'messages-expunged':
        if (change.mailboxId !== this.mailboxId) return;
        this.latestModseq = Math.max(this.latestModseq, change.modseq);
        for (const uid of change.uids) this.expunged.set(uid, change.modseq);
        this.retainExpunged(change.uids);
        break;
      case 'mailbox-deleted':
        if (change.mailboxId !== this.mailboxId) return;
        this.deleted = true;
        break;
      default:
        return;
    }
    this.scheduleWake();
  }

  private wakeScheduled = false;

  private scheduleWake(): void {
    if (!this.wake || this.wakeScheduled) return;
    this.wakeScheduled = true;
    // A STORE on 10,000 messages is 10,000 changes: answer them in one go.
    setImmediate(() => {
      this.wakeScheduled = false;
      this.wake?.();
    });
  }

  private noteKeywords(flags: readonly string[]): void {
    for (const flag of flags) {
      if (!isKeyword(flag)) continue;
      const lower = flag.toLowerCase();
      if (!this.keywords.has(lower)) {
        this.keywords.set(lower, flag);
        this.keywordsChanged = true;
      }
    }
  }

  private async claimRecent(records: readonly MessageRecord[], slice: TimeSlice): Promise<void> {
    if (records.length === 0) return;
    const highest = records[records.length - 1].uid;
    const claimedBefore = this.readOnly ? this.recent.claimedUpTo(this.mailboxId) : this.recent.claim(this.mailboxId, highest);
    for (let i = records.length - 1; i >= 0 && records[i].uid > claimedBefore; i--) {
      if (slice.due()) await slice.yield();
      this.recentUids.add(records[i].uid);
    }
  }

  /**
   * Sends what changed since the client last heard: FLAGS for new keywords, EXPUNGE (when allowed),
   * EXISTS/RECENT for new messages, FETCH FLAGS for other sessions' flag changes.
   */
  async sync(out: ResponseOutput, options: SyncOptions): Promise<void> {
    if (!this.hasPending()) return;
    const slice = options.slice ?? new TimeSlice();
    const recentBefore = this.recentUids.size;
    if (options.expunges && this.expunged.size > 0) await this.sendExpunges(out, options.vanished === true, slice);
    // An expunge that took \Recent messages lowers the count: say so, as Dovecot does (RFC 3501 §7.3.2
    // lets RECENT come with any update); new messages below say it anyway.
    let recentToSay = this.recentUids.size !== recentBefore;
    // Taken before the list is read: news that arrive meanwhile are noted again, not lost. A read that
    // fails (the mailbox was just deleted, the store is closing) puts the note back, so the EXISTS is
    // still owed at the next chance rather than lost until the next change.
    const announceNew = this.hasNew;
    const oldestNew = this.oldestNewModseq;
    this.hasNew = false;
    this.oldestNewModseq = Infinity;
    if (announceNew) {
      // Only new messages need the store's list; flag changes were applied to the records as they came.
      let current: readonly MessageRecord[];
      try {
        current = await this.store.listMessages(this.mailboxId);
      } catch {
        this.hasNew ||= announceNew;
        this.oldestNewModseq = Math.min(this.oldestNewModseq, oldestNew);
        current = [];
      }
      const last = this.records.length > 0 ? this.records[this.records.length - 1].uid : 0;
      let start = current.length;
      while (start > 0 && current[start - 1].uid > last) start--;
      const added = current.slice(start).filter((record) => !this.expunged.has(record.uid));
      if (added.length > 0) {
        for (const record of added) {
          if (slice.due()) await slice.yield();
          this.writableRecords().push(record);
          this.noteKeywords(record.flags);
          this.flagsChanged.delete(record.uid);
        }
        await this.claimRecent(added, slice);
        if (this.keywordsChanged) this.sendFlags(out);
        out.untagged(`${this.records.length} EXISTS`);
        out.untagged(`${this.recentUids.size} RECENT`);
        recentToSay = false;
      }
    }
    if (recentToSay) out.untagged(`${this.recentUids.size} RECENT`);
    if (this.keywordsChanged) this.sendFlags(out);
    if (this.flagsChanged.size > 0) {
      const uids = [...this.flagsChanged.keys()].sort((a, b) => a - b);
      this.flagsChanged.clear();
      for (const uid of uids) {
        // Only turns, no waiting for the socket here: IDLE checks what its client leaves unread before
        // each sync (connection.ts idleOutputDrains), and a command waits for the output after its reply.
        if (slice.due()) await slice.yield();
        const seq = this.seqOf(uid);
        if (seq === 0 || this.expunged.has(uid)) continue;
        const record = this.records[seq - 1];
        const modseq = options.modseq ? ` MODSEQ (${record.modseq})` : '';
        out.untagged(`${seq} FETCH (UID ${uid} FLAGS ${this.flagsOf(record)}${modseq})`);
      }
    }
  }

  /** Sends FLAGS/PERMANENTFLAGS now if a new keyword appeared, before a response uses it (§7.2.6). */
  announceNewKeywords(out: ResponseOutput): void {
    if (this.keywordsChanged) this.sendFlags(out);
  }

  private sendFlags(out: ResponseOutput): void {
    this.keywordsChanged = false;
    out.untagged(this.flagsResponse());
    out.untagged(`OK [${this.permanentFlagsCode()}] Flags permitted`);
  }

  /** EXPUNGE responses in ascending order, each number already reduced by the ones before it (§7.4.1). */
  private async sendExpunges(out: ResponseOutput, vanished: boolean, slice: TimeSlice): Promise<void> {
    const gone: number[] = [];
    const kept: MessageRecord[] = [];
    let removedSoFar = 0;
    // The expunges (and the bytes kept readable for them) are taken now: any that arrive while this
    // takes its turns wait for the next sync, still retained.
    const expunged = new Map(this.expunged);
    this.expunged.clear();
    const releases = this.retained;
    this.retained = [];
    for (let i = 0; i < this.records.length; i++) {
      if (slice.due()) await slice.yield();
      const record = this.records[i];
      if (!expunged.has(record.uid)) {
        kept.push(record);
        continue;
      }
      if (!vanished) out.untagged(`${i + 1 - removedSoFar} EXPUNGE`);
      removedSoFar++;
      gone.push(record.uid);
      this.recentUids.delete(record.uid);
      this.flagsChanged.delete(record.uid);
    }
    if (vanished && gone.length > 0) out.untagged(`VANISHED ${formatSequenceSet(gone)}`);
    this.records = kept;
    this.ownsRecords = true;
    for (const release of releases) release();
  }
}
