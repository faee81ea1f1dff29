/**
 * IMAP APPEND is an acknowledgment too: the tagged OK (with APPENDUID) is sent only after the message is
 * durably in the store. The real daemon is SIGKILLed while a client appends a stream of messages; after a
 * restart every message that got its OK is there exactly once, under the UID the OK named.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import { runCli, startDaemon, writeTestConfig, type RunningDaemon, type TestConfig } from '../helpers/cli.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const ALICE = 'alice@example.test';
const PASSWORD = 'append-test-password';

/** Appends messages over a raw connection until the socket dies; returns the APPENDUIDs that were acknowledged. */
function appendUntilKilled(port: number, onAcknowledged: (count: number) => void): Promise<Map<string, number>> {
  return new Promise((resolve) => {
    const acknowledged = new Map<string, number>();
    const socket = net.connect(port, '127.0.0.1');
    let buffer = '';
    let n = 0;
    let subject = '';
    const next = () => {
      n += 1;
      subject = `append-${n}`;
      const raw = Buffer.from(`From: a@example.org\r\nSubject: ${subject}\r\n\r\nbody ${n}\r\n${'x'.repeat(2000)}\r\n`);
      socket.write(`a${n} APPEND INBOX {${raw.length}+}\r\n`);
      socket.write(Buffer.concat([raw, Buffer.from('\r\n')]));
    };
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      let newline: number;
      while ((newline = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 2);
        if (line.startsWith('* OK')) socket.write(`l LOGIN ${ALICE} ${PASSWORD}\r\n`);
        else if (line.startsWith('l OK')) next();
        else {
          const ok = /^a\d+ OK \[APPENDUID \d+ (\d+)\]/.exec(line);
          if (ok) {
            acknowledged.set(subject, Number(ok[1]));
            onAcknowledged(acknowledged.size);
            next();
          }
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(acknowledged));
  });
}

describe('IMAP APPEND under SIGKILL', () => {
  let dir: string;
  let config: TestConfig;
  let daemon: RunningDaemon | undefined;

  beforeAll(async () => {
    dir = tempDir();
    config = await writeTestConfig(dir, [{ address: ALICE }]);
    expect((await runCli(['password', ALICE, '--config', config.file], { input: `${PASSWORD}\n` })).code).toBe(0);
  });
  afterAll(async () => {
    await daemon?.kill();
    removeDir(dir);
  });

  it('keeps every acknowledged APPEND exactly once, under its APPENDUID', async () => {
    daemon = await startDaemon(config.file);
    const running = daemon;
    const acknowledged = await appendUntilKilled(config.imapPort, (count) => {
      if (count === 150) void running.kill();
    });
    expect(acknowledged.size).toBeGreaterThanOrEqual(150);

    daemon = await startDaemon(config.file);
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: config.imapPort,
      secure: false,
      auth: { user: ALICE, pass: PASSWORD },
      logger: false,
    });
    await client.connect();
    try {
      const lock = await client.getMailboxLock('INBOX');
      try {
        const stored = new Map<string, number[]>();
        for await (const message of client.fetch('1:*', { uid: true, envelope: true })) {
          const subject = message.envelope?.subject ?? '';
          stored.set(subject, [...(stored.get(subject) ?? []), message.uid]);
        }
        for (const [subject, uid] of acknowledged) expect({ subject, uids: stored.get(subject) }).toEqual({ subject, uids: [uid] });
        // Nothing is there twice, acknowledged or not (a message in flight at the kill may or may not be).
        for (const [subject, uids] of stored) expect({ subject, count: uids.length }).toEqual({ subject, count: 1 });
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
  });
});
