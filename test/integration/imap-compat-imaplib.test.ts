/**
 * Python's imaplib (the standard library's IMAP4 client) runs one scripted session against the real
 * daemon, with mail that came in over POP3 from the lab: LOGIN, LIST, SELECT, SEARCH, FETCH (RFC822,
 * BODY.PEEK[HEADER], BODYSTRUCTURE), STORE, COPY, EXPUNGE, LOGOUT. The same script then runs against
 * the lab's Dovecot IMAP holding the same messages: where RFC 3501 leaves room, Dovecot is the
 * reference, and the two sessions must see answers of the same shape.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, requireTool, runTool, startCompatBridge, waitForInboxCount, type CompatBridge } from '../helpers/clients.js';
import { LAB_USERS } from '../helpers/lab.js';
import { crlfLines } from '../helpers/messages.js';

// The session, written as a plain imaplib user would; it prints what every step answered as JSON.
// Literals in responses come back as [prefix, bytes]; bytes that must match are reported as a sha256.
const SESSION_SCRIPT = String.raw`
import hashlib, imaplib, json, sys

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
out = {}

def text(data):
    res = []
    for item in data:
        if item is None:
            res.append(None)
        elif isinstance(item, tuple):
            res.append([item[0].decode("latin-1"), hashlib.sha256(item[1]).hexdigest(), len(item[1])])
        else:
            res.append(item.decode("latin-1"))
    return res

def step(name, call):
    try:
        typ, data = call()
    except imaplib.IMAP4.error as e:
        out[name] = {"typ": "error", "data": [str(e)]}
        return
    out[name] = {"typ": typ, "data": text(data)}

imap = imaplib.IMAP4(host, port)
out["greeting"] = imap.welcome.decode("latin-1")
step("login", lambda: imap.login(user, password))
step("list", lambda: imap.list())
step("create_trash", lambda: imap.create("Trash"))
step("select", lambda: imap.select("INBOX"))
out["select_untagged"] = {k: text(v) for k, v in imap.untagged_responses.items()}
step("search_all", lambda: imap.search(None, "ALL"))
step("search_subject", lambda: imap.search(None, "SUBJECT", '"nested"'))
step("search_unseen", lambda: imap.search(None, "UNSEEN"))
step("uid_search_from", lambda: imap.uid("SEARCH", "FROM", '"sender@example.org"'))
step("fetch_meta", lambda: imap.fetch("1:*", "(RFC822.SIZE FLAGS)"))
step("fetch_rfc822", lambda: imap.fetch("1", "(RFC822)"))
step("fetch_header", lambda: imap.fetch("2", "(BODY.PEEK[HEADER])"))
step("fetch_bodystructure", lambda: imap.fetch("2", "(BODYSTRUCTURE)"))
step("flags_after_fetches", lambda: imap.fetch("1:3", "(FLAGS)"))
step("store", lambda: imap.store("2", "+FLAGS", r"(\Flagged)"))
step("copy", lambda: imap.copy("2", "Trash"))
step("store_deleted", lambda: imap.store("3", "+FLAGS.SILENT", r"(\Deleted)"))
step("expunge", lambda: imap.expunge())
step("search_after_expunge", lambda: imap.search(None, "ALL"))
step("select_trash", lambda: imap.select("Trash"))
step("trash_fetch", lambda: imap.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
step("close", lambda: imap.close())
step("logout", lambda: imap.logout())
print(json.dumps(out))
`;

const MESSAGES = [
  crlfLines([
    'From: Sender <sender@example.org>',
    'To: alice@example.test',
    'Subject: first, plain',
    'Date: Fri, 27 Nov 2026 06:00:00 +0000',
    'Message-ID: <imaplib-1@example.org>',
    '',
    'Hello one.',
    '.a line with a leading dot',
  ]),
  crlfLines([
    'From: nested@example.test',
    'To: alice@example.test',
    'Subject: nested multiparts',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: multipart/alternative; boundary="b2"',
    '',
    '--b2',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'plain',
    '--b2',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    '<p>Gr=C3=BC=C3=9Fe</p>',
    '--b2--',
    '--b1',
    'Content-Type: application/pdf; name="report.pdf"',
    'Content-Disposition: attachment; filename="report.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    'JVBERi0xLjQK',
    '--b1--',
  ]),
  crlfLines(['From: Sender <sender@example.org>', 'Subject: third, to be expunged', '', 'Three.']),
];
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const headerOf = (raw: Buffer) => raw.subarray(0, raw.indexOf('\r\n\r\n') + 4);

interface StepResult {
  typ: string;
  data: Array<string | [string, string, number] | null>;
}
type Session = Record<string, StepResult> & { greeting: string; select_untagged: Record<string, StepResult['data']> };

describe('Python imaplib against the hotbridge daemon', () => {
  let bridge: CompatBridge;
  let python: string;
  let hotbridge: Session;

  const runSession = async (port: number, user: string, password: string): Promise<Session> => {
    const result = await runTool(python, ['-', '127.0.0.1', String(port), user, password], { input: SESSION_SCRIPT, timeoutMs: 30_000 });
    expect(result.code, describeRun('python3 imaplib session', result)).toBe(0);
    return JSON.parse(result.text) as Session;
  };

  beforeAll(async () => {
    python = await requireTool('python3', 'python3');
    bridge = await startCompatBridge({ lab: { imap: true } });
    const lab = bridge.lab!;
    // alice's copies reach hotbridge over POP3; bob's stay in Dovecot for the reference session.
    await lab.injectMessages(LAB_USERS.alice.user, MESSAGES);
    await lab.injectMessages(LAB_USERS.bob.user, MESSAGES);
    await waitForInboxCount(bridge, MESSAGES.length);
  });

  afterAll(async () => {
    await bridge?.stop();
  });

  it('runs a whole session: every command answers OK with what the messages hold', async () => {
    hotbridge = await runSession(bridge.config.imapPort, bridge.address, bridge.password);
    const s = hotbridge;
    expect(s.greeting).toMatch(/^\* OK /);
    expect(s.login.typ).toBe('OK');
    expect(s.list.typ).toBe('OK');
    expect(s.list.data).toEqual(
      expect.arrayContaining([
        '(\\HasNoChildren) "/" "INBOX"',
        '(\\HasNoChildren \\Sent) "/" "Sent"',
        '(\\HasNoChildren \\Trash) "/" "Trash"',
      ]),
    );
    // Trash is a default folder: CREATE says so with the RFC 5530 code, as Dovecot does for any existing name.
    expect(s.create_trash).toEqual({ typ: 'NO', data: [expect.stringMatching(/^\[ALREADYEXISTS\]/)] });
    expect(s.select).toEqual({ typ: 'OK', data: ['3'] });
    expect(s.select_untagged.UNSEEN).toEqual(['1']);
    expect(s.select_untagged.UIDNEXT).toEqual(['4']);
    expect(s.select_untagged['READ-WRITE']).toBeDefined();
    expect(s.search_all).toEqual({ typ: 'OK', data: ['1 2 3'] });
    expect(s.search_subject).toEqual({ typ: 'OK', data: ['2'] });
    expect(s.search_unseen).toEqual({ typ: 'OK', data: ['1 2 3'] });
    expect(s.uid_search_from).toEqual({ typ: 'OK', data: ['1 3'] });
    // This is the first session to see the POP3 mail, so it is \Recent here (RFC 3501 §2.3.2).
    expect(s.select_untagged.RECENT).toEqual(['3']);
    expect(s.fetch_meta.data).toEqual(MESSAGES.map((raw, i) => `${i + 1} (RFC822.SIZE ${raw.length} FLAGS (\\Recent))`));

    // FETCH RFC822 returns the POP3-delivered bytes exactly, and (RFC 3501 §6.4.5) sets \Seen; PEEK does not.
    expect(s.fetch_rfc822.typ).toBe('OK');
    const [literal, ...rest] = s.fetch_rfc822.data;
    expect(literal).toEqual([expect.stringMatching(/^1 \((FLAGS \([^)]*\) )?RFC822 \{\d+\}$/), sha256(MESSAGES[0]), MESSAGES[0].length]);
    expect([(literal as [string, string, number])[0], ...rest].join('')).toMatch(/FLAGS \(\\Seen \\Recent\)/);
    expect(s.fetch_header.data[0]).toEqual([
      expect.stringMatching(/^2 \(BODY\[HEADER\] \{\d+\}$/),
      sha256(headerOf(MESSAGES[1])),
      headerOf(MESSAGES[1]).length,
    ]);
    expect(s.fetch_bodystructure.data[0]).toBe(
      '2 (BODYSTRUCTURE ((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL)' +
        '("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 22 0 NIL NIL NIL NIL) "alternative" ("boundary" "b2") NIL NIL NIL)' +
        '("application" "pdf" ("name" "report.pdf") NIL NIL "base64" 12 NIL ("attachment" ("filename" "report.pdf")) NIL NIL)' +
        ' "mixed" ("boundary" "b1") NIL NIL NIL))',
    );
    expect(s.flags_after_fetches.data).toEqual(['1 (FLAGS (\\Seen \\Recent))', '2 (FLAGS (\\Recent))', '3 (FLAGS (\\Recent))']);

    expect(s.store).toEqual({ typ: 'OK', data: ['2 (FLAGS (\\Flagged \\Recent))'] });
    expect(s.copy.typ).toBe('OK');
    expect(s.copy.data[0]).toMatch(/^\[COPYUID \d+ 2 1\]/);
    expect(s.store_deleted).toEqual({ typ: 'OK', data: [null] });
    expect(s.expunge).toEqual({ typ: 'OK', data: ['3'] });
    expect(s.search_after_expunge).toEqual({ typ: 'OK', data: ['1 2'] });
    expect(s.select_trash).toEqual({ typ: 'OK', data: ['1'] });
    expect(s.trash_fetch.typ).toBe('OK');
    expect(s.trash_fetch.data[0]).toEqual([
      expect.stringMatching(/^1 \(FLAGS \((\\Flagged \\Recent|\\Recent \\Flagged)\) BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}$/),
      expect.any(String),
      'Subject: nested multiparts\r\n\r\n'.length,
    ]);
    expect(s.close.typ).toBe('OK');
    expect(s.logout.typ).toBe('BYE');
  });

  it('answers in the same shape as Dovecot does for the same session on the same messages', async () => {
    expect(hotbridge, 'the hotbridge session above must have run').toBeDefined();
    const dovecot = await runSession(bridge.lab!.imapPort!, LAB_USERS.bob.user, LAB_USERS.bob.password);
    // Human-readable texts after the response code differ ("COPY completed" vs "Copy completed (0.001 secs)."),
    // and so do UIDVALIDITY values: compare what a client acts on.
    const codeOnly = (line: string | [string, string, number] | null) =>
      typeof line === 'string'
        ? line.replace(/^(\[[^\]]*\]).*$/, '$1').replace(/UIDVALIDITY \d+|COPYUID \d+/g, (m) => m.replace(/\d+/, 'N'))
        : line;
    const sameSteps = [
      'select',
      'search_all',
      'search_subject',
      'search_unseen',
      'uid_search_from',
      'fetch_meta',
      'fetch_header',
      'fetch_bodystructure',
      'flags_after_fetches',
      'store',
      'copy',
      'store_deleted',
      'expunge',
      'search_after_expunge',
      'select_trash',
      'trash_fetch',
    ];
    for (const step of sameSteps) {
      expect({ step, typ: hotbridge[step].typ, data: hotbridge[step].data.map(codeOnly) }).toEqual({
        step,
        typ: dovecot[step].typ,
        data: dovecot[step].data.map(codeOnly),
      });
    }
    expect([hotbridge.close.typ, hotbridge.logout.typ]).toEqual([dovecot.close.typ, dovecot.logout.typ]);
    // The whole message is the same bytes; Dovecot puts the implicit FLAGS before the literal, we after it.
    expect((hotbridge.fetch_rfc822.data[0] as [string, string, number]).slice(1)).toEqual(
      (dovecot.fetch_rfc822.data[0] as [string, string, number]).slice(1),
    );
    // The SELECT answers carry the same kinds of data. HIGHESTMODSEQ only from us: we send it on every
    // SELECT once CONDSTORE is advertised (as RFC 4551 §3.1.1 put it), Dovecot only after a CONDSTORE
    // enabling command (RFC 7162 §3.1); clients ignore an unknown response code (RFC 3501 §7.1).
    const kinds = (session: Session) =>
      Object.keys(session.select_untagged)
        .filter((kind) => kind !== 'HIGHESTMODSEQ')
        .sort();
    expect(kinds(hotbridge)).toEqual(kinds(dovecot));
    for (const kind of ['FLAGS', 'PERMANENTFLAGS', 'EXISTS', 'UNSEEN', 'UIDNEXT']) {
      expect({ kind, value: hotbridge.select_untagged[kind] }).toEqual({ kind, value: dovecot.select_untagged[kind] });
    }
  });
});
