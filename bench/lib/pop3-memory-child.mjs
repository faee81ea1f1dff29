// @ts-check
// The memory half of bench/pop3.bench.ts, in a fresh process running the compiled code (dist/) as the daemon
// does (npm start's --max-semi-space-size=2): one poll of an account whose server holds one large message, or
// answers RETR without end. Prints one JSON line: RSS before the poll, its peak while the poll ran (sampled
// every 10 ms), and RSS afterwards, idle, after a full collection; and what the poll stored.
import { setTimeout as sleep } from 'node:timers/promises';
import { StatusBoard } from '../../dist/runtime/status-board.js';
import { silentLogger } from '../../dist/runtime/logger.js';
import { Store } from '../../dist/store/index.js';
import { Pop3Poller } from '../../dist/upstream/pop3/poller.js';

/** @type {{ dataDir: string; account: import('../../src/config/types.js').AccountConfig; password: string }} */
const options = JSON.parse(process.argv[2]);
const gc = /** @type {() => void} */ (globalThis.gc ?? (() => undefined));

import fs from 'node:fs';

/** RSS, and on Linux its anonymous part (heap, buffers) apart from file-backed pages (LevelDB's mapped tables). */
const memory = () => {
  const rss = process.memoryUsage().rss;
  try {
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const kb = (name) => Number(new RegExp(`^${name}:\\s*(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss, anon: kb('RssAnon'), file: kb('RssFile') };
  } catch {
    return { rss };
  }
};

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(300);
  }
  return memory();
};

const store = await Store.open(options.dataDir, { accounts: [options.account.address] });
const status = new StatusBoard();
const poller = new Pop3Poller({
  account: options.account,
  store,
  credentials: {
    get: async () => ({ kind: 'password', user: options.account.address, password: options.password }),
    rejected: () => undefined,
  },
  logger: silentLogger(),
  status,
  backoff: { initialMs: 60_000, maxMs: 60_000 },
});
const before = await settle();
let peak = before;
const sample = () => {
  const now = memory();
  if (now.rss > peak.rss) peak = now;
};
const sampler = setInterval(sample, 10);
const started = performance.now();
poller.start();
for (;;) {
  const state = /** @type {Record<string, unknown>} */ (status.get('pop3', options.account.address) ?? {});
  if (state.lastSuccessAt !== undefined || state.lastError !== undefined) break;
  await sleep(10);
}
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
sample();
await poller.stop();
const after = await settle();
const pop3 = /** @type {Record<string, unknown>} */ (status.get('pop3', options.account.address) ?? {});
const inbox = store.findMailbox(options.account.address, 'INBOX');
const messages = inbox ? await store.listMessages(inbox.id) : [];
const chunks = await store.chunkReport();
await store.close();
console.log(
  JSON.stringify({
    before,
    peak,
    after,
    seconds,
    stored: messages.map((m) => m.size),
    chunks,
    state: pop3.state,
    lastError: pop3.lastError,
    skipped: pop3.skippedTooLarge,
  }),
);
