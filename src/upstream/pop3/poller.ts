/**
 * The POP3 poller: brings every message of one upstream account into the store exactly once, then applies
 * the account's deletion policy.
 *
 * One poll is one or more POP3 sessions. Each session logs in, diffs the UIDL listing against the ledger,
 * RETRs at most `batch_size` new messages (pipelined when the server allows, RFC 2449 §6.6), stores them as
 * they arrive (group commit: one durable batch per fsync, see ingest-batcher.ts), sends DELE only for messages the ledger holds — i.e. whose batch is
 * durable (ARCHITECTURE.md, invariant 1) — and says QUIT. DELE becomes final only when the server answers
 * QUIT (RFC 1939 §6), so the ledger records the deletion only after that `+OK`. A session that dies anywhere
 * before QUIT loses nothing (the server keeps every message) and doubles nothing (the ledger already holds
 * what was stored). Bounded sessions are what Outlook.com needs: it throttles long ones.
 *
 * Failures never escape: a poll ends in a status ("backoff", "error", "signin-needed") with the reason in
 * plain words, and the next poll is scheduled — after exponential backoff with jitter for passing trouble.
 *
 * Longer than the ~400 lines a module aims for, on purpose: the phases of a session (connect, list, fetch,
 * delete, quit) share the poller's state (phase, client, stop), so they stay together; the decisions are
 * apart (deletion-policy.ts, ingest-batcher.ts, poll-failure.ts, backoff.ts).
 */
import fs from 'node:fs';
import type { AccountConfig } from '../../config/types.js';
import { ConditionLog } from '../../runtime/condition-log.js';
import type { Logger } from '../../runtime/logger.js';
import type { StatusBoard } from '../../runtime/status-board.js';
import type { IngestItem, PollerStore, UidlLedgerView } from '../../store/index.js';
import type { CredentialSource, UpstreamLogin } from '../credentials.js';
import { arrivalDateOf } from './arrival-date.js';
import { Backoff, DEFAULT_BACKOFF, type BackoffSettings } from './backoff.js';
import { Pop3Client } from './client.js';
import { chooseDeletions, duplicateUidls, uidlsToForget, type ListedMessage } from './deletion-policy.js';
import { Pop3Error, TOO_LARGE } from './errors.js';
import { IngestBatcher } from './ingest-batcher.js';
import { CaFileError, LoginRefused, describeFailure } from './poll-failure.js';

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

/**
 * How many fetched messages may wait for the store while it writes the previous batch (group commit, see
 * ingest-batcher.ts); beyond that the download pauses. Bounds memory to about this many bytes.
 */
const INGEST_WAITING_MESSAGES = 500;
const INGEST_WAITING_BYTES = 16 * 1024 * 1024;
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
  /** Messages stored in this session (duplicates not counted). */
  stored: number;
  /** New messages this session skipped (too large). */
  skipped: number;
  /** New messages left for the next session. */
  remaining: number;
}

/** A too-large message we leave on the server; remembered so that no poll fetches it again. */
interface SkippedMessage {
  size: number;
  at: number;
}

export class Pop3Poller {
  private readonly account: AccountConfig;
  private readonly log: Logger;
  /** A failing sync is logged when it starts, hourly while it lasts, and when it ends. */
  private readonly trouble: ConditionLog;
  private readonly now: () => number;
  private readonly backoff: Backoff;
  private readonly skipped = new Map<string, SkippedMessage>();
  private started = false;
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private pollAgain = false;
  private phase: Phase = 'idle';
  private client: Pop3Client | undefined;
  private messagesFetched = 0;
  private warnedDuplicateUidls = false;

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
    try {
      this.report({ state: 'syncing', nextPollAt: undefined });
      // A session handles at most batch_size new messages; each one either stores or skips at least one
      // (or there is nothing left), so this loop ends. The cap is a guard against a server that invents
      // new UIDLs faster than we fetch them.
      for (let session = 0; session < 100_000 && !this.stopping; session++) {
        const outcome = await this.session(progress);
        if (outcome.remaining === 0 || (outcome.stored === 0 && outcome.skipped === 0)) break;
        this.log.debug({ remaining: outcome.remaining }, 'batch done; reconnecting for the next one');
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
      this.trouble.holds(`POP3 sync failed: ${failure.text}`, { stored: progress.done, retryIn: `${Math.round(delay / 1000)}s` }, expected ? 'warn' : 'error');
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
    if (client === undefined) return { stored: 0, skipped: 0, remaining: 0 };
    this.client = client;
    this.phase = 'session';
    try {
      const listing = await client.uidl();
      // Read once per session: the view answers from the ledger as it is, so what this session stores
      // counts when the deletion policy runs.
      const ledger = await this.options.store.uidlLedger(this.account.address);
      this.noteDuplicateUidls(listing);
      const fresh = newMessages(listing, ledger, this.skipped);
      progress.total = progress.done + fresh.length;
      if (fresh.length > 0 && progress.done === 0) {
        this.log.info({ new: fresh.length, onServer: listing.length }, 'new messages on the server');
      }
      const batch = fresh.slice(0, Math.max(1, this.account.pop3.batchSize));
      let stored = 0;
      let skipped = 0;
      if (batch.length > 0) {
        this.report({ progress: progressReport(progress, this.now()) });
        const result = await this.fetch(client, batch, progress);
        stored = result.stored;
        skipped = result.skipped;
      }
      if (this.stopping) throw new Pop3Error('io', 'the poller is stopping', { temporary: true });
      await this.applyDeletionPolicy(client, listing, ledger);
      return { stored, skipped, remaining: fresh.length - batch.length };
    } finally {
      if (client.isOpen) client.close();
      this.client = undefined;
    }
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

  /**
   * RETRs `batch` (in listing order, oldest first) and stores the messages in groups. A message over
   * max_message_size is left on the server with a warning, once: LIST sizes catch most before any download,
   * the client's size limit catches the rest.
   */
  private async fetch(client: Pop3Client, batch: ListedMessage[], progress: SyncProgress): Promise<{ stored: number; skipped: number }> {
    const limit = this.account.pop3.maxMessageBytes;
    const sizes = new Map((await client.list()).map((entry) => [entry.msg, entry.size]));
    let skipped = 0;
    const wanted: ListedMessage[] = [];
    for (const entry of batch) {
      const size = sizes.get(entry.msg);
      if (size !== undefined && size > limit) {
        this.skipTooLarge(entry, size);
        skipped++;
      } else {
        wanted.push(entry);
      }
    }
    let stored = 0;
    const batcher = new IngestBatcher({
      store: this.options.store,
      account: this.account.address,
      maxMessages: INGEST_WAITING_MESSAGES,
      maxBytes: INGEST_WAITING_BYTES,
      onStored: (results) => {
        const added = results.filter((result) => !result.duplicate).length;
        stored += added;
        this.recordStored(added, results.length, progress);
      },
    });
    let next = 0;
    try {
      while (next < wanted.length) {
        try {
          await client.retrMany(
            wanted.slice(next).map((entry) => entry.msg),
            async (msg, raw) => {
              const entry = wanted[next];
              if (entry.msg !== msg) throw new Error(`RETR answers out of order: expected ${entry.msg}, got ${msg}`);
              next++;
              const item: IngestItem = { uidl: entry.uidl, raw };
              const arrived = arrivalDateOf(raw, this.now());
              if (arrived !== undefined) item.internalDate = arrived;
              await batcher.add(item);
            },
          );
        } catch (error) {
          // The client read past the limit without keeping the bytes: the session is still usable.
          if (!(error instanceof Pop3Error && error.code === TOO_LARGE) || next >= wanted.length) throw error;
          this.skipTooLarge(wanted[next], sizes.get(wanted[next].msg));
          skipped++;
          next++;
        }
      }
    } finally {
      // What was fetched is stored even when the session failed: it is safe, and not fetched again.
      await batcher.drain().catch((error: unknown) => {
        this.log.error({ err: error }, 'storing fetched messages failed');
        throw error;
      });
    }
    return { stored, skipped };
  }

  /** Progress bookkeeping after a durable ingest batch: status, counters, and a log line now and then. */
  private recordStored(added: number, handled: number, progress: SyncProgress): void {
    progress.done += handled;
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

  private skipTooLarge(entry: ListedMessage, size: number | undefined): void {
    if (this.skipped.has(entry.uidl)) return;
    const limit = this.account.pop3.maxMessageBytes;
    this.skipped.set(entry.uidl, { size: size ?? limit + 1, at: this.now() });
    const shown = size === undefined ? `more than ${megabytes(limit)}` : megabytes(size);
    const text = `a message of ${shown} is larger than max_message_size (${megabytes(limit)}) and stays on the server`;
    this.log.warn({ uidl: entry.uidl, size, limit }, text);
    this.report({
      lastWarning: text,
      skippedTooLarge: [...this.skipped].map(([uidl, skipped]) => ({ uidl, size: skipped.size, at: this.iso(skipped.at) })),
    });
  }

  private noteDuplicateUidls(listing: readonly ListedMessage[]): void {
    if (this.warnedDuplicateUidls) return;
    const duplicates = duplicateUidls(listing);
    if (duplicates.size === 0) return;
    this.warnedDuplicateUidls = true;
    this.log.warn({ count: duplicates.size }, 'the POP3 server lists the same UIDL for several messages; those are fetched once and never deleted');
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
    if (refused !== undefined) this.log.warn({ err: refused.reason, refused: deletions.length - deleted.length }, 'the server refused some DELE commands');
    this.phase = 'quitting';
    await client.quit();
    if (deleted.length === 0) return;
    await this.options.store.markDeletedUpstream(address, deleted.map((deletion) => deletion.uidl));
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

/** Listed messages neither in the ledger nor skipped, in listing order; a repeated UIDL only once. */
function newMessages(listing: readonly ListedMessage[], ledger: Pick<UidlLedgerView, 'has'>, skipped: ReadonlyMap<string, unknown>): ListedMessage[] {
  const seen = new Set<string>();
  const fresh: ListedMessage[] = [];
  for (const entry of listing) {
    if (ledger.has(entry.uidl) || skipped.has(entry.uidl) || seen.has(entry.uidl)) continue;
    seen.add(entry.uidl);
    fresh.push(entry);
  }
  return fresh;
}

function progressReport(progress: SyncProgress, now: number): { done: number; total: number; rate: number } {
  const seconds = (now - progress.startedAt) / 1000;
  const rate = seconds > 0 ? Math.round((progress.done / seconds) * 10) / 10 : 0;
  return { done: progress.done, total: progress.total, rate };
}

function megabytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}
