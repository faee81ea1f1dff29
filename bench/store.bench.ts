/**
 * Store benchmark (issue 2): durable ingest rate of 20 KB messages, listing the metadata of a
 * 100,000-message mailbox, and RSS afterwards. Prints figures; it is not a timed test.
 * Targets: ingest ≥ 500 msg/s, 100k listing < 300 ms, RSS < 150 MB.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../src/store/index.js';

const ACCOUNT = 'bench@example.test';
const INGEST_COUNT = Number(process.env.BENCH_INGEST ?? 10_000);
const LIST_COUNT = Number(process.env.BENCH_LIST ?? 100_000);

function message(n: number, size: number): Buffer {
  const header = `From: Sender ${n} <s${n}@example.org>\r\nTo: ${ACCOUNT}\r\nSubject: Benchmark message ${n}\r\nDate: Fri, 27 Nov 2026 06:00:00 +0000\r\nMessage-ID: <b${n}@example.org>\r\n\r\n`;
  const line = `Line of message ${n} with some words to index for search. `.padEnd(76, '.') + '\r\n';
  return Buffer.from(header + line.repeat(Math.ceil((size - header.length) / line.length)));
}

const LIST_ACCOUNT = 'list@example.test';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-bench-store-'));
try {
  const store = await Store.open(dir, { accounts: [ACCOUNT, LIST_ACCOUNT] });
  // Ingest: one durable batch per message, as the poller does with a batch size of 1 (worst case),
  // then with batches of 20 (what the poller does when it has several messages in hand).
  const singles = Math.min(2000, INGEST_COUNT);
  let start = performance.now();
  for (let i = 0; i < singles; i++) await store.ingestPop3(ACCOUNT, [{ uidl: `s${i}`, raw: message(i, 20 * 1024) }]);
  const singleRate = singles / ((performance.now() - start) / 1000);
  start = performance.now();
  for (let i = 0; i < INGEST_COUNT; i += 20) {
    const items = [];
    for (let j = i; j < Math.min(INGEST_COUNT, i + 20); j++) items.push({ uidl: `b${j}`, raw: message(j, 20 * 1024) });
    await store.ingestPop3(ACCOUNT, items);
  }
  const batchRate = INGEST_COUNT / ((performance.now() - start) / 1000);
  console.log('store benchmark');
  console.log(`  ingest 20 KB, one durable batch per message: ${singleRate.toFixed(0)} msg/s (${singles} messages)`);
  console.log(`  ingest 20 KB, durable batches of 20:         ${batchRate.toFixed(0)} msg/s (${INGEST_COUNT} messages)   target ≥ 500`);

  // Listing: LIST_COUNT small messages in another account's INBOX, listed by a fresh process.
  for (let i = 0; i < LIST_COUNT; i += 1000) {
    const items = Array.from({ length: Math.min(1000, LIST_COUNT - i) }, (_, k) => ({ uidl: `l${i + k}`, raw: message(i + k, 600) }));
    await store.ingestPop3(LIST_ACCOUNT, items);
  }
  await store.close();
  const { spawnSync } = await import('node:child_process');
  // `npm run bench` builds dist/ first (scripts/prepare.mjs).
  spawnSync(process.execPath, ['--expose-gc', new URL('./lib/store-list-child.mjs', import.meta.url).pathname, dir, LIST_ACCOUNT], {
    stdio: 'inherit',
  });
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
