/**
 * A POP3 poller wired to a FakePop3Server (fake-pop3-server.ts) and a real Store in a temp dir, with a status
 * board that remembers every state the poller reported and a logger whose lines a test can read. For the
 * poller tests that need a lying or broken server (each test file says why no real server can be one).
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { AccountConfig } from '../../src/config/types.js';
import { formatStatus } from '../../src/runtime/status-format.js';
import { StatusBoard } from '../../src/runtime/status-board.js';
import { Store } from '../../src/store/index.js';
import { Pop3Poller } from '../../src/upstream/pop3/poller.js';
import { nextPollEnd, pop3Status, type Pop3Status } from '../fixtures/children/poller-account.js';
import { accountConfig } from './accounts.js';
import { loginFrom } from './credentials.js';
import { FAKE_POP3_PASSWORD, FakePop3Server } from './fake-pop3-server.js';
import { removeDir, tempDir } from './tmp.js';

export const RIG_ADDRESS = 'alice@example.test';

/** Every POP3 status the poller reported with a state, in order. */
class RecordingStatusBoard extends StatusBoard {
  readonly reports: Pop3Status[] = [];
  override update(section: string, key: string, patch: Record<string, unknown>): void {
    super.update(section, key, patch);
    if (section === 'pop3' && 'state' in patch) this.reports.push({ ...(this.get(section, key) as Pop3Status) });
  }
}

export class FakePop3Rig {
  readonly server = new FakePop3Server();
  readonly status = new RecordingStatusBoard();
  /** The poller's log lines (JSON objects), warnings and errors included. */
  readonly logLines: Array<Record<string, unknown>> = [];
  store!: Store;
  private dir = '';
  private readonly pollers: Pop3Poller[] = [];
  private readonly started = new Set<Pop3Poller>();

  async start(): Promise<void> {
    this.dir = tempDir();
    this.store = await Store.open(this.dir, { accounts: [RIG_ADDRESS] });
    await this.server.listen();
  }

  async stop(): Promise<void> {
    await Promise.all(this.pollers.splice(0).map((poller) => poller.stop()));
    await this.server.close();
    await this.store.close();
    removeDir(this.dir);
  }

  account(overrides: Partial<AccountConfig> = {}, pop3: Partial<AccountConfig['pop3']> = {}): AccountConfig {
    return accountConfig(
      RIG_ADDRESS,
      {
        pop3: {
          host: '127.0.0.1',
          port: this.server.port,
          tls: 'none',
          timeoutMs: 5000,
          maxMessageBytes: 1024 * 1024,
          batchSize: 50,
          ...pop3,
        },
        smtp: { host: '127.0.0.1', port: 1, tls: 'none', timeoutMs: 5000 },
      },
      overrides,
    );
  }

  poller(config: AccountConfig = this.account(), backoff = { initialMs: 100, maxMs: 400 }): Pop3Poller {
    const poller = new Pop3Poller({
      account: config,
      store: this.store,
      credentials: loginFrom(() => ({ kind: 'password', user: RIG_ADDRESS, password: FAKE_POP3_PASSWORD })),
      logger: this.logger(),
      status: this.status,
      backoff,
    });
    this.pollers.push(poller);
    return poller;
  }

  get pop3(): Pop3Status & Record<string, unknown> {
    return pop3Status(this.status, RIG_ADDRESS) as Pop3Status & Record<string, unknown>;
  }

  /** Starts (or wakes) the poller and resolves with the status at the end of that poll. */
  async pollOnce(poller: Pop3Poller): Promise<Pop3Status & Record<string, unknown>> {
    const end = nextPollEnd(this.status, RIG_ADDRESS);
    if (this.started.has(poller)) poller.pollNow();
    else {
      this.started.add(poller);
      poller.start();
    }
    await end;
    return this.pop3;
  }

  async inbox(): Promise<Array<{ uidl: string; raw: Buffer }>> {
    const messages = await this.store.listMessages(this.store.findMailbox(RIG_ADDRESS, 'INBOX')!.id);
    return Promise.all(messages.map(async (message) => ({ uidl: message.uidl!, raw: await this.store.getBlob(message.blobId) })));
  }

  /** What `hotbridge status` would print for the account now. */
  statusText(): string {
    return formatStatus({
      daemon: { pid: 1, version: 'test', startedAt: new Date().toISOString(), dataDir: this.dir, config: 'test.toml' },
      accounts: [
        { address: RIG_ADDRESS, provider: 'custom', auth: 'password', localPassword: true, pop3: this.pop3, outbox: { queued: [] } },
      ],
      listeners: { imap: { addresses: [], connections: 0 }, smtp: { addresses: [] } },
    });
  }

  warnings(): string[] {
    return this.logLines.filter((line) => (line.level as number) >= 40).map((line) => String(line.msg));
  }

  private logger(): Logger {
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        for (const line of chunk.toString('utf8').split('\n'))
          if (line.trim()) this.logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    return pino({ level: 'info' }, sink);
  }
}
