/**
 * The hotbridge IMAP server in a process of its own, for bench/imap.bench.ts: the load generator
 * must not share an event loop (or a heap) with the server it measures, and the RSS figure must be
 * the server's alone.
 *
 *   node --expose-gc --import tsx bench/lib/imap-server-child.ts DATA_DIR ACCOUNT...
 *
 * The data dir must already hold the store and local-passwords.json (the parent fills them, then
 * closes the store). Prints `PORT <n>` once listening. Commands on stdin, one per line:
 *   `rss`  -> `RSS <rss bytes> <heapUsed bytes>` (as it is, no GC forced)
 *   `gc`   -> `GC <rss bytes> <heapUsed bytes>`  (after a full GC, if --expose-gc)
 *   `stop` -> stops the server, closes the store, exits 0
 */
import readline from 'node:readline';
import { LocalAuthenticator } from '../../src/daemon/local-auth.js';
import { silentLogger } from '../../src/daemon/logger.js';
import { startImapServer } from '../../src/downstream/imap/server.js';
import { LocalPasswords } from '../../src/store/local-passwords.js';
import { Store } from '../../src/store/store.js';

const [dir, ...accounts] = process.argv.slice(2);
if (!dir || accounts.length === 0) {
  process.stderr.write('usage: imap-server-child.ts DATA_DIR ACCOUNT...\n');
  process.exit(2);
}

const store = await Store.open(dir, { accounts });
const auth = new LocalAuthenticator(new LocalPasswords(dir), { accounts: () => accounts });
const server = await startImapServer({
  listen: [{ host: '127.0.0.1', port: 0 }],
  store,
  auth,
  logger: silentLogger(),
  maxLiteralBytes: 50 << 20,
  maxConnectionsPerAddress: 100,
});
process.stdout.write(`PORT ${server.addresses()[0].port}\n`);

const memory = (): string => {
  const usage = process.memoryUsage();
  return `${usage.rss} ${usage.heapUsed}`;
};

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await server.stop();
  await store.close();
  process.exit(0);
};

const input = readline.createInterface({ input: process.stdin });
input.on('line', (line) => {
  const command = line.trim();
  if (command === 'rss') process.stdout.write(`RSS ${memory()}\n`);
  else if (command === 'gc') {
    global.gc?.();
    process.stdout.write(`GC ${memory()}\n`);
  } else if (command === 'stop') void stop();
});
// The parent went away without saying stop: do not linger.
input.on('close', () => void stop());
