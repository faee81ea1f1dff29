// Issue 11's fixes seen from real, independent clients against a real server: Python's imaplib, curl and
// imapflow. The pattern that froze the daemon gets an answer and others are served meanwhile; a name that
// is not modified UTF-7 gets NO and the session goes on; SEARCH FROM finds every way of writing an
// address; ESEARCH (RFC 4731) is offered and its answers parse; twenty bad commands in a row end the
// session with BYE, which the client sees as the server closing.
import fs from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, requireTool, runTool } from '../helpers/clients.js';
import { LineClient, PASSWORD, startTestServer, USER, type TestServer } from '../helpers/imap-server.js';
import { crlfLines } from '../helpers/messages.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const FREEZER = `${'*%'.repeat(40)}x`;

/** The same address, written six ways (imaptest's search-addresses messages, in our words), and one without it. */
const ADDRESS_MESSAGES = [
  ['From: ann@example.org', 'Subject: plain'],
  ['From: Ann Example <ann@example.org>', 'Subject: display name'],
  ['From: <ann (comment)@ (another) example.org>', 'Subject: comments inside'],
  ['From: ann@example.org (Ann Example)', 'Subject: trailing comment'],
  ['From: bob@example.org', 'Subject: someone else'],
  ['From: =?UTF-8?Q?Ann_Ex=C3=A4mple?= <ann@example.org>', 'Subject: encoded word'],
  ['From: crew: bob@example.org, Ann <ann@example.org>;', 'Subject: in a group'],
].map((header) => crlfLines([...header, 'To: alice@example.test', '', 'body']));

const IMAPLIB_SCRIPT = String.raw`
import imaplib, json, sys, time
host, port, user, password, freezer = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
out = {}
# imaplib only sends the commands it knows; a made-up one for the "bad commands" part.
imaplib.Commands["XBOGUS"] = ("AUTH", "SELECTED")
imap = imaplib.IMAP4(host, port)
imap.login(user, password)
out["capabilities"] = imap.capability()[1][0].decode().split()
started = time.time()
out["freezer"] = [imap.list('""', '"' + freezer + '"')[0]]
out["select_bad_utf7"] = imap.select('"&Jjo"')[0]
out["create_dotdot"] = imap.create("a/../b")[0]
imap.select("INBOX")
out["search_from"] = imap.search(None, "FROM", "ann@example.org")[1][0].decode()
typ, data = imap._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT)", "FROM", "ann@example.org")
out["esearch"] = [typ, [d.decode() for d in imap._untagged_response(typ, data, "ESEARCH")[1] if d]]
bad = 0
try:
    for i in range(25):
        try:
            imap._simple_command("XBOGUS")
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error:
            bad += 1
    out["after_bad"] = "still open"
except imaplib.IMAP4.abort as e:
    out["after_bad"] = "closed: " + str(e)
out["bad_answers"] = bad
print(json.dumps(out))
`;

let dir: string;
let server: TestServer;

beforeAll(async () => {
  dir = tempDir('hotbridge-hostile-clients-');
  server = await startTestServer();
  const inbox = server.store.findMailbox(USER, 'INBOX')!;
  for (const raw of ADDRESS_MESSAGES) await server.store.appendMessage(inbox.id, raw);
  // Enough folders that a backtracking matcher would take minutes over them.
  for (let i = 0; i < 50; i++) await server.store.createMailbox(USER, `Folder ${i}/${'a'.repeat(60)}`);
});

afterAll(async () => {
  await server?.destroy();
  if (dir) removeDir(dir);
});

describe('real clients', () => {
  it('python imaplib: the freezing pattern, a bad name, SEARCH FROM, ESEARCH, and BYE after twenty bad commands', async () => {
    const python = await requireTool('python3', 'python3');
    const script = path.join(dir, 'hostile.py');
    fs.writeFileSync(script, IMAPLIB_SCRIPT);
    // Another client is served while the pattern is matched (a frozen loop would not answer it).
    const bystander = await LineClient.connect(server.port);
    expect(await bystander.readLine()).toMatch(/^\* OK/);
    const running = runTool(python, [script, server.host, String(server.port), USER, PASSWORD, FREEZER], { timeoutMs: 60_000 });
    expect(await bystander.command('b1', 'CAPABILITY')).toHaveLength(2);
    bystander.close();
    const result = await running;
    expect(result.code, describeRun('imaplib', result)).toBe(0);
    const out = JSON.parse(result.text) as Record<string, unknown>;
    expect(out.capabilities).toContain('ESEARCH');
    expect(out.freezer).toEqual(['OK']);
    expect(out.select_bad_utf7).toBe('NO');
    expect(out.create_dotdot).toBe('NO');
    expect(out.search_from).toBe('1 2 3 4 6 7');
    expect(out.esearch).toEqual(['OK', [expect.stringMatching(/^\(TAG "\w+"\) MIN 1 MAX 7 COUNT 6$/)]]);
    // Twenty BAD answers, then the BYE: imaplib reads it with the next command and reports the close.
    expect(out.bad_answers).toBe(20);
    expect(out.after_bad).toMatch(/^closed: /);
  });

  it('curl: LIST with the freezing pattern answers, and the listing still works', async () => {
    const curl = await requireTool('curl', 'curl');
    const url = `imap://${server.host}:${server.port}/`;
    const frozen = await runTool(curl, ['-s', '--max-time', '30', '-u', `${USER}:${PASSWORD}`, url, '-X', `LIST "" "${FREEZER}"`]);
    expect(frozen.code, describeRun('curl', frozen)).toBe(0);
    expect(frozen.text).toBe('');
    const listing = await runTool(curl, ['-s', '--max-time', '30', '-u', `${USER}:${PASSWORD}`, url, '-X', 'LIST "" "Folder 1*"']);
    expect(listing.code, describeRun('curl', listing)).toBe(0);
    expect(
      listing.text
        .trim()
        .split('\n')
        .filter((line) => /"Folder 1\d*"$/.test(line.trim())),
    ).toHaveLength(11);
  });

  it('imapflow: ESEARCH results, the address search, and RECENT after an expunge parse', async () => {
    const client = new ImapFlow({
      host: server.host,
      port: server.port,
      secure: false,
      auth: { user: USER, pass: PASSWORD },
      logger: false,
    });
    await client.connect();
    try {
      const lock = await client.getMailboxLock('INBOX');
      try {
        const result = await client.search({ from: 'ann@example.org' }, { uid: true, returnOptions: ['min', 'max', 'count', 'all'] });
        expect(result).toEqual(expect.objectContaining({ min: 1, max: 7, count: 6, all: '1:4,6:7' }));
        expect(await client.search({ from: 'ann@example.org' })).toEqual([1, 2, 3, 4, 6, 7]);
        expect(await client.messageDelete('5')).toBe(true);
        expect(client.mailbox && client.mailbox.exists).toBe(6);
        expect(await client.search({ from: 'bob@example.org' })).toEqual([6]);
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
  });
});
