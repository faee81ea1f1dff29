/**
 * imapflow (the IMAP client behind many Node mail tools) against the real daemon, for the extensions it
 * uses when the server offers them: IDLE that hears mail from the POP3 poller, MOVE with COPYUID
 * (RFC 6851, RFC 4315), and CONDSTORE (RFC 7162): MODSEQ in FETCH, CHANGEDSINCE, UNCHANGEDSINCE.
 * The wire is recorded through imapflow's logger, so the tests can check which commands really ran.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCompatBridge, type CompatBridge } from '../helpers/clients.js';
import { simpleMessage } from '../helpers/messages.js';

interface WireClient {
  client: ImapFlow;
  /** Lines so far, "C: ..." sent by the client and "S: ..." from the server. */
  wire: string[];
}

async function withTimeout<T>(what: string, promise: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `condition()` holds (checked every 10 ms); rejects after `ms`. */
async function waitFor(what: string, condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('imapflow against the hotbridge daemon', () => {
  let bridge: CompatBridge;
  const open: ImapFlow[] = [];

  beforeAll(async () => {
    bridge = await startCompatBridge();
  });

  afterAll(async () => {
    for (const client of open) client.close();
    await bridge?.stop();
  });

  const connect = async (): Promise<WireClient> => {
    const wire: string[] = [];
    const record = (entry: { src?: string; msg?: string }) => {
      if ((entry.src === 'c' || entry.src === 's') && typeof entry.msg === 'string')
        wire.push(`${entry.src === 'c' ? 'C' : 'S'}: ${entry.msg}`);
    };
    const quiet = () => undefined;
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: bridge.config.imapPort,
      secure: false,
      auth: { user: bridge.address, pass: bridge.password },
      disableAutoIdle: true,
      logger: { debug: record, info: quiet, warn: quiet, error: quiet },
    });
    open.push(client);
    await client.connect();
    return { client, wire };
  };

  it('an idling client hears of new POP3 mail at once, and fetches it byte for byte', async () => {
    const { client, wire } = await connect();
    const mailbox = await client.mailboxOpen('INBOX');
    const before = mailbox.exists;
    const arrived = new Promise<number>((resolve) => client.on('exists', (event: { count: number }) => resolve(event.count)));
    const idling = client.idle();
    await waitFor('IDLE continuation', () => wire.some((line) => line.startsWith('S: + ')));
    const raw = simpleMessage(1, 300, 'pusher@example.org', bridge.address);
    await bridge.lab!.injectMessage(bridge.address, raw);
    // Poll interval 1 s: the poller fetches within about a second, the change feed pushes at once.
    const count = await withTimeout('EXISTS during IDLE', arrived, 10_000);
    expect(count).toBe(before + 1);
    // The EXISTS came while idling: after our IDLE and before our DONE.
    const idleAt = wire.findIndex((line) => /^C: \S+ IDLE$/.test(line));
    const existsAt = wire.findIndex((line) => line === `S: * ${count} EXISTS`);
    expect(idleAt).toBeGreaterThanOrEqual(0);
    expect(existsAt).toBeGreaterThan(idleAt);
    expect(wire.slice(idleAt, existsAt).some((line) => line === 'C: DONE')).toBe(false);
    const message = await client.fetchOne(String(count), { source: true, uid: true });
    await idling;
    expect(message && Buffer.compare(message.source!, raw)).toBe(0);
    await client.logout();
  });

  it('MOVEs messages with COPYUID, and a second session sees them leave', async () => {
    const { client, wire } = await connect();
    const watcher = await connect();
    await client.mailboxCreate('Moving');
    await client.mailboxCreate('Moving/Done');
    const raws = [1, 2, 3, 4].map((n) => simpleMessage(100 + n, 100, 'mover@example.org', bridge.address));
    const appended: number[] = [];
    for (const raw of raws) {
      const result = await client.append('Moving', raw, ['\\Seen']);
      expect(result && result.uid, 'APPENDUID').toBeTruthy();
      appended.push(result ? result.uid! : 0);
    }
    await watcher.client.mailboxOpen('Moving');
    const expunged: number[] = [];
    watcher.client.on('expunge', (event: { seq: number }) => expunged.push(event.seq));
    const watching = watcher.client.idle();

    await client.mailboxOpen('Moving');
    const moved = await client.messageMove(`${appended[1]}:${appended[2]}`, 'Moving/Done', { uid: true });
    // MOVE itself, not COPY + STORE + EXPUNGE (RFC 6851 §3.1), with COPYUID in an untagged OK (§4.3).
    expect(wire).toContainEqual(expect.stringMatching(new RegExp(`^C: \\S+ UID MOVE ${appended[1]}:${appended[2]} "?Moving/Done"?$`)));
    expect(wire).toContainEqual(expect.stringMatching(/^S: \* OK \[COPYUID \d+ \S+ \S+\]/));
    expect(wire.some((line) => /^C: \S+ (UID )?(COPY|EXPUNGE)\b/.test(line))).toBe(false);
    expect(moved && moved.uidMap, 'COPYUID').toBeTruthy();
    const uidMap = moved ? moved.uidMap! : new Map<number, number>();
    expect([...uidMap.keys()].sort((a, b) => a - b)).toEqual([appended[1], appended[2]]);
    const status = await client.status('Moving/Done', { uidValidity: true, uidNext: true, messages: true });
    expect(status, 'STATUS').not.toBe(false);
    expect(moved && moved.uidValidity).toBe(status && status.uidValidity);
    expect(status && status.messages).toBe(2);

    // The mapping is right: each destination UID holds the message that had the source UID.
    await client.mailboxOpen('Moving/Done');
    for (const [sourceUid, destinationUid] of uidMap) {
      const message = await client.fetchOne(String(destinationUid), { source: true }, { uid: true });
      expect(message && Buffer.compare(message.source!, raws[appended.indexOf(sourceUid)])).toBe(0);
    }
    await client.mailboxOpen('Moving');
    const left: number[] = [];
    for await (const message of client.fetch('1:*', { uid: true })) left.push(message.uid);
    expect(left).toEqual([appended[0], appended[3]]);

    // The idling session got one EXPUNGE per moved message (sequence numbers shift as they go).
    await waitFor('EXPUNGE in the other session', () => expunged.length >= 2);
    expect(expunged).toEqual([2, 2]);
    // idle() settles once IDLE ends: the next command ends it (DONE).
    await watcher.client.noop();
    await watching;
    await watcher.client.logout();
    await client.logout();
  });

  it('CONDSTORE: MODSEQ grows per change, FETCH CHANGEDSINCE returns just the changes, UNCHANGEDSINCE guards a STORE', async () => {
    const { client, wire } = await connect();
    const other = await connect();
    expect(client.enabled.has('CONDSTORE'), 'imapflow enables CONDSTORE when offered').toBe(true);
    await client.mailboxCreate('Modseq');
    const uids: number[] = [];
    for (const n of [1, 2, 3, 4]) {
      const result = await client.append('Modseq', simpleMessage(200 + n), []);
      uids.push(result ? result.uid! : 0);
    }
    const mailbox = await client.mailboxOpen('Modseq');
    const start = mailbox.highestModseq;
    expect(typeof start).toBe('bigint');

    // Our own STORE: the untagged FETCH carries the new MODSEQ (RFC 7162 §3.1.4), above the old highest.
    // (imapflow does not log FETCH responses, so this reads its 'flags' events, made from them.)
    const flagEvents: Array<{ uid?: number; modseq?: bigint; flags: Set<string> }> = [];
    client.on('flags', (event: { uid?: number; modseq?: bigint; flags: Set<string> }) => flagEvents.push(event));
    await client.messageFlagsAdd(String(uids[1]), ['\\Flagged'], { uid: true });
    expect(flagEvents.map((event) => event.uid)).toEqual([uids[1]]);
    const firstModseq = flagEvents[0].modseq!;
    expect(typeof firstModseq, 'MODSEQ in the STORE answer').toBe('bigint');
    expect(firstModseq > start!).toBe(true);

    const changed: Array<{ uid: number; modseq?: bigint; flags: string[] }> = [];
    for await (const message of client.fetch('1:*', { uid: true, flags: true }, { changedSince: start! })) {
      changed.push({ uid: message.uid, modseq: message.modseq, flags: [...(message.flags ?? [])] });
    }
    expect(changed).toEqual([{ uid: uids[1], modseq: firstModseq, flags: expect.arrayContaining(['\\Flagged']) }]);

    // A change by another session reaches this one (IDLE) with its MODSEQ, as CONDSTORE requires once enabled.
    const idling = client.idle();
    await other.client.mailboxOpen('Modseq');
    await other.client.messageFlagsAdd(String(uids[3]), ['$Important'], { uid: true });
    await waitFor("FETCH for the other session's change", () => flagEvents.some((event) => event.flags.has('$Important')));
    await client.noop();
    await idling;
    const pushed = flagEvents.find((event) => event.flags.has('$Important'))!;
    expect(typeof pushed.modseq, 'MODSEQ in the unsolicited FETCH').toBe('bigint');
    expect(pushed.modseq! > firstModseq).toBe(true);

    const sinceFirst: number[] = [];
    for await (const message of client.fetch('1:*', { uid: true }, { changedSince: firstModseq })) sinceFirst.push(message.uid);
    expect(sinceFirst).toEqual([uids[3]]);
    const status = await client.status('Modseq', { highestModseq: true });
    expect(status && status.highestModseq).toBe(pushed.modseq);

    // UNCHANGEDSINCE (RFC 7162 §3.1.3): a STORE based on an old MODSEQ is refused for the message that
    // changed since ([MODIFIED uid]), and done for one that did not.
    await client.messageFlagsAdd(`${uids[0]},${uids[3]}`, ['\\Answered'], { uid: true, unchangedSince: firstModseq });
    const tagged = wire.filter((line) => /^S: \S+ OK .*STORE/i.test(line)).pop();
    expect(tagged, wire.slice(-6).join('\n')).toMatch(new RegExp(`\\[MODIFIED ${uids[3]}\\]`));
    const after = new Map<number, string[]>();
    for await (const message of client.fetch(`${uids[0]},${uids[3]}`, { uid: true, flags: true }, { uid: true }))
      after.set(message.uid, [...(message.flags ?? [])]);
    expect(after.get(uids[0])).toContain('\\Answered');
    expect(after.get(uids[3])).not.toContain('\\Answered');
    await other.client.logout();
    await client.logout();
  });
});
