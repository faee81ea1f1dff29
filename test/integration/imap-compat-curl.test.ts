/**
 * curl as an IMAP client (its imap:// URLs, RFC 5092) against the real daemon: LIST, APPEND, FETCH of a
 * whole message and of sections, SEARCH through the URL, custom commands, and both SASL mechanisms curl
 * logs in with (curl 7.x cannot be made to send the LOGIN command while the server offers SASL; Python's
 * imaplib and mbsync cover LOGIN). The daemon needs no upstream here: the account points at a closed
 * port, and IMAP serves local state.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, requireTool, runTool, startCompatBridge, type CompatBridge, type ToolResult } from '../helpers/clients.js';

// An awkward message: leading dots, 8-bit bytes without MIME, a 1200-character line. curl uploads the
// file as is (no --crlf), so these bytes are exactly what the server must keep.
const APPENDED = Buffer.concat([
  Buffer.from(
    'From: Curl User <curl@example.org>\r\nTo: alice@example.test\r\nSubject: appended by curl\r\nMessage-ID: <curl-1@example.org>\r\n\r\n',
  ),
  Buffer.from('.leading dot\r\n..two dots\r\n.\r\nGr\xfc\xdfe aus K\xf6ln\r\n', 'latin1'),
  Buffer.from(`${'z'.repeat(1200)}\r\nlast line\r\n`),
]);
const HEADER_END = APPENDED.indexOf('\r\n\r\n') + 4;

describe('curl against the hotbridge daemon', () => {
  let bridge: CompatBridge;
  let curl: string;
  let dir: string;

  beforeAll(async () => {
    curl = await requireTool('curl', 'curl');
    bridge = await startCompatBridge({ lab: false });
    dir = bridge.dir;
  });

  afterAll(async () => {
    await bridge?.stop();
  });

  const url = (rest = '') => `imap://127.0.0.1:${bridge.config.imapPort}/${rest}`;
  /** curl with our login; -v puts the IMAP dialogue on stderr (`> ` client, `< ` server lines). */
  const runCurl = (args: string[], password = bridge.password): Promise<ToolResult> =>
    runTool(curl, ['--silent', '--show-error', '--verbose', '--max-time', '15', '--user', `${bridge.address}:${password}`, ...args]);
  const clientLines = (result: ToolResult) =>
    result.stderr
      .split('\n')
      .filter((line) => line.startsWith('> '))
      .map((line) => line.slice(2).trim());

  it.each([
    ['AUTHENTICATE PLAIN with SASL-IR (curl default)', [], /^A\d+ AUTHENTICATE PLAIN \S+$/],
    ['AUTHENTICATE LOGIN', ['--login-options', 'AUTH=LOGIN'], /^A\d+ AUTHENTICATE LOGIN/],
  ])('LISTs the folders with their special-use attributes, logging in with %s', async (_how, options, loginCommand) => {
    const result = await runCurl([...options, url()]);
    expect(result.code, describeRun('curl LIST', result)).toBe(0);
    expect(
      clientLines(result).some((line) => loginCommand.test(line)),
      result.stderr,
    ).toBe(true);
    const lines = result.text.trim().split(/\r?\n/);
    expect(lines).toEqual(
      expect.arrayContaining([
        '* LIST (\\HasNoChildren) "/" "INBOX"',
        '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
        '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
        '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
        '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
      ]),
    );
    expect(lines).toHaveLength(5);
  });

  it('APPENDs a file to Drafts (APPENDUID) and FETCHes back the same bytes, whole and by section', async () => {
    const file = path.join(dir, 'appended.eml');
    fs.writeFileSync(file, APPENDED);
    const append = await runCurl(['--upload-file', file, url('Drafts')]);
    expect(append.code, describeRun('curl APPEND', append)).toBe(0);
    expect(clientLines(append)).toContainEqual(expect.stringMatching(new RegExp(`^A\\d+ APPEND Drafts .*\\{${APPENDED.length}\\}$`)));
    // UIDPLUS (RFC 4315 §3): the tagged OK names the new message's UID.
    const appendUid = /< A\d+ OK \[APPENDUID (\d+) (\d+)\]/.exec(append.stderr);
    expect(appendUid, append.stderr).not.toBeNull();
    const [, uidValidity, uid] = appendUid!;

    const whole = await runCurl([url(`Drafts;UID=${uid}`)]);
    expect(whole.code, describeRun('curl FETCH', whole)).toBe(0);
    expect(clientLines(whole)).toContainEqual(expect.stringMatching(new RegExp(`^A\\d+ UID FETCH ${uid} BODY\\[\\]$`)));
    expect(whole.stdout.equals(APPENDED), `fetched ${whole.stdout.length} bytes, appended ${APPENDED.length}`).toBe(true);

    const header = await runCurl([url(`Drafts;UID=${uid};SECTION=HEADER`)]);
    expect(header.code, describeRun('curl FETCH HEADER', header)).toBe(0);
    expect(header.stdout.equals(APPENDED.subarray(0, HEADER_END))).toBe(true);

    const text = await runCurl([url(`Drafts;UID=${uid};SECTION=TEXT`)]);
    expect(text.code, describeRun('curl FETCH TEXT', text)).toBe(0);
    expect(text.stdout.equals(APPENDED.subarray(HEADER_END))).toBe(true);

    // RFC 5092 §5: ";PARTIAL=0.20" is BODY[]<0.20>; curl also addresses by sequence number (MAILINDEX).
    const partial = await runCurl([url(`Drafts;UID=${uid};PARTIAL=0.20`)]);
    expect(partial.code, describeRun('curl FETCH PARTIAL', partial)).toBe(0);
    expect(partial.stdout.equals(APPENDED.subarray(0, 20))).toBe(true);
    const bySequence = await runCurl([url('Drafts;MAILINDEX=1')]);
    expect(bySequence.code, describeRun('curl FETCH MAILINDEX', bySequence)).toBe(0);
    expect(bySequence.stdout.equals(APPENDED)).toBe(true);

    // ";UIDVALIDITY=" in the URL: curl compares it with SELECT's answer (RFC 5092 §6), which is the APPENDUID's.
    const sameValidity = await runCurl([url(`Drafts;UIDVALIDITY=${uidValidity};UID=${uid}`)]);
    expect(sameValidity.code, describeRun('curl FETCH UIDVALIDITY', sameValidity)).toBe(0);
    expect(sameValidity.stdout.equals(APPENDED)).toBe(true);
    const otherValidity = await runCurl([url(`Drafts;UIDVALIDITY=${Number(uidValidity) + 1};UID=${uid}`)]);
    expect(otherValidity.stderr).toMatch(/UIDVALIDITY has changed/);
    expect(otherValidity.code).not.toBe(0);
  });

  it('SEARCHes through the URL query and runs custom commands (-X)', async () => {
    // The URL form of SEARCH (RFC 5092 §6: "?<search>"), with a space as %20.
    const search = await runCurl([url('Drafts?SUBJECT%20%22appended%20by%20curl%22')]);
    expect(search.code, describeRun('curl SEARCH', search)).toBe(0);
    expect(search.text.trim()).toMatch(/^\* SEARCH \d+$/);

    const none = await runCurl([url('Drafts?SUBJECT%20nothing-like-this')]);
    expect(none.code, describeRun('curl SEARCH', none)).toBe(0);
    expect(none.text.trim()).toBe('* SEARCH');

    const status = await runCurl(['--request', 'STATUS Drafts (MESSAGES UIDNEXT UNSEEN)', url()]);
    expect(status.code, describeRun('curl STATUS', status)).toBe(0);
    // curl's APPEND sets \Seen (it sends "APPEND Drafts (\Seen) {n}"), so nothing is unseen.
    expect(status.text.trim()).toMatch(/^\* STATUS "?Drafts"? \(MESSAGES 1 UIDNEXT 2 UNSEEN 0\)$/);

    const examine = await runCurl(['--request', 'EXAMINE Drafts', url()]);
    expect(examine.code, describeRun('curl EXAMINE', examine)).toBe(0);
    expect(examine.text).toContain('* 1 EXISTS');
    expect(examine.stderr).toMatch(/< A\d+ OK \[READ-ONLY\]/);
  });

  it('fails with curl\'s "login denied" (exit 67) for a wrong local password', async () => {
    const result = await runCurl([url()], 'not-the-local-password');
    expect(result.code, describeRun('curl LIST', result)).toBe(67);
    expect(result.text).toBe('');
  });
});
