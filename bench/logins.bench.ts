/**
 * Local login benchmark (issues 11 and 15): a flood of 50 wrong SMTP passwords in parallel, then the
 * right login, against hotbridge (its real IMAP and SMTP servers and local logins) and against the lab
 * Postfix submission with Dovecot SASL in the same run; the daemon's RSS while the flood is checked;
 * and IMAP login/logout cycles with the cache of verified logins against fresh checks. Prints figures;
 * not a timed test.
 * Targets: the right login answered within 1-2 s of a 50-guess flood; RSS peak under the flood below
 * idle + 80 MB (two 32 MiB scrypt checks at a time; four parallel ones took it to 321 MB); cached logins
 * ≥ 20× the rate of hashed ones.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { startImapServer } from '../src/downstream/imap/server.js';
import { startSubmissionServer } from '../src/downstream/smtp/server.js';
import { LocalAuthenticator } from '../src/runtime/local-auth.js';
import { LocalPasswords } from '../src/runtime/local-passwords.js';
import { silentLogger } from '../src/runtime/logger.js';
import { Store } from '../src/store/index.js';
import { startLab } from '../test/helpers/lab.js';
import { testAccount } from '../test/integration/fixtures/smtp-setup.js';

const ALICE = 'alice@example.test';
const LOCAL_PASSWORD = 'bench local password';
const GUESSES = Number(process.env.BENCH_LOGIN_GUESSES ?? 50);
const CYCLES = Number(process.env.BENCH_LOGIN_CYCLES ?? 200);

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

interface SmtpTarget {
  port: number;
  host: string;
  tls: boolean;
  ca?: Buffer;
}

function transport(target: SmtpTarget, pass: string) {
  return nodemailer.createTransport({
    host: target.host,
    port: target.port,
    secure: false,
    ...(target.tls ? { requireTLS: true, tls: { ca: target.ca } } : { ignoreTLS: true }),
    auth: { user: ALICE, pass },
    logger: false,
  });
}

/** GUESSES wrong logins at once, then the right one once they are all sent: when each is answered. */
async function flood(target: SmtpTarget, right: string): Promise<{ rightMs: number; allFailedMs: number }> {
  const start = performance.now();
  const failures = Array.from({ length: GUESSES }, (_, i) =>
    transport(target, `wrong ${i}`)
      .verify()
      .then(
        () => performance.now() - start,
        () => performance.now() - start,
      ),
  );
  // Give the guesses a head start, so the right login arrives behind them.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const before = performance.now();
  await transport(target, right).verify();
  const rightMs = performance.now() - before;
  const allFailedMs = Math.max(...(await Promise.all(failures)));
  return { rightMs, allFailedMs };
}

/** One IMAP LOGIN + LOGOUT on a raw connection; resolves when the server has closed. */
function imapCycle(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(`a LOGIN ${ALICE} "${LOCAL_PASSWORD}"\r\nb LOGOUT\r\n`));
    let data = '';
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      // The tagged LOGOUT answer is the last thing the server says: close our side at once.
      if (/\r\nb OK/.test(data)) socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => (/a OK/.test(data) ? resolve() : reject(new Error(`login failed: ${data}`))));
  });
}

const lab = await startLab({ smtp: true });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-bench-logins-'));
try {
  const dataDir = path.join(dir, 'data');
  const store = await Store.open(dataDir, { accounts: [ALICE] });
  const passwords = new LocalPasswords(dataDir);
  await passwords.set(ALICE, LOCAL_PASSWORD);
  const account = testAccount(ALICE);
  let auth = new LocalAuthenticator(passwords, { accounts: () => [ALICE] });
  const smtp = await startSubmissionServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    store,
    auth,
    logger: silentLogger(),
    maxMessageBytes: 1 << 20,
    accounts: () => [account],
  });
  const hotbridge: SmtpTarget = { host: '127.0.0.1', port: smtp.addresses()[0].port, tls: false };
  const postfix: SmtpTarget = { host: lab.host, port: lab.smtpPort, tls: true, ca: lab.ca };

  (globalThis as { gc?: () => void }).gc?.();
  const idleRss = process.memoryUsage().rss;
  let peakRss = idleRss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 10);
  const ours = await flood(hotbridge, LOCAL_PASSWORD);
  clearInterval(sampler);
  const floodCounts = auth.counts();
  const theirs = await flood(postfix, 'alice-password');
  await smtp.stop();

  // Login/logout cycles over IMAP: the cache answers all but the first; without it every one is hashed.
  const rate = async (cached: boolean): Promise<number> => {
    auth = new LocalAuthenticator(passwords, { accounts: () => [ALICE], ...(cached ? {} : { cache: { ttlMs: 0 } }) });
    const imap = await startImapServer({
      listen: [{ host: '127.0.0.1', port: 0 }],
      store,
      auth,
      logger: silentLogger(),
      maxLiteralBytes: 1 << 20,
      maxConnectionsPerAddress: 100,
    });
    const port = imap.addresses()[0].port;
    const cycles = cached ? CYCLES : Math.min(CYCLES, 40);
    const start = performance.now();
    for (let i = 0; i < cycles; i += 10) await Promise.all(Array.from({ length: Math.min(10, cycles - i) }, () => imapCycle(port)));
    const perSecond = cycles / ((performance.now() - start) / 1000);
    await imap.stop();
    return perSecond;
  };
  const cachedRate = await rate(true);
  const hashedRate = await rate(false);
  await store.close();

  console.log(
    `local logins benchmark (${GUESSES} wrong SMTP passwords at once, then the right one; same run against the lab Postfix + Dovecot SASL)`,
  );
  console.log(
    `  hotbridge: right login answered ${s(ours.rightMs)} after it was sent; all ${GUESSES} failures answered after ${s(ours.allFailedMs)}   target right login ≤ 1-2 s`,
  );
  console.log(
    `  Postfix:   right login answered ${s(theirs.rightMs)} after it was sent; all ${GUESSES} failures answered after ${s(theirs.allFailedMs)}`,
  );
  console.log(
    `  hotbridge scrypt checks during the flood: ${floodCounts.hashes} (of ${GUESSES + 1} logins; ${floodCounts.dropped} dropped)`,
  );
  console.log(`  hotbridge RSS: idle ${mb(idleRss)}, peak during the flood ${mb(peakRss)} (+${mb(peakRss - idleRss)})   target < +80 MB`);
  console.log(
    `  IMAP LOGIN/LOGOUT, 10 at a time: ${cachedRate.toFixed(0)}/s with the cache, ${hashedRate.toFixed(1)}/s hashing each; ratio ${(cachedRate / hashedRate).toFixed(0)}x   target ≥ 20x`,
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
  await lab.stop();
}
