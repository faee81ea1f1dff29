// @ts-check
// The listing half of bench/store.bench.ts, in a fresh process running the compiled store (dist/), as the
// daemon does: its RSS is what holding a 100,000-message mailbox costs, without a TypeScript loader.
import { Store } from '../../dist/store/index.js';

const [dir, account] = process.argv.slice(2);
const store = await Store.open(dir);
const listed = store.findMailbox(account, 'INBOX');
if (!listed) throw new Error(`no INBOX for ${account}`);
const start = performance.now();
const records = await store.listMessages(listed.id);
const listMs = performance.now() - start;
globalThis.gc?.();
const { rss, heapUsed } = process.memoryUsage();
await store.close();
console.log(`  list metadata of ${records.length} messages (cold open): ${listMs.toFixed(0)} ms   target < 300`);
console.log(`  RSS after listing: ${(rss / 1048576).toFixed(0)} MB (heap used ${(heapUsed / 1048576).toFixed(0)} MB)   target < 150`);
