/**
 * SMTP submission benchmark (issue 6): how many submissions per second hotbridge accepts (each one a
 * durable outbox entry before its 250), the latency of one submission through hotbridge against the
 * same submission straight to the lab Postfix (STARTTLS + AUTH, the provider stand-in) in the same
 * run, and how fast the outbox worker relays the queue on to Postfix. Prints figures; not a timed test.
 * Targets: ≥ 100 submissions/s accepted; median accept latency < 20 ms.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import { LocalAuthenticator } from '../src/runtime/local-auth.js';
import { silentLogger } from '../src/runtime/logger.js';
import { StatusBoard } from '../src/runtime/status-board.js';
import { startSubmissionServer } from '../src/downstream/smtp/server.js';
import { LocalPasswords } from '../src/runtime/local-passwords.js';
import { Store } from '../src/store/index.js';
import { PasswordFileSource } from '../src/upstream/credentials.js';
import { OutboxWorker } from '../src/upstream/smtp/worker.js';
import { startLab } from '../test/helpers/lab.js';
import { testAccount } from '../test/integration/fixtures/smtp-setup.js';

const ALICE = 'alice@example.test';
const LOCAL_PASSWORD = 'bench-local-password';
const THROUGHPUT_COUNT = Number(process.env.BENCH_SMTP_COUNT ?? 1000);
const LATENCY_COUNT = Number(process.env.BENCH_SMTP_LATENCY ?? 200);
const CLIENTS = 4;

function message(n: number): Buffer {
  const header = `From: ${ALICE}\r\nTo: bob@example.org\r\nSubject: Benchmark ${n}\r\nDate: Fri, 27 Nov 2026 06:00:00 +0000\r\nMessage-ID: <smtp-bench-${n}@example.test>\r\n\r\n`;
  return Buffer.from(header + `A line of the benchmark message number ${n}.\r\n`.repeat(60));
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const percentile = (values: number[], p: number): number =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))];

/** Sends `count` messages one after another on one kept-open, logged-in connection; returns each one's time. */
async function sequentialLatencies(transport: Transporter, count: number, offset: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await transport.sendMail({ envelope: { from: ALICE, to: ['bob@example.org'] }, raw: message(offset + i) });
    times.push(performance.now() - start);
  }
  return times;
}

const lab = await startLab({ smtp: true });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-bench-smtp-'));
try {
  const store = await Store.open(path.join(dir, 'data'), { accounts: [ALICE] });
  const passwords = new LocalPasswords(path.join(dir, 'data'));
  await passwords.set(ALICE, LOCAL_PASSWORD);
  const passwordFile = path.join(dir, 'alice.secret');
  fs.writeFileSync(passwordFile, 'alice-password\n');
  const account = testAccount(
    ALICE,
    { host: lab.host, port: lab.smtpPort, caFile: lab.caFile },
    {
      auth: { method: 'password', user: ALICE, passwordFile },
      pop3: { host: lab.host, port: lab.pop3sPort, tls: 'implicit', timeoutMs: 10_000, maxMessageBytes: 1 << 20, batchSize: 10 },
    },
  );
  const server = await startSubmissionServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    store,
    auth: new LocalAuthenticator(passwords, { accounts: () => [ALICE] }),
    logger: silentLogger(),
    maxMessageBytes: 35 * 1024 * 1024,
    accounts: () => [account],
  });
  const port = server.addresses()[0].port;
  const local = (maxConnections: number): Transporter =>
    nodemailer.createTransport({
      host: '127.0.0.1',
      port,
      secure: false,
      ignoreTLS: true,
      pool: true,
      maxConnections,
      maxMessages: Infinity,
      auth: { user: ALICE, pass: LOCAL_PASSWORD },
      logger: false,
    });
  const direct = nodemailer.createTransport({
    host: lab.host,
    port: lab.smtpPort,
    secure: false,
    requireTLS: true,
    tls: { ca: lab.ca },
    pool: true,
    maxConnections: 1,
    maxMessages: Infinity,
    auth: { user: ALICE, pass: 'alice-password' },
    logger: false,
  });

  // Warm both paths up (connection, TLS, AUTH) so the figures are per message.
  const hotbridgeOne = local(1);
  await sequentialLatencies(hotbridgeOne, 5, 0);
  await sequentialLatencies(direct, 5, 0);

  // Latency, same run, interleaved in rounds so that neither side gets a quieter machine.
  const viaHotbridge: number[] = [];
  const viaPostfix: number[] = [];
  for (let round = 0; round < 4; round++) {
    viaHotbridge.push(...(await sequentialLatencies(hotbridgeOne, LATENCY_COUNT / 4, 10_000 + round * LATENCY_COUNT)));
    viaPostfix.push(...(await sequentialLatencies(direct, LATENCY_COUNT / 4, 20_000 + round * LATENCY_COUNT)));
  }
  hotbridgeOne.close();
  direct.close();

  // Throughput: CLIENTS connections submitting THROUGHPUT_COUNT messages, worker not running.
  const many = local(CLIENTS);
  let start = performance.now();
  await Promise.all(
    Array.from({ length: THROUGHPUT_COUNT }, (_, i) =>
      many.sendMail({ envelope: { from: ALICE, to: ['bob@example.org'] }, raw: message(100_000 + i) }),
    ),
  );
  const acceptRate = THROUGHPUT_COUNT / ((performance.now() - start) / 1000);
  many.close();
  await server.stop();

  // Relay: the worker empties the queue to Postfix (one STARTTLS connection and login per pass, RSET between messages).
  const queued = (await store.listOutbox(ALICE)).length;
  const worker = new OutboxWorker({
    account,
    store,
    credentials: new PasswordFileSource(ALICE, passwordFile),
    logger: silentLogger(),
    status: new StatusBoard(),
  });
  start = performance.now();
  worker.start();
  while ((await store.listOutbox(ALICE)).length > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  const relayRate = queued / ((performance.now() - start) / 1000);
  await worker.stop();
  await store.close();

  const ms = (value: number): string => `${value.toFixed(1)} ms`;
  console.log('smtp benchmark (submission through hotbridge vs straight to the lab Postfix, same run)');
  console.log(
    `  accepted through hotbridge, ${CLIENTS} clients: ${acceptRate.toFixed(0)} submissions/s (${THROUGHPUT_COUNT} messages of ${message(0).length} bytes)   target ≥ 100`,
  );
  console.log(
    `  accept latency via hotbridge: median ${ms(median(viaHotbridge))}, p95 ${ms(percentile(viaHotbridge, 0.95))}   target median < 20 ms`,
  );
  console.log(`  accept latency direct to Postfix: median ${ms(median(viaPostfix))}, p95 ${ms(percentile(viaPostfix, 0.95))}`);
  console.log(
    `  added latency (median hotbridge - median Postfix): ${ms(median(viaHotbridge) - median(viaPostfix))}; ratio ${(median(viaHotbridge) / median(viaPostfix)).toFixed(2)}`,
  );
  console.log(`  relayed by the outbox worker to Postfix: ${relayRate.toFixed(0)} messages/s (${queued} messages)`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
  await lab.stop();
}
