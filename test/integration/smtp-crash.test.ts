// The outbox's durability promises, proven by killing the process (SIGKILL, no shutdown code runs):
// a child process (test/fixtures/children/smtp-child.ts) plays the daemon with the real store, submission server
// and outbox worker; the test submits over SMTP, kills it, reopens the store and looks.
//
// 1. 250 means durable (ARCHITECTURE.md invariant 2): every acknowledged message is in the outbox
//    exactly once after the kill.
// 2. A message waiting after a 451 survives the kill and is delivered once when the provider recovers.
// 3. The worst moment: the provider has answered 250 to the message but the worker has not yet
//    recorded it. After a restart the message is sent again: a duplicate, never a loss. Nothing can
//    close this window (the record cannot be written before the provider's reply, and SMTP has no
//    way to ask "did you already get this one?"); RFC 5321 §6.1 accepts duplicates over loss.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AccountConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { StatusBoard } from '../../src/runtime/status-board.js';
import { LocalPasswords } from '../../src/runtime/local-passwords.js';
import { Store } from '../../src/store/store.js';
import { PasswordFileSource } from '../../src/upstream/credentials.js';
import { OutboxWorker } from '../../src/upstream/smtp/worker.js';
import { startLab, stripPostfixTrace, type Lab } from '../helpers/lab.js';
import { toCrlf } from '../helpers/messages.js';
import { onEachLine } from '../helpers/each-line.js';
import { LOCAL_PASSWORD, submit, testAccount, waitFor } from './fixtures/smtp-setup.js';

const ALICE = 'alice@example.test';
const CHILD_SCRIPT = fileURLToPath(new URL('../fixtures/children/smtp-child.ts', import.meta.url));

interface ChildEvent {
  event: string;
  port?: number;
  entries?: Array<{ id: string; attempts: number; lastError?: string }>;
}

/** The stand-in daemon: its stdout events, and SIGKILL. */
class DaemonChild {
  readonly events: ChildEvent[] = [];
  private stderr = '';
  private exited = false;

  private constructor(private readonly proc: ChildProcess) {
    onEachLine(proc.stdout!, (line) => this.events.push(JSON.parse(line) as ChildEvent));
    proc.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
    });
    proc.once('exit', () => {
      this.exited = true;
    });
  }

  static async start(dataDir: string, mode: 'submit' | 'relay' | 'relay-hang', account: AccountConfig): Promise<DaemonChild> {
    const proc = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, dataDir, mode, JSON.stringify(account)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child = new DaemonChild(proc);
    children.push(child);
    await child.waitFor('ready', (event) => event.event === 'ready');
    return child;
  }

  get port(): number {
    return this.events.find((event) => event.event === 'ready')!.port!;
  }

  waitFor(what: string, predicate: (event: ChildEvent) => boolean, timeoutMs = 15_000): Promise<ChildEvent> {
    return waitFor(
      `child: ${what}`,
      () => {
        if (this.exited) throw new Error(`the child exited early: ${this.stderr}`);
        return this.events.find(predicate);
      },
      timeoutMs,
    );
  }

  async kill(): Promise<void> {
    if (this.exited) return;
    const exit = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.kill('SIGKILL');
    await exit;
  }
}

const children: DaemonChild[] = [];
let lab: Lab;
let tmp: string;
let passwordFile: string;
let account: AccountConfig;
let dataDir: string;
let reopened: Store | undefined;
let worker: OutboxWorker | undefined;

const message = (id: string): Buffer =>
  Buffer.from(
    `From: ${ALICE}\r\nTo: bob@example.org\r\nSubject: ${id}\r\nMessage-ID: <${id}@example.test>\r\n\r\n.dot line\r\nMessage ${id}.\r\n`,
  );

/** The store as the restarted daemon finds it. */
async function reopen(): Promise<Store> {
  reopened = await Store.open(dataDir);
  return reopened;
}

function startWorker(store: Store): OutboxWorker {
  worker = new OutboxWorker({
    account,
    store,
    credentials: new PasswordFileSource(ALICE, passwordFile),
    logger: silentLogger(),
    status: new StatusBoard(),
    retrySchedule: [200, 400],
  });
  worker.start();
  return worker;
}

beforeAll(async () => {
  lab = await startLab({ smtp: true });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-smtp-crash-'));
  passwordFile = path.join(tmp, 'alice.secret');
  fs.writeFileSync(passwordFile, 'alice-password\n');
  account = testAccount(
    ALICE,
    { host: lab.host, port: lab.smtpPort, tls: 'starttls', caFile: lab.caFile },
    { auth: { method: 'password', user: ALICE, passwordFile } },
  );
});

afterAll(async () => {
  await Promise.all(children.map((child) => child.kill()));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  await lab?.stop();
});

beforeEach(async () => {
  dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
  await new LocalPasswords(dataDir).set(ALICE, LOCAL_PASSWORD);
  await lab.setSmtpMode('normal');
  await lab.clearCaptured();
});

afterEach(async () => {
  await Promise.all(children.splice(0).map((child) => child.kill()));
  await worker?.stop();
  worker = undefined;
  await reopened?.close();
  reopened = undefined;
});

describe('outbox durability under SIGKILL', () => {
  it('every message acknowledged with 250 is in the outbox exactly once after a SIGKILL, and goes out once', async () => {
    const child = await DaemonChild.start(dataDir, 'submit', account);
    const ids: string[] = [];
    const raws = [1, 2, 3, 4, 5].map((n) => message(`acked-${n}`));
    for (const raw of raws) {
      const info = await submit(child.port, ALICE, { from: ALICE, to: ['bob@example.org'] }, raw);
      ids.push(/queued as (\S+)/.exec(info.response)![1]);
    }
    // Killed the moment the last 250 arrived.
    await child.kill();

    const store = await reopen();
    const entries = await store.listOutbox(ALICE);
    expect(entries.map((entry) => entry.id).sort()).toEqual([...ids].sort());
    for (const [i, id] of ids.entries()) {
      const entry = entries.find((candidate) => candidate.id === id)!;
      expect(entry).toMatchObject({ from: ALICE, recipients: ['bob@example.org'], pending: ['bob@example.org'], attempts: 0 });
      expect((await store.getBlob(entry.blobId)).equals(raws[i])).toBe(true);
    }

    startWorker(store);
    const captured = await lab.waitForCaptured(raws.length);
    await waitFor('an empty outbox', async () => ((await store.listOutbox(ALICE)).length === 0 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await lab.captured()).toHaveLength(raws.length);
    for (const raw of raws) expect(captured.filter((copy) => toCrlf(stripPostfixTrace(copy.raw)).equals(raw))).toHaveLength(1);
  });

  it('a message waiting after 451 survives a SIGKILL and is delivered once when the provider recovers', async () => {
    await lab.setSmtpMode('tempfail');
    const child = await DaemonChild.start(dataDir, 'relay', account);
    const raw = message('waiting');
    const info = await submit(child.port, ALICE, { from: ALICE, to: ['bob@example.org'] }, raw);
    const id = /queued as (\S+)/.exec(info.response)![1];
    await child.waitFor(
      'a failed attempt',
      (event) => event.event === 'outbox' && (event.entries ?? []).some((entry) => entry.id === id && entry.attempts >= 1),
    );
    await child.kill();
    expect(await lab.captured()).toHaveLength(0);

    const store = await reopen();
    const [entry, ...others] = await store.listOutbox(ALICE);
    expect(others).toHaveLength(0);
    expect(entry.id).toBe(id);
    expect(entry.attempts).toBeGreaterThanOrEqual(1);
    expect(entry.lastError).toMatch(/^451 /);
    expect(entry.pending).toEqual(['bob@example.org']);

    await lab.setSmtpMode('normal');
    startWorker(store);
    const [delivered] = await lab.waitForCaptured(1);
    expect(toCrlf(stripPostfixTrace(delivered.raw)).equals(raw)).toBe(true);
    await waitFor('an empty outbox', async () => ((await store.listOutbox(ALICE)).length === 0 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await lab.captured()).toHaveLength(1);
  });

  it('a SIGKILL after the provider accepted the message but before the worker recorded it gives a duplicate, never a loss', async () => {
    const child = await DaemonChild.start(dataDir, 'relay-hang', account);
    const raw = message('worst-moment');
    await submit(child.port, ALICE, { from: ALICE, to: ['bob@example.org'] }, raw);
    await child.waitFor('the provider accepted, the record not yet written', (event) => event.event === 'about-to-record');
    await lab.waitForCaptured(1);
    await child.kill();

    const store = await reopen();
    const [entry] = await store.listOutbox(ALICE);
    // The store still says "not sent": the kill came before the record.
    expect(entry.pending).toEqual(['bob@example.org']);
    expect(entry.delivered).toEqual([]);

    startWorker(store);
    await waitFor('an empty outbox', async () => ((await store.listOutbox(ALICE)).length === 0 ? true : undefined));
    const captured = await lab.waitForCaptured(2);
    expect(captured).toHaveLength(2);
    for (const copy of captured) expect(toCrlf(stripPostfixTrace(copy.raw)).equals(raw)).toBe(true);
  });
});
