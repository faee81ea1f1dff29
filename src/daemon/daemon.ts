/**
 * The daemon: start and stop order, reload, and the wiring between the parts. The store opens first and
 * closes last; listeners stop accepting before the workers are asked to finish, so nothing acknowledged
 * is ever lost on the way down.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { AccountConfig, HotbridgeConfig } from '../config/types.js';
import { ConfigError } from '../config/load.js';
import { startImapServer, type ImapServer } from '../downstream/imap/server.js';
import { storeMaildrop } from '../downstream/pop3/maildrop.js';
import { startPop3Server, type Pop3Server } from '../downstream/pop3/server.js';
import { startSubmissionServer, type SubmissionServer } from '../downstream/smtp/server.js';
import { prepareDataDir } from '../runtime/data-dir.js';
import { LocalPasswords } from '../runtime/local-passwords.js';
import { Store } from '../store/index.js';
import { accountCredentials } from '../upstream/account-credentials.js';
import type { CredentialSource } from '../upstream/credentials.js';
import { TokenStore } from '../upstream/oauth/token-store.js';
import { signInNeededNotice } from '../upstream/oauth/notice.js';
import { Pop3Poller } from '../upstream/pop3/poller.js';
import { OutboxWorker } from '../upstream/smtp/worker.js';
import { acquireInstanceLock } from './instance-lock.js';
import { ProviderFeatures } from './provider-features.js';
import { usableListen } from './listen-probe.js';
import { LocalAuthenticator } from '../runtime/local-auth.js';
import type { Logger } from '../runtime/logger.js';
import { EventLoopDelayMonitor } from '../runtime/event-loop-delay.js';
import { startMemoryTrimmer } from '../runtime/malloc-trim.js';
import { StatusBoard } from '../runtime/status-board.js';
import { startStatusEndpoint, type StatusEndpoint } from './status-endpoint.js';
import { runStoreCommand } from './store-commands.js';
import { BackupSchedule } from './backup-schedule.js';
import { startStatusHttp } from './status-http.js';
import { VERSION } from './version.js';
import { ensureLocalCertificate, hasLocalCertificate } from '../runtime/local-ca.js';
import { defaultAllowedNetworks, NetworkGate } from '../runtime/network-gate.js';
import { secureContext, tlsSource, type TlsSource } from '../runtime/tls-material.js';
import { certificateNames } from './certificate-names.js';
import { checkExposure, LISTENER_TABLES, type ListenerTable } from './exposure.js';

interface AccountRuntime {
  config: AccountConfig;
  credentials: CredentialSource;
  poller: Pop3Poller;
  worker: OutboxWorker;
}

/** How often a running daemon checks whether the certificate of `hotbridge cert` needs renewing. */
const RENEWAL_CHECK_MS = 24 * 60 * 60 * 1000;

function tlsStateOf(sources: Record<ListenerTable, TlsSource | undefined>): string {
  return JSON.stringify(
    LISTENER_TABLES.map((table) =>
      sources[table] ? [sources[table]!.origin, createHash('sha256').update(sources[table]!.cert).digest('hex')] : null,
    ),
  );
}

export class Daemon {
  readonly status = new StatusBoard();
  /** How long the one event loop was held up (issue 11: no command may block it); shown in the status. */
  private readonly loopDelay = new EventLoopDelayMonitor();
  private readonly accounts = new Map<string, AccountRuntime>();
  private readonly providers: ProviderFeatures;
  private imap?: ImapServer;
  private smtp?: SubmissionServer;
  private pop3?: Pop3Server;
  /** The certificates the listeners serve (origin and a hash), to notice a new one at reload. */
  private tlsState = '';
  /** POP3 sessions of listeners stopped by a reload (the count in status covers the whole run). */
  private pop3SessionsBefore = 0;
  private renewalTimer?: NodeJS.Timeout;
  private endpoint?: StatusEndpoint;
  private statusHttp?: { close(): Promise<void> };
  private stopping?: Promise<void>;
  private unwatchHealth?: () => void;
  private backups?: BackupSchedule;
  private reloading: Promise<unknown> = Promise.resolve();
  /** Hands the memory malloc holds free back to the system now and then (runtime/malloc-trim.ts). */
  private readonly stopTrimmer = startMemoryTrimmer();

  private constructor(
    private config: HotbridgeConfig,
    readonly store: Store,
    private readonly logger: Logger,
    private readonly auth: LocalAuthenticator,
    private readonly releaseLock: () => Promise<void>,
  ) {
    this.providers = new ProviderFeatures(store, logger.child({ part: 'outbox' }));
  }

  /**
   * Starts everything; when any part cannot start, stops what was started (listeners, workers, the status
   * endpoint, the store, the lock) and throws the real cause, so the process never runs half started.
   */
  static async start(config: HotbridgeConfig, logger: Logger): Promise<Daemon> {
    // A wrong or unwritable data dir is said as such, before the lock or the store trip over it.
    prepareDataDir(config.dataDir);
    const releaseLock = await acquireInstanceLock(config.dataDir);
    let store: Store | undefined;
    let daemon: Daemon | undefined;
    try {
      const passwords = new LocalPasswords(config.dataDir);
      // Before anything listens: a damaged or unreadable password file is a reason not to start at all.
      passwords.check();
      store = await Store.open(config.dataDir, { accounts: config.accounts.map((account) => account.address) });
      const auth = new LocalAuthenticator(passwords, { accounts: () => started.config.accounts.map((account) => account.address) });
      const started: Daemon = new Daemon(config, store, logger, auth, releaseLock);
      daemon = started;
      for (const notice of store.openNotices) logger.warn(`store: ${notice}`);
      started.watchStoreHealth();
      await started.providers.load(config.accounts);
      await started.startListeners();
      started.renewalTimer = setInterval(() => started.checkRenewal(), RENEWAL_CHECK_MS).unref();
      for (const account of config.accounts) started.startAccount(account);
      started.startBackups();
      started.endpoint = await startStatusEndpoint(
        config.dataDir,
        () => started.snapshot(),
        () => started.wake(),
        (action, body) => started.storeRequest(action, body),
      );
      if (config.status.listen.length > 0) started.statusHttp = await startStatusHttp(config.status.listen, () => started.snapshot());
      for (const account of config.accounts) {
        if (!passwords.has(account.address)) {
          logger.warn(
            { account: account.address },
            `no local password yet: mail clients cannot log in until you run: hotbridge password ${account.address}`,
          );
        }
      }
      logger.info({ version: VERSION, dataDir: config.dataDir, accounts: config.accounts.map((a) => a.address) }, 'hotbridge is running');
      return started;
    } catch (err) {
      if (daemon) {
        // stop() closes the store and releases the lock too.
        await daemon.stop().catch((stopErr: Error) => logger.error({ err: stopErr }, 'stopping after a failed start failed'));
      } else {
        await store?.close().catch(() => undefined);
        await releaseLock();
      }
      throw err;
    }
  }

  /**
   * Says in the log when the store cannot write (a full disk) and when it writes again; on recovery the
   * poller and the outbox try again at once instead of waiting out their backoff.
   */
  private watchStoreHealth(): void {
    this.unwatchHealth = this.store.onHealth((health) => {
      if (health.state === 'ok') {
        this.logger.info('the store writes again; mail flows again');
        this.wake();
      } else {
        this.logger.error({ store: health.state }, `the store cannot write: ${health.text ?? health.state}`);
      }
    });
  }

  /** Rotating backups, when `[backup] every` is set (backup-schedule.ts). */
  private startBackups(): void {
    if (!this.config.backup) return;
    this.backups = new BackupSchedule(this.store, this.config.backup, this.logger.child({ part: 'backup' }), this.status, VERSION);
    this.backups.start();
  }

  /** A store command asked for over the status socket (store-commands.ts). */
  private storeRequest(action: string, body: unknown): Promise<unknown> {
    return runStoreCommand(this.store, action, body, {
      logger: this.logger,
      version: VERSION,
      config: this.config,
      wake: () => this.wake(),
    });
  }

  /**
   * Renews the certificate of `hotbridge cert` when it expires within 30 days or no longer names every
   * listen address; true when it made a new one. Nothing happens where there is none (it is opt-in).
   */
  private renewLocalCertificate(): boolean {
    if (!hasLocalCertificate(this.config.dataDir)) return false;
    const state = ensureLocalCertificate(this.config.dataDir, certificateNames(this.config));
    if (state.action === 'kept') return false;
    this.logger.info(
      { validUntil: state.serverNotAfter.toISOString() },
      'renewed the local TLS certificate (devices that imported the hotbridge CA trust it as before)',
    );
    return true;
  }

  /** The daily check: a renewed certificate is served from then on (the listeners restart). */
  private checkRenewal(): void {
    if (this.stopping) return;
    let renewed = false;
    try {
      renewed = this.renewLocalCertificate();
    } catch (err) {
      this.logger.error({ err }, 'could not renew the local TLS certificate');
    }
    if (!renewed) return;
    const run = this.reloading.then(async () => {
      if (this.stopping) return;
      await this.stopListeners();
      await this.startListeners();
    });
    this.reloading = run.catch((err: Error) => this.logger.error({ err }, 'restarting the listeners after the certificate renewal failed'));
  }

  private async stopListeners(): Promise<void> {
    await Promise.all([this.imap?.stop(), this.smtp?.stop(), this.pop3?.stop()]);
    this.pop3SessionsBefore += this.pop3?.sessionsTotal() ?? 0;
    this.pop3 = undefined;
  }

  private async startListeners(): Promise<void> {
    const { imap, smtp, pop3, dataDir } = this.config;
    this.renewLocalCertificate();
    const sources = Object.fromEntries(LISTENER_TABLES.map((table) => [table, tlsSource(this.config[table], table, dataDir)])) as Record<
      ListenerTable,
      TlsSource | undefined
    >;
    this.tlsState = tlsStateOf(sources);
    const exposure = checkExposure(this.config, (table) => sources[table] !== undefined);
    if (exposure.problems.length > 0) throw new ConfigError(this.config.file, exposure.problems);
    for (const warning of exposure.warnings) this.logger.warn(warning);
    const gate = new NetworkGate(this.config.allowedNetworks ?? defaultAllowedNetworks(), this.logger.child({ part: 'network' }));
    const tlsFor = (table: ListenerTable) => {
      const source = sources[table];
      return source ? { tls: { cert: source.cert, key: source.key, minVersion: this.config[table].tlsMinVersion } } : {};
    };
    this.imap = await startImapServer({
      listen: await usableListen(imap.listen, this.logger, 'IMAP'),
      tlsListen: imap.tlsListen,
      store: this.store,
      auth: this.auth,
      logger: this.logger.child({ part: 'imap' }),
      maxLiteralBytes: imap.maxLiteralBytes,
      maxConnectionsPerAddress: imap.maxConnectionsPerAddress,
      maxConnections: imap.maxConnections,
      ...tlsFor('imap'),
      allowPlaintextLan: imap.allowPlaintextLan,
      admit: (remote) => gate.admits(remote, 'IMAP'),
    });
    this.smtp = await startSubmissionServer({
      listen: await usableListen(smtp.listen, this.logger, 'SMTP'),
      tlsListen: smtp.tlsListen,
      store: this.store,
      auth: this.auth,
      logger: this.logger.child({ part: 'smtp' }),
      maxMessageBytes: smtp.maxMessageBytes,
      accounts: () => this.config.accounts,
      ...tlsFor('smtp'),
      allowPlaintextLan: smtp.allowPlaintextLan,
      admit: (remote) => gate.admits(remote, 'SMTP'),
      smtpUtf8Offered: () => this.providers.smtpUtf8(this.config.accounts),
    });
    const pop3Source = sources.pop3;
    const pop3Context = pop3Source ? secureContext(pop3Source, pop3.tlsMinVersion) : undefined;
    this.pop3 = await startPop3Server({
      listen: [
        ...(await usableListen(pop3.listen, this.logger, 'POP3')),
        ...pop3.tlsListen.map((address) => ({ ...address, tls: 'implicit' as const })),
      ],
      maildrop: storeMaildrop(this.store),
      verify: (user, password, remote, signal) => this.auth.verify(user, password, remote, { signal }),
      logger: this.logger.child({ part: 'pop3' }),
      ...(pop3Context ? { tls: () => pop3Context } : {}),
      allowPlaintextLan: pop3.allowPlaintextLan,
      admit: (remote) => gate.admits(remote, 'POP3'),
      maxConnectionsPerAddress: pop3.maxConnectionsPerAddress,
      maxConnections: pop3.maxConnections,
    });
    for (const table of LISTENER_TABLES) {
      if (sources[table])
        this.logger.info(
          { certificate: sources[table]!.origin, minVersion: this.config[table].tlsMinVersion },
          `${table.toUpperCase()}: TLS on (STARTTLS/STLS, and any tls_listen addresses)`,
        );
    }
    this.status.set('listeners', 'imap', { addresses: this.imap.addresses() });
    this.status.set('listeners', 'smtp', { addresses: this.smtp.addresses() });
    this.status.set('listeners', 'pop3', { addresses: this.pop3.addresses() });
  }

  private credentialsFor(account: AccountConfig): CredentialSource {
    return accountCredentials(account, {
      dataDir: this.config.dataDir,
      logger: this.logger.child({ part: 'oauth', account: account.address }),
      onSignInNeeded: (address) => this.placeSignInNotice(address),
    });
  }

  /**
   * Puts the "sign-in needed" message in INBOX once per lost sign-in, so the user of an old client learns
   * what to do. A later sign-in (the token file is newer than the notice) makes a later loss worth a new one.
   */
  private async placeSignInNotice(address: string): Promise<void> {
    const key = `signin-notice:${address}`;
    const placedAt = await this.store.getMeta<number>(key);
    if (placedAt !== undefined && this.lastSignInAt(address) < placedAt) return;
    const inbox = this.store.findMailbox(address, 'INBOX');
    if (!inbox) return;
    await this.store.appendMessage(inbox.id, signInNeededNotice(address));
    await this.store.setMeta(key, Date.now());
  }

  /** When the account last signed in (its token file was written), in ms; 0 when never. */
  private lastSignInAt(address: string): number {
    try {
      return fs.statSync(new TokenStore(this.config.dataDir).fileFor(address)).mtimeMs;
    } catch {
      return 0;
    }
  }

  private startAccount(account: AccountConfig): void {
    const logger = this.logger.child({ account: account.address });
    const credentials = this.credentialsFor(account);
    const runtime: AccountRuntime = {
      config: account,
      credentials,
      poller: new Pop3Poller({ account, store: this.store, credentials, logger: logger.child({ part: 'pop3' }), status: this.status }),
      worker: new OutboxWorker({
        account,
        store: this.store,
        credentials,
        logger: logger.child({ part: 'outbox' }),
        status: this.status,
        onProviderExtensions: (extensions) => this.providers.record(account, extensions),
      }),
    };
    this.accounts.set(account.address, runtime);
    runtime.poller.start();
    runtime.worker.start();
  }

  private async stopAccount(address: string): Promise<void> {
    const runtime = this.accounts.get(address);
    if (!runtime) return;
    this.accounts.delete(address);
    await Promise.all([runtime.poller.stop(), runtime.worker.stop()]);
  }

  /**
   * SIGHUP: applies a new config. Accounts added or removed start or stop; a changed account restarts its
   * poller and worker; IMAP sessions stay up unless the listen addresses changed.
   */
  reload(next: HotbridgeConfig): Promise<void> {
    // One reload at a time (two quick SIGHUPs must not run two workers for one account), none once stopping.
    const run = this.reloading.then(() => (this.stopping ? undefined : this.applyConfig(next)));
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async applyConfig(next: HotbridgeConfig): Promise<void> {
    if (next.dataDir !== this.config.dataDir) {
      this.logger.warn('data_dir changed: that needs a restart; the rest of the new config is applied');
      next = { ...next, dataDir: this.config.dataDir };
    }
    const previous = this.config;
    this.config = next;
    for (const account of next.accounts) await this.store.ensureAccount(account.address);
    await this.providers.load(next.accounts);
    const wanted = new Map(next.accounts.map((account) => [account.address, account]));
    for (const address of [...this.accounts.keys()]) {
      const account = wanted.get(address);
      if (!account || JSON.stringify(account) !== JSON.stringify(this.accounts.get(address)!.config)) await this.stopAccount(address);
    }
    for (const account of next.accounts) if (!this.accounts.has(account.address)) this.startAccount(account);
    if (JSON.stringify(previous.backup) !== JSON.stringify(next.backup)) {
      await this.backups?.stop();
      this.backups = undefined;
      this.status.delete('backup', 'store');
      this.startBackups();
    }
    const listenersOf = (config: HotbridgeConfig) => JSON.stringify([config.imap, config.smtp, config.pop3, config.allowedNetworks]);
    // A new certificate (`hotbridge cert` sends SIGHUP) restarts the listeners too.
    const tlsNow = tlsStateOf(
      Object.fromEntries(LISTENER_TABLES.map((table) => [table, tlsSource(next[table], table, next.dataDir)])) as Record<
        ListenerTable,
        TlsSource | undefined
      >,
    );
    if (listenersOf(previous) !== listenersOf(next) || tlsNow !== this.tlsState) {
      await this.stopListeners();
      try {
        await this.startListeners();
      } catch (err) {
        // The new addresses cannot be had (a port in use): serve on the old ones rather than on none.
        this.config = { ...next, imap: previous.imap, smtp: previous.smtp, pop3: previous.pop3, allowedNetworks: previous.allowedNetworks };
        await this.stopListeners();
        await this.startListeners();
        throw new Error(
          `the new [imap]/[pop3]/[smtp] listener settings could not be used (${(err as Error).message}); still listening as before`,
          { cause: err },
        );
      }
    }
    if (JSON.stringify(previous.status) !== JSON.stringify(next.status)) await this.restartStatusHttp(previous);
    this.wake();
    this.logger.info({ accounts: next.accounts.map((a) => a.address) }, 'config reloaded');
  }

  /** [status] listen changed: the status page moves (or stops, or starts); on failure it stays where it was. */
  private async restartStatusHttp(previous: HotbridgeConfig): Promise<void> {
    await this.statusHttp?.close();
    this.statusHttp = undefined;
    try {
      if (this.config.status.listen.length > 0) this.statusHttp = await startStatusHttp(this.config.status.listen, () => this.snapshot());
      this.logger.info(
        { listen: this.config.status.listen.map((a) => `${a.host}:${a.port}`) },
        this.statusHttp ? 'status page listening' : 'status page off',
      );
    } catch (err) {
      this.config = { ...this.config, status: previous.status };
      if (previous.status.listen.length > 0)
        this.statusHttp = await startStatusHttp(previous.status.listen, () => this.snapshot()).catch(() => undefined);
      throw new Error(`the new [status] listen addresses could not be used (${(err as Error).message}); the status page stays as it was`, {
        cause: err,
      });
    }
  }

  /** Polls every account and retries the outbox now (after a new sign-in, or a reload). */
  wake(): void {
    for (const runtime of this.accounts.values()) {
      runtime.poller.pollNow();
      runtime.worker.kick();
    }
  }

  async snapshot(): Promise<unknown> {
    const board = this.status.snapshot();
    const outbox = await this.store.listOutbox();
    return {
      daemon: {
        pid: process.pid,
        version: VERSION,
        startedAt: new Date(this.status.startedAt).toISOString(),
        dataDir: this.config.dataDir,
        config: this.config.file,
      },
      store: this.store.health(),
      ...(board.backup?.store ? { backup: board.backup.store } : {}),
      accounts: this.config.accounts.map((account) => ({
        address: account.address,
        provider: account.provider,
        auth: account.auth.method,
        localPassword: this.auth.hasPassword(account.address),
        pop3: board.pop3?.[account.address] ?? { state: 'starting' },
        outbox: {
          ...(board.outbox?.[account.address] ?? {}),
          queued: outbox
            .filter((entry) => entry.account === account.address)
            .map((entry) => ({
              id: entry.id,
              from: entry.from,
              pending: entry.pending,
              attempts: entry.attempts,
              nextAttemptAt: new Date(entry.nextAttemptAt).toISOString(),
              lastError: entry.lastError,
              waitingFor: entry.waitingFor,
            })),
        },
      })),
      eventLoop: this.loopDelay.snapshot(),
      listeners: {
        imap: { addresses: this.imap?.addresses() ?? [], connections: this.imap?.connectionCount() ?? 0, ...(this.imap?.counters() ?? {}) },
        // closedForErrors & co.: connections the server closed, by reason (downstream/smtp/session-guard.ts).
        smtp: { addresses: this.smtp?.addresses() ?? [], connections: this.smtp?.connectionCount() ?? 0, ...this.smtp?.closedCounts() },
        pop3: {
          addresses: this.pop3?.addresses() ?? [],
          connections: this.pop3?.connectionCount() ?? 0,
          sessions: this.pop3SessionsBefore + (this.pop3?.sessionsTotal() ?? 0),
        },
      },
      localLogins: this.auth.counts(),
    };
  }

  /** Stops in order: listeners, workers, status endpoint, store, lock. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // A reload under way finishes first (a new one will not start): otherwise it could start workers
      // after they were stopped, on a store about to close.
      await this.reloading;
      clearInterval(this.renewalTimer);
      await Promise.all(
        [this.imap?.stop(), this.smtp?.stop(), this.pop3?.stop()].map((p) =>
          p?.catch((err: Error) => this.logger.error({ err }, 'listener stop failed')),
        ),
      );
      await Promise.all([...this.accounts.keys()].map((address) => this.stopAccount(address)));
      await this.backups?.stop();
      await this.endpoint?.close();
      await this.statusHttp?.close();
      this.unwatchHealth?.();
      await this.store.close();
      await this.releaseLock();
      this.loopDelay.stop();
      this.stopTrimmer();
      this.logger.info('hotbridge stopped');
    })();
    return this.stopping;
  }
}
