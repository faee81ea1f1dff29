/**
 * Store safety benchmark (issue 12): `hotbridge backup` and `export` of a 100,000-message store, each in a
 * fresh process running the compiled code: time and peak RSS (goal: under 60 s and under 150 MB here).
 * Also restore and verify, for the figures. Prints figures; it is not a timed test.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Store } from '../src/store/index.js';

const ACCOUNT = 'bench@example.test';
const COUNT = Number(process.env.BENCH_SAFETY_MESSAGES ?? 100_000);
/** About the size of a plain mail with a signature and quoted text. */
const SIZE = Number(process.env.BENCH_SAFETY_SIZE ?? 4000);

function message(n: number): Buffer {
  const header = `From: Sender ${n % 977} <s${n % 977}@example.org>\r\nTo: ${ACCOUNT}\r\nSubject: Benchmark message ${n}\r\nDate: Fri, 27 Nov 2026 06:00:00 +0000\r\nMessage-ID: <safety-${n}@example.org>\r\n\r\n`;
  const line = `Line ${n}: some words of a message body, different in every message ${(n * 7919) % 100_003}. `.padEnd(76, '.') + '\r\n';
  return Buffer.from(header + line.repeat(Math.ceil((SIZE - header.length) / line.length)));
}

interface Figures {
  seconds: number;
  peakRssMb: number;
  detail: string;
}

function child(args: string[]): Figures {
  const result = spawnSync(
    process.execPath,
    ['--max-semi-space-size=2', new URL('./lib/store-safety-child.mjs', import.meta.url).pathname, ...args],
    // As the installed command runs (bin/hotbridge.js, the units): two malloc arenas.
    { encoding: 'utf8', maxBuffer: 1 << 20, env: { ...process.env, MALLOC_ARENA_MAX: '2' } },
  );
  if (result.status !== 0) throw new Error(`${args[0]} failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as Figures;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-bench-safety-'));
try {
  const dataDir = path.join(dir, 'data');
  const store = await Store.open(dataDir, { accounts: [ACCOUNT] });
  const started = performance.now();
  const work = await store.createMailbox(ACCOUNT, 'Work');
  for (let i = 0; i < COUNT; i += 1000) {
    const items = Array.from({ length: Math.min(1000, COUNT - i) }, (_, k) => ({ uidl: `b${i + k}`, raw: message(i + k) }));
    await store.ingestPop3(ACCOUNT, items);
  }
  // A few flags and a second folder, as a real store has.
  const inbox = store.findMailbox(ACCOUNT, 'INBOX')!;
  const uids = (await store.listMessages(inbox.id)).map((m) => m.uid);
  await store.storeFlags(
    inbox.id,
    uids.filter((uid) => uid % 3 === 0),
    'add',
    ['\\Seen'],
  );
  await store.copyMessages(inbox.id, uids.slice(0, 1000), work.id);
  await store.close();
  const buildSeconds = (performance.now() - started) / 1000;

  console.log('store safety benchmark');
  console.log(`  a store of ${COUNT} messages of ~${SIZE} bytes (built in ${buildSeconds.toFixed(0)} s)`);
  const line = (what: string, figures: Figures, goals = true) =>
    console.log(
      `  ${what.padEnd(26)} ${figures.seconds.toFixed(1).padStart(6)} s   peak RSS ${figures.peakRssMb.toFixed(0).padStart(4)} MB   (${figures.detail})${goals ? '   goal < 60 s, < 150 MB' : ''}`,
    );
  const archive = path.join(dir, 'store.hbk');
  line('backup', child(['backup', dataDir, archive]));
  line('export --format mbox', child(['export', dataDir, path.join(dir, 'mbox'), 'mbox']));
  fs.rmSync(path.join(dir, 'mbox'), { recursive: true, force: true });
  line('export --format maildir', child(['export', dataDir, path.join(dir, 'maildir'), 'maildir']));
  fs.rmSync(path.join(dir, 'maildir'), { recursive: true, force: true });
  line('verify --quick', child(['verify', dataDir, '', 'quick']), false);
  line('restore', child(['restore', dataDir, archive]), false);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
