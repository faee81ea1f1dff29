// @ts-check
/**
 * The hotbridge IMAP server in a process of its own, for bench/imap.bench.ts: the load generator
 * must not share an event loop (or a heap) with the server it measures, and the RSS figure must be
 * the server's alone.
 *
 *   node --expose-gc bench/lib/imap-server-child.mjs dist DATA_DIR ACCOUNT...              (compiled)
 *   node --expose-gc --import tsx bench/lib/imap-server-child.mjs src DATA_DIR ACCOUNT...  (sources)
 *
 * Plain JavaScript so that it can run the compiled daemon code (dist/) without tsx, whose loader
 * alone adds ~30 MB of RSS that the real daemon does not have; with `src` it runs the TypeScript
 * sources under tsx (when dist/ is older than src/).
 *
 * The data dir must already hold the store and local-passwords.json (the parent fills them, then
 * closes the store). HOTBRIDGE_BENCH_IDLE_KEEPALIVE_MS sets IDLE's keep-alive interval (the daemon's
 * default is 2 minutes). Prints `PORT <n>` once listening. Commands on stdin, one per line:
 *   `rss`  -> `MEM <json>`: process.memoryUsage() plus, on Linux, RssAnon and RssFile from
 *             /proc/self/status (LevelDB mmaps its table files and the node binary is file-backed:
 *             those pages count in RSS as RssFile, which the kernel can drop, unlike RssAnon), and
 *             `parts`: what the RSS is made of (bench/lib/smaps.mjs)
 *   `gc`   -> the same after a full GC (needs --expose-gc)
 *   `cpu`  -> `CPU <json>`: {user, system, mainThread} milliseconds of CPU used so far (mainThread: the
 *             event loop's thread alone, on Linux)
 *   `stop` -> stops the server, closes the store, exits 0
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { rssParts } from './smaps.mjs';

const [tree, dir, ...accounts] = process.argv.slice(2);
if ((tree !== 'dist' && tree !== 'src') || !dir || accounts.length === 0) {
  process.stderr.write('usage: imap-server-child.mjs dist|src DATA_DIR ACCOUNT...\n');
  process.exit(2);
}
const root = new URL(`../../${tree}/`, import.meta.url);
/** @type {typeof import('../../src/store/index.js')} */
const { Store } = await import(new URL('store/index.js', root).href);
/** @type {typeof import('../../src/runtime/local-passwords.js')} */
const { LocalPasswords } = await import(new URL('runtime/local-passwords.js', root).href);
/** @type {typeof import('../../src/runtime/local-auth.js')} */
const { LocalAuthenticator } = await import(new URL('runtime/local-auth.js', root).href);
/** @type {typeof import('../../src/runtime/logger.js')} */
const { createLogger } = await import(new URL('runtime/logger.js', root).href);
const { pino } = await import('pino');
/** @type {typeof import('../../src/downstream/imap/server.js')} */
const { startImapServer } = await import(new URL('downstream/imap/server.js', root).href);
// As the daemon does (src/daemon/daemon.ts); a tree from before it had no trimmer (IMAPTEST_ALSO).
/** @type {typeof import('../../src/runtime/malloc-trim.js') | undefined} */
const trimming = await import(new URL('runtime/malloc-trim.js', root).href).catch(() => undefined);
trimming?.startMemoryTrimmer();

const store = await Store.open(dir, { accounts });
const auth = new LocalAuthenticator(new LocalPasswords(dir), { accounts: () => accounts });
const server = await startImapServer({
  listen: [{ host: '127.0.0.1', port: 0 }],
  store,
  auth,
  // The daemon's logger at its default level, as it runs: what it costs is part of the figures.
  logger: createLogger({ pretty: false, destination: pino.destination({ dest: '/dev/null', sync: false }) }),
  maxLiteralBytes: 50 << 20,
  maxConnectionsPerAddress: 200,
  ...(process.env.HOTBRIDGE_BENCH_IDLE_KEEPALIVE_MS
    ? { idle: { keepaliveMs: Number(process.env.HOTBRIDGE_BENCH_IDLE_KEEPALIVE_MS) } }
    : {}),
});
process.stdout.write(`PORT ${server.addresses()[0].port}\n`);

/** @param {string} field */
function procStatusBytes(field) {
  try {
    const kb = new RegExp(`^${field}:\\s*(\\d+) kB$`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** CPU of the event loop's thread alone (Linux), without LevelDB's compaction and the thread pool: ms. */
function mainThreadCpuMs() {
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks, USER_HZ = 100
  } catch {
    return undefined;
  }
}

const memory = () =>
  JSON.stringify({ ...process.memoryUsage(), rssAnon: procStatusBytes('RssAnon'), rssFile: procStatusBytes('RssFile'), parts: rssParts() });

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.stop();
  await store.close();
  process.exit(0);
};

const input = readline.createInterface({ input: process.stdin });
input.on('line', (line) => {
  const command = line.trim();
  if (command === 'gc') global.gc?.();
  if (command === 'rss' || command === 'gc') process.stdout.write(`MEM ${memory()}\n`);
  else if (command === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.stdout.write(`CPU ${JSON.stringify({ user: user / 1000, system: system / 1000, mainThread: mainThreadCpuMs() })}\n`);
  } else if (command === 'stop') void stop();
});
// The parent went away without saying stop: do not linger.
input.on('close', () => void stop());
