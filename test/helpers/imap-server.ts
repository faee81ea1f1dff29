// A real hotbridge IMAP server for tests: a fresh Store in a temp dir, a local password for each
// account, startImapServer on 127.0.0.1 port 0. Also a tiny line-based client for raw protocol tests.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LocalAuthenticator } from '../../src/runtime/local-auth.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { startImapServer, type ImapServer, type ImapServerOptions } from '../../src/downstream/imap/server.js';
import { LocalPasswords } from '../../src/runtime/local-passwords.js';
import { Store, type OpenOptions } from '../../src/store/store.js';
import { SocketReader } from './socket-reader.js';

export const USER = 'alice@example.test';
export const PASSWORD = 'secret';
export const OTHER_USER = 'bob@example.test';

export interface TestServer {
  dir: string;
  store: Store;
  server: ImapServer;
  port: number;
  host: string;
  /** Stops the server and closes the store (the data dir stays, for restart tests). */
  stop(): Promise<void>;
  /** stop() and remove the data dir. */
  destroy(): Promise<void>;
}

// One scrypt hash per process: hashing costs ~50 ms, and every test file needs the same password.
let cachedPasswordFile: string | undefined;

/** The test accounts' local passwords in `dir` (the IMAP and POP3 test servers both use them). */
export async function writePasswords(dir: string): Promise<void> {
  const target = path.join(dir, 'local-passwords.json');
  if (cachedPasswordFile) {
    fs.writeFileSync(target, cachedPasswordFile);
    return;
  }
  const passwords = new LocalPasswords(dir);
  await passwords.set(USER, PASSWORD);
  await passwords.set(OTHER_USER, PASSWORD);
  cachedPasswordFile = fs.readFileSync(target, 'utf8');
}

export async function startTestServer(
  overrides: Partial<Omit<ImapServerOptions, 'store' | 'auth'>> = {},
  existingDir?: string,
  storeOptions: Omit<OpenOptions, 'accounts'> = {},
): Promise<TestServer> {
  const dir = existingDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-imap-'));
  const store = await Store.open(dir, { ...storeOptions, accounts: [USER, OTHER_USER] });
  if (!existingDir) await writePasswords(dir);
  const auth = new LocalAuthenticator(new LocalPasswords(dir), { accounts: () => [USER, OTHER_USER], baseDelayMs: 10, maxDelayMs: 50 });
  const server = await startImapServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    store,
    auth,
    logger: silentLogger(),
    maxLiteralBytes: 10 * 1024 * 1024,
    maxConnectionsPerAddress: 50,
    ...overrides,
  });
  const { host, port } = server.addresses()[0];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop();
    await store.close();
  };
  return {
    dir,
    store,
    server,
    port,
    host,
    stop,
    async destroy() {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A raw IMAP connection that reads CRLF-terminated lines (literals arrive as ordinary lines). */
export class LineClient {
  private readonly reader: SocketReader;
  readonly received: Buffer[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.received.push(chunk));
    this.reader = new SocketReader(socket);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port }, () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }

  /** The server has closed the connection. */
  get closed(): boolean {
    return this.reader.closed;
  }

  /** Whether the server closes the connection within `timeoutMs`. */
  closesWithin(timeoutMs: number): Promise<boolean> {
    return this.reader.closesWithin(timeoutMs);
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next line without its CRLF (latin1), or undefined after `timeoutMs` or at close. */
  async readLine(timeoutMs = 5_000): Promise<string | undefined> {
    return (await this.reader.line(timeoutMs))?.subarray(0, -2).toString('latin1');
  }

  /** Exactly n bytes (for literals). */
  readBytes(n: number, timeoutMs = 5_000): Promise<Buffer | undefined> {
    return this.reader.bytes(n, timeoutMs);
  }

  /** Lines up to and including the tagged reply for `tag`. */
  async readUntilTagged(tag: string, timeoutMs = 10_000): Promise<string[]> {
    const lines: string[] = [];
    for (;;) {
      const line = await this.readLine(timeoutMs);
      if (line === undefined) throw new Error(`no tagged reply for ${tag}; got:\n${lines.join('\n')}`);
      lines.push(line);
      if (line.startsWith(`${tag} `)) return lines;
    }
  }

  /** Sends a command line and returns every line up to its tagged reply. */
  async command(tag: string, text: string, timeoutMs = 10_000): Promise<string[]> {
    this.send(`${tag} ${text}\r\n`);
    return this.readUntilTagged(tag, timeoutMs);
  }

  /** Whatever arrives within `ms` (to check that nothing does). */
  async pending(ms = 100): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.reader.takeAll().toString('latin1');
  }

  close(): void {
    this.socket.destroy();
  }
}
