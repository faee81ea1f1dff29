/**
 * Real POP3 clients against hotbridge's own POP3 server (the daemon, `hotbridge run`): Python's poplib,
 * curl's pop3:// URLs, fetchmail into a maildir (with and without `keep`), getmail6 and mutt. Mail gets
 * into the INBOX the way a user's other program would put it there, by IMAP APPEND (imapflow), and every
 * awkward message (leading dots, a lone ".", 8-bit bytes, long lines, 3 MB) must come out of RETR byte
 * for byte (CRLF as stored; a bare LF goes out as CRLF, RFC 1939 §3). The account needs no upstream: it
 * points at a closed port.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeRun, requireTool, runTool, startCompatBridge, waitUntil, type CompatBridge } from '../helpers/clients.js';
import { runCli } from '../helpers/cli.js';
import { awkwardMessages, simpleMessage, toCrlf } from '../helpers/messages.js';

const POPLIB = path.resolve(__dirname, '../helpers/poplib_client.py');
const cleanup: string[] = [];

function nobodyIds(): { uid: number; gid: number } {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('nobody:'));
  if (!line) throw new Error('no user nobody in /etc/passwd');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

describe('POP3 clients against the hotbridge daemon', () => {
  let bridge: CompatBridge;
  let python: string;
  let curl: string;

  beforeAll(async () => {
    python = await requireTool('python3', 'python3');
    curl = await requireTool('curl', 'curl');
    bridge = await startCompatBridge({ lab: false });
  });

  afterAll(async () => {
    await bridge?.stop();
    for (const dir of cleanup) fs.rmSync(dir, { recursive: true, force: true });
  });

  const port = () => bridge.config.pop3Port;

  /** Empties INBOX over IMAP, then APPENDs the messages in order. */
  async function setInbox(messages: Buffer[]): Promise<void> {
    const client = bridge.imapflow();
    await client.connect();
    try {
      const lock = await client.getMailboxLock('INBOX');
      try {
        if ((client.mailbox && client.mailbox.exists) || 0) await client.messageDelete('1:*');
      } finally {
        lock.release();
      }
      for (const raw of messages) await client.append('INBOX', raw);
    } finally {
      await client.logout();
    }
  }

  async function inboxCount(): Promise<number> {
    const client = bridge.imapflow();
    await client.connect();
    try {
      const status = await client.status('INBOX', { messages: true });
      return status === false ? -1 : (status.messages ?? -1);
    } finally {
      await client.logout();
    }
  }

  async function poplib(
    mode: 'plain' | 'dele' | 'stls',
    extra: string[] = [],
    portNumber = port(),
  ): Promise<Record<string, unknown> & { out: string }> {
    const out = fs.mkdtempSync(path.join(bridge.dir, 'poplib-'));
    const result = await runTool(python, [POPLIB, mode, '127.0.0.1', String(portNumber), bridge.address, bridge.password, out, ...extra], {
      timeoutMs: 60_000,
    });
    expect(result.code, describeRun('poplib', result)).toBe(0);
    return { ...(JSON.parse(result.text) as Record<string, unknown>), out };
  }

  describe('every awkward message, IMAP APPEND -> POP3 RETR, byte for byte', () => {
    const corpus = awkwardMessages();
    const expected = corpus.map(({ raw }) => toCrlf(raw));

    beforeAll(async () => {
      await setInbox(corpus.map(({ raw }) => raw));
    });

    it('Python poplib: LIST sizes are the octets RETR gives, UIDL stable, TOP, APOP refused cleanly', async () => {
      const seen = await poplib('plain');
      expect(seen.welcome).toBe('+OK hotbridge POP3 ready');
      expect(seen.capa).toEqual([
        'AUTH-RESP-CODE',
        'CAPA',
        'EXPIRE',
        'IMPLEMENTATION',
        'PIPELINING',
        'RESP-CODES',
        'SASL',
        'TOP',
        'UIDL',
        'USER',
      ]);
      // poplib itself declines APOP (no timestamp in the greeting); sent anyway, the server says -ERR and goes on.
      expect(seen.apop).toBe('-ERR APOP not supported by server');
      expect(seen.apop_command).toBe('-ERR APOP is not supported: use USER and PASS, or AUTH PLAIN');
      expect(seen.stat).toEqual([corpus.length, expected.reduce((sum, raw) => sum + raw.length, 0)]);
      expect(seen.list).toEqual(expected.map((raw, i) => `${i + 1} ${raw.length}`));
      corpus.forEach(({ name }, i) => {
        const got = fs.readFileSync(path.join(seen.out, `${i + 1}.eml`));
        expect(got.equals(expected[i]), `${name}: RETR differs from what was appended`).toBe(true);
      });
      const uidls = seen.uidl as string[];
      expect(new Set(uidls.map((line) => line.split(' ')[1])).size).toBe(corpus.length);
      expect(seen.uidl1).toBe(`+OK ${uidls[0]}`);
      // TOP 1 0: the header and the empty line after it.
      const header = expected[0]
        .subarray(0, expected[0].indexOf('\r\n\r\n') + 2)
        .toString('latin1')
        .split('\r\n')
        .slice(0, -1);
      expect(seen.top).toEqual([...header, '']);
      expect(seen.quit).toBe('+OK Logging out');
      // The same UIDLs at the next session.
      expect((await poplib('plain')).uidl).toEqual(uidls);
    });

    it('curl pop3://: LIST, then each message by number, byte for byte', async () => {
      const base = `pop3://127.0.0.1:${port()}/`;
      const list = await runTool(curl, [
        '--silent',
        '--show-error',
        '--max-time',
        '30',
        '--user',
        `${bridge.address}:${bridge.password}`,
        base,
      ]);
      expect(list.code, describeRun('curl LIST', list)).toBe(0);
      expect(list.text.trim().split(/\r?\n/)).toEqual(expected.map((raw, i) => `${i + 1} ${raw.length}`));
      for (let i = 0; i < corpus.length; i++) {
        const retr = await runTool(curl, [
          '--silent',
          '--show-error',
          '--max-time',
          '30',
          '--user',
          `${bridge.address}:${bridge.password}`,
          `${base}${i + 1}`,
        ]);
        expect(retr.code, describeRun(`curl RETR ${i + 1}`, retr)).toBe(0);
        expect(retr.stdout.equals(expected[i]), `${corpus[i].name}: curl got other bytes`).toBe(true);
      }
    });
  });

  describe('deleting', () => {
    beforeEach(async () => {
      await setInbox([simpleMessage(1), simpleMessage(2), simpleMessage(3)]);
    });

    it('DELE then QUIT removes the message from the INBOX that IMAP sees', async () => {
      const seen = await poplib('dele');
      expect(seen.dele).toBe('+OK Message 1 deleted');
      expect(seen.quit).toBe('+OK Logging out, 1 message deleted');
      expect(await inboxCount()).toBe(2);
    });

    it('fetchmail into a maildir: with keep nothing is deleted (a second run fetches nothing new), without keep everything is', async () => {
      const fetchmail = await requireTool('fetchmail', 'fetchmail');
      const run = async (keep: boolean) => {
        const dir = fs.mkdtempSync(path.join(bridge.dir, 'fetchmail-'));
        const maildir = path.join(dir, 'Maildir');
        for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(maildir, sub), { recursive: true });
        const rc = path.join(dir, 'fetchmailrc');
        fs.writeFileSync(
          rc,
          [
            'set no bouncemail',
            // `sslproto ''`: plain POP3 on loopback; fetchmail 6.4 otherwise insists on STLS.
            `poll 127.0.0.1 proto pop3 service ${port()} uidl`,
            `  user "${bridge.address}" there with password "${bridge.password}" is root here`,
            `  ${keep ? 'keep' : 'nokeep'} no rewrite sslproto ''`,
            `  mda "cat > ${maildir}/new/m.$$"`,
            '',
          ].join('\n'),
          { mode: 0o600 },
        );
        const idfile = path.join(bridge.dir, `fetchmail-ids-${keep}`);
        const args = ['-f', rc, '-N', '--nosyslog', '--pidfile', path.join(dir, 'pid'), '--idfile', idfile];
        const result = await runTool(fetchmail, args, { env: { HOME: dir }, timeoutMs: 60_000 });
        return {
          result,
          files: fs.readdirSync(path.join(maildir, 'new')).map((name) => fs.readFileSync(path.join(maildir, 'new', name), 'latin1')),
          again: () => runTool(fetchmail, args, { env: { HOME: dir }, timeoutMs: 60_000 }),
        };
      };
      const kept = await run(true);
      expect(kept.result.code, describeRun('fetchmail keep', kept.result)).toBe(0);
      expect(kept.files).toHaveLength(3);
      for (const n of [1, 2, 3]) expect(kept.files.some((text) => text.includes(`Subject: Test message ${n}\n`))).toBe(true);
      expect(await inboxCount()).toBe(3);
      // fetchmail exits 1 when there was no new mail: the UIDLs it saw did not change.
      const second = await kept.again();
      expect(second.code, describeRun('fetchmail again', second)).toBe(1);
      const moved = await run(false);
      expect(moved.result.code, describeRun('fetchmail nokeep', moved.result)).toBe(0);
      expect(moved.files).toHaveLength(3);
      expect(await inboxCount()).toBe(0);
    });

    it('getmail6 into a maildir: delete = false leaves the mail, delete = true removes it', async () => {
      const getmail = await requireTool('getmail', 'getmail6');
      // getmail refuses to deliver as root: then it delivers as nobody, into a maildir nobody owns.
      const asRoot = process.getuid?.() === 0;
      const nobody = asRoot ? nobodyIds() : undefined;
      const run = async (remove: boolean) => {
        const dir = fs.mkdtempSync(path.join('/tmp', 'hotbridge-getmail-'));
        cleanup.push(dir);
        fs.chmodSync(dir, 0o755);
        const maildir = path.join(dir, 'Maildir');
        for (const sub of ['new', 'cur', 'tmp']) {
          fs.mkdirSync(path.join(maildir, sub), { recursive: true });
          if (nobody) fs.chownSync(path.join(maildir, sub), nobody.uid, nobody.gid);
        }
        if (nobody) fs.chownSync(maildir, nobody.uid, nobody.gid);
        fs.writeFileSync(
          path.join(dir, 'getmailrc'),
          [
            '[retriever]',
            'type = SimplePOP3Retriever',
            'server = 127.0.0.1',
            `port = ${port()}`,
            `username = ${bridge.address}`,
            `password = ${bridge.password}`,
            '[destination]',
            'type = Maildir',
            `path = ${maildir}/`,
            ...(nobody ? ['user = nobody'] : []),
            '[options]',
            'read_all = true',
            `delete = ${remove}`,
            'verbose = 1',
            '',
          ].join('\n'),
        );
        const result = await runTool(getmail, ['--getmaildir', dir, '--rcfile', 'getmailrc'], { env: { HOME: dir }, timeoutMs: 60_000 });
        expect(result.code, describeRun('getmail', result)).toBe(0);
        return fs.readdirSync(path.join(maildir, 'new')).map((name) => fs.readFileSync(path.join(maildir, 'new', name), 'latin1'));
      };
      expect(await run(false)).toHaveLength(3);
      expect(await inboxCount()).toBe(3);
      const fetched = await run(true);
      expect(fetched).toHaveLength(3);
      for (const n of [1, 2, 3]) expect(fetched.some((text) => text.includes(`Subject: Test message ${n}`))).toBe(true);
      expect(await inboxCount()).toBe(0);
    });

    it("mutt's POP3 support: fetch-mail copies the mail into a local mbox and, with pop_delete, removes it here", async () => {
      const mutt = await requireTool('mutt', 'mutt');
      await requireTool('script', 'bsdutils');
      const dir = fs.mkdtempSync(path.join(bridge.dir, 'mutt-'));
      const spool = path.join(dir, 'inbox.mbox');
      fs.writeFileSync(
        path.join(dir, 'muttrc'),
        [
          `set pop_host = "pop://${bridge.address}@127.0.0.1:${port()}/"`,
          `set pop_pass = "${bridge.password}"`,
          'set pop_delete = yes',
          'set ssl_starttls = no',
          'set ssl_force_tls = no',
          `set spoolfile = "${spool}"`,
          `set folder = "${dir}"`,
          'set mbox_type = mbox',
          'set confirmcreate = no',
          'set quit = yes',
          'set move = no',
          '',
        ].join('\n'),
      );
      fs.writeFileSync(spool, '');
      // mutt needs a terminal: `script` gives it one; it fetches, then quits.
      const command = `${mutt} -n -F ${path.join(dir, 'muttrc')} -e 'push "<fetch-mail><quit>"'`;
      const result = await runTool('script', ['-qec', command, '/dev/null'], {
        env: { HOME: dir, TERM: 'vt100', COLUMNS: '80', LINES: '24' },
        timeoutMs: 60_000,
      });
      expect(result.signal, describeRun('mutt', result)).toBeNull();
      await waitUntil(
        'mutt to have written the mbox',
        async () => (fs.readFileSync(spool, 'latin1').match(/^From /gm) ?? []).length === 3,
        10_000,
      );
      const mbox = fs.readFileSync(spool, 'latin1');
      for (const n of [1, 2, 3]) expect(mbox).toContain(`Subject: Test message ${n}`);
      expect(await inboxCount()).toBe(0);
    });
  });

  describe('STLS with the certificate of `hotbridge cert`', () => {
    let tlsBridge: CompatBridge;
    beforeAll(async () => {
      tlsBridge = await startCompatBridge({
        lab: false,
        beforeStart: async (config) => {
          const made = await runCli(['cert', '--config', config.file]);
          expect(made.code, made.stderr).toBe(0);
        },
      });
    });
    afterAll(async () => {
      await tlsBridge?.stop();
    });

    it('poplib stls() verifies the certificate against the exported CA and logs in inside TLS', async () => {
      const exported = await runCli(['cert', 'export', '--dir', tlsBridge.dir, '--config', tlsBridge.config.file]);
      expect(exported.code, exported.stderr).toBe(0);
      expect(exported.stdout).toMatch(/SHA-256 fingerprint: ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
      const out = fs.mkdtempSync(path.join(tlsBridge.dir, 'poplib-'));
      const result = await runTool(
        python,
        [
          POPLIB,
          'stls',
          'localhost',
          String(tlsBridge.config.pop3Port),
          tlsBridge.address,
          tlsBridge.password,
          out,
          path.join(tlsBridge.dir, 'hotbridge-ca.pem'),
        ],
        { timeoutMs: 60_000 },
      );
      expect(result.code, describeRun('poplib stls', result)).toBe(0);
      const seen = JSON.parse(result.text) as Record<string, unknown>;
      expect(seen.capa).toContain('STLS');
      expect(seen.stls).toBe('+OK Begin TLS negotiation now');
      expect(seen.cipher).toMatch(/^TLSv1\.[23]$/);
      expect(seen.capa_after).not.toContain('STLS');
      expect(seen.pass).toBe('+OK Logged in, 0 messages');
      expect(seen.stat).toEqual([0, 0]);
    });
  });
});
