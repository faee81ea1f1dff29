/**
 * mbsync (isync) keeps a local Maildir in two-way sync with the daemon's IMAP folders: the first run
 * copies everything both ways, the next run finds nothing to do (no writing command on the wire, no
 * file touched, no server state changed), local changes (flag, move, delete) reach the server, and mail
 * that arrives over POP3 reaches the Maildir. mbsync is strict about UIDVALIDITY, UIDNEXT, APPENDUID and
 * flag answers: a server that gets one of them wrong makes it re-download or duplicate mail.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docsBlock } from '../helpers/docs.js';
import { describeRun, requireTool, runTool, startCompatBridge, waitForInboxCount, type CompatBridge } from '../helpers/clients.js';
import { LAB_USERS } from '../helpers/lab.js';
import { crlfLines, toLf } from '../helpers/messages.js';

const message = (subject: string, body: string) =>
  crlfLines([
    'From: Sender <sender@example.org>',
    `To: ${LAB_USERS.alice.user}`,
    `Subject: ${subject}`,
    'Date: Fri, 27 Nov 2026 06:00:00 +0000',
    `Message-ID: <${subject.replace(/\W+/g, '-')}@example.org>`,
    '',
    body,
    '.a line with a leading dot',
  ]);

// Mail that comes in over POP3, and what the test APPENDs to other folders before the first sync.
const POP3_MAIL = ['pop3 one', 'pop3 two', 'pop3 three'].map((subject) => message(subject, `Body of ${subject}.`));
const LATE_POP3_MAIL = message('pop3 four, arriving later', 'Late mail.');
const SERVER_FOLDERS: Array<{ folder: string; raw: Buffer; flags: string[] }> = [
  { folder: 'Projects', raw: message('project plan', 'Plans.'), flags: ['\\Seen'] },
  { folder: 'Projects', raw: message('project budget', 'Money.'), flags: ['\\Seen', '\\Flagged'] },
  { folder: 'Projects/2026', raw: message('project 2026', 'Next year.'), flags: [] },
  { folder: 'Sent', raw: message('sent earlier', 'I wrote this.'), flags: ['\\Seen'] },
  { folder: 'Drafts', raw: message('half written', 'Not yet.'), flags: ['\\Seen', '\\Draft'] },
];
// A folder that exists only in the Maildir before the first sync: mbsync must create it on the server.
const LOCAL_ONLY = Buffer.from(
  'From: me@example.test\nSubject: written offline\nMessage-ID: <offline-1@example.test>\n\nKept locally first.\n',
);

const subjectOf = (raw: Buffer) => /^Subject: (.*?)\r?$/m.exec(raw.toString('latin1'))?.[1];
// mbsync marks every message it copies, in either direction, with an X-TUID header (its own transaction
// id, against Dovecot too): the one difference the copies may have.
const withoutTuid = (raw: Buffer) => Buffer.from(raw.toString('latin1').replace(/^X-TUID: [^\r\n]*\r?\n/m, ''), 'latin1');

/** Every file under `root` (state files included) with a hash of its content: "did anything change?". */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else out[path.relative(root, full)] = createHash('sha256').update(fs.readFileSync(full)).digest('hex');
    }
  };
  walk(root);
  return out;
}

interface NearMessage {
  file: string;
  /** Maildir info flags ("FS"), empty for a message still in new/. */
  flags: string;
  raw: Buffer;
}

/** The messages of one Maildir folder, by subject. */
function nearFolder(mailRoot: string, folder: string): Map<string, NearMessage> {
  const out = new Map<string, NearMessage>();
  for (const sub of ['cur', 'new']) {
    const dir = path.join(mailRoot, folder, sub);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir)) {
      const file = path.join(dir, name);
      const raw = fs.readFileSync(file);
      out.set(subjectOf(raw) ?? name, { file, flags: /:2,([A-Z]*)$/.exec(name)?.[1] ?? '', raw });
    }
  }
  return out;
}

/** Adds a Maildir flag letter to a message file, moving it to cur/ as a mail reader does (maildir(5)). */
function addNearFlag(file: string, flag: string): void {
  const name = path.basename(file);
  const match = /^(.*?)(?::2,([A-Z]*))?$/.exec(name)!;
  const flags = [...new Set([...(match[2] ?? ''), flag])].sort().join('');
  fs.renameSync(file, path.join(path.dirname(path.dirname(file)), 'cur', `${match[1]}:2,${flags}`));
}

// The commands a sync that has nothing to do may send: log in, look, and read UIDs and flags.
const READ_ONLY_COMMAND =
  /^(CAPABILITY|LOGIN .*|AUTHENTICATE .*|NAMESPACE|LIST .*|SELECT .*|EXAMINE .*|UID FETCH [\d:,*]+ \(UID FLAGS\)|CLOSE|LOGOUT)$/;

describe('mbsync (isync) against the hotbridge daemon', () => {
  let bridge: CompatBridge;
  let mbsync: string;
  let mailRoot: string;
  let configFile: string;

  beforeAll(async () => {
    mbsync = await requireTool('mbsync', 'isync');
    bridge = await startCompatBridge();
    await bridge.lab!.injectMessages(bridge.address, POP3_MAIL);
    await waitForInboxCount(bridge, POP3_MAIL.length);
    const client = bridge.imapflow();
    await client.connect();
    try {
      await client.mailboxCreate('Projects');
      await client.mailboxCreate('Projects/2026');
      for (const { folder, raw, flags } of SERVER_FOLDERS) await client.append(folder, raw, flags);
    } finally {
      await client.logout();
    }

    mailRoot = path.join(bridge.dir, 'Mail');
    for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(mailRoot, 'Offline', sub), { recursive: true });
    fs.writeFileSync(path.join(mailRoot, 'Offline', 'new', '1700000000.M1P1.localhost'), LOCAL_ONLY);
    configFile = path.join(bridge.dir, 'mbsyncrc');
    // docs/clients/mbsync.md's configuration as written (no TLS on localhost: mbsync then logs in with
    // AUTHENTICATE PLAIN), with this test's port, password and Maildir.
    const documented = docsBlock('docs/clients/mbsync.md', 'IMAPAccount hotbridge')
      .replace(/^Port 1143$/m, `Port ${bridge.config.imapPort}`)
      .replace(/^User you@hotmail\.com$/m, `User ${bridge.address}`)
      .replace(/^Pass the-local-password$/m, `Pass ${bridge.password}`)
      .replaceAll('~/Mail/', `${mailRoot}/`);
    expect(documented).toContain(`Port ${bridge.config.imapPort}\nUser ${bridge.address}\nPass ${bridge.password}\nSSLType None`);
    fs.writeFileSync(configFile, documented);
  });

  afterAll(async () => {
    await bridge?.stop();
  });

  /** One `mbsync -a` run; -Dn logs the IMAP commands it sends (">>> TAG COMMAND", passwords masked). */
  const sync = async () => {
    const result = await runTool(mbsync, ['-Dn', '-c', configFile, '-a'], { timeoutMs: 30_000 });
    const commands = result.text
      .split('\n')
      .filter((line) => line.startsWith('>>> '))
      .map((line) => line.replace(/^>>> \S+ /, '').trim());
    return { result, commands };
  };

  /** What the server says about every folder; any change here means the sync wrote something. */
  const serverState = async () => {
    const client = bridge.imapflow();
    await client.connect();
    try {
      const state: Record<string, unknown> = {};
      for (const box of await client.list()) {
        state[box.path] = await client.status(box.path, {
          messages: true,
          uidNext: true,
          uidValidity: true,
          unseen: true,
          highestModseq: true,
        });
      }
      return state;
    } finally {
      await client.logout();
    }
  };

  /** The messages of one server folder, by subject, with flags and bytes. */
  const serverFolder = async (folder: string) => {
    const client = bridge.imapflow();
    await client.connect();
    try {
      const out = new Map<string, { uid: number; flags: string[]; raw: Buffer }>();
      const lock = await client.getMailboxLock(folder);
      try {
        if ((client.mailbox && client.mailbox.exists) === 0) return out;
        for await (const m of client.fetch('1:*', { uid: true, flags: true, source: true })) {
          out.set(subjectOf(m.source!) ?? String(m.uid), {
            uid: m.uid,
            flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort(),
            raw: m.source!,
          });
        }
      } finally {
        lock.release();
      }
      return out;
    } finally {
      await client.logout();
    }
  };

  const expectNothingToDo = async (when: string) => {
    const filesBefore = snapshot(mailRoot);
    const serverBefore = await serverState();
    const { result, commands } = await sync();
    expect(result.code, describeRun(`mbsync (${when})`, result)).toBe(0);
    expect(commands.length, `${when}: mbsync sent no commands?\n${result.text}`).toBeGreaterThan(0);
    expect(
      commands.filter((command) => !READ_ONLY_COMMAND.test(command)),
      `${when}: a sync with nothing to do wrote something`,
    ).toEqual([]);
    expect(snapshot(mailRoot), `${when}: the Maildir changed`).toEqual(filesBefore);
    expect(await serverState(), `${when}: the server changed`).toEqual(serverBefore);
  };

  it('first run: copies every folder down and the offline folder up', async () => {
    const { result, commands } = await sync();
    expect(result.code, describeRun('mbsync (first run)', result)).toBe(0);
    expect(commands).toContain('CREATE "Offline"');

    const inbox = nearFolder(mailRoot, 'INBOX');
    expect([...inbox.keys()].sort()).toEqual(['pop3 one', 'pop3 three', 'pop3 two']);
    for (const raw of POP3_MAIL) {
      const near = inbox.get(subjectOf(raw)!)!;
      // Maildir stores LF line ends; the bytes are otherwise the POP3 message's.
      expect(withoutTuid(near.raw).equals(toLf(raw)), subjectOf(raw)).toBe(true);
      expect(near.flags, 'unread mail stays unread').toBe('');
    }
    for (const { folder, raw, flags } of SERVER_FOLDERS) {
      const near = nearFolder(mailRoot, folder).get(subjectOf(raw)!);
      expect(near, `${folder}: ${subjectOf(raw)}`).toBeDefined();
      expect(withoutTuid(near!.raw).equals(toLf(raw)), `${folder}: ${subjectOf(raw)}`).toBe(true);
      const expectedFlags = flags
        .map((flag) => ({ '\\Seen': 'S', '\\Flagged': 'F', '\\Draft': 'D' })[flag])
        .sort()
        .join('');
      expect(near!.flags, `${folder}: ${subjectOf(raw)}`).toBe(expectedFlags);
    }
    expect(nearFolder(mailRoot, 'Trash').size).toBe(0);
    expect(nearFolder(mailRoot, 'Junk').size).toBe(0);

    const offline = await serverFolder('Offline');
    expect([...offline.keys()]).toEqual(['written offline']);
    expect(
      withoutTuid(offline.get('written offline')!.raw).equals(Buffer.from(LOCAL_ONLY.toString('latin1').replace(/\n/g, '\r\n'), 'latin1')),
    ).toBe(true);
  });

  it('second run: nothing to do', async () => {
    await expectNothingToDo('second run');
  });

  it('pushes local changes: a flag, a move to another folder, a deletion', async () => {
    const inbox = nearFolder(mailRoot, 'INBOX');
    addNearFlag(inbox.get('pop3 one')!.file, 'F');
    // A move in a Maildir is a rename into the other folder, minus mbsync's ",U=<uid>" (see mbsync(1)).
    const moved = inbox.get('pop3 two')!.file;
    fs.renameSync(
      moved,
      path.join(
        mailRoot,
        'Projects',
        'cur',
        `${path
          .basename(moved)
          .replace(/,U=\d+/, '')
          .replace(/:2,.*$/, '')}:2,S`,
      ),
    );
    fs.rmSync(nearFolder(mailRoot, 'Projects/2026').get('project 2026')!.file);

    const { result, commands } = await sync();
    expect(result.code, describeRun('mbsync (push)', result)).toBe(0);
    expect(
      commands.some((command) => /^APPEND "Projects" /.test(command)),
      commands.join('\n'),
    ).toBe(true);

    const serverInbox = await serverFolder('INBOX');
    expect([...serverInbox.keys()].sort()).toEqual(['pop3 one', 'pop3 three']);
    expect(serverInbox.get('pop3 one')!.flags).toEqual(['\\Flagged']);
    expect(serverInbox.get('pop3 three')!.flags).toEqual([]);
    const projects = await serverFolder('Projects');
    expect([...projects.keys()].sort()).toEqual(['pop3 two', 'project budget', 'project plan']);
    expect(projects.get('pop3 two')!.flags).toEqual(['\\Seen']);
    expect(withoutTuid(projects.get('pop3 two')!.raw).equals(POP3_MAIL[1])).toBe(true);
    expect((await serverFolder('Projects/2026')).size).toBe(0);
  });

  it('then has nothing to do again', async () => {
    await expectNothingToDo('after the push');
  });

  it('pulls server changes: new POP3 mail, flags set and a message deleted by another client', async () => {
    await bridge.lab!.injectMessage(bridge.address, LATE_POP3_MAIL);
    // INBOX held 2 after the move: the new mail makes 3.
    await waitForInboxCount(bridge, 3);
    const client = bridge.imapflow();
    await client.connect();
    try {
      const lock = await client.getMailboxLock('INBOX');
      try {
        const [uid] = (await client.search({ subject: 'pop3 three' }, { uid: true })) || [];
        expect(uid).toBeGreaterThan(0);
        await client.messageFlagsAdd(String(uid), ['\\Seen', '\\Answered'], { uid: true });
      } finally {
        lock.release();
      }
      const sent = await client.getMailboxLock('Sent');
      try {
        expect(await client.messageDelete('1:*')).toBe(true);
      } finally {
        sent.release();
      }
    } finally {
      await client.logout();
    }

    const { result } = await sync();
    expect(result.code, describeRun('mbsync (pull)', result)).toBe(0);
    const inbox = nearFolder(mailRoot, 'INBOX');
    expect([...inbox.keys()].sort()).toEqual(['pop3 four, arriving later', 'pop3 one', 'pop3 three']);
    expect(withoutTuid(inbox.get('pop3 four, arriving later')!.raw).equals(toLf(LATE_POP3_MAIL))).toBe(true);
    expect(inbox.get('pop3 three')!.flags).toBe('RS');
    expect(inbox.get('pop3 one')!.flags).toBe('F');
    expect(nearFolder(mailRoot, 'Sent').size, 'the deletion on the server reached the Maildir').toBe(0);
  });

  it('and finally has nothing to do once more', async () => {
    await expectNothingToDo('after the pull');
  });
});
