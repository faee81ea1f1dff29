/**
 * IMAP APPEND is an acknowledgment too: the tagged OK (with APPENDUID) is sent only after the message is
 * durably in the store. The real daemon is SIGKILLed while a client appends a stream of messages; after a
 * restart every message that got its OK is there exactly once, under the UID the OK named.
 *
 * Flag changes and expunges are written without an fsync (store/transaction.ts, "Two strengths"): they
 * must still survive the daemon being killed the instant after their OK. The second test kills it in the
 * middle of a stream of STOREs and EXPUNGEs. The third has several clients write at once, the case where
 * their writes share batches (group commit, store/transaction.ts), and kills the daemon in the middle.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import { runCli, startDaemon, writeTestConfig, type RunningDaemon, type TestConfig } from '../helpers/cli.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const ALICE = 'alice@example.test';
const PASSWORD = 'append-test-password';

/** Calls `handle` with each CRLF-terminated line the socket receives. */
function onLines(socket: net.Socket, handle: (line: string) => void): void {
  let buffer = '';
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    let newline: number;
    while ((newline = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 2);
      handle(line);
    }
  });
}

/** Appends messages over a raw connection until the socket dies; returns the APPENDUIDs that were acknowledged. */
function appendUntilKilled(port: number, onAcknowledged: (count: number) => void, prefix = 'append'): Promise<Map<string, number>> {
  return new Promise((resolve) => {
    const acknowledged = new Map<string, number>();
    const socket = net.connect(port, '127.0.0.1');
    let n = 0;
    let subject = '';
    const next = () => {
      n += 1;
      subject = `${prefix}-${n}`;
      const raw = Buffer.from(`From: a@example.org\r\nSubject: ${subject}\r\n\r\nbody ${n}\r\n${'x'.repeat(2000)}\r\n`);
      socket.write(`a${n} APPEND INBOX {${raw.length}+}\r\n`);
      socket.write(Buffer.concat([raw, Buffer.from('\r\n')]));
    };
    onLines(socket, (line) => {
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
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(acknowledged));
  });
}

/** What a STORE and EXPUNGE stream got done: see storeAndExpungeUntilKilled. */
interface Changes {
  flagged: number[];
  expunged: number[];
  tried: number[];
}

/**
 * Over the messages of INBOX (their UIDs, in order): flags each one, and expunges every other one, one
 * command at a time, until the socket dies. Returns the UIDs whose STORE and whose EXPUNGE got their OK,
 * and those whose EXPUNGE was sent (one in flight at the kill may or may not have been done).
 */
function storeAndExpungeUntilKilled(port: number, uids: readonly number[], onAcknowledged: (count: number) => void): Promise<Changes> {
  return new Promise((resolve) => {
    const flagged: number[] = [];
    const expunged: number[] = [];
    const tried: number[] = [];
    const socket = net.connect(port, '127.0.0.1');
    let at = 0;
    const next = () => {
      if (at >= uids.length * 2) return;
      const uid = uids[at >> 1];
      // Even steps flag a message; odd steps expunge it when its position in the list is odd.
      if (at % 2 === 0) socket.write(`f${at} UID STORE ${uid} +FLAGS.SILENT (\\Flagged)\r\n`);
      else if ((at >> 1) % 2 === 1) {
        tried.push(uid);
        socket.write(`x${at} UID STORE ${uid} +FLAGS.SILENT (\\Deleted)\r\ne${at} UID EXPUNGE ${uid}\r\n`);
      } else {
        at += 1;
        next();
        return;
      }
    };
    onLines(socket, (line) => {
      if (line.startsWith('* OK')) socket.write(`l LOGIN ${ALICE} ${PASSWORD}\r\n`);
      else if (line.startsWith('l OK')) socket.write('s SELECT INBOX\r\n');
      else if (line.startsWith('s OK')) next();
      else if (/^f\d+ OK/.test(line)) {
        flagged.push(uids[at >> 1]);
        onAcknowledged(flagged.length + expunged.length);
        at += 1;
        next();
      } else if (/^e\d+ OK/.test(line)) {
        expunged.push(uids[at >> 1]);
        onAcknowledged(flagged.length + expunged.length);
        at += 1;
        next();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ flagged, expunged, tried }));
  });
}

/** Logs in as Alice with imapflow, holds INBOX for `use`, and logs out. */
async function inInbox<T>(port: number, use: (client: ImapFlow) => Promise<T>): Promise<T> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: ALICE, pass: PASSWORD }, logger: false });
  await client.connect();
  try {
    const lock = await client.getMailboxLock('INBOX');
    try {
      return await use(client);
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
}

/** Every acknowledged APPEND is in INBOX once, under its APPENDUID; no message is there twice. */
async function expectAppendsKept(port: number, acknowledged: ReadonlyMap<string, number>): Promise<void> {
  const stored = await inInbox(port, async (client) => {
    const subjects = new Map<string, number[]>();
    for await (const message of client.fetch('1:*', { uid: true, envelope: true })) {
      const subject = message.envelope?.subject ?? '';
      subjects.set(subject, [...(subjects.get(subject) ?? []), message.uid]);
    }
    return subjects;
  });
  for (const [subject, uid] of acknowledged) expect({ subject, uids: stored.get(subject) }).toEqual({ subject, uids: [uid] });
  // Nothing is there twice, acknowledged or not (a message in flight at the kill may or may not be).
  for (const [subject, uids] of stored) expect({ subject, count: uids.length }).toEqual({ subject, count: 1 });
}

/** Every acknowledged EXPUNGE is gone, and every acknowledged \Flagged is there on the messages left. */
async function expectChangesKept(port: number, { flagged, expunged, tried }: Changes): Promise<void> {
  const flagsByUid = await inInbox(port, async (client) => {
    const flags = new Map<number, Set<string>>();
    for await (const message of client.fetch('1:*', { uid: true, flags: true })) flags.set(message.uid, message.flags ?? new Set());
    return flags;
  });
  for (const uid of expunged) expect({ uid, present: flagsByUid.has(uid) }).toEqual({ uid, present: false });
  const mayBeGone = new Set(tried);
  for (const uid of flagged) {
    if (mayBeGone.has(uid)) continue;
    expect({ uid, flagged: flagsByUid.get(uid)?.has('\\Flagged') }).toEqual({ uid, flagged: true });
  }
}

describe('IMAP writes under SIGKILL', () => {
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
    await expectAppendsKept(config.imapPort, acknowledged);
  });

  it('keeps every acknowledged STORE and EXPUNGE (written without an fsync) across a kill', async () => {
    await daemon?.kill();
    daemon = await startDaemon(config.file);
    const uids = await inInbox(config.imapPort, async (client) => (await client.search({ all: true }, { uid: true })) || []);
    expect(uids.length).toBeGreaterThanOrEqual(150);

    const running = daemon;
    const { flagged, expunged, tried } = await storeAndExpungeUntilKilled(config.imapPort, uids, (count) => {
      if (count === 120) void running.kill();
    });
    expect(flagged.length + expunged.length).toBeGreaterThanOrEqual(120);
    expect(expunged.length).toBeGreaterThan(0);

    daemon = await startDaemon(config.file);
    await expectChangesKept(config.imapPort, { flagged, expunged, tried });
  });

  it('keeps every acknowledged write of several clients writing at once across a kill', async () => {
    await daemon?.kill();
    daemon = await startDaemon(config.file);
    const before = await inInbox(config.imapPort, async (client) => {
      const subjects = new Map<string, number>();
      for await (const message of client.fetch('1:*', { uid: true, envelope: true }))
        subjects.set(message.envelope?.subject ?? '', message.uid);
      return subjects;
    });
    const uids = [...before.values()];
    expect(uids.length).toBeGreaterThanOrEqual(60);

    const running = daemon;
    let acknowledged = 0;
    const counted = () => {
      acknowledged += 1;
      if (acknowledged === 150) void running.kill();
    };
    const half = uids.length >> 1;
    const [appendsA, appendsB, changesA, changesB] = await Promise.all([
      appendUntilKilled(config.imapPort, counted, 'together-a'),
      appendUntilKilled(config.imapPort, counted, 'together-b'),
      storeAndExpungeUntilKilled(config.imapPort, uids.slice(0, half), counted),
      storeAndExpungeUntilKilled(config.imapPort, uids.slice(half), counted),
    ]);
    expect(acknowledged).toBeGreaterThanOrEqual(150);
    expect(Math.min(appendsA.size, appendsB.size, changesA.flagged.length, changesB.flagged.length)).toBeGreaterThan(0);

    daemon = await startDaemon(config.file);
    // The messages there before the kill count too: the ones not expunged are still there once.
    const kept = new Map(before);
    for (const uid of [...changesA.expunged, ...changesB.expunged])
      for (const [subject, was] of kept) if (was === uid) kept.delete(subject);
    await expectAppendsKept(config.imapPort, new Map([...kept, ...appendsA, ...appendsB]));
    await expectChangesKept(config.imapPort, {
      flagged: [...changesA.flagged, ...changesB.flagged],
      expunged: [...changesA.expunged, ...changesB.expunged],
      tried: [...changesA.tried, ...changesB.tried],
    });
  });
});
