// A real hotbridge POP3 server for tests: a fresh Store in a temp dir, the test accounts' local
// passwords, startPop3Server on 127.0.0.1 port 0 over the store's maildrop.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { storeMaildrop } from '../../src/downstream/pop3/maildrop.js';
import { startPop3Server, type Pop3Server, type Pop3ServerOptions } from '../../src/downstream/pop3/server.js';
import { LocalAuthenticator } from '../../src/runtime/local-auth.js';
import { LocalPasswords } from '../../src/runtime/local-passwords.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { Store } from '../../src/store/index.js';
import { OTHER_USER, PASSWORD, USER, writePasswords } from './imap-server.js';

export { OTHER_USER, PASSWORD, USER };

export interface TestPop3Server {
  dir: string;
  store: Store;
  server: Pop3Server;
  port: number;
  /** The INBOX id of USER. */
  inbox: number;
  /** Appends a message to USER's INBOX directly (as the poller or an IMAP APPEND would). */
  append(raw: Buffer): Promise<number>;
  destroy(): Promise<void>;
}

export async function startTestPop3Server(
  overrides: Partial<Omit<Pop3ServerOptions, 'maildrop' | 'verify'>> = {},
): Promise<TestPop3Server> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-pop3-'));
  const store = await Store.open(dir, { accounts: [USER, OTHER_USER] });
  await writePasswords(dir);
  const auth = new LocalAuthenticator(new LocalPasswords(dir), { accounts: () => [USER, OTHER_USER], baseDelayMs: 10, maxDelayMs: 50 });
  const server = await startPop3Server({
    listen: [{ host: '127.0.0.1', port: 0 }],
    maildrop: storeMaildrop(store),
    verify: (user, password, remote, signal) => auth.verify(user, password, remote, { signal }),
    logger: silentLogger(),
    ...overrides,
  });
  const inbox = store.findMailbox(USER, 'INBOX')!.id;
  let destroyed = false;
  return {
    dir,
    store,
    server,
    port: server.addresses()[0].port,
    inbox,
    append: async (raw) => (await store.appendMessage(inbox, raw)).uid,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await server.stop();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
