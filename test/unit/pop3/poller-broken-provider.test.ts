/**
 * The POP3 poller against a provider that breaks the rules, played by a fake POP3 server (test/helpers/
 * fake-pop3-server.ts) with a real Store. A fake server is used ONLY because no real one can be made to break
 * them: Dovecot always dot-stuffs (RFC 1939 §3), counts LIST sizes exactly, never repeats or leaves out a UIDL,
 * and never sends an endless or dripping answer. What a real server can do (changing UIDLs, too-large
 * messages) is also tested against Dovecot in test/integration/pop3-poller-upstream-faults.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_CUT_SHORT_ATTEMPTS } from '../../../src/upstream/pop3/fetch-problems.js';
import { EXACT_AFTER } from '../../../src/upstream/pop3/list-size-check.js';
import { waitUntil } from '../../fixtures/children/poller-account.js';
import { retrResponse, type Connection, type FakeMessage } from '../../helpers/fake-pop3-server.js';
import { FakePop3Rig } from '../../helpers/fake-pop3-rig.js';
import { bigMessage, simpleMessage } from '../../helpers/messages.js';
import { collectUncaught } from '../../helpers/uncaught.js';

const unhandled = collectUncaught();
let rig: FakePop3Rig;

beforeEach(async () => {
  rig = new FakePop3Rig();
  await rig.start();
});

afterEach(async () => {
  await rig.stop();
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(unhandled).toEqual([]);
});

function fill(count: number, size = 2000): FakeMessage[] {
  rig.server.maildrop = Array.from({ length: count }, (_, i) => ({ uidl: `uidl-${i + 1}`, raw: simpleMessage(i + 1, size) }));
  return rig.server.maildrop;
}

/** A message with a line holding only "." in its body, which a server must send as "..". */
function messageWithLoneDot(n: number): Buffer {
  return Buffer.from(
    `From: <s@example.org>\r\nTo: <alice@example.test>\r\nSubject: lone dot ${n}\r\nMessage-ID: <dot-${n}@example.org>\r\n\r\n` +
      'first part of the body\r\n.\r\nsecond part, after the line holding only a dot\r\n',
  );
}

describe('a provider that does not dot-stuff', () => {
  for (const pipelining of [true, false]) {
    it(`keeps the cut message out of the store, reports it, retries it once per poll up to the limit (${pipelining ? 'pipelined' : 'one command at a time'})`, async () => {
      rig.server.pipelining = pipelining;
      const messages = fill(3);
      messages[1] = { uidl: 'uidl-2', raw: messageWithLoneDot(2), unstuffed: true };
      const poller = rig.poller(rig.account({ leaveOnServer: false }));

      const first = await rig.pollOnce(poller);
      // The poll itself went through; the message that came cut short is reported, not stored.
      expect(first.state).toBe('idle');
      expect((await rig.inbox()).map((m) => m.uidl)).toEqual(['uidl-1', 'uidl-3']);
      expect((await rig.store.uidlLedger(rig.account().address)).has('uidl-2')).toBe(false);
      for (const stored of await rig.inbox()) expect(stored.raw.equals(messages.find((m) => m.uidl === stored.uidl)!.raw)).toBe(true);
      expect(first.cutShort).toEqual([expect.objectContaining({ uidl: 'uidl-2', reason: 'not-dot-stuffed', attempts: 1, givenUp: false })]);
      expect(rig.warnings().some((text) => /cut short.*does not dot-stuff.*attempt 1 of 3/.test(text))).toBe(true);
      expect(rig.statusText()).toMatch(
        /! 1 message came cut short by the server \(it does not dot-stuff a line holding only "\."\) and was not stored; trying again at the next poll \(attempt 1 of 3/,
      );
      // The others were deleted upstream as stored (a second session did it, the first one was cut); it stays.
      expect(rig.server.maildrop.map((m) => m.uidl)).toEqual(['uidl-2']);
      expect(rig.server.retrCount('uidl-2')).toBe(1);

      for (let attempt = 2; attempt <= MAX_CUT_SHORT_ATTEMPTS; attempt++) {
        await rig.pollOnce(poller);
        expect(rig.server.retrCount('uidl-2')).toBe(attempt);
      }
      const givenUp = rig.pop3;
      expect(givenUp.state).toBe('idle');
      expect(givenUp.cutShort).toEqual([expect.objectContaining({ uidl: 'uidl-2', attempts: MAX_CUT_SHORT_ATTEMPTS, givenUp: true })]);
      expect(rig.statusText()).toMatch(
        /! 1 message could not be downloaded whole in 3 polls: the server cuts it short at a line holding only "\." .*left on the server/,
      );
      // Left alone from now on (until a restart), and never stored cut short.
      await rig.pollOnce(poller);
      expect(rig.server.retrCount('uidl-2')).toBe(MAX_CUT_SHORT_ATTEMPTS);
      expect((await rig.inbox()).map((m) => m.uidl)).toEqual(['uidl-1', 'uidl-3']);
    });
  }

  it('stores the message once the provider sends it properly, and the notice goes', async () => {
    const messages = fill(2);
    messages[0] = { uidl: 'uidl-1', raw: messageWithLoneDot(1), unstuffed: true };
    const poller = rig.poller();
    await rig.pollOnce(poller);
    expect((await rig.inbox()).map((m) => m.uidl)).toEqual(['uidl-2']);
    messages[0].unstuffed = false;
    const fixed = await rig.pollOnce(poller);
    expect((await rig.inbox()).map((m) => m.uidl)).toEqual(['uidl-2', 'uidl-1']);
    expect((await rig.inbox())[1].raw.equals(messages[0].raw)).toBe(true);
    expect(fixed.cutShort).toEqual([]);
    expect(rig.statusText()).not.toMatch(/cut short/);
  });

  it('holds back a message shorter than its LIST size once this server has proven its sizes exact, and stores it when it comes the same again', async () => {
    const messages = fill(EXACT_AFTER + 1);
    const last = messages[EXACT_AFTER];
    last.listSize = last.raw.length + 300;
    const poller = rig.poller();
    const first = await rig.pollOnce(poller);
    expect((await rig.inbox()).map((m) => m.uidl)).not.toContain(last.uidl);
    expect(first.cutShort).toEqual([
      expect.objectContaining({ uidl: last.uidl, reason: 'shorter-than-list', listSize: last.raw.length + 300, received: last.raw.length }),
    ]);
    expect(rig.statusText()).toMatch(/came cut short by the server \(fewer bytes than its LIST size\)/);
    // The same bytes at the next poll: the server's size is off, not the message.
    await rig.pollOnce(poller);
    expect((await rig.inbox()).map((m) => m.uidl)).toContain(last.uidl);
    expect(rig.pop3.cutShort).toEqual([]);
  });

  it('does not take LIST sizes at their word on a server that approximates them (Exchange does)', async () => {
    const messages = fill(4);
    messages[0].listSize = messages[0].raw.length + 40;
    messages[2].listSize = messages[2].raw.length + 5000;
    const done = await rig.pollOnce(rig.poller());
    expect(done.cutShort).toEqual([]);
    expect((await rig.inbox()).map((m) => m.uidl)).toEqual(messages.map((m) => m.uidl));
  });
});

describe('UIDL faults', () => {
  it('shows repeated and missing UIDLs in plain status, not just "idle"', async () => {
    const messages = fill(4);
    messages[2].uidl = 'uidl-2';
    messages[3].noUidl = true;
    const done = await rig.pollOnce(rig.poller());
    expect(done.state).toBe('idle');
    expect(done.duplicateUidls).toBe(1);
    expect(done.withoutUidl).toBe(1);
    const text = rig.statusText();
    expect(text).toMatch(/! 1 message never fetched: the server lists its UIDL for another message too \(RFC 1939 §7/);
    expect(text).toMatch(/! 1 message never fetched: the server's UIDL listing leaves it out/);
    expect((await rig.inbox()).map((m) => m.uidl)).toEqual(['uidl-1', 'uidl-2']);
  });

  it('recognises messages whose UIDLs all changed by Message-ID and size, downloads none again, and says so', async () => {
    const messages = fill(3);
    const poller = rig.poller(rig.account({ pollIntervalMs: 60 * 60_000 }));
    await rig.pollOnce(poller);
    for (const message of messages) message.uidl = `renamed-${message.uidl}`;
    const after = await rig.pollOnce(poller);
    expect((await rig.inbox()).map((m) => m.uidl)).toEqual(messages.map((m) => m.uidl));
    for (const message of messages) expect(rig.server.retrCount(message.uidl)).toBe(0);
    const ledger = await rig.store.uidlLedger(rig.account().address);
    expect(ledger.uidls().sort()).toEqual(messages.map((m) => m.uidl).sort());
    expect(after.uidlChanges).toMatchObject({ recognised: 3 });
    expect(rig.statusText()).toMatch(
      /! the server gave 3 messages new UIDLs .*recognised by content as mail already here, so not downloaded again/,
    );
    expect(rig.warnings().some((text) => /most UIDLs on the server changed/.test(text))).toBe(true);
  });

  it('falls back to the content hash for renamed messages without a Message-ID: downloaded, but not stored twice', async () => {
    const raws = [1, 2].map((n) => Buffer.from(`From: <s@example.org>\r\nSubject: no id ${n}\r\n\r\nbody ${n}\r\n`));
    rig.server.maildrop = raws.map((raw, i) => ({ uidl: `old-${i}`, raw }));
    const poller = rig.poller();
    await rig.pollOnce(poller);
    rig.server.maildrop = raws.map((raw, i) => ({ uidl: `new-${i}`, raw }));
    const after = await rig.pollOnce(poller);
    expect((await rig.inbox()).map((m) => m.uidl)).toEqual(['new-0', 'new-1']);
    expect(after.uidlChanges).toMatchObject({ recognised: 2 });
  });

  it('still stores a new message that only happens to share a size with one the server no longer lists', async () => {
    const messages = fill(2);
    const poller = rig.poller();
    await rig.pollOnce(poller);
    // Message 1 is gone (deleted in webmail); a different message of the same size arrives.
    const original = messages[0].raw.toString('latin1');
    const newcomer = Buffer.from(
      original.replace('Message number 1.', 'Message number X.').replace(/Message-ID: <[^>]*>/, (id) => id.replace('msg-1-', 'msg-X-')),
      'latin1',
    );
    expect(newcomer.length).toBe(messages[0].raw.length);
    expect(newcomer.equals(messages[0].raw)).toBe(false);
    rig.server.maildrop = [messages[1], { uidl: 'uidl-new', raw: newcomer }];
    await rig.pollOnce(poller);
    const inbox = await rig.inbox();
    expect(inbox.map((m) => m.uidl)).toEqual(['uidl-1', 'uidl-2', 'uidl-new']);
    expect(inbox[2].raw.equals(newcomer)).toBe(true);
  });
});

describe('lying sizes and endless answers', () => {
  it('quotes a too-large message with the size it really has, not the LIST size, when LIST lied', async () => {
    const messages = fill(3);
    messages[1].raw = simpleMessage(2, 3 * 1024 * 1024);
    messages[1].listSize = 1000;
    const done = await rig.pollOnce(rig.poller());
    expect((await rig.inbox()).map((m) => m.uidl)).toEqual(['uidl-1', 'uidl-3']);
    expect(done.skippedTooLarge).toEqual([expect.objectContaining({ uidl: 'uidl-2', size: 1024 * 1024, atLeast: true, listSize: 1000 })]);
    expect(rig.statusText()).toMatch(
      /! 1 message left on the server, larger than max_message_size \(1\.0 MB\): more than 1\.0 MB \(the server's LIST said 1 KB\)/,
    );
  });

  it('quotes a too-large message with its LIST size when LIST tells it, in plain status', async () => {
    const messages = fill(2);
    messages[0].listSize = 110 * 1024 * 1024;
    await rig.pollOnce(rig.poller());
    expect(rig.server.retrCount('uidl-1')).toBe(0);
    expect(rig.statusText()).toMatch(/! 1 message left on the server, larger than max_message_size \(1\.0 MB\): 110\.0 MB/);
  });

  it('cuts an endless RETR at max_message_size, leaves that message, and fetches the rest', async () => {
    fill(3);
    let sentForEndless = 0;
    rig.server.intercept = (verb, line, connection) => {
      if (verb !== 'RETR' || line !== 'RETR 2') return false;
      connection.write('+OK\r\n');
      const chunk = Buffer.from('an endless line of the endless message\r\n'.repeat(1000));
      const pump = (): void => {
        while (!connection.socket.destroyed && connection.socket.write(chunk)) sentForEndless += chunk.length;
        if (!connection.socket.destroyed) connection.socket.once('drain', pump);
      };
      pump();
      return true;
    };
    const done = await rig.pollOnce(rig.poller());
    expect(done.state).toBe('idle');
    expect((await rig.inbox()).map((m) => m.uidl)).toEqual(['uidl-1', 'uidl-3']);
    expect(done.skippedTooLarge).toEqual([expect.objectContaining({ uidl: 'uidl-2', atLeast: true })]);
    // Read up to the limit, then cut: the server could push no more than that plus what sockets buffer.
    expect(sentForEndless).toBeLessThan(1024 * 1024 + 32 * 1024 * 1024);
  });

  const brokenAnswers: Array<[string, (line: string, connection: Connection) => boolean, RegExp]> = [
    [
      'an endless UIDL listing',
      (line, connection) => {
        // LIST, pipelined behind UIDL, waits its turn (for ever), as a real server's answer would.
        if (line === 'LIST') return true;
        if (line !== 'UIDL') return false;
        connection.write('+OK\r\n');
        let n = 0;
        const padding = 'x'.repeat(1000);
        const more = (): void => {
          if (connection.socket.destroyed) return;
          connection.write(Array.from({ length: 200 }, () => `${++n} endless-${padding}-${n}\r\n`).join(''));
          setImmediate(more);
        };
        more();
        return true;
      },
      /the answer to UIDL is larger than the limit/,
    ],
    [
      'a garbage status line',
      (line, connection) => (line === 'LIST' ? (connection.write('HTTP/1.1 200 OK\r\n'), true) : false),
      /not \+OK, -ERR/,
    ],
    ['a cut connection', (line, connection) => (line === 'UIDL' ? (connection.socket.destroy(), true) : false), /failed or dropped/],
    [
      'a RETR that drips a few bytes at a time',
      (line, connection) => {
        if (!line.startsWith('RETR')) return false;
        // RETR 1 drips; the RETRs pipelined behind it wait their turn, as a real server's would.
        if (line !== 'RETR 1') return true;
        connection.write('+OK\r\n');
        const timer = setInterval(() => (connection.socket.destroyed ? clearInterval(timer) : connection.write('..')), 40);
        return true;
      },
      /did not answer in time.*sent only \d+ bytes/,
    ],
  ];
  for (const [what, misbehave, reported] of brokenAnswers) {
    it(`retries with growing backoff and reports ${what} in log and status, and recovers`, async () => {
      fill(2);
      let broken = true;
      rig.server.intercept = (_verb, line, connection) => broken && misbehave(line, connection);
      // A fault that is not passing (not POP3, too large) waits at least the poll interval; a short one here.
      const poller = rig.poller(rig.account({ pollIntervalMs: 50 }, { timeoutMs: 300 }), { initialMs: 150, maxMs: 5000 });
      poller.start();
      await waitUntil(() => rig.status.reports.filter((report) => report.state !== 'syncing').length >= 3, 'three failed polls', 45_000);
      const failures = rig.status.reports.filter((report) => report.state !== 'syncing').slice(0, 3);
      for (const failure of failures) {
        expect(['backoff', 'error']).toContain(failure.state);
        expect(failure.lastError).toMatch(reported);
      }
      // The waits announced grow: equal jitter never waits less than half of 150 ms * 2^(n-1) after the n-th failure.
      const waits = failures.map((failure) => Date.parse(failure.nextPollAt!) - Date.parse(failure.lastErrorAt!));
      waits.forEach((wait, i) => expect(wait).toBeGreaterThanOrEqual(75 * 2 ** i));
      // A lasting fault is one WARN (or ERROR) line when it starts; the same fault again within the hour goes
      // to debug only (ConditionLog, issue 13), while status reports every failed poll (above).
      expect(
        rig.logLines.filter((entry) => String(entry.msg).startsWith('POP3 sync failed') && (entry.level as number) >= 40).length,
      ).toBeGreaterThanOrEqual(1);
      expect(await rig.inbox()).toEqual([]);
      broken = false;
      await waitUntil(() => rig.pop3.state === 'idle', 'the poll after the provider recovered');
      expect((await rig.inbox()).map((m) => m.uidl)).toEqual(['uidl-1', 'uidl-2']);
    });
  }
});

describe('a session cut after a message', () => {
  it('does not store the message whose end no status line followed, and fetches it whole next time', async () => {
    const messages = fill(2);
    rig.server.pipelining = false;
    rig.server.intercept = (verb, line, connection) => {
      if (connection.number !== 1 || line !== 'RETR 1') return false;
      // The whole answer, then the line drops before the next command is answered.
      connection.write(retrResponse(messages[0].raw));
      setTimeout(() => connection.socket.destroy(), 30);
      return true;
    };
    const poller = rig.poller();
    poller.start();
    await waitUntil(() => rig.pop3.state === 'idle', 'the retry');
    expect((await rig.inbox()).map((m) => m.uidl)).toEqual(['uidl-1', 'uidl-2']);
  });
});

describe('a large message', () => {
  it('goes to disk in chunks while RETR is still bringing it, and becomes one message only when it ended whole', async () => {
    const messages = fill(2);
    const big = bigMessage(12);
    messages[0].raw = big;
    let release: () => void = () => undefined;
    rig.server.intercept = (verb, line, connection) => {
      if (verb !== 'RETR' || line !== 'RETR 1') return false;
      const wire = retrResponse(big);
      // Two thirds now, the rest when the test has looked at the store.
      const cut = Math.floor((wire.length * 2) / 3);
      connection.write(wire.subarray(0, cut));
      release = () => connection.write(wire.subarray(cut));
      return true;
    };
    rig.server.pipelining = false;
    const poller = rig.poller(rig.account({}, { maxMessageBytes: 64 * 1024 * 1024 }));
    poller.start();
    await waitUntil(async () => (await rig.store.chunkReport()).chunks >= 6, 'chunks of the message on disk');
    // On disk, but in no mailbox yet: the RETR has not ended.
    expect(await rig.store.chunkReport()).toMatchObject({ spools: 1, chunkedBlobs: 0, strayChunks: 0 });
    expect(await rig.inbox()).toEqual([]);
    release();
    await waitUntil(() => rig.pop3.state === 'idle' && rig.pop3.lastSuccessAt !== undefined, 'the poll to finish');
    const stored = await rig.inbox();
    expect(stored.map((m) => m.uidl)).toEqual(['uidl-1', 'uidl-2']);
    expect(stored[0].raw.equals(big)).toBe(true);
    expect(await rig.store.chunkReport()).toMatchObject({ spools: 0, chunkedBlobs: 1, strayChunks: 0 });
  });

  it('leaves no chunks behind when the connection is cut in the middle of it', async () => {
    const messages = fill(1);
    messages[0].raw = bigMessage(12);
    rig.server.intercept = (verb, _line, connection) => {
      if (verb !== 'RETR' || connection.number !== 1) return false;
      const wire = retrResponse(messages[0].raw);
      connection.socket.write(wire.subarray(0, wire.length >> 1), () => setTimeout(() => connection.socket.destroy(), 50));
      return true;
    };
    const poller = rig.poller(rig.account({}, { maxMessageBytes: 64 * 1024 * 1024 }));
    poller.start();
    await waitUntil(() => rig.pop3.state === 'idle', 'the retry to succeed');
    expect((await rig.inbox())[0].raw.equals(messages[0].raw)).toBe(true);
    expect(await rig.store.chunkReport()).toMatchObject({ spools: 0, chunkedBlobs: 1, strayChunks: 0 });
  });
});
