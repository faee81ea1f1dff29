/**
 * The POP3 poller: brings every message of one upstream account into the store exactly once, then applies
 * the account's deletion policy.
 *
 * One poll is one or more POP3 sessions. Each session logs in, diffs the UIDL and LIST listings against the
 * ledger, RETRs at most `batch_size` new messages and stores those that came in whole (message-fetch.ts), sends
 * DELE only for messages the ledger holds — i.e. whose batch is durable (ARCHITECTURE.md, invariant 1) — and
 * says QUIT. DELE becomes final only when the server answers
 * QUIT (RFC 1939 §6), so the ledger records the deletion only after that `+OK`. A session that dies anywhere
 * before QUIT loses nothing (the server keeps every message) and doubles nothing (the ledger already holds
 * what was stored). Bounded sessions are what Outlook.com needs: it throttles long ones.
 *
 * Failures never escape: a poll ends in a status ("backoff", "error", "signin-needed") with the reason in
 * plain words, and the next poll is scheduled — after exponential backoff with jitter. Messages a poll could not
 * bring in (too large, cut short by the server, under a UIDL the server repeats or leaves out) are reported in
 * status as `notices` (fetch-problems.ts), while the state says how the poll itself went.
 *
 * Longer than the ~400 lines a module aims for, on purpose: the phases of a session (connect, list, fetch,
 * delete, quit) share the poller's state (phase, client, stop), so they stay together; the decisions are
 * apart (message-fetch.ts, deletion-policy.ts, fetch-problems.ts, poll-failure.ts, backoff.ts).
 */
import fs from 'node:fs';
import type { AccountConfig } from '../../config/types.js';
import { ConditionLog } from '../../runtime/condition-log.js';
import type { Logger } from '../../runtime/logger.js';
import type { StatusBoard } from '../../runtime/status-board.js';
import type { PollerStore, UidlLedgerView } from '../../store/index.js';
import type { CredentialSource, UpstreamLogin } from '../credentials.js';
import { Backoff, DEFAULT_BACKOFF, type BackoffSettings } from './backoff.js';
import { Pop3Client } from './client.js';
import { chooseDeletions, uidlsToForget, type ListedMessage } from './deletion-policy.js';
import { Pop3Error } from './errors.js';
import { FetchProblems } from './fetch-problems.js';
import { ListSizeCheck } from './list-size-check.js';
import { fetchMessages } from './message-fetch.js';
import { CaFileError, LoginRefused, describeFailure } from './poll-failure.js';
import { RenamedMessages, type VanishedMessage } from './renamed-messages.js';
import { readListing, unknownMessages, type ServerListing } from './server-listing.js';

export interface Pop3PollerOptions {
  account: AccountConfig;
  store: PollerStore;
  credentials: CredentialSource;
  logger: Logger;
  status: StatusBoard;
  /** Waits after failures; default 30 s doubling up to 30 min, with jitter. */
  backoff?: BackoffSettings;
  /** The clock (ms since the epoch) for status times and the delete_on_server_after age. */
  now?: () => number;
}

/** The status section the poller reports in; the key is the account address. */
export const POP3_STATUS_SECTION = 'pop3';

/** A sync with at least this many new messages logs its progress. */
const PROGRESS_LOG_MIN_TOTAL = 50;
const PROGRESS_LOG_EVERY_MESSAGES = 500;
const PROGRESS_LOG_EVERY_MS = 10_000;

type Phase = 'idle' | 'connecting' | 'session' | 'quitting';

interface SyncProgress {
  startedAt: number;
  done: number;
  total: number;
  lastLogAt: number;
  lastLogDone: number;
}

interface SessionOutcome {
  /** New messages this session dealt with (stored, left on the server, renamed, deferred). */
  handled: number;
  /** New messages left for the next session. */
  remaining: number;
  /** The connection was cut before QUIT (a message too large or cut short): another session applies DELE. */
  cut: boolean;
}

export class Pop3Poller {
  private readonly account: AccountConfig;
  private readonly log: Logger;
  /** A failing sync is logged when it starts, hourly while it lasts, and when it ends. */
  private readonly trouble: ConditionLog;
  private readonly now: () => number;
  private readonly backoff: Backoff;
  private readonly problems = new FetchProblems();
  private readonly sizeCheck = new ListSizeCheck();
  /** Counts polls: a message cut short is tried once per poll. */
  private pollNumber = 0;
  private started = false;
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private pollAgain = false;
  private phase: Phase = 'idle';
  private client: Pop3Client | undefined;
  private messagesFetched = 0;
  private warnedUidlFaults = false;

  constructor(private readonly options: Pop3PollerOptions) {
    this.account = options.account;
    this.log = options.logger;
    this.now = options.now ?? Date.now;
    this.trouble = new ConditionLog(this.log, this.now);
    this.backoff = new Backoff(options.backoff ?? DEFAULT_BACKOFF);
    this.options.status.set(POP3_STATUS_SECTION, this.account.address, { state: 'idle', messagesFetched: 0, messagesSynced: 0 });
  }

  /** Polls at once, then every poll interval (or after a backoff delay when a poll failed). */
  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    this.pollNow();
  }

  /** Polls as soon as possible: now when idle or waiting, right after the current poll otherwise. */
  pollNow(): void {
    if (!this.started || this.stopping) return;
    if (this.running !== undefined) {
      this.pollAgain = true;
      return;
    }
    this.clearTimer();
    this.running = this.poll().finally(() => {
      this.running = undefined;
      if (this.pollAgain && !this.stopping) {
        this.pollAgain = false;
        this.pollNow();
      }
    });
  }

  /**
   * Stops polling. A session in progress is dropped without QUIT, so none of its DELE marks becomes final
   * (RFC 1939 §6) and messages being fetched stay on the server; store writes already started are awaited,
   * so the store may be closed once this resolves. A QUIT already sent is left to finish.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.clearTimer();
    const running = this.running;
    // While connecting or logging in nothing touches the store, and a silent server would hold us up to
    // the connect deadline: the poll notices `stopping` and drops the connection itself.
    if (running !== undefined && this.phase !== 'connecting') {
      if (this.phase === 'session') this.client?.close();
      await running;
    }
    const state = this.options.status.get(POP3_STATUS_SECTION, this.account.address)?.state;
    this.report({ nextPollAt: undefined, progress: undefined, ...(state === 'syncing' ? { state: 'idle' } : {}) });
  }

  // ------------------------------------------------------------------------------------------ one poll

  /** One poll: sessions until nothing new is left. Never rejects. */
  private async poll(): Promise<void> {
    const progress: SyncProgress = { startedAt: this.now(), done: 0, total: 0, lastLogAt: this.now(), lastLogDone: 0 };
    this.pollNumber++;
    try {
      this.report({ state: 'syncing', nextPollAt: undefined });
      // A session handles at most batch_size new messages; each one it deals with is stored, left, renamed or
      // deferred to the next poll (or there is nothing left), so this loop ends. The cap is a guard against
      // a server that invents new UIDLs faster than we fetch them.
      for (let session = 0; session < 100_000 && !this.stopping; session++) {
        const outcome = await this.session(progress);
        if (!outcome.cut && (outcome.remaining === 0 || outcome.handled === 0)) break;
        this.log.debug({ remaining: outcome.remaining, cut: outcome.cut }, 'batch done; reconnecting for the next one');
      }
      if (this.stopping) return;
      this.backoff.reset();
      if (progress.total >= PROGRESS_LOG_MIN_TOTAL) {
        this.log.info({ stored: progress.done, seconds: Math.round((this.now() - progress.startedAt) / 1000) }, 'sync finished');
      }
      // Scheduled first, so that the status never shows the new state without its next attempt.
      this.schedule(this.account.pollIntervalMs);
      this.trouble.ended('POP3 sync works again');
      this.report({ state: 'idle', lastSuccessAt: this.iso(this.now()), lastError: undefined, progress: undefined });
    } catch (error) {
      this.failed(error, progress);
    } finally {
      this.phase = 'idle';
      this.client = undefined;
    }
  }

  private failed(error: unknown, progress: SyncProgress): void {
    try {
      if (this.stopping) {
        this.log.debug({ err: error }, 'poll ended by stop');
        return;
      }
      const failure = describeFailure(error, {
        address: this.account.address,
        provider: this.account.provider,
        host: this.account.pop3.host,
        port: this.account.pop3.port,
      });
      // Real progress before the failure (Outlook drops long sessions) means the trouble is not getting worse.
      if (progress.done > 0) this.backoff.reset();
      const backoffMs = this.backoff.next();
      const delay = failure.temporary ? backoffMs : Math.max(this.account.pollIntervalMs, backoffMs);
      const at = this.now();
      // Expected states (signed out, the provider down or throttling) are warnings; the rest errors.
      const expected = failure.temporary || failure.state === 'signin-needed';
      this.log.debug({ err: error }, 'POP3 poll failed');
      this.trouble.holds(
        `POP3 sync failed: ${failure.text}`,
        { stored: progress.done, retryIn: `${Math.round(delay / 1000)}s` },
        expected ? 'warn' : 'error',
      );
      this.schedule(delay);
      this.report({ state: failure.state, lastError: failure.text, lastErrorAt: this.iso(at), progress: undefined });
    } catch (unexpected) {
      // Reporting must not be the thing that kills the poller; try again at the normal pace.
      this.log.error({ err: unexpected }, 'POP3 poller could not record a failure');
      this.schedule(this.account.pollIntervalMs);
    }
  }

  private schedule(delayMs: number): void {
    this.clearTimer();
    if (this.stopping) return;
    this.report({ nextPollAt: this.iso(this.now() + delayMs) });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pollNow();
    }, delayMs);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  // ------------------------------------------------------------------------------------------ one session

  private async session(progress: SyncProgress): Promise<SessionOutcome> {
    const client = await this.connectAndLogin();
    if (client === undefined) return { handled: 0, remaining: 0, cut: false };
    this.client = client;
    this.phase = 'session';
    try {
      // Both listings at once when the server pipelines (RFC 2449 §6.6).
      const [uidls, sizes] = await Promise.all([client.uidl(), client.list()]);
      const listing = readListing(uidls, sizes);
      this.noteListing(listing);
      // Read once per session: the view answers from the ledger as it is, so what this session stores
      // counts when the deletion policy runs.
      const ledger = await this.options.store.uidlLedger(this.account.address);
      const poll = this.pollNumber;
      const fresh = unknownMessages(listing, (uidl) => ledger.has(uidl) || this.problems.excludes(uidl, poll));
      // Messages that failed before go last, so one the server keeps cutting short holds nothing else up.
      fresh.sort((a, b) => Number(this.problems.failedBefore(a.uidl)) - Number(this.problems.failedBefore(b.uidl)));
      progress.total = progress.done + fresh.length;
      if (fresh.length > 0 && progress.done === 0) {
        this.log.info({ new: fresh.length, onServer: listing.messages.length }, 'new messages on the server');
      }
      const batch = fresh.slice(0, Math.max(1, this.account.pop3.batchSize));
      let handled = 0;
      if (batch.length > 0) {
        this.report({ progress: progressReport(progress, this.now()) });
        const outcome = await fetchMessages(
          {
            client,
            store: this.options.store,
            account: this.account.address,
            limit: this.account.pop3.maxMessageBytes,
            poll,
            now: this.now,
            log: this.log,
            problems: this.problems,
            sizeCheck: this.sizeCheck,
            renamed: await this.renamedCandidates(listing, ledger, fresh),
            onStored: (results) => this.recordStored(results, progress),
            warn: (text) => this.report({ lastWarning: text }),
          },
          batch,
          listing.sizes,
        );
        this.reportProblems();
        handled = outcome.handled;
        if (outcome.connectionLost) return { handled, remaining: fresh.length - batch.length, cut: true };
      }
      if (this.stopping) throw new Pop3Error('io', 'the poller is stopping', { temporary: true });
      await this.applyDeletionPolicy(client, listing.messages, ledger);
      return { handled, remaining: fresh.length - batch.length, cut: false };
    } finally {
      if (client.isOpen) client.close();
      this.client = undefined;
    }
  }

  /**
   * The messages a fresh one may be under a new UIDL: fetched, never deleted by us, and no longer listed. Their
   * size and Message-ID come from the ledger, or for entries older than those fields from the message index.
   */
  private async renamedCandidates(
    listing: ServerListing,
    ledger: UidlLedgerView,
    fresh: ListedMessage[],
  ): Promise<RenamedMessages | undefined> {
    if (fresh.length === 0) return undefined;
    const listed = new Set(listing.messages.map((entry) => entry.uidl));
    const live = ledger
      .uidls()
      .map((uidl) => ledger.get(uidl)!)
      .filter((entry) => entry.deletedUpstreamAt === undefined);
    const vanished = live.filter((entry) => !listed.has(entry.uidl));
    if (vanished.length === 0) return undefined;
    const unsized = vanished.filter((entry) => entry.size === undefined);
    const indexes = unsized.length > 0 ? await this.options.store.getIndexes(unsized.map((entry) => entry.blobId)) : [];
    const fromIndex = new Map(unsized.map((entry, i) => [entry, indexes[i]]));
    const candidates: VanishedMessage[] = vanished.map((entry) => {
      const index = fromIndex.get(entry);
      const size = entry.size ?? index?.size;
      const messageId = entry.size !== undefined ? entry.messageId : index?.envelope.messageId;
      return {
        uidl: entry.uidl,
        blobId: entry.blobId,
        ...(size !== undefined ? { size } : {}),
        ...(messageId !== undefined ? { messageId } : {}),
      };
    });
    if (vanished.length * 2 >= live.length && fresh.length * 2 >= listing.messages.length) {
      this.log.warn(
        { vanished: vanished.length, fresh: fresh.length, onServer: listing.messages.length },
        'most UIDLs on the server changed since the last session: matching new ones to stored mail by Message-ID, size and content',
      );
    }
    return new RenamedMessages(candidates);
  }

  /** Takes note of UIDL faults in the listing: counted in status, and logged once. */
  private noteListing(listing: ServerListing): void {
    this.problems.noteListing(listing);
    // Also when nothing is wrong now: a problem reported before may be gone (the message left the server).
    this.reportProblems();
    if (listing.duplicateCount === 0 && listing.withoutUidl.length === 0) return;
    if (this.warnedUidlFaults) return;
    this.warnedUidlFaults = true;
    this.log.warn(
      { repeated: listing.duplicateCount, withoutUidl: listing.withoutUidl.length },
      'the POP3 server repeats UIDLs or leaves messages out of its UIDL listing; those messages are never fetched (nor deleted)',
    );
  }

  private reportProblems(): void {
    const { skippedTooLarge, cutShort, duplicateUidls, withoutUidl, uidlChanges, notices } = this.problems.report(
      this.account.pop3.maxMessageBytes,
    );
    this.report({ skippedTooLarge, cutShort, duplicateUidls, withoutUidl, uidlChanges, notices });
  }

  /** Credentials, connection and login. Undefined when stop() came meanwhile (the connection is dropped). */
  private async connectAndLogin(): Promise<Pop3Client | undefined> {
    this.phase = 'connecting';
    const login = await this.options.credentials.get();
    const ca = await this.readCaFile();
    if (this.stopping) return undefined;
    const settings = this.account.pop3;
    const client = await Pop3Client.connect({
      host: settings.host,
      port: settings.port,
      tls: settings.tls,
      ...(ca !== undefined ? { ca } : {}),
      timeoutMs: settings.timeoutMs,
      maxMessageBytes: settings.maxMessageBytes,
      logger: this.log,
    });
    try {
      await this.login(client, login);
    } catch (error) {
      client.close();
      throw error;
    }
    if (this.stopping) {
      client.close();
      return undefined;
    }
    return client;
  }

  private async login(client: Pop3Client, login: UpstreamLogin): Promise<void> {
    try {
      if (login.kind === 'password') await client.loginPassword(login.user, login.password);
      else await client.loginXoauth2(login.user, login.accessToken);
    } catch (error) {
      if (error instanceof Pop3Error && error.kind === 'auth') {
        this.options.credentials.rejected();
        throw new LoginRefused(login.kind, error);
      }
      throw error;
    }
  }

  private async readCaFile(): Promise<Buffer | undefined> {
    const file = this.account.pop3.caFile;
    if (file === undefined) return undefined;
    try {
      return await fs.promises.readFile(file);
    } catch (error) {
      throw new CaFileError(file, (error as NodeJS.ErrnoException).code ?? 'error');
    }
  }

  /** Progress bookkeeping after a durable ingest batch: status, counters, and a log line now and then. */
  private recordStored(results: ReadonlyArray<{ duplicate: boolean }>, progress: SyncProgress): void {
    const added = results.filter((result) => !result.duplicate).length;
    progress.done += results.length;
    this.messagesFetched += added;
    const now = this.now();
    this.report({ progress: progressReport(progress, now), messagesFetched: this.messagesFetched, messagesSynced: this.messagesFetched });
    if (progress.total < PROGRESS_LOG_MIN_TOTAL) return;
    if (progress.done - progress.lastLogDone >= PROGRESS_LOG_EVERY_MESSAGES || now - progress.lastLogAt >= PROGRESS_LOG_EVERY_MS) {
      progress.lastLogAt = now;
      progress.lastLogDone = progress.done;
      const { done, total, rate } = progressReport(progress, now);
      this.log.info({ done, total, rate }, `sync progress: ${done} of ${total} messages (${rate}/s)`);
    }
  }

  /**
   * DELE by policy, then QUIT; the ledger learns of the deletions only after QUIT's +OK made them final.
   * Ledger entries of messages we deleted and the server no longer lists are forgotten.
   */
  private async applyDeletionPolicy(client: Pop3Client, listing: ListedMessage[], ledger: UidlLedgerView): Promise<void> {
    const address = this.account.address;
    const forget = uidlsToForget(listing, ledger);
    if (forget.length > 0) await this.options.store.forgetUidls(address, forget);
    const deletions = chooseDeletions(
      listing,
      ledger,
      {
        leaveOnServer: this.account.leaveOnServer,
        ...(this.account.deleteOnServerAfterMs !== undefined ? { deleteOnServerAfterMs: this.account.deleteOnServerAfterMs } : {}),
        deleteOnExpunge: this.account.deleteOnExpunge,
      },
      this.now(),
    );
    // With PIPELINING the connection sends these without waiting for each answer.
    const marked = await Promise.allSettled(deletions.map((deletion) => client.dele(deletion.msg)));
    const deleted = deletions.filter((_, i) => marked[i].status === 'fulfilled');
    const refused = marked.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (refused !== undefined && !client.isOpen) throw refused.reason;
    if (refused !== undefined)
      this.log.warn({ err: refused.reason, refused: deletions.length - deleted.length }, 'the server refused some DELE commands');
    this.phase = 'quitting';
    await client.quit();
    if (deleted.length === 0) return;
    await this.options.store.markDeletedUpstream(
      address,
      deleted.map((deletion) => deletion.uidl),
    );
    const reasons: Record<string, number> = {};
    for (const deletion of deleted) reasons[deletion.reason] = (reasons[deletion.reason] ?? 0) + 1;
    this.log.info({ deleted: deleted.length, reasons }, 'deleted messages on the server');
  }

  // ------------------------------------------------------------------------------------------ status

  private report(patch: Record<string, unknown>): void {
    this.options.status.update(POP3_STATUS_SECTION, this.account.address, patch);
  }

  private iso(time: number): string {
    return new Date(time).toISOString();
  }
}

function progressReport(progress: SyncProgress, now: number): { done: number; total: number; rate: number } {
  const seconds = (now - progress.startedAt) / 1000;
  const rate = seconds > 0 ? Math.round((progress.done / seconds) * 10) / 10 : 0;
  return { done: progress.done, total: progress.total, rate };
}
