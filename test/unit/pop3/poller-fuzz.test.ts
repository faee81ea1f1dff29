/**
 * Fuzzing the POP3 poller with a provider that lies (a fake POP3 server, test/helpers/fake-pop3-server.ts,
 * with a real Store: no real server can be made to lie like this). Each run makes up a maildrop — messages with
 * lines holding only ".", sent with or without dot-stuffing, LIST sizes off either way, repeated and missing
 * UIDLs — and faults for the first polls: a cut connection at any byte of an answer, a garbage status line,
 * an endless answer, a silent server. Then the provider heals and is polled again. Whatever happened:
 *  - nothing escapes as an exception and every poll ends in a state;
 *  - everything stored is byte for byte a message the server holds under that UIDL, and no UIDL twice;
 *  - a message the server no longer holds (DELE + QUIT) is in the store: no acknowledged mail is lost;
 *  - once the provider behaves, every message with a UIDL of its own is stored, or reported as too large.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { retrResponse, unstuffedResponse, type Connection, type FakeMessage } from '../../helpers/fake-pop3-server.js';
import { FakePop3Rig, RIG_ADDRESS } from '../../helpers/fake-pop3-rig.js';
import { fuzzRuns } from '../../helpers/fuzz.js';
import { collectUncaught } from '../../helpers/uncaught.js';

const unhandled = collectUncaught();

afterEach(async () => {
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(unhandled).toEqual([]);
});

const LIMIT = 64 * 1024;

const lineArb = fc.oneof(
  { weight: 5, arbitrary: fc.stringMatching(/^[ -~]{0,40}$/) },
  { weight: 2, arbitrary: fc.constantFrom('.', '..', '.x', '+OK looks like a reply', '-ERR too', '') },
);

const messageArb = fc.record({
  lines: fc.array(lineArb, { minLength: 1, maxLength: 12 }),
  unstuffed: fc.boolean(),
  listDelta: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -200, max: 200 }) }),
  uidl: fc.oneof(
    { weight: 6, arbitrary: fc.constant<'own' | 'repeat' | 'none'>('own') },
    { weight: 1, arbitrary: fc.constantFrom<'own' | 'repeat' | 'none'>('repeat', 'none') },
  ),
});

type Fault =
  | { kind: 'none' }
  | { kind: 'cut'; command: number; at: number }
  | { kind: 'garbage'; command: number; at: number }
  | { kind: 'endless'; command: number }
  | { kind: 'silent'; command: number };
const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Fault>({ kind: 'none' }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom('cut' as const, 'garbage' as const),
      command: fc.nat({ max: 12 }),
      at: fc.nat({ max: 400 }),
    }) as fc.Arbitrary<Fault>,
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constantFrom('endless' as const, 'silent' as const),
      command: fc.nat({ max: 12 }),
    }) as fc.Arbitrary<Fault>,
  },
);

/** The server's answer to one command, as the honest fake would give it (for faults to cut or replace). */
function misbehave(
  fault: Fault,
  connection: Connection,
  line: string,
  index: number,
  honest: (line: string) => Buffer | undefined,
): boolean {
  if (fault.kind === 'none' || index !== fault.command) return false;
  const verb = line.split(' ')[0].toUpperCase();
  if (verb === 'QUIT') return false;
  if (fault.kind === 'silent') return true;
  if (fault.kind === 'garbage') {
    connection.write(`HTTP/1.1 500 nonsense ${'x'.repeat(fault.at % 50)}\r\n`);
    return true;
  }
  if (fault.kind === 'endless') {
    connection.write('+OK\r\n');
    const chunk = Buffer.from('endless endless endless\r\n'.repeat(2000));
    const pump = (): void => {
      while (!connection.socket.destroyed && connection.socket.write(chunk));
      if (!connection.socket.destroyed) connection.socket.once('drain', pump);
    };
    pump();
    return true;
  }
  const answer = honest(line);
  if (answer === undefined) return false;
  connection.socket.write(answer.subarray(0, fault.at % (answer.length + 1)), () => connection.socket.destroy());
  return true;
}

type MessageSpec = { lines: string[]; unstuffed: boolean; listDelta: number; uidl: 'own' | 'repeat' | 'none' };

describe('POP3 poller fuzz: a provider that lies', () => {
  test('loses no acknowledged mail, stores nothing cut short or foreign, and recovers', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(messageArb, { minLength: 1, maxLength: 6 }),
        fc.array(faultArb, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        async (specs, faults, leaveOnServer) => {
          run++;
          const rig = new FakePop3Rig();
          await rig.start();
          try {
            await oneRun(rig, run, specs, faults, leaveOnServer);
          } finally {
            await rig.stop();
          }
        },
      ),
      { numRuns: fuzzRuns(12) },
    );
  });
});

async function oneRun(rig: FakePop3Rig, run: number, specs: MessageSpec[], faults: Fault[], leaveOnServer: boolean): Promise<void> {
  const originals = new Map<string, Buffer[]>();
  const maildrop: FakeMessage[] = specs.map((spec, i) => {
    const uidl = spec.uidl === 'repeat' && i > 0 ? `u${run}-${i - 1}` : `u${run}-${i}`;
    const header = `Subject: fuzz ${run}.${i}\r\nMessage-ID: <f${run}.${i}@x>\r\n\r\n`;
    const raw = Buffer.from(`${header}${spec.lines.join('\r\n')}\r\n`, 'latin1');
    const acceptable = [raw];
    // Sent without dot-stuffing, a line like "..x" arrives as ".x": nothing on the wire shows it (only an
    // exact LIST size could), so that copy is what a client gets. A lone "." cuts the message: never stored.
    if (spec.unstuffed && !spec.lines.includes('.')) {
      acceptable.push(
        Buffer.from(`${header}${spec.lines.map((line) => (line.startsWith('.') ? line.slice(1) : line)).join('\r\n')}\r\n`, 'latin1'),
      );
    }
    originals.set(uidl, [...(originals.get(uidl) ?? []), ...acceptable]);
    return { uidl, raw, unstuffed: spec.unstuffed, listSize: Math.max(0, raw.length + spec.listDelta), noUidl: spec.uidl === 'none' };
  });
  rig.server.maildrop = [...maildrop];
  let faulty = true;
  // A connection the fault has taken over answers nothing more (a real server that cut or hung does not
  // answer the next command first; one that answers out of order is beyond what any POP3 client can see).
  const taken = new Set<Connection>();
  rig.server.intercept = (verb, line, connection) => {
    if (taken.has(connection)) return true;
    if (!faulty || verb === '') return false;
    const fault = faults[(connection.number - 1) % faults.length];
    if (fault.kind !== 'none' && fault.kind !== 'garbage' && connection.commands.length - 1 === fault.command) taken.add(connection);
    return misbehave(fault, connection, line, connection.commands.length - 1, (command) => {
      const message = rig.server.maildrop[Number(command.split(' ')[1]) - 1];
      if (command.startsWith('RETR') && message) return message.unstuffed ? unstuffedResponse(message.raw) : retrResponse(message.raw);
      return undefined;
    });
  };
  const poller = rig.poller(rig.account({ leaveOnServer }, { maxMessageBytes: LIMIT, timeoutMs: 250 }), {
    initialMs: 60_000,
    maxMs: 60_000,
  });
  const inbox = async () => rig.store.listMessages(rig.store.findMailbox(RIG_ADDRESS, 'INBOX')!.id);

  const check = async (): Promise<void> => {
    const messages = await inbox();
    const uidls = messages.map((message) => message.uidl!);
    expect(new Set(uidls).size).toBe(uidls.length);
    for (const message of messages) {
      const raw = await rig.store.getBlob(message.blobId);
      expect((originals.get(message.uidl!) ?? []).some((original) => original.equals(raw))).toBe(true);
    }
    // What the server deleted (DELE made final by QUIT) is in the store.
    const onServer = new Set(rig.server.maildrop);
    for (const message of maildrop) if (!onServer.has(message)) expect(uidls).toContain(message.uidl);
  };

  for (let poll = 0; poll < 2; poll++) {
    const status = await rig.pollOnce(poller);
    expect(['idle', 'backoff', 'error']).toContain(status.state);
    await check();
  }
  // The provider heals: honest answers, dot-stuffed.
  faulty = false;
  for (const message of rig.server.maildrop) message.unstuffed = false;
  const healed = await rig.pollOnce(poller);
  expect(healed.state).toBe('idle');
  await check();
  const stored = new Set((await inbox()).map((message) => message.uidl));
  const tooLarge = new Set((healed.skippedTooLarge ?? []).map((entry) => entry.uidl));
  const counts = new Map<string, number>();
  for (const message of maildrop) counts.set(message.uidl, (counts.get(message.uidl) ?? 0) + 1);
  for (const message of maildrop) {
    if (message.noUidl || (counts.get(message.uidl) ?? 0) > 1) continue;
    expect(stored.has(message.uidl) || tooLarge.has(message.uidl)).toBe(true);
  }
}
