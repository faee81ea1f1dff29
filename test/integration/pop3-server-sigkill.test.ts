/**
 * POP3 deletion under SIGKILL (RFC 1939 §6): DELE only marks; the messages leave the store in one durable
 * batch when QUIT enters the UPDATE state, and a session that ends any other way deletes nothing. The
 * real daemon is killed (1) between the DELEs and QUIT, and (2) right after QUIT was sent, at several
 * delays, so that the kill lands before, inside and after the expunge batch. After each restart: no
 * message the client did not DELE is missing, the DELE'd ones are either all there or all gone (never
 * some), and they are gone whenever the client saw QUIT's +OK.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/index.js';
import { runCli, startDaemon, writeTestConfig, type RunningDaemon, type TestConfig } from '../helpers/cli.js';
import { simpleMessage } from '../helpers/messages.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const ALICE = 'alice@example.test';
const PASSWORD = 'pop3-kill-password';
const MESSAGES = 1200;
/** A loaded machine (the whole suite at once) may take long to start a daemon. */
const START_MS = 90_000;
const start = (file: string) => startDaemon(file, {}, START_MS);

/** A raw POP3 session: send lines, read status lines (multi-line bodies up to "."). */
class Session {
  private buffer = '';
  private waiters: Array<() => void> = [];
  closed = false;
  readonly socket: net.Socket;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('latin1');
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.closed = true;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  async line(): Promise<string | undefined> {
    for (;;) {
      const end = this.buffer.indexOf('\r\n');
      if (end >= 0) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        return line;
      }
      if (this.closed) return undefined;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async multiLine(): Promise<string[]> {
    const lines: string[] = [];
    for (let line = await this.line(); line !== '.'; line = await this.line()) {
      if (line === undefined) throw new Error('connection closed in a multi-line response');
      lines.push(line);
    }
    return lines;
  }

  send(text: string): void {
    this.socket.write(text);
  }
}

async function login(port: number): Promise<Session> {
  const session = new Session(port);
  expect(await session.line()).toMatch(/^\+OK/);
  session.send(`USER ${ALICE}\r\nPASS ${PASSWORD}\r\n`);
  expect(await session.line()).toBe('+OK');
  expect(await session.line()).toMatch(/^\+OK Logged in/);
  return session;
}

/** The UIDLs in the maildrop now (a fresh session, closed without QUIT). */
async function uidls(port: number): Promise<string[]> {
  const session = await login(port);
  session.send('UIDL\r\n');
  expect(await session.line()).toMatch(/^\+OK/);
  const listing = (await session.multiLine()).map((line) => line.split(' ')[1]);
  session.send('QUIT\r\n');
  await session.line();
  return listing;
}

describe('POP3 DELE and QUIT under SIGKILL', () => {
  let dir: string;
  let config: TestConfig;
  let daemon: RunningDaemon | undefined;

  beforeAll(async () => {
    dir = tempDir();
    config = await writeTestConfig(dir, [{ address: ALICE }]);
    expect((await runCli(['password', ALICE, '--config', config.file], { input: `${PASSWORD}\n` })).code).toBe(0);
    // The maildrop, written straight into the store before the daemon holds it.
    const store = await Store.open(config.dataDir, { accounts: [ALICE] });
    const inbox = store.findMailbox(ALICE, 'INBOX')!.id;
    for (let n = 0; n < MESSAGES; n++) await store.appendMessage(inbox, simpleMessage(n, 300));
    await store.close();
  }, 300_000);

  afterAll(async () => {
    await daemon?.kill();
    removeDir(dir);
  });

  it('a kill between DELE and QUIT deletes nothing', async () => {
    daemon = await start(config.file);
    const before = await uidls(config.pop3Port);
    expect(before).toHaveLength(MESSAGES);
    const session = await login(config.pop3Port);
    for (const n of [1, 2, 3, 500, MESSAGES]) {
      session.send(`DELE ${n}\r\n`);
      expect(await session.line()).toBe(`+OK Message ${n} deleted`);
    }
    await daemon.kill();
    daemon = await start(config.file);
    expect(await uidls(config.pop3Port)).toEqual(before);
  }, 300_000);

  it.each([0, 1, 3, 8, 20, 60])(
    "a kill %i ms after QUIT: the DELE'd messages are all there or all gone, the others all there",
    async (delayMs) => {
      daemon ??= await start(config.file);
      if (daemon.child.exitCode !== null || daemon.child.signalCode !== null) daemon = await start(config.file);
      const before = await uidls(config.pop3Port);
      // Every third message of the first 900 that are left: one expunge batch of 300.
      const session = await login(config.pop3Port);
      const numbers = Array.from({ length: Math.min(300, Math.floor(before.length / 3)) }, (_, i) => 1 + i * 3);
      session.send(numbers.map((n) => `DELE ${n}\r\n`).join(''));
      for (const n of numbers) expect(await session.line()).toBe(`+OK Message ${n} deleted`);
      const deleted = new Set(numbers.map((n) => before[n - 1]));
      session.send('QUIT\r\n');
      const running = daemon;
      const killed = new Promise<void>((resolve) => setTimeout(() => void running.kill().then(resolve), delayMs));
      const reply = await session.line();
      await killed;
      daemon = await start(config.file);
      const after = await uidls(config.pop3Port);
      const kept = before.filter((uidl) => !deleted.has(uidl));
      const allGone = after.length === kept.length && after.every((uidl, i) => uidl === kept[i]);
      const allThere = after.length === before.length && after.every((uidl, i) => uidl === before[i]);
      expect(allGone || allThere, `reply ${String(reply)}: ${after.length} of ${before.length} left, ${deleted.size} were DELE'd`).toBe(
        true,
      );
      // Confirmed by +OK: then they are gone.
      if (reply === `+OK Logging out, ${numbers.length} messages deleted`) expect(allGone).toBe(true);
    },
    300_000,
  );
});
