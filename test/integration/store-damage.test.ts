/**
 * Damage while hotbridge is stopped (issue 12): for each case, what `hotbridge run`, `doctor`, `verify` and
 * `repair` say, and what is recovered. Each case starts from a copy of the same store (400 messages fetched
 * over POP3, ~12 KB each, in two LevelDB tables and a log), damaged the way the case says.
 *
 * | case                      | run                                  | doctor | verify               | repair                                   | recovered                       |
 * |---------------------------|--------------------------------------|--------|----------------------|------------------------------------------|---------------------------------|
 * | newest table truncated    | refuses: damaged, LevelDB's message  | ✗      | exit 1, unreadable   | salvages; says LevelDB lost part of a    | every message LevelDB could     |
 * |                           | naming the .ldb file                 |        | part, lost records   | file, and that the poller fetches again  | read (fewer than 400), exact    |
 * | a block garbled           | runs; UID FETCH 1:* serves all but   | ✗      | exit 1, names the    | drops it, names it by mailbox, date,     | all 399 others, exact           |
 * |                           | the one message, NO [CORRUPTION] UID |        | message (sender etc.)| sender, subject; offers resync           |                                 |
 * | CURRENT deleted           | refuses: missing CURRENT, no new     | ✗      | exit 1, same words   | rebuilds CURRENT/MANIFEST from tables    | all 400, exact                  |
 * |                           | store made, repair/restore named     |        |                      |                                          |                                 |
 * | MANIFEST deleted          | refuses: LevelDB's own message with  | ✗      | exit 1, same words   | rebuilds it from the tables              | all 400, exact                  |
 * |                           | the MANIFEST file name               |        |                      |                                          |                                 |
 * | store read-only (user)    | refuses: permission denied on LOCK,  | ✗      | exit 1, same words   | refuses: permissions are not damage;     | all 400 once the mode is back   |
 * |                           | not "in use by another process"      |        |                      | says the chown/chmod                     |                                 |
 * | store of another user     | refuses: permission denied, names    | ✗      | exit 1, same words   | refuses, same advice                     | all 400 once the owner is back  |
 * |                           | the owner (user 0)                   |        |                      |                                          |                                 |
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/index.js';
import { cliCommand, runCli, startDaemon, type CliResult } from '../helpers/cli.js';
import { freePorts } from '../helpers/ports.js';
import { SocketReader } from '../helpers/socket-reader.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const ALICE = 'alice@example.test';
const LOCAL_PASSWORD = 'damage-local';
const COUNT = 400;
/** The message whose blob the "garbled block" case damages: its body carries a marker to find in the table file. */
const TARGET = 7;
const MARKER = 'GARBLE-THIS-MESSAGE-HERE-0123456789';
const NOBODY = 65534;

function message(i: number): Buffer {
  const body = randomBytes(9000).toString('base64').replace(/.{76}/g, '$&\r\n');
  const marker = i === TARGET ? `${MARKER}\r\n` : '';
  return Buffer.from(
    `From: Sender ${i} <s${i}@example.org>\r\nTo: ${ALICE}\r\nSubject: message ${i}\r\nDate: Fri, 27 Nov 2026 06:00:00 +0000\r\n\r\n${marker}${body}\r\n`,
  );
}

const hash = (raw: Buffer): string => createHash('sha256').update(raw).digest('hex');

/** Runs the CLI as the unprivileged user `nobody` (root reads every file, so permissions need another user). */
function runCliAs(uid: number, args: string[], timeoutMs = 60_000): Promise<CliResult> {
  const [command, argv] = cliCommand(args);
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { uid, gid: uid, env: { ...process.env, HOME: '/tmp' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end('');
  });
}

interface Case {
  name: string;
  /** Runs the commands as this user (default: root, who owns the store). */
  uid?: number;
  damage(store: string, caseDir: string): void;
  /** What `hotbridge run` says (it refuses, exit non-zero), or 'runs' (it starts; the FETCH check follows). */
  run: RegExp | 'runs';
  doctor: RegExp;
  verify: RegExp;
  repair: { code: number; says: RegExp[] };
  /** After repair (or after the permissions are given back): how many of the messages come back, exactly. */
  recovered: 'all' | 'all but the damaged one' | 'fewer';
  /** Gives back what the case took (permissions), for the cases repair refuses. */
  undo?(store: string, caseDir: string): void;
}

function tables(store: string): string[] {
  return fs
    .readdirSync(store)
    .filter((name) => name.endsWith('.ldb'))
    .sort();
}

const CASES: Case[] = [
  {
    name: 'newest table truncated',
    damage: (store) => {
      const newest = path.join(store, tables(store).pop()!);
      fs.truncateSync(newest, Math.floor(fs.statSync(newest).size / 2));
    },
    run: /cannot start: the store in .* is damaged \(LevelDB: IO error: .*\d+\.ldb: Invalid argument\); stop hotbridge and run: hotbridge repair/,
    doctor: /✗ the store (has \d+ problems|in .* is damaged)/,
    verify: /cannot be read: the store's files are damaged \(LevelDB: IO error: .*\.ldb: Invalid argument\)/,
    repair: {
      code: 0,
      says: [
        /LevelDB found \d+ of its files damaged \([\d.]+ MB, kept in .*\/store\/lost\)/,
        /the next poll fetches again every message the provider still has/,
      ],
    },
    recovered: 'fewer',
  },
  {
    name: 'a block of a table garbled',
    damage: (store) => {
      for (const table of tables(store)) {
        const file = path.join(store, table);
        const bytes = fs.readFileSync(file);
        const at = bytes.indexOf(MARKER);
        if (at < 0) continue;
        // Inside the message's bytes, in the middle of its data block.
        randomBytes(32).copy(bytes, at + 4);
        fs.writeFileSync(file, bytes);
        return;
      }
      throw new Error('the marked message is in no table file (the test store was not built as expected)');
    },
    run: 'runs',
    doctor: /✗ the store has 1 problem: .*message 7.*damaged/,
    verify: /INBOX of alice@example\.test, UID \d+, \d{4}-\d\d-\d\d, from Sender 7 <s7@example\.org>, "message 7": its bytes are damaged/,
    repair: {
      code: 0,
      says: [
        /Could not be saved \(1\):/,
        /INBOX of alice@example\.test, UID \d+, .*from Sender 7 <s7@example\.org>, "message 7": its bytes were damaged/,
        /Fetch them again with: hotbridge resync/,
      ],
    },
    recovered: 'all but the damaged one',
  },
  {
    name: 'CURRENT deleted',
    damage: (store) => fs.rmSync(path.join(store, 'CURRENT')),
    run: /cannot start: the store in .* is missing its CURRENT file: opening it as it is would start an empty store .* nothing was changed; stop hotbridge and run: hotbridge repair/,
    doctor: /✗ the store in .* is missing its CURRENT file/,
    verify: /the store cannot be opened: .*missing its CURRENT file/,
    repair: { code: 0, says: [/Repaired the store/, /Nothing was lost/] },
    recovered: 'all',
  },
  {
    name: 'MANIFEST deleted',
    damage: (store) => {
      for (const name of fs.readdirSync(store)) if (name.startsWith('MANIFEST-')) fs.rmSync(path.join(store, name));
    },
    run: /cannot start: the store in .* is damaged and was not opened \(LevelDB: IO error: .*MANIFEST-\d+: No such file or directory\)/,
    doctor: /✗ the store in .* is damaged and was not opened \(LevelDB: IO error: .*MANIFEST-\d+/,
    verify: /the store cannot be opened: .*MANIFEST-\d+: No such file or directory/,
    repair: { code: 0, says: [/Repaired the store/, /Nothing was lost/] },
    recovered: 'all',
  },
  {
    name: 'store read-only',
    uid: NOBODY,
    damage: (store, caseDir) => {
      fs.chownSync(caseDir, NOBODY, NOBODY);
      chownTree(path.dirname(store), NOBODY);
      fs.chmodSync(store, 0o500);
      for (const name of fs.readdirSync(store)) fs.chmodSync(path.join(store, name), 0o400);
    },
    run: /cannot start: the store in .* cannot be read or written by user nobody: permission denied on .*LOCK; run hotbridge as the user that owns the data dir, or give it back: chown -R nobody .* && chmod -R u\+rwX /,
    doctor: /✗ the store in .* cannot be read or written by user nobody: permission denied/,
    verify: /the store cannot be opened: .*permission denied/,
    repair: { code: 1, says: [/cannot repair: the store in .* cannot be read or written by user nobody: permission denied/] },
    recovered: 'all',
    undo: (store) => {
      fs.chmodSync(store, 0o700);
      for (const name of fs.readdirSync(store)) fs.chmodSync(path.join(store, name), 0o600);
    },
  },
  {
    name: 'store owned by another user',
    uid: NOBODY,
    damage: (store, caseDir) => {
      fs.chownSync(caseDir, NOBODY, NOBODY);
      chownTree(path.dirname(store), NOBODY);
      chownTree(store, 0);
      fs.chmodSync(store, 0o700);
    },
    run: /cannot start: the store in .* cannot be read or written by user nobody: permission denied on .* \(it belongs to user 0\)/,
    doctor: /✗ the store in .* cannot be read or written by user nobody: permission denied on .* \(it belongs to user 0\)/,
    verify: /the store cannot be opened: .*\(it belongs to user 0\)/,
    repair: { code: 1, says: [/cannot repair: .*\(it belongs to user 0\)/] },
    recovered: 'all',
    undo: (store) => chownTree(store, NOBODY),
  },
];

function chownTree(dir: string, uid: number): void {
  fs.chownSync(dir, uid, uid);
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    if (fs.statSync(file).isDirectory()) chownTree(file, uid);
    else fs.chownSync(file, uid, uid);
  }
}

/** A raw IMAP session, logged in; its untagged lines and tagged reply for one command. */
async function fetchAll(port: number): Promise<{ tagged: string; uids: number[] }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const reader = new SocketReader(socket);
  const tagged = async (tag: string, onLine: (line: Buffer) => Promise<void> = async () => undefined): Promise<string> => {
    for (;;) {
      const line = await reader.line(60_000);
      if (!line) throw new Error('the IMAP connection closed');
      if (line.toString('latin1').startsWith(`${tag} `)) return line.toString('latin1').trim();
      await onLine(line);
    }
  };
  try {
    await reader.line(10_000);
    socket.write(`a LOGIN ${ALICE} ${LOCAL_PASSWORD}\r\n`);
    expect(await tagged('a')).toMatch(/^a OK/);
    socket.write('b SELECT INBOX\r\n');
    expect(await tagged('b')).toMatch(/^b OK/);
    socket.write('c UID FETCH 1:* (UID BODY.PEEK[])\r\n');
    const uids: number[] = [];
    const reply = await tagged('c', async (line) => {
      const text = line.toString('latin1');
      const literal = /\{(\d+)\}\r\n$/.exec(text);
      const uid = /UID (\d+)/.exec(text);
      if (uid) uids.push(Number(uid[1]));
      if (literal) {
        await reader.bytes(Number(literal[1]), 60_000);
        await reader.line(60_000);
      }
    });
    return { tagged: reply, uids };
  } finally {
    socket.destroy();
  }
}

describe('damage while stopped: what run, doctor, verify and repair say, and what is recovered', () => {
  let dir: string;
  let pristine: string;
  const originals = new Set<string>();
  let damagedHash = '';

  beforeAll(async () => {
    dir = tempDir('hotbridge-damage-');
    fs.chmodSync(dir, 0o755);
    pristine = path.join(dir, 'pristine');
    const store = await Store.open(pristine, { accounts: [ALICE] });
    try {
      for (let i = 0; i < COUNT; i++) {
        const raw = message(i);
        originals.add(hash(raw));
        if (i === TARGET) damagedHash = hash(raw);
        await store.ingestPop3(ALICE, [{ uidl: `uidl-${i}`, raw }]);
      }
    } finally {
      await store.close();
    }
    expect(tables(path.join(pristine, 'store')).length).toBeGreaterThanOrEqual(2);
  });
  afterAll(() => removeDir(dir));

  for (const c of CASES) {
    it(
      c.name,
      async () => {
        const caseDir = path.join(dir, c.name.replace(/\W+/g, '-'));
        fs.mkdirSync(caseDir);
        const dataDir = path.join(caseDir, 'data');
        fs.cpSync(pristine, dataDir, { recursive: true });
        // Every local listener on a free port (POP3's default, 1110, may be another suite's at this moment).
        const [imapPort, smtpPort, pop3Port] = await freePorts(3);
        const configFile = path.join(caseDir, 'config.toml');
        fs.writeFileSync(
          configFile,
          [
            `data_dir = "${dataDir}"`,
            '[imap]',
            `listen = ["127.0.0.1:${imapPort}"]`,
            '[smtp]',
            `listen = ["127.0.0.1:${smtpPort}"]`,
            '[pop3]',
            `listen = ["127.0.0.1:${pop3Port}"]`,
            '[[accounts]]',
            `address = "${ALICE}"`,
            'provider = "custom"',
            'leave_on_server = true',
            '[accounts.auth]',
            'method = "password"',
            '[accounts.pop3]',
            'host = "127.0.0.1"',
            'port = 9',
            '[accounts.smtp]',
            'host = "127.0.0.1"',
            'port = 9',
            '',
          ].join('\n'),
          { mode: 0o644 },
        );
        expect((await runCli(['password', ALICE, '--config', configFile], { input: `${LOCAL_PASSWORD}\n` })).code).toBe(0);
        const store = path.join(dataDir, 'store');
        c.damage(store, caseDir);
        const cli = (args: string[]) =>
          c.uid !== undefined
            ? runCliAs(c.uid, [...args, '--config', configFile], 120_000)
            : runCli([...args, '--config', configFile], { timeoutMs: 120_000 });

        // run
        if (c.run === 'runs') {
          const daemon = await startDaemon(configFile);
          try {
            const { tagged, uids } = await fetchAll(imapPort);
            expect(tagged).toMatch(
              /^c NO \[CORRUPTION\] Message UID \d+ is damaged in the local store and could not be read; the others were sent/,
            );
            expect(uids.length).toBe(COUNT - 1);
          } finally {
            expect(await daemon.stop()).toBe(0);
          }
        } else {
          const run = await cli(['run']);
          expect(run.code).not.toBe(0);
          expect(run.stderr).toMatch(c.run);
          expect(run.stderr).not.toMatch(/in use by another process|undefined/);
          // Nothing made in its place: the files are as the damage left them.
          expect(fs.existsSync(path.join(store, 'CURRENT'))).toBe(c.name !== 'CURRENT deleted');
        }

        // doctor, verify
        const doctor = await cli(['doctor']);
        expect(doctor.stdout).toMatch(c.doctor);
        expect(doctor.code).toBe(1);
        const verify = await cli(['verify']);
        expect(verify.code, verify.stdout + verify.stderr).toBe(1);
        expect(verify.stdout + verify.stderr).toMatch(c.verify);

        // repair
        const repair = await cli(['repair']);
        expect(repair.code, repair.stdout + repair.stderr).toBe(c.repair.code);
        for (const says of c.repair.says) expect(repair.stdout + repair.stderr).toMatch(says);
        c.undo?.(store, caseDir);

        // What is recovered: every message there is byte for byte one of the originals, none twice.
        const after = await cli(['verify']);
        expect(after.code, after.stdout + after.stderr).toBe(0);
        const reopened = await Store.open(dataDir);
        const found: string[] = [];
        try {
          const inbox = reopened.findMailbox(ALICE, 'INBOX')!;
          for (const m of await reopened.listMessages(inbox.id)) found.push(hash(await reopened.getBlob(m.blobId)));
        } finally {
          await reopened.close();
        }
        expect(new Set(found).size).toBe(found.length);
        for (const h of found) expect(originals.has(h)).toBe(true);
        if (c.recovered === 'all') expect(found.length).toBe(COUNT);
        else if (c.recovered === 'all but the damaged one') {
          expect(found.length).toBe(COUNT - 1);
          expect(found).not.toContain(damagedHash);
          // leave_on_server = true: resync forgets the lost message's UIDL (and only that one), so the next
          // poll fetches it again from the provider and nothing else twice.
          const resync = await cli(['resync']);
          expect(resync.code, resync.stdout + resync.stderr).toBe(0);
          expect(resync.stdout).toMatch(/alice@example\.test: 1 lost messages will be fetched again from the provider/);
          const ledgerStore = await Store.open(dataDir);
          try {
            const ledger = await ledgerStore.uidlLedger(ALICE);
            expect(ledger.has(`uidl-${TARGET}`)).toBe(false);
            expect(ledger.uidls().length).toBe(COUNT - 1);
          } finally {
            await ledgerStore.close();
          }
        } else {
          expect(found.length).toBeGreaterThan(0);
          expect(found.length).toBeLessThan(COUNT);
        }
      },
      300_000,
    );
  }
});
