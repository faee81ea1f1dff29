/**
 * The daemon: start and stop order, reload, and the wiring between the parts. The store opens first and
 * closes last; listeners stop accepting before the workers are asked to finish, so nothing acknowledged
 * is ever lost on the way down.
 */
import fs from 'node:fs';
import type { AccountConfig, HotbridgeConfig, ListenAddress } from '../config/types.js';
import { isLoopbackHost } from '../config/load.js';
import { startImapServer, type ImapServer } from '../downstream/imap/server.js';
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
import { StatusBoard } from '../runtime/status-board.js';
import { startStatusEndpoint, type StatusEndpoint } from './status-endpoint.js';
import { startStatusHttp } from './status-http.js';
import { VERSION } from './version.js';

interface AccountRuntime {
  config: AccountConfig;
  credentials: CredentialSource;
  poller: Pop3Poller;
  worker: OutboxWorker;
}

/** Certificate and key for listeners on non-loopback addresses (STARTTLS there is mandatory). */
function localTls(listen: ListenAddress[], certFile: string | undefined, keyFile: string | undefined, what: string): { cert: Buffer; key: Buffer } | undefined {
  const exposed = listen.filter((address) => !isLoopbackHost(address.host));
  if (certFile && keyFile) return { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
  if (exposed.length > 0) {
    throw new Error(
      `${what} listens on ${exposed.map((a) => `${a.host}:${a.port}`).join(', ')}, which is not loopback: set ${what.toLowerCase()}.tls_cert and tls_key so clients can use STARTTLS`,
    );
  }
  return undefined;
}

export class Daemon {
  readonly status = new StatusBoard();
  private readonly accounts = new Map<string, AccountRuntime>();
  private readonly providers: ProviderFeatures;
  private imap?: ImapServer;
  private smtp?: SubmissionServer;
  private endpoint?: StatusEndpoint;
  private statusHttp?: { close(): Promise<void> };
  private stopping?: Promise<void>;
  private reloading: Promise<unknown> = Promise.resolve();

  private constructor(
    private config: HotbridgeConfig,
    readonly store: Store,
    private readonly logger: Logger,
    private readonly auth: LocalAuthenticator,
    private readonly releaseLock: () => Promise<void>,
  ) {
    this.providers = new ProviderFeatures(store, logger.child({ part: 'outbox' }));
  }

  /** Starts everything; throws (after undoing what was started) when a part cannot start. */
  static async start(config: HotbridgeConfig, logger: Logger): Promise<Daemon> {
    // A wrong or unwritable data dir is said as such, before the lock or the store trip over it.
    prepareDataDir(config.dataDir);
    const releaseLock = await acquireInstanceLock(config.dataDir);
    let store: Store | undefined;
    try {
      store = await Store.open(config.dataDir, { accounts: config.accounts.map((account) => account.address) });
      const passwords = new LocalPasswords(config.dataDir);
      const auth = new LocalAuthenticator(passwords, { accounts: () => daemon.config.accounts.map((account) => account.address) });
      const daemon: Daemon = new Daemon(config, store, logger, auth, releaseLock);
      try {
        await daemon.providers.load(config.accounts);
        await daemon.startListeners();
        for (const account of config.accounts) daemon.startAccount(account);
        daemon.endpoint = await startStatusEndpoint(config.dataDir, () => daemon.snapshot(), () => daemon.wake());
        if (config.status.listen.length > 0) daemon.statusHttp = await startStatusHttp(config.status.listen, () => daemon.snapshot());
      } catch (err) {
        await daemon.stop();
        throw err;
      }
      for (const account of config.accounts) {
        if (!passwords.has(account.address)) {
          logger.warn({ account: account.address }, `no local password yet: mail clients cannot log in until you run: hotbridge password ${account.address}`);
        }
      }
      logger.info({ version: VERSION, dataDir: config.dataDir, accounts: config.accounts.map((a) => a.address) }, 'hotbridge is running');
      return daemon;
    } catch (err) {
      await store?.close().catch(() => undefined);
      await releaseLock();
      throw err;
    }
  }

  private async startListeners(): Promise<void> {
    const { imap, smtp } = this.config;
    this.imap = await startImapServer({
      listen: await usableListen(imap.listen, this.logger, 'IMAP'),
      store: this.store,
      auth: this.auth,
      logger: this.logger.child({ part: 'imap' }),
      maxLiteralBytes: imap.maxLiteralBytes,
      maxConnectionsPerAddress: imap.maxConnectionsPerAddress,
      maxConnections: imap.maxConnections,
      tls: localTls(imap.listen, imap.certFile, imap.keyFile, 'IMAP'),
    });
    this.smtp = await startSubmissionServer({
      listen: await usableListen(smtp.listen, this.logger, 'SMTP'),
      store: this.store,
      auth: this.auth,
      logger: this.logger.child({ part: 'smtp' }),
      maxMessageBytes: smtp.maxMessageBytes,
      accounts: () => this.config.accounts,
      tls: localTls(smtp.listen, smtp.certFile, smtp.keyFile, 'SMTP'),
      smtpUtf8Offered: () => this.providers.smtpUtf8(this.config.accounts),
    });
    this.status.set('listeners', 'imap', { addresses: this.imap.addresses() });
    this.status.set('listeners', 'smtp', { addresses: this.smtp.addresses() });
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
    if (JSON.stringify(previous.imap) !== JSON.stringify(next.imap) || JSON.stringify(previous.smtp) !== JSON.stringify(next.smtp)) {
      await Promise.all([this.imap?.stop(), this.smtp?.stop()]);
      try {
        await this.startListeners();
      } catch (err) {
        // The new addresses cannot be had (a port in use): serve on the old ones rather than on none.
        this.config = { ...next, imap: previous.imap, smtp: previous.smtp };
        await Promise.all([this.imap?.stop(), this.smtp?.stop()]);
        await this.startListeners();
        throw new Error(`the new [imap]/[smtp] listen addresses could not be used (${(err as Error).message}); still listening on the previous ones`);
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
      this.logger.info({ listen: this.config.status.listen.map((a) => `${a.host}:${a.port}`) }, this.statusHttp ? 'status page listening' : 'status page off');
    } catch (err) {
      this.config = { ...this.config, status: previous.status };
      if (previous.status.listen.length > 0) this.statusHttp = await startStatusHttp(previous.status.listen, () => this.snapshot()).catch(() => undefined);
      throw new Error(`the new [status] listen addresses could not be used (${(err as Error).message}); the status page stays as it was`);
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
      daemon: { pid: process.pid, version: VERSION, startedAt: new Date(this.status.startedAt).toISOString(), dataDir: this.config.dataDir, config: this.config.file },
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
      listeners: {
        imap: { addresses: this.imap?.addresses() ?? [], connections: this.imap?.connectionCount() ?? 0 },
        // closedForErrors & co.: connections the server closed, by reason (downstream/smtp/session-guard.ts).
        smtp: { addresses: this.smtp?.addresses() ?? [], connections: this.smtp?.connectionCount() ?? 0, ...this.smtp?.closedCounts() },
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
      await Promise.all([this.imap?.stop(), this.smtp?.stop()].map((p) => p?.catch((err: Error) => this.logger.error({ err }, 'listener stop failed'))));
      await Promise.all([...this.accounts.keys()].map((address) => this.stopAccount(address)));
      await this.endpoint?.close();
      await this.statusHttp?.close();
      await this.store.close();
      await this.releaseLock();
      this.logger.info('hotbridge stopped');
    })();
    return this.stopping;
  }
}
