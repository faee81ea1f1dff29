/**
 * The outbox worker of one account: takes queued submissions from the store and relays them to the
 * provider, one at a time, oldest first. Progress is saved after every attempt, so a recipient the
 * provider accepted is never sent again, and a crash loses nothing: at worst a message whose final
 * 250 arrived just before the crash is sent twice (duplicate, never loss; see
 * test/integration/smtp-crash.test.ts).
 *
 * Per recipient: accepted -> delivered; 5xx -> a bounce in INBOX (in the same batch that records the
 * refusal); 4xx or trouble on the way -> retry with growing delays until the message is too old, then
 * a bounce. A refused login is not the message's fault: it waits (`waitingFor: 'auth'`), the status
 * shows an alert, and the credential source is told so it can refresh before the next try.
 *
 * The provider's answer is kept in memory until the store has recorded it: when that write fails (a
 * full disk), the next pass retries only the write, never the relay, so a message the provider accepted
 * is not sent again because of a local failure. Only a crash in the moment between the provider's reply
 * and the durable write can send a message once more.
 */
import os from 'node:os';
import type { AccountConfig } from '../../config/types.js';
import { ConditionLog } from '../../runtime/condition-log.js';
import type { Logger } from '../../runtime/logger.js';
import type { StatusBoard } from '../../runtime/status-board.js';
import type { Delivery, OutboxEntry, OutboxFailure, RelayStore } from '../../store/index.js';
import { CredentialError, type CredentialSource, type UpstreamLogin } from '../credentials.js';
import { buildBounce } from './bounce.js';
import type { RelayReport } from './outcome.js';
import { RelaySession } from './relay.js';
import { DEFAULT_MAX_AGE_MS, DEFAULT_RETRY_SCHEDULE_MS, retryDelay } from './retry.js';

export interface OutboxWorkerOptions {
  account: AccountConfig;
  store: RelayStore;
  credentials: CredentialSource;
  logger: Logger;
  status: StatusBoard;
  /** Delays (ms) after the 1st, 2nd, … failed attempt; the last repeats. Tests pass short ones. */
  retrySchedule?: number[];
  /** A message still undelivered this long after submission bounces (default 5 days). */
  maxAgeMs?: number;
  now?: () => number;
  /** How long stop() waits for a relay in flight before abandoning it (default 5 s). */
  stopGraceMs?: number;
  /**
   * Told the extensions the provider's EHLO named, after each relay that got that far (the daemon keeps
   * whether it offers SMTPUTF8, which the submission server may then offer too).
   */
  onProviderExtensions?: (extensions: readonly string[]) => void;
}

/** The longest a timer sleeps before the worker looks at the queue again (clock changes, lost wake-ups). */
const MAX_SLEEP_MS = 60 * 60_000;
const DEFAULT_STOP_GRACE_MS = 5000;
/** The status lists this many entries; `queued` counts them all. */
const STATUS_ENTRIES = 100;

export class OutboxWorker {
  private readonly address: string;
  private readonly logger: Logger;
  private readonly schedule: readonly number[];
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private started = false;
  private stopped = false;
  private unsubscribe?: () => void;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  /** Another pass is wanted once the current one ends (a change arrived meanwhile). */
  private again = false;
  /** The next pass tries every entry, due or not (kick). */
  private force = false;
  /** The relay in flight, to abandon it on stop. */
  private inFlight?: AbortController;
  /** Shown in status while the provider refuses our login. */
  private authAlert?: string;
  /**
   * Relay outcomes the store has not recorded yet (its write failed), by entry id. Each pass records these
   * first and relays nothing while one still cannot be written.
   */
  private readonly unrecorded = new Map<string, { entry: OutboxEntry; report: RelayReport; raw: Buffer }>();
  /** The provider refusing our login, and the provider deferring mail: logged when they start and end. */
  private readonly loginTrouble: ConditionLog;
  private readonly sendTrouble: ConditionLog;

  constructor(private readonly options: OutboxWorkerOptions) {
    this.address = options.account.address.toLowerCase();
    // The daemon's logger already names the account; a second `account` key would repeat it in every line.
    this.logger = options.logger.bindings().account === undefined ? options.logger.child({ account: this.address }) : options.logger;
    this.loginTrouble = new ConditionLog(this.logger, () => this.now());
    this.sendTrouble = new ConditionLog(this.logger, () => this.now());
    this.schedule = options.retrySchedule && options.retrySchedule.length > 0 ? options.retrySchedule : DEFAULT_RETRY_SCHEDULE_MS;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    // Only new submissions wake the worker: the updates are its own, and hearing them would start
    // another full pass after every pass that recorded something.
    this.unsubscribe = this.options.store.changes.subscribe((change) => {
      if (change.kind === 'outbox-changed' && change.event === 'queued' && change.account === this.address) this.wake();
    });
    this.wake();
  }

  /** Try every queued message now, including those waiting for a retry or for a new sign-in. */
  kick(): void {
    this.force = true;
    this.wake();
  }

  /** Stops; a relay in flight gets `stopGraceMs` to finish, then is abandoned and its entry stays queued. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    const running = this.running;
    if (!running) return;
    let graceTimer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      running.then(() => true),
      new Promise<boolean>((resolve) => {
        graceTimer = setTimeout(() => resolve(false), this.options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
      }),
    ]);
    clearTimeout(graceTimer);
    if (!finished) {
      this.logger.info('stopping: abandoning the relay in flight, the message stays queued');
      this.inFlight?.abort();
      await running;
    }
    // A last try at writing what the provider already accepted; what still fails will be sent once more
    // after the restart (the store keeps the entry queued), and the log says so.
    await this.recordUnrecorded().catch((err: Error) => {
      for (const { entry } of this.unrecorded.values()) {
        this.logger.error(
          { id: entry.id, err: err.message },
          'the provider accepted this message but the store could not record it: it will be sent once more after the restart',
        );
      }
    });
  }

  // ---------------------------------------------------------------- scheduling

  private wake(): void {
    if (!this.started || this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.pass()
      .catch((err: Error) => {
        this.logger.error({ err: err.message }, 'outbox pass failed');
        return this.now() + this.schedule[0];
      })
      .then((nextAt) => {
        this.running = undefined;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.wake();
        } else if (nextAt !== undefined) {
          this.timer = setTimeout(() => this.wake(), Math.min(MAX_SLEEP_MS, Math.max(0, nextAt - this.now())));
          this.timer.unref();
        }
      });
  }

  /** Tries every due entry once; returns when the next one is due (undefined: queue empty). */
  private async pass(): Promise<number | undefined> {
    const force = this.force;
    this.force = false;
    // Outcomes the store could not record yet come first; while one still fails (it throws), nothing is relayed.
    await this.recordUnrecorded();
    const entries = await this.options.store.listOutbox(this.address);
    const session = new RelaySession(this.options.account.smtp, this.logger);
    try {
      for (let i = 0; i < entries.length; i++) {
        if (this.stopped) break;
        const entry = entries[i];
        if (!force && entry.nextAttemptAt > this.now()) continue;
        const result = await this.attempt(entry, session);
        if (result.kind === 'auth') {
          // The same login would be refused for every other message: they wait too, without an attempt.
          const due = entries.slice(i + 1).filter((other) => force || other.nextAttemptAt <= this.now());
          for (const other of due)
            await this.options.store.updateOutbox({
              ...other,
              waitingFor: 'auth',
              lastError: result.reply,
              nextAttemptAt: result.nextAttemptAt,
            });
          break;
        }
      }
    } finally {
      session.close();
    }
    return this.refreshStatus();
  }

  // ---------------------------------------------------------------- one attempt

  private async attempt(
    entry: OutboxEntry,
    session: RelaySession,
  ): Promise<{ kind: 'done' } | { kind: 'auth'; reply: string; nextAttemptAt: number }> {
    let login: UpstreamLogin;
    try {
      login = await this.options.credentials.get();
    } catch (err) {
      const reply = (err as Error).message;
      if (err instanceof CredentialError && err.reason !== 'temporary') return this.holdForAuth(entry, reply);
      await this.record(entry, everyoneDeferred(entry, reply));
      return { kind: 'done' };
    }
    const raw = await this.options.store.getBlob(entry.blobId);
    const controller = new AbortController();
    this.inFlight = controller;
    let report: RelayReport;
    try {
      report = await session.send({ login, from: entry.from, recipients: entry.pending, raw, signal: controller.signal });
    } finally {
      this.inFlight = undefined;
    }
    if (report.providerExtensions) this.options.onProviderExtensions?.(report.providerExtensions);
    if (controller.signal.aborted && report.delivered.length === 0 && report.failed.length === 0) {
      // Abandoned on shutdown before the provider took it: nothing to record, the entry stays as it was.
      return { kind: 'done' };
    }
    if (report.problem?.kind === 'auth') {
      this.options.credentials.rejected();
      return this.holdForAuth(entry, report.problem.reply);
    }
    if (report.delivered.length > 0 || report.failed.length > 0 || (report.deferred.length > 0 && !report.problem)) this.clearAuthAlert();
    // Remembered before the write: if the write fails, the next pass writes this outcome instead of relaying again.
    this.unrecorded.set(entry.id, { entry, report, raw });
    await this.record(entry, report, raw);
    this.unrecorded.delete(entry.id);
    return { kind: 'done' };
  }

  /** Writes the outcomes a failed store write left in memory, oldest first; throws while the store still fails. */
  private async recordUnrecorded(): Promise<void> {
    for (const [id, { entry, report, raw }] of [...this.unrecorded]) {
      await this.record(entry, report, raw);
      this.unrecorded.delete(id);
      this.logger.info({ id }, 'recorded the outcome of an earlier relay that the store could not write at the time');
    }
  }

  /** A refused login: the message keeps its place and waits for working credentials. */
  private async holdForAuth(entry: OutboxEntry, reply: string): Promise<{ kind: 'auth'; reply: string; nextAttemptAt: number }> {
    const attempts = entry.attempts + 1;
    const nextAttemptAt = this.now() + retryDelay(attempts, this.schedule);
    const hint =
      this.options.account.auth.method === 'oauth2'
        ? `run "hotbridge login ${this.address}" to sign in again`
        : `check the password in ${this.options.account.auth.passwordFile ?? 'accounts.auth.password_file'}`;
    this.authAlert = `the provider refused the sign-in for ${this.address}, messages wait in the outbox: ${reply} (${hint})`;
    this.logger.debug({ id: entry.id, reply }, 'upstream SMTP login refused');
    this.loginTrouble.holds(`upstream SMTP login refused (${reply}); outgoing mail waits in the outbox: ${hint}`, {}, 'warn');
    await this.options.store.updateOutbox({ ...entry, attempts, lastError: reply, waitingFor: 'auth', nextAttemptAt });
    return { kind: 'auth', reply, nextAttemptAt };
  }

  private clearAuthAlert(): void {
    if (this.authAlert === undefined) return;
    this.authAlert = undefined;
    this.loginTrouble.ended('upstream SMTP login works again');
  }

  /** Saves what an attempt did; bounces and the Sent copy go in the same batch as the entry's change. */
  private async record(entry: OutboxEntry, report: RelayReport, raw?: Buffer): Promise<void> {
    const now = this.now();
    const attempts = entry.attempts + 1;
    // The report names recipients exactly as they stand in `pending` (outcome.ts matches the provider's
    // spelling back to them), so they are compared as they are: `Bob@x` and `bob@x` are two mailboxes.
    const decided = new Set([...report.delivered, ...report.failed.map((failure) => failure.recipient)]);
    const delivered = [...entry.delivered, ...report.delivered];
    let pending = entry.pending.filter((recipient) => !decided.has(recipient));
    const lastError = report.problem?.reply ?? describe(report.deferred) ?? describe(report.failed);
    const bounced: OutboxFailure[] = [...report.failed];
    let expired: { attempts: number; ageMs: number } | undefined;
    if (pending.length > 0 && now - entry.createdAt >= this.maxAgeMs) {
      // RFC 5321 §4.5.4.1: after days of transient failures the sender must be told.
      expired = { attempts, ageMs: now - entry.createdAt };
      for (const recipient of pending) {
        const deferred = report.deferred.find((d) => d.recipient === recipient);
        bounced.push({ recipient, reply: deferred?.reply ?? lastError ?? 'not delivered in time' });
      }
      pending = [];
    }
    const failed = [...entry.failed, ...bounced];
    const deliveries: Delivery[] = [];
    const message =
      raw ??
      (bounced.length > 0 || (pending.length === 0 && this.options.account.saveSent)
        ? await this.options.store.getBlob(entry.blobId)
        : undefined);
    if (bounced.length > 0 && message) {
      const bounce = buildBounce({
        account: this.address,
        original: message,
        arrivalDate: entry.createdAt,
        failures: bounced,
        delivered,
        stillTrying: pending,
        remoteMta: this.options.account.smtp.host,
        reportingMta: os.hostname(),
        ...(expired ? { expired } : {}),
        now,
      });
      deliveries.push({ mailbox: 'INBOX', raw: bounce });
      this.logger.warn(
        { id: entry.id, failed: bounced },
        expired ? 'message expired in the outbox: bounce placed in INBOX' : 'provider refused recipients: bounce placed in INBOX',
      );
    }
    if (pending.length === 0) {
      // Only now, when the entry leaves the queue in this same batch: a Sent copy can never be made twice.
      if (this.options.account.saveSent && delivered.length > 0 && message) {
        deliveries.push({ mailbox: 'Sent', raw: message, flags: ['\\Seen'] });
      }
      await this.options.store.finishOutbox(entry.id, deliveries);
      this.logger.info({ id: entry.id, delivered: delivered.length, failed: failed.length, attempts }, 'outbox entry done');
      this.sendTrouble.ended('sending works again');
      return;
    }
    const nextAttemptAt = now + retryDelay(attempts, this.schedule);
    const updated: OutboxEntry = { ...entry, pending, delivered, failed, attempts, nextAttemptAt };
    delete updated.waitingFor;
    if (lastError !== undefined) updated.lastError = lastError;
    await this.options.store.updateOutbox(updated, deliveries);
    this.logger.info(
      { id: entry.id, attempts, pending: pending.length, nextAttemptAt: new Date(nextAttemptAt).toISOString() },
      'relay deferred, will retry',
    );
    this.sendTrouble.holds(
      `the provider did not take outgoing mail yet (${lastError ?? 'no answer'}); it stays in the outbox and is retried`,
    );
  }

  // ---------------------------------------------------------------- status

  /** Publishes the queue in status; returns when the next entry is due. */
  private async refreshStatus(): Promise<number | undefined> {
    const entries = await this.options.store.listOutbox(this.address);
    const iso = (ms: number): string => new Date(ms).toISOString();
    this.options.status.set('outbox', this.address, {
      queued: entries.length,
      waitingForAuth: entries.filter((entry) => entry.waitingFor === 'auth').length,
      ...(this.authAlert !== undefined ? { alert: this.authAlert } : {}),
      entries: entries.slice(0, STATUS_ENTRIES).map((entry) => ({
        id: entry.id,
        from: entry.from,
        pending: entry.pending,
        delivered: entry.delivered.length,
        failed: entry.failed.length,
        size: entry.size,
        queuedAt: iso(entry.createdAt),
        attempts: entry.attempts,
        nextAttemptAt: iso(entry.nextAttemptAt),
        ...(entry.lastError !== undefined ? { lastError: entry.lastError } : {}),
        ...(entry.waitingFor !== undefined ? { waitingFor: entry.waitingFor } : {}),
      })),
    });
    if (entries.length === 0) return undefined;
    return Math.min(...entries.map((entry) => entry.nextAttemptAt));
  }
}

function everyoneDeferred(entry: OutboxEntry, reply: string): RelayReport {
  return {
    delivered: [],
    failed: [],
    deferred: entry.pending.map((recipient) => ({ recipient, reply })),
    problem: { kind: 'temporary', reply },
  };
}

function describe(failures: readonly OutboxFailure[]): string | undefined {
  if (failures.length === 0) return undefined;
  return failures.map((failure) => `<${failure.recipient}>: ${failure.reply}`).join('; ');
}
