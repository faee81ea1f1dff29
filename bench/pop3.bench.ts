/**
 * POP3 download benchmark (issue 5): 2,000 messages of mixed size (1 KB .. 200 KB, mostly ~20 KB) from the
 * lab's Dovecot over TLS (port 995 style, certificate verified against the lab CA), fetched in the same run by
 *   - hotbridge: the Pop3Poller into a fresh store (durable batches, index built at ingest), with the
 *     default batch_size (50 messages per POP3 session, what Outlook.com needs) and with one session;
 *   - fetchmail (Debian package) delivering each message to a maildir through an MDA (one `sh -c 'cat > file'`
 *     per message, the usual fetchmail set-up), and to a BSMTP file (no process per message: fetchmail's
 *     protocol speed alone).
 * Every run uses `keep` semantics (leave_on_server), so all read the same messages. The rounds alternate
 * tools and the best round of each counts. Target: hotbridge (default batch size) >= 1.0x fetchmail to a
 * maildir; goal 1.5x.
 *
 *
 * Memory (issue 11): the RSS of one poll, in a fresh process running the compiled daemon code
 * (bench/lib/pop3-memory-child.mjs), for a 100 MiB message from Dovecot over TLS and for a server whose RETR
 * never ends (cut at max_message_size, 100 MiB). Target: the peak over the RSS before the poll stays under the
 * message's size plus 32 MB, and the RSS afterwards returns close to where it was.
 *
 * `npm run bench -- pop3`; POP3_BENCH_MESSAGES and POP3_BENCH_ROUNDS change the size of the run;
 * POP3_BENCH=speed or POP3_BENCH=memory runs one half only.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AccountConfig } from '../src/config/types.js';
import { silentLogger } from '../src/runtime/logger.js';
import { StatusBoard } from '../src/runtime/status-board.js';
import { Store } from '../src/store/index.js';
import { Pop3Client } from '../src/upstream/pop3/client.js';
import { Pop3Poller } from '../src/upstream/pop3/poller.js';
import { labAccount } from '../test/fixtures/children/poller-account.js';
import { accountConfig } from '../test/helpers/accounts.js';
import { requireTool } from '../test/helpers/tools.js';
import { loginFrom } from '../test/helpers/credentials.js';
import { FakePop3Server, FAKE_POP3_PASSWORD } from '../test/helpers/fake-pop3-server.js';
import { LAB_USERS, startLab, type Lab } from '../test/helpers/lab.js';
import { bigMessage } from '../test/helpers/messages.js';
import { seededRandom } from '../test/helpers/random.js';

const COUNT = Number(process.env.POP3_BENCH_MESSAGES ?? 2000);
const PART = process.env.POP3_BENCH ?? 'all';
const ROUNDS = Number(process.env.POP3_BENCH_ROUNDS ?? 2);
const { user: USER, password: PASSWORD } = LAB_USERS.alice;

/** 15% 1-5 KB, 70% 15-25 KB, 15% 50-200 KB; text lines with the odd leading dot (dot-stuffing on the wire). */
function mailbox(count: number): Buffer[] {
  const next = seededRandom(2026);
  const messages: Buffer[] = [];
  for (let n = 0; n < count; n++) {
    const r = next();
    const kb = r < 0.15 ? 1 + next() * 4 : r < 0.85 ? 15 + next() * 10 : 50 + next() * 150;
    const header =
      `From: Sender ${n} <s${n}@example.org>\r\nTo: ${USER}\r\nSubject: Benchmark message ${n}\r\n` +
      `Date: Tue, 03 Mar 2020 10:00:00 +0000\r\nMessage-ID: <pop3-bench-${n}@example.org>\r\nMIME-Version: 1.0\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n\r\n';
    const lines: string[] = [];
    let size = header.length;
    for (let i = 0; size < kb * 1024; i++) {
      const line = `${i % 37 === 0 ? '.' : ''}Line ${i} of message ${n}: the quick brown fox jumps over the lazy dog`.padEnd(74, ' x');
      lines.push(line);
      size += line.length + 2;
    }
    messages.push(Buffer.from(`${header}${lines.join('\r\n')}\r\n`, 'utf8'));
  }
  return messages;
}

function account(lab: Lab, batchSize: number): AccountConfig {
  const config = labAccount(lab, USER, {}, { timeoutMs: 60_000, batchSize });
  return { ...config, smtp: { ...config.smtp, timeoutMs: 60_000 } };
}

interface Result {
  seconds: number;
  messages: number;
}

async function hotbridge(lab: Lab, batchSize: number): Promise<Result> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-bench-pop3-'));
  try {
    const store = await Store.open(dir, { accounts: [USER] });
    const status = new StatusBoard();
    const credentials = loginFrom(() => ({ kind: 'password', user: USER, password: PASSWORD }));
    const poller = new Pop3Poller({ account: account(lab, batchSize), store, credentials, logger: silentLogger(), status });
    const start = performance.now();
    poller.start();
    for (;;) {
      const state = status.get('pop3', USER) ?? {};
      if (state.lastSuccessAt !== undefined) break;
      if (state.lastError !== undefined) throw new Error(`hotbridge poll failed: ${String(state.lastError)}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const seconds = (performance.now() - start) / 1000;
    await poller.stop();
    const messages = (await store.listMessages(store.findMailbox(USER, 'INBOX')!.id)).length;
    await store.close();
    return { seconds, messages };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a tool; `code` is its exit status, or the reason it could not run (ENOENT, a signal). */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { env, maxBuffer: 64 * 1024 * 1024 }, (error, _stdout, stderr) => {
      resolve({ code: error ? ((error as NodeJS.ErrnoException).code ?? error.signal ?? 1) : 0, stderr });
    });
  });
}

/** fetchmail with `keep fetchall`, delivering by MDA into a maildir or into one BSMTP file. */
async function fetchmail(lab: Lab, mode: 'maildir' | 'bsmtp'): Promise<Result> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-bench-fetchmail-'));
  try {
    const maildir = path.join(dir, 'Maildir');
    for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(maildir, sub), { recursive: true });
    const bsmtp = path.join(dir, 'mail.bsmtp');
    // $$ is the PID of the shell fetchmail starts for each message: a unique file name per message.
    const delivery = mode === 'maildir' ? `mda "cat > ${maildir}/new/m.$$"` : `bsmtp "${bsmtp}"`;
    const rc = path.join(dir, 'fetchmailrc');
    fs.writeFileSync(
      rc,
      [
        'set no bouncemail',
        `poll ${lab.host} proto pop3 port ${lab.pop3sPort}`,
        `  user "${USER}" there with password "${PASSWORD}" is root here`,
        // The lab certificate names localhost (and the loopback IPs, which fetchmail does not match).
        `  ssl sslcertck sslcertfile "${lab.caFile}" sslcommonname localhost`,
        '  keep fetchall no rewrite',
        `  ${delivery}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const env = { ...process.env, HOME: dir };
    const start = performance.now();
    const result = await run(
      FETCHMAIL,
      ['-f', rc, '-N', '--nosyslog', '--silent', '--pidfile', path.join(dir, 'pid'), '--idfile', path.join(dir, 'ids')],
      env,
    );
    const seconds = (performance.now() - start) / 1000;
    if (result.code !== 0)
      throw new Error(`fetchmail failed (exit ${result.code}): ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const messages =
      mode === 'maildir'
        ? fs.readdirSync(path.join(maildir, 'new')).length
        : (fs.readFileSync(bsmtp, 'latin1').match(/^MAIL FROM:/gm) ?? []).length;
    return { seconds, messages };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** One untimed session: Dovecot indexes the new mails (and moves them to cur/) before anyone is timed. */
async function warmUp(lab: Lab): Promise<void> {
  const client = await Pop3Client.connect({ host: lab.host, port: lab.pop3sPort, tls: 'implicit', ca: lab.ca });
  await client.loginPassword(USER, PASSWORD);
  await client.uidl();
  await client.list();
  await client.quit();
}

const contenders = [
  { name: 'hotbridge, batch_size 50 (default)', run: (lab: Lab) => hotbridge(lab, 50) },
  { name: 'fetchmail -> maildir (MDA)', run: (lab: Lab) => fetchmail(lab, 'maildir') },
  { name: `hotbridge, one session`, run: (lab: Lab) => hotbridge(lab, COUNT) },
  { name: 'fetchmail -> BSMTP file', run: (lab: Lab) => fetchmail(lab, 'bsmtp') },
];

const MB = 1024 * 1024;
const mb = (bytes: number): string => `${(bytes / MB).toFixed(0)} MB`;

/** RSS, with its anonymous and file-backed parts on Linux (LevelDB maps its table files). */
interface Rss {
  rss: number;
  anon?: number;
  file?: number;
}

interface MemoryResult {
  before: Rss;
  peak: Rss;
  after: Rss;
  seconds: number;
  stored: number[];
  state?: string;
  lastError?: string;
}

/** One poll in a fresh process (bench/lib/pop3-memory-child.mjs); its memory figures. */
function memoryRun(account: AccountConfig, password: string, env: NodeJS.ProcessEnv = {}): Promise<MemoryResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-bench-pop3-memory-'));
  const child = path.join(path.dirname(new URL(import.meta.url).pathname), 'lib/pop3-memory-child.mjs');
  return new Promise<MemoryResult>((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      ['--expose-gc', '--max-semi-space-size=2', child, JSON.stringify({ dataDir: dir, account, password })],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } },
    );
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    proc.on('error', reject);
    proc.on('close', (code) => {
      fs.rmSync(dir, { recursive: true, force: true });
      if (code !== 0) reject(new Error(`the memory child exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!) as MemoryResult);
    });
  });
}

function printMemory(label: string, size: number, result: MemoryResult): void {
  const rise = result.peak.rss - result.before.rss;
  const verdict = rise < size + 32 * MB ? 'within' : 'OVER';
  const parts = (m: Rss): string => (m.anon !== undefined && m.file !== undefined ? ` (anon ${mb(m.anon)} + file ${mb(m.file)})` : '');
  console.log(`  ${label}: ${result.seconds.toFixed(1)} s`);
  console.log(`    RSS before the poll ${mb(result.before.rss).padStart(7)}${parts(result.before)}`);
  console.log(
    `    peak during it      ${mb(result.peak.rss).padStart(7)}${parts(result.peak)}: +${mb(rise)}, ${(rise / size).toFixed(2)}x the message; target under +${mb(size + 32 * MB)}: ${verdict}`,
  );
  console.log(`    after it, idle      ${mb(result.after.rss).padStart(7)}${parts(result.after)}`);
  if (result.lastError) console.log(`    poll error: ${result.lastError}`);
}

async function memoryBench(lab: Lab): Promise<void> {
  console.log('POP3 memory: one poll in a fresh process (compiled code, as the daemon runs)');
  const { user, password } = LAB_USERS.bob;
  await lab.clearMaildir(user);
  const big = bigMessage(100);
  await lab.injectMessage(user, big);
  // As `npm start` runs it, and as the systemd units run it (with glibc's mmap threshold fixed, see there).
  const runs: Array<[string, NodeJS.ProcessEnv]> = [
    ['', {}],
    [', MALLOC_MMAP_THRESHOLD_=131072 (systemd units)', { MALLOC_MMAP_THRESHOLD_: '131072' }],
  ];
  for (const [how, env] of runs) {
    const fromDovecot = await memoryRun(labAccount(lab, user, {}, { timeoutMs: 60_000, maxMessageBytes: 256 * MB }), password, env);
    if (fromDovecot.stored.length !== 1 || fromDovecot.stored[0] !== big.length)
      throw new Error(`the 100 MiB message was not stored: ${JSON.stringify(fromDovecot)}`);
    printMemory(`a ${mb(big.length)} message from Dovecot over TLS${how}`, big.length, fromDovecot);
  }
  await lab.clearMaildir(user);

  // A server whose RETR never ends: the poller reads up to max_message_size and cuts the connection there.
  const server = new FakePop3Server();
  await server.listen();
  server.maildrop = [{ uidl: 'endless', raw: Buffer.from('Subject: endless\r\n\r\nx\r\n'), listSize: 1000 }];
  const line = Buffer.from(`${'endless line '.repeat(6)}\r\n`.repeat(4096));
  server.intercept = (verb, _line, connection) => {
    if (verb !== 'RETR') return false;
    connection.write('+OK\r\n');
    const pump = (): void => {
      while (!connection.socket.destroyed && connection.socket.write(line));
      if (!connection.socket.destroyed) connection.socket.once('drain', pump);
    };
    pump();
    return true;
  };
  try {
    const limit = 100 * MB;
    for (const [how, env] of runs) {
      const endless = await memoryRun(
        accountConfig(user, {
          pop3: { host: '127.0.0.1', port: server.port, tls: 'none', timeoutMs: 60_000, maxMessageBytes: limit, batchSize: 50 },
          smtp: { host: '127.0.0.1', port: 1, tls: 'none', timeoutMs: 5000 },
        }),
        FAKE_POP3_PASSWORD,
        env,
      );
      printMemory(`an endless RETR, cut at max_message_size 100 MB${how}`, limit, endless);
    }
  } finally {
    await server.close();
  }
}

async function speedBench(lab: Lab): Promise<void> {
  const messages = mailbox(COUNT);
  const megabytes = messages.reduce((sum, raw) => sum + raw.length, 0) / 1024 / 1024;
  await lab.injectMessages(USER, messages);
  await warmUp(lab);
  console.log(
    `POP3 download benchmark: ${COUNT} messages, ${megabytes.toFixed(1)} MB (1-200 KB, mostly ~20 KB), Dovecot over TLS, ${ROUNDS} rounds`,
  );
  const best = new Map<string, number>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const contender of contenders) {
      const result = await contender.run(lab);
      if (result.messages !== COUNT) throw new Error(`${contender.name} fetched ${result.messages} of ${COUNT} messages`);
      const rate = COUNT / result.seconds;
      best.set(contender.name, Math.max(best.get(contender.name) ?? 0, rate));
      console.log(
        `  round ${round}: ${contender.name.padEnd(36)} ${result.seconds.toFixed(2).padStart(6)} s  ${rate.toFixed(0).padStart(5)} msg/s  ${(megabytes / result.seconds).toFixed(1)} MB/s`,
      );
    }
  }
  console.log('  best of rounds:');
  for (const [name, rate] of best) console.log(`    ${name.padEnd(36)} ${rate.toFixed(0).padStart(5)} msg/s`);
  const ours = best.get(contenders[0].name)!;
  const theirs = best.get(contenders[1].name)!;
  console.log(`  ratio hotbridge (default) / fetchmail -> maildir: ${(ours / theirs).toFixed(2)}x   target >= 1.0x, goal 1.5x`);
  console.log(
    `  ratio hotbridge (default) / fetchmail -> BSMTP:   ${(ours / best.get(contenders[3].name)!).toFixed(2)}x   (fetchmail without a process per message)`,
  );
  console.log(`  ratio hotbridge (one session) / fetchmail -> maildir: ${(best.get(contenders[2].name)! / theirs).toFixed(2)}x`);
}

// The peer is installed the way the tests install theirs (apt-get as root, outside CI; see clients.ts).
const FETCHMAIL = PART === 'memory' ? 'fetchmail' : await requireTool('fetchmail', 'fetchmail');
const lab = await startLab();
try {
  if (PART !== 'memory') await speedBench(lab);
  if (PART !== 'speed') await memoryBench(lab);
} finally {
  await lab.stop();
}
