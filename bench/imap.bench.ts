/**
 * IMAP benchmark (issue 3): hotbridge's IMAP server against Dovecot's, on the same machine, in the same
 * run, on the same messages. Prints figures; it is not a timed test.
 *
 *   1. Load: 10 concurrent clients, each running the same seeded list of commands against both servers
 *      (SELECT, UID FETCH of flags / envelopes / a body, UID STORE, UID SEARCH, APPEND) on a shared
 *      INBOX of 2,000 mixed messages. Commands per second for both and the ratio hotbridge/Dovecot.
 *      Target ≥ 0.7, goal > 1. Rounds alternate servers; the best round of each counts.
 *   0. Idle (hotbridge only, a fresh server): RSS with a 10,000-message mailbox selected and nothing
 *      happening (target <= 60 MB), and 100 sessions in IDLE with a keep-alive every second: the
 *      server's CPU share of one core over 10 s (the figure the tests no longer assert) and its RSS.
 *   2. A 100,000-message mailbox: SELECT, first and warm (target <= 50 ms warm), `UID FETCH 1:* (UID
 *      FLAGS)` (target <= 2x Dovecot's time) and the server's RSS afterwards, right away and at rest 30 s
 *      later, the mailbox still selected (target <= 150 MB).
 *   3. `UID SEARCH TEXT` over 10,000 mixed messages.
 *
 * hotbridge runs in a child process of its own (bench/lib/imap-server-child.mjs), so the load generator
 * does not share its event loop: the compiled dist/ when it is newer than src/ (`npm run bench` builds
 * it first), else src/ under tsx (IMAP_BENCH_SERVER=dist|src forces one). Dovecot is the test lab's
 * (test/helpers/lab.ts, maildir, one `imap` process per connection). The load client is bench/lib/imap-load-client.ts: raw sockets, one command
 * at a time per connection, no client library.
 *
 * `npm run bench -- imap` runs this and bench/imap-stress.bench.ts (Dovecot's imaptest against both). Sizes: IMAP_BENCH_MESSAGES (2000), IMAP_BENCH_CLIENTS (10),
 * IMAP_BENCH_COMMANDS (commands per client per round, 400), IMAP_BENCH_ROUNDS (2), IMAP_BENCH_BIG
 * (100000), IMAP_BENCH_SEARCH (10000; 0 skips part 3). IMAP_BENCH_SKIP="SEARCH header" leaves a kind out of
 * the mix; IMAP_BENCH_PROFILE=DIR writes a CPU profile of the hotbridge server there.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalPasswords } from '../src/runtime/local-passwords.js';
import { Store } from '../src/store/index.js';
import { LAB_USERS, startLab, type Lab } from '../test/helpers/lab.js';
import { mixedMessage, random, RARE_WORD, smallMessage } from './lib/imap-bench-messages.js';
import { ImapLoadClient, type Reply } from './lib/imap-load-client.js';
import { formatMemory, serverTree, startHotbridge, tsxOverhead, type HotbridgeChild } from './lib/hotbridge-child.js';
import { childrenRss } from './lib/proc-rss.js';

const MESSAGES = Number(process.env.IMAP_BENCH_MESSAGES ?? 2000);
const CLIENTS = Number(process.env.IMAP_BENCH_CLIENTS ?? 10);
const COMMANDS = Number(process.env.IMAP_BENCH_COMMANDS ?? 400);
const ROUNDS = Number(process.env.IMAP_BENCH_ROUNDS ?? 2);
const BIG = Number(process.env.IMAP_BENCH_BIG ?? 100_000);
const SEARCH = Number(process.env.IMAP_BENCH_SEARCH ?? 10_000);

const LOAD_USER = LAB_USERS.alice;
const BIG_USER = LAB_USERS.bob;
const SEARCH_USER = { user: 'carol@example.test', password: 'carol-password' } as const;
const MB = 1024 * 1024;

interface Server {
  name: string;
  port: number;
}

// ---------------------------------------------------------------------------------------------- output

const log = (line: string): void => console.log(line);
const ms = (value: number): string => `${value.toFixed(0)} ms`;
const mb = (bytes: number): string => `${(bytes / MB).toFixed(0)} MB`;
const seconds = (value: number): string => `${(value / 1000).toFixed(1)} s`;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))];
}

// ---------------------------------------------------------------------------------------------- sessions

async function login(port: number, user: { user: string; password: string }): Promise<ImapLoadClient> {
  const client = await ImapLoadClient.connect(port);
  const reply = await client.command(`LOGIN "${user.user}" "${user.password}"`);
  if (reply.status !== 'OK') throw new Error(`login of ${user.user} on port ${port} failed: ${reply.tagged}`);
  return client;
}

function expectOk(reply: Reply, what: string): Reply {
  if (reply.status !== 'OK') throw new Error(`${what} failed: ${reply.tagged}`);
  return reply;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await fn();
  return [value, performance.now() - start];
}

// ---------------------------------------------------------------------------------------------- fill

interface Mailboxes {
  load: Buffer[];
  appends: Buffer[];
  big: number;
  search: Buffer[];
}

function makeMailboxes(): Mailboxes {
  return {
    load: Array.from({ length: MESSAGES }, (_, n) => mixedMessage(n, LOAD_USER.user, { seed: 1, maxAttachmentKb: 300 })),
    // The APPENDed messages: same recipe, other seed, smaller attachments (a client saving a draft or a sent copy).
    appends: Array.from({ length: 200 }, (_, n) => mixedMessage(n, LOAD_USER.user, { seed: 2, maxAttachmentKb: 120 })),
    big: BIG,
    search: Array.from({ length: SEARCH }, (_, n) => mixedMessage(n, SEARCH_USER.user, { seed: 3, maxAttachmentKb: 60 })),
  };
}

async function fillHotbridge(dir: string, boxes: Mailboxes): Promise<void> {
  const store = await Store.open(dir, { accounts: [LOAD_USER.user, BIG_USER.user, SEARCH_USER.user] });
  try {
    const ingest = async (account: string, raws: (i: number) => Buffer, count: number, batch: number, prefix: string) => {
      for (let i = 0; i < count; i += batch) {
        const items = [];
        for (let k = i; k < Math.min(count, i + batch); k++) items.push({ uidl: `${prefix}${k}`, raw: raws(k) });
        await store.ingestPop3(account, items);
      }
    };
    await ingest(LOAD_USER.user, (k) => boxes.load[k], boxes.load.length, 100, 'load-');
    await ingest(BIG_USER.user, (k) => smallMessage(k, BIG_USER.user), boxes.big, 1000, 'big-');
    await ingest(SEARCH_USER.user, (k) => boxes.search[k], boxes.search.length, 100, 'search-');
  } finally {
    await store.close();
  }
  const passwords = new LocalPasswords(dir);
  for (const { user, password } of [LOAD_USER, BIG_USER, SEARCH_USER]) await passwords.set(user, password);
}

async function fillDovecot(lab: Lab, boxes: Mailboxes): Promise<void> {
  await lab.addUser(SEARCH_USER.user, SEARCH_USER.password);
  await lab.injectMessages(LOAD_USER.user, boxes.load);
  for (let i = 0; i < boxes.big; i += 10_000) {
    await lab.injectMessages(
      BIG_USER.user,
      Array.from({ length: Math.min(10_000, boxes.big - i) }, (_, k) => smallMessage(i + k, BIG_USER.user)),
    );
  }
  if (boxes.search.length > 0) await lab.injectMessages(SEARCH_USER.user, boxes.search);
}

// ---------------------------------------------------------------------------------------------- sanity

/** Both servers hold the same messages under the same UIDs and answer the same searches. */
async function sameMailbox(servers: Server[]): Promise<void> {
  const digests: string[] = [];
  for (const server of servers) {
    const client = await login(server.port, LOAD_USER);
    const hash = crypto.createHash('sha256');
    const select = expectOk(await client.command('EXAMINE INBOX', true), `EXAMINE on ${server.name}`);
    hash.update(
      select
        .lines!.filter((l) => / EXISTS$/.test(l) || /UIDNEXT/.test(l))
        .map((l) => l.replace(/\] .*/, ']'))
        .join('|'),
    );
    for (const uid of [1, 2, 3, Math.floor(MESSAGES / 2), MESSAGES - 1, MESSAGES]) {
      const reply = expectOk(await client.command(`UID FETCH ${uid} (RFC822.SIZE BODY.PEEK[])`, true), `FETCH on ${server.name}`);
      hash.update(`${uid}:${/RFC822\.SIZE (\d+)/.exec(reply.lines!.join(' '))?.[1]}:`);
      for (const literal of reply.literals!) hash.update(literal);
    }
    for (const criteria of ['FROM "sender42@"', 'SUBJECT "budget"', 'TO "alice"', `TEXT "${RARE_WORD}"`]) {
      const reply = expectOk(await client.command(`UID SEARCH ${criteria}`, true), `SEARCH on ${server.name}`);
      hash.update(`${criteria}=${reply.lines!.join(' ')}`);
    }
    await client.close();
    digests.push(hash.digest('hex'));
  }
  if (digests.some((d) => d !== digests[0]))
    throw new Error('hotbridge and Dovecot do not hold the same mailbox (sizes, bytes or SEARCH results differ)');
}

// ---------------------------------------------------------------------------------------------- 1. load

interface Op {
  kind: string;
  text?: string;
  append?: Buffer;
}

/**
 * Command kinds and their share of the mix (percent). IMAP_BENCH_SKIP="kind,kind" drops kinds (the
 * others keep their relative shares), to see what one kind costs.
 */
const SKIPPED = new Set(
  (process.env.IMAP_BENCH_SKIP ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== ''),
);
const FULL_MIX: Array<[string, number]> = [
  ['SELECT', 5],
  ['FETCH flags', 20],
  ['FETCH envelope', 15],
  ['FETCH body', 15],
  ['FETCH text \\Seen', 5],
  ['STORE', 15],
  ['SEARCH flags', 5],
  ['SEARCH header', 10],
  ['APPEND', 10],
];
const MIX = FULL_MIX.filter(([kind]) => !SKIPPED.has(kind));
const MIX_TOTAL = MIX.reduce((sum, [, share]) => sum + share, 0);

function opsFor(client: number, round: number, appends: Buffer[]): Op[] {
  const next = random(7919 * (round + 1) + client);
  const uid = () => 1 + Math.floor(next() * MESSAGES);
  const ops: Op[] = [];
  for (let i = 0; i < COMMANDS; i++) {
    let pick = next() * MIX_TOTAL;
    let kind = MIX[MIX.length - 1][0];
    for (const [name, share] of MIX) {
      if (pick < share) {
        kind = name;
        break;
      }
      pick -= share;
    }
    switch (kind) {
      case 'SELECT':
        ops.push({ kind, text: 'SELECT INBOX' });
        break;
      case 'FETCH flags': {
        const first = Math.max(1, uid() - 49);
        ops.push({ kind, text: `UID FETCH ${first}:${first + 49} (UID FLAGS)` });
        break;
      }
      case 'FETCH envelope': {
        const first = Math.max(1, uid() - 19);
        ops.push({ kind, text: `UID FETCH ${first}:${first + 19} (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)` });
        break;
      }
      case 'FETCH body':
        ops.push({ kind, text: `UID FETCH ${uid()} (UID BODYSTRUCTURE BODY.PEEK[])` });
        break;
      case 'FETCH text \\Seen':
        ops.push({ kind, text: `UID FETCH ${uid()} (UID BODY[TEXT])` });
        break;
      case 'STORE': {
        const [sign, flag] = [
          ['+', '\\Seen'],
          ['-', '\\Seen'],
          ['+', '\\Flagged'],
          ['-', '\\Flagged'],
        ][Math.floor(next() * 4)];
        ops.push({ kind, text: `UID STORE ${uid()} ${sign}FLAGS (${flag})` });
        break;
      }
      case 'SEARCH flags':
        ops.push({ kind, text: next() < 0.5 ? 'UID SEARCH UNSEEN' : 'UID SEARCH FLAGGED' });
        break;
      case 'SEARCH header':
        ops.push({
          kind,
          text:
            next() < 0.5
              ? `UID SEARCH FROM "sender${Math.floor(next() * 500)}@"`
              : `UID SEARCH SUBJECT "${['budget', 'holiday', 'report', 'concert'][Math.floor(next() * 4)]}"`,
        });
        break;
      case 'APPEND':
        ops.push({ kind, append: appends[Math.floor(next() * appends.length)] });
        break;
    }
  }
  return ops;
}

interface LoadResult {
  commands: number;
  wallMs: number;
  perSecond: number;
  errors: string[];
  latencies: Map<string, number[]>;
}

async function runLoad(server: Server, round: number, appends: Buffer[]): Promise<LoadResult> {
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => login(server.port, LOAD_USER)));
  await Promise.all(clients.map(async (c) => expectOk(await c.command('SELECT INBOX'), `SELECT on ${server.name}`)));
  const plans = clients.map((_, i) => opsFor(i, round, appends));
  const latencies = new Map<string, number[]>(MIX.map(([kind]) => [kind, []]));
  const errors: string[] = [];
  const start = performance.now();
  await Promise.all(
    clients.map(async (client, i) => {
      for (const op of plans[i]) {
        const t0 = performance.now();
        const reply = op.append ? await client.append('INBOX', '\\Seen', op.append) : await client.command(op.text!);
        latencies.get(op.kind)!.push(performance.now() - t0);
        if (reply.status !== 'OK' && errors.length < 5) errors.push(`${op.kind}: ${reply.tagged}`);
      }
    }),
  );
  const wallMs = performance.now() - start;
  await Promise.all(clients.map((c) => c.close()));
  const commands = CLIENTS * COMMANDS;
  return { commands, wallMs, perSecond: commands / (wallMs / 1000), errors, latencies };
}

async function loadTest(servers: Server[], appends: Buffer[]): Promise<void> {
  log(`1. load: ${CLIENTS} concurrent clients × ${COMMANDS} commands per round, all on one INBOX of ${MESSAGES} messages`);
  log(
    `   mix: ${MIX.map(([k, s]) => `${k} ${((100 * s) / MIX_TOTAL).toFixed(0)}%`).join(', ')}${SKIPPED.size > 0 ? ` (IMAP_BENCH_SKIP: ${[...SKIPPED].join(', ')})` : ''}`,
  );
  // Warm-up (not counted): Dovecot builds its index and header cache on first use, hotbridge loads the list.
  // Timed with one client on an idle server: what a command costs without contention.
  const idle: string[] = [];
  for (const server of servers) {
    const client = await login(server.port, LOAD_USER);
    expectOk(await client.command('SELECT INBOX'), `warm-up on ${server.name}`);
    const [all, allMs] = await timed(() => client.command('UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)'));
    expectOk(all, `warm-up on ${server.name}`);
    const searchMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [reply, took] = await timed(() => client.command(`UID SEARCH FROM "sender${i}@"`));
      expectOk(reply, `warm-up on ${server.name}`);
      searchMs.push(took);
    }
    await client.close();
    idle.push(`${server.name}: UID FETCH 1:* (… ENVELOPE BODYSTRUCTURE) ${ms(allMs)}, UID SEARCH FROM ${ms(Math.min(...searchMs))}`);
  }
  log(`   one client, idle server (warm-up): ${idle.join('; ')}`);
  const best = new Map<string, LoadResult>();
  for (let round = 0; round < ROUNDS; round++) {
    const cells: string[] = [];
    for (const server of servers) {
      const result = await runLoad(server, round, appends);
      cells.push(`${server.name} ${result.perSecond.toFixed(0).padStart(5)} cmd/s (${seconds(result.wallMs)})`);
      if (result.errors.length > 0) cells.push(`[${server.name} errors: ${result.errors.join('; ')}]`);
      if (!best.has(server.name) || result.perSecond > best.get(server.name)!.perSecond) best.set(server.name, result);
    }
    log(`   round ${round + 1}: ${cells.join('   ')}`);
  }
  log('   per command, best round: mean / p95 / max latency (ms)');
  log(`   ${'command'.padEnd(18)}${servers.map((s) => s.name.padStart(24)).join('')}`);
  for (const [kind] of MIX) {
    const cells = servers.map((server) => {
      const sorted = [...best.get(server.name)!.latencies.get(kind)!].sort((a, b) => a - b);
      const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
      return `${mean.toFixed(1)} / ${percentile(sorted, 0.95).toFixed(1)} / ${(sorted[sorted.length - 1] ?? 0).toFixed(0)}`.padStart(24);
    });
    log(`   ${kind.padEnd(18)}${cells.join('')}`);
  }
  const [hotbridge, dovecot] = servers.map((s) => best.get(s.name)!.perSecond);
  log(
    `   best: hotbridge ${hotbridge.toFixed(0)} cmd/s, Dovecot ${dovecot.toFixed(0)} cmd/s, ratio ${(hotbridge / dovecot).toFixed(2)}   target ≥ 0.7, goal > 1`,
  );
}

// ---------------------------------------------------------------------------------------------- 2. big mailbox

/** SELECT and `UID FETCH 1:* (UID FLAGS)` on the big mailbox; returns the best UID FETCH time. */
async function bigMailbox(server: Server, memory: () => Promise<string>): Promise<number> {
  const client = await login(server.port, BIG_USER);
  const selects: number[] = [];
  let exists: string | undefined;
  for (let i = 0; i < 4; i++) {
    const [select, selectMs] = await timed(() => client.command('SELECT INBOX', true));
    expectOk(select, `SELECT of the big mailbox on ${server.name}`);
    exists = select.lines!.find((l) => / EXISTS$/.test(l));
    selects.push(selectMs);
  }
  const runs: number[] = [];
  let count = 0;
  for (let i = 0; i < 3; i++) {
    const [reply, took] = await timed(() => client.command('UID FETCH 1:* (UID FLAGS)'));
    expectOk(reply, `UID FETCH 1:* on ${server.name}`);
    count = reply.untagged;
    runs.push(took);
  }
  const memoryText = await memory();
  await client.close();
  const warm = Math.min(...selects.slice(1));
  log(
    `   ${server.name.padEnd(9)} SELECT: first ${ms(selects[0])}, warm ${ms(warm)} (${exists})${server.name === 'hotbridge' ? '   target <= 50 ms warm' : ''}`,
  );
  log(`   ${server.name.padEnd(9)} UID FETCH: first ${ms(runs[0])}, best ${ms(Math.min(...runs))} (${count} responses); ${memoryText}`);
  return Math.min(...runs);
}

// ---------------------------------------------------------------------------------------------- 0. idle

/** How long after a burst the at-rest memory is taken. */
const REST_MS = 30_000;
/** How long the idle sessions are watched. */
const IDLE_WINDOW_MS = 10_000;
const IDLE_SESSIONS = 100;

/** Waits (at most a minute) until the server uses less than 2% of a core for 3 s in a row; returns how long it took. */
async function settled(server: HotbridgeChild): Promise<number> {
  const start = performance.now();
  let quiet = 0;
  let last = await server.cpu();
  while (quiet < 3 && performance.now() - start < 60_000) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = await server.cpu();
    quiet = now.user + now.system - last.user - last.system < 20 ? quiet + 1 : 0;
    last = now;
  }
  return performance.now() - start;
}

/** Idle costs of a fresh hotbridge server: memory with a big mailbox selected, CPU of idling sessions. */
async function idleFigures(tree: 'dist' | 'src', dir: string): Promise<void> {
  log(`0. idle (a fresh hotbridge server, keep-alives every second)`);
  const server = await startHotbridge(tree, dir, [LOAD_USER.user, BIG_USER.user, SEARCH_USER.user], { idleKeepaliveMs: 1000 });
  try {
    // Opening a store just filled makes LevelDB compact in the background: idle means after that.
    const settle = await settled(server);
    const reader = await login(server.port, SEARCH_USER);
    expectOk(await reader.command('SELECT INBOX'), 'SELECT of the search mailbox');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    log(`   (waited ${seconds(settle)} for the store's background work to end)`);
    log(`   ${SEARCH} messages selected, nothing happening for 3 s: ${formatMemory(await server.memory(false))}   target <= 60 MB`);
    log(`   the same after a full GC: ${formatMemory(await server.memory(true))}`);
    await reader.close();
    const sessions = await Promise.all(Array.from({ length: IDLE_SESSIONS }, () => login(server.port, LOAD_USER)));
    const dones: Array<() => Promise<Reply>> = [];
    for (const session of sessions) {
      expectOk(await session.command('SELECT INBOX'), 'SELECT before IDLE');
      dones.push(await session.idle());
    }
    const before = await server.cpu();
    const start = performance.now();
    await new Promise((resolve) => setTimeout(resolve, IDLE_WINDOW_MS));
    const after = await server.cpu();
    const elapsed = performance.now() - start;
    const used = after.user + after.system - before.user - before.system;
    const loop = after.mainThread !== undefined && before.mainThread !== undefined ? after.mainThread - before.mainThread : undefined;
    const share = (ms: number) => `${((100 * ms) / elapsed).toFixed(2)}% of one core`;
    log(
      `   ${IDLE_SESSIONS} sessions in IDLE (INBOX of ${MESSAGES} selected): ${used.toFixed(0)} ms CPU in ${seconds(elapsed)} = ${share(used)}` +
        `${loop !== undefined ? ` (event loop thread ${loop.toFixed(0)} ms = ${share(loop)})` : ''}; ${formatMemory(await server.memory(false))}`,
    );
    for (const [i, done] of dones.entries()) expectOk(await done(), `IDLE of session ${i}`);
    await Promise.all(sessions.map((session) => session.close()));
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------- 3. search

async function searchText(server: Server): Promise<void> {
  const client = await login(server.port, SEARCH_USER);
  expectOk(await client.command('SELECT INBOX'), `SELECT on ${server.name}`);
  const runs: number[] = [];
  let found = 0;
  for (let i = 0; i < 3; i++) {
    const [reply, took] = await timed(() => client.command(`UID SEARCH TEXT "${RARE_WORD}"`, true));
    expectOk(reply, `SEARCH TEXT on ${server.name}`);
    found = reply.lines!.join(' ').split(' ').length - 2;
    runs.push(took);
  }
  const [, headerMs] = await timed(() => client.command('UID SEARCH FROM "sender7@"'));
  await client.close();
  log(`   ${server.name.padEnd(9)} TEXT: first ${ms(runs[0])}, best ${ms(Math.min(...runs))} (${found} matches); FROM: ${ms(headerMs)}`);
}

// ---------------------------------------------------------------------------------------------- main

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-bench-imap-'));
let lab: Lab | undefined;
let hotbridge: HotbridgeChild | undefined;
try {
  // Decided first: `npm run bench` has just built dist/, and src/ may change while the mailboxes fill.
  const tree = serverTree();
  const dovecotVersion = execFileSync('dovecot', ['--version'], { encoding: 'utf8' }).trim();
  log(
    `IMAP benchmark: hotbridge (own process, node ${process.version}) vs Dovecot ${dovecotVersion} (maildir), ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(2)}`,
  );
  const [generated, genMs] = await timed(async () => makeMailboxes());
  let boxes = generated;
  const size = (raws: Buffer[]) => raws.reduce((sum, raw) => sum + raw.length, 0);
  log(
    `   messages: INBOX ${MESSAGES} mixed (${mb(size(boxes.load))}), big mailbox ${BIG} small, search mailbox ${SEARCH} mixed (${mb(size(boxes.search))}); generated in ${seconds(genMs)}`,
  );

  lab = await startLab({ imap: true });
  const activeLab = lab;
  const [, hotbridgeFillMs] = await timed(() => fillHotbridge(dir, boxes));
  const [, dovecotFillMs] = await timed(() => fillDovecot(activeLab, boxes));
  log(`   fill: hotbridge store (ingestPop3) ${seconds(hotbridgeFillMs)}, Dovecot maildir ${seconds(dovecotFillMs)}`);
  const appends = boxes.appends;
  boxes = { load: [], appends: [], big: 0, search: [] };

  if (SEARCH > 0) await idleFigures(tree, dir);
  hotbridge = await startHotbridge(tree, dir, [LOAD_USER.user, BIG_USER.user, SEARCH_USER.user]);
  const activeHotbridge = hotbridge;
  const servers: Server[] = [
    { name: 'hotbridge', port: hotbridge.port },
    { name: 'Dovecot', port: lab.imapPort! },
  ];
  const how = tree === 'dist' ? 'compiled dist/' : `src/ under tsx, dist/ being older; tsx's loader alone adds ${mb(tsxOverhead())} of RSS`;
  log(`   hotbridge server (${how}) after start: ${formatMemory(await hotbridge.memory(false))}`);
  // As for the idle figures: a store just filled compacts in the background on open, and the tables it
  // reads meanwhile are mapped; the big mailbox's RSS is measured after that, not in the middle of it.
  log(`   (waited ${seconds(await settled(hotbridge))} for the store's background work to end)`);
  await sameMailbox(servers);
  log('   same mailbox on both: sizes, bytes of sample messages and SEARCH results match');

  log(`2. UID FETCH 1:* (UID FLAGS) on a ${BIG}-message mailbox`);
  const masterPid = Number(fs.readFileSync(path.join(lab.dir, 'dovecot/run/master.pid'), 'utf8').trim());
  const ourFetch = await bigMailbox(servers[0], async () => {
    const now = await activeHotbridge.memory(false);
    // The mailbox still selected, nothing happening: what the server holds once V8's memory reducer has
    // given back the heap the FETCH grew (it waits for allocation to slow down). No GC is forced before.
    await new Promise((resolve) => setTimeout(resolve, REST_MS));
    const rest = await activeHotbridge.memory(false);
    const collected = await activeHotbridge.memory(true);
    return (
      `server ${formatMemory(now)}; at rest ${REST_MS / 1000} s later ${formatMemory(rest)}; after a full GC ${formatMemory(collected)}` +
      `   target <= 150 MB`
    );
  });
  const theirFetch = await bigMailbox(servers[1], async () => {
    const sizes = childrenRss(masterPid, 'imap');
    return sizes.length > 0 ? `imap process RSS ${mb(Math.max(...sizes))}` : 'imap process RSS unknown';
  });
  log(`   UID FETCH 1:* time, hotbridge / Dovecot: ${(ourFetch / theirFetch).toFixed(2)}x   target <= 2x`);

  await loadTest(servers, appends);
  log(
    `   hotbridge server after the load: ${formatMemory(await hotbridge.memory(false))}; after a full GC ${formatMemory(await hotbridge.memory(true))}`,
  );

  if (SEARCH > 0) {
    log(`3. UID SEARCH TEXT "${RARE_WORD}" over ${SEARCH} mixed messages (Dovecot without an FTS plugin reads the messages)`);
    for (const server of servers) await searchText(server);
  }
  log(
    `   hotbridge server at the end: ${formatMemory(await hotbridge.memory(false))}; after a full GC ${formatMemory(await hotbridge.memory(true))}`,
  );
} finally {
  await hotbridge?.stop();
  await lab?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
