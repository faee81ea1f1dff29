/**
 * hotbridge's own POP3 server against Dovecot's (issue 14): fetchmail downloads the same 2,000 messages
 * (1 KB .. 200 KB, mostly ~20 KB, with the odd leading dot for dot-stuffing) from each, over plain POP3
 * on loopback, in the same run; `keep fetchall`, so every round reads everything. Two deliveries:
 * through an MDA into a maildir (one `sh -c 'cat > file'` per message, the usual set-up) and into one
 * BSMTP file (no process per message: where the server's own speed shows most). Both servers get one
 * untimed session first (Dovecot indexes the new mail, hotbridge learns the sizes). Rounds alternate and
 * the best round of each counts. Target: hotbridge / Dovecot >= 1.0.
 *
 * `npm run bench -- pop3-server`; POP3_SERVER_BENCH_MESSAGES and POP3_SERVER_BENCH_ROUNDS change the run.
 * fetchmail is installed with apt-get when missing (as root).
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { storeMaildrop } from '../src/downstream/pop3/maildrop.js';
import { startPop3Server } from '../src/downstream/pop3/server.js';
import { silentLogger } from '../src/runtime/logger.js';
import { Store } from '../src/store/index.js';
import { LAB_USERS, startLab } from '../test/helpers/lab.js';
import { seededRandom } from '../test/helpers/random.js';

const COUNT = Number(process.env.POP3_SERVER_BENCH_MESSAGES ?? 2000);
const ROUNDS = Number(process.env.POP3_SERVER_BENCH_ROUNDS ?? 3);
const { user: USER, password: PASSWORD } = LAB_USERS.alice;

function mailbox(count: number): Buffer[] {
  const next = seededRandom(1939);
  const messages: Buffer[] = [];
  for (let n = 0; n < count; n++) {
    const r = next();
    const kb = r < 0.15 ? 1 + next() * 4 : r < 0.85 ? 15 + next() * 10 : 50 + next() * 150;
    const header =
      `From: Sender ${n} <s${n}@example.org>\r\nTo: ${USER}\r\nSubject: Benchmark message ${n}\r\n` +
      `Date: Tue, 03 Mar 2020 10:00:00 +0000\r\nMessage-ID: <pop3-server-bench-${n}@example.org>\r\nMIME-Version: 1.0\r\n` +
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

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { env, maxBuffer: 64 * 1024 * 1024 }, (error, _stdout, stderr) => {
      resolve({ code: error ? Number((error as NodeJS.ErrnoException).code ?? 1) : 0, stderr });
    });
  });
}

/** fetchmail `keep fetchall` over plain POP3; returns seconds and the number of messages delivered. */
async function fetchmail(binary: string, port: number, mode: 'maildir' | 'bsmtp'): Promise<{ seconds: number; messages: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-bench-fetchmail-'));
  try {
    const maildir = path.join(dir, 'Maildir');
    for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(maildir, sub), { recursive: true });
    const bsmtp = path.join(dir, 'mail.bsmtp');
    const delivery = mode === 'maildir' ? `mda "cat > ${maildir}/new/m.$$"` : `bsmtp "${bsmtp}"`;
    const rc = path.join(dir, 'fetchmailrc');
    fs.writeFileSync(
      rc,
      [
        'set no bouncemail',
        `poll 127.0.0.1 proto pop3 service ${port}`,
        `  user "${USER}" there with password "${PASSWORD}" is root here`,
        "  keep fetchall no rewrite sslproto ''",
        `  ${delivery}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const start = performance.now();
    const result = await run(
      binary,
      ['-f', rc, '-N', '--nosyslog', '--silent', '--pidfile', path.join(dir, 'pid'), '--idfile', path.join(dir, 'ids')],
      { ...process.env, HOME: dir },
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

/** One untimed session: USER, PASS, LIST, QUIT. */
function warmUp(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (/\r\n\.\r\n\+OK[^\r\n]*\r\n$/.test(text)) socket.end();
    });
    socket.once('connect', () => socket.write(`USER ${USER}\r\nPASS ${PASSWORD}\r\nLIST\r\nQUIT\r\n`));
    socket.once('close', () => resolve());
    socket.once('error', reject);
  });
}

/** fetchmail's path, installed with apt-get when missing (the benchmark needs nothing set up by hand). */
function ensureFetchmail(): string {
  const which = () => spawnSync('sh', ['-c', 'command -v fetchmail'], { encoding: 'utf8' }).stdout.trim();
  if (which()) return which();
  console.log('fetchmail is missing: installing it (apt-get install fetchmail)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '--no-install-recommends', 'fetchmail'], {
      env,
      stdio: 'inherit',
    }).status;
  if (install() !== 0) {
    spawnSync('apt-get', ['update'], { env, stdio: 'inherit' });
    install();
  }
  if (!which()) throw new Error('fetchmail could not be installed (apt-get install fetchmail, as root)');
  return which();
}

const binary = ensureFetchmail();
const messages = mailbox(COUNT);
const megabytes = messages.reduce((sum, raw) => sum + raw.length, 0) / 1024 / 1024;
const lab = await startLab();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-bench-pop3-server-'));
const store = await Store.open(dir, { accounts: [USER] });
const server = await startPop3Server({
  listen: [{ host: '127.0.0.1', port: 0 }],
  maildrop: storeMaildrop(store),
  // The password check is the same scrypt for every login; it is not what is measured here.
  verify: async (user, password) => (user === USER && password === PASSWORD ? USER : undefined),
  logger: silentLogger(),
});
try {
  await lab.injectMessages(USER, messages);
  const inbox = store.findMailbox(USER, 'INBOX')!.id;
  for (const raw of messages) await store.appendMessage(inbox, raw);
  const ports = { hotbridge: server.addresses()[0].port, dovecot: lab.pop3Port };
  await warmUp(ports.dovecot);
  await warmUp(ports.hotbridge);
  console.log(
    `POP3 server benchmark: fetchmail, ${COUNT} messages, ${megabytes.toFixed(1)} MB (1-200 KB, mostly ~20 KB), plain POP3 on loopback, ${ROUNDS} rounds`,
  );
  const best = new Map<string, number>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const mode of ['bsmtp', 'maildir'] as const) {
      for (const name of round % 2 === 1 ? (['hotbridge', 'dovecot'] as const) : (['dovecot', 'hotbridge'] as const)) {
        const result = await fetchmail(binary, ports[name], mode);
        if (result.messages !== COUNT) throw new Error(`${name} (${mode}): fetchmail got ${result.messages} of ${COUNT} messages`);
        const rate = COUNT / result.seconds;
        const key = `${name} -> ${mode}`;
        best.set(key, Math.max(best.get(key) ?? 0, rate));
        console.log(
          `  round ${round}: ${key.padEnd(22)} ${result.seconds.toFixed(2).padStart(6)} s  ${rate.toFixed(0).padStart(5)} msg/s  ${(megabytes / result.seconds).toFixed(1)} MB/s`,
        );
      }
    }
  }
  console.log('  best of rounds:');
  for (const [key, rate] of best) console.log(`    ${key.padEnd(22)} ${rate.toFixed(0).padStart(5)} msg/s`);
  for (const mode of ['bsmtp', 'maildir']) {
    console.log(
      `  ratio hotbridge / Dovecot, fetchmail -> ${mode}: ${(best.get(`hotbridge -> ${mode}`)! / best.get(`dovecot -> ${mode}`)!).toFixed(2)}x   target >= 1.0x`,
    );
  }
} finally {
  await server.stop();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  await lab.stop();
}
