/**
 * mutt in batch mode, configured as docs/clients/mutt.md says (its muttrc, read from the page), sends through hotbridge's SMTP
 * submission (local password, no TLS) and saves its own copy in Sent over IMAP APPEND (`record`).
 * The message must reach the provider (the lab's Postfix), and Sent must hold exactly one copy: mutt's.
 * hotbridge's own copy (save_sent) is off by default, so a second one would be a duplicate.
 */
import fs from 'node:fs';
import path from 'node:path';
import libmime from 'libmime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, requireTool, runTool, startCompatBridge, waitUntil, type CompatBridge } from '../helpers/clients.js';
import { runCli } from '../helpers/cli.js';
import { docsBlock } from '../helpers/docs.js';
import { stripPostfixTrace } from '../helpers/lab.js';
import { toCrlf } from '../helpers/messages.js';

interface SentCopy {
  uid: number;
  flags: string[];
  source: Buffer;
}

/** The header field `name` (first occurrence, unfolded) of a raw message. */
function headerField(raw: Buffer, name: string): string | undefined {
  const head = raw
    .subarray(0, raw.indexOf('\r\n\r\n'))
    .toString('latin1')
    .replace(/\r\n[ \t]+/g, ' ');
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

/** The message without its Date field: mutt stamps its Fcc copy anew, a second after the one it sent. */
function withoutDate(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  return Buffer.from(text.replace(/^Date:[^\r\n]*\r\n/im, ''), 'latin1');
}

describe('mutt against the hotbridge daemon', () => {
  let bridge: CompatBridge;
  let mutt: string;
  let home: string;
  let muttrc: string;

  beforeAll(async () => {
    mutt = await requireTool('mutt', 'mutt');
    bridge = await startCompatBridge({ lab: { smtp: true } });
    home = path.join(bridge.dir, 'home');
    fs.mkdirSync(home, { mode: 0o700 });
    muttrc = path.join(home, '.muttrc');
    const imap = `127.0.0.1:${bridge.config.imapPort}`;
    const smtp = `127.0.0.1:${bridge.config.smtpPort}`;
    // docs/clients/mutt.md's muttrc word for word (the address as user name, '@' and all: mutt splits at
    // the last '@'), with this test's ports, plus what an interactive user would type at the prompts.
    const documented = docsBlock('docs/clients/mutt.md', 'set folder')
      .replaceAll('you@hotmail.com', bridge.address)
      .replaceAll('127.0.0.1:1143', imap)
      .replaceAll('127.0.0.1:1025', smtp);
    fs.writeFileSync(
      muttrc,
      [
        documented,
        `set imap_pass = "${bridge.password}"`,
        `set smtp_pass = "${bridge.password}"`,
        `set from = "Alice Compat <${bridge.address}>"`,
        'set use_from = yes',
        'set copy = yes',
        'set charset = "utf-8"',
        'set send_charset = "us-ascii:utf-8"',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
  });

  afterAll(async () => {
    await bridge?.stop();
  });

  const runMutt = (args: string[], body: string) =>
    runTool(mutt, ['-F', muttrc, ...args], {
      input: body,
      env: { HOME: home, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', TMPDIR: home },
      timeoutMs: 30_000,
    });

  /** Waits until the outbox is empty: by then the worker has done everything it would do with the message. */
  const waitForEmptyOutbox = () =>
    waitUntil('an empty outbox', async () => {
      const result = await runCli(['status', '--json', '--config', bridge.config.file]);
      if (result.code !== 0) return false;
      const snapshot = JSON.parse(result.stdout) as { accounts: Array<{ outbox: { queued: unknown[]; entries: unknown[] } }> };
      const outbox = snapshot.accounts[0].outbox;
      return outbox.queued.length === 0 && outbox.entries.length === 0;
    });

  const sentCopies = async (): Promise<SentCopy[]> => {
    const client = bridge.imapflow();
    await client.connect();
    try {
      const lock = await client.getMailboxLock('Sent');
      try {
        const copies: SentCopy[] = [];
        for await (const message of client.fetch('1:*', { uid: true, flags: true, source: true })) {
          copies.push({ uid: message.uid, flags: [...(message.flags ?? [])], source: message.source! });
        }
        return copies;
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
  };

  it('sends through hotbridge SMTP and keeps exactly one copy in Sent, saved by mutt over IMAP', async () => {
    await bridge.lab!.clearCaptured();
    const result = await runMutt(
      ['-s', 'Hello from mutt', '--', 'friend@example.org'],
      'Hello,\n\nthis went through hotbridge.\n-- \nAlice\n',
    );
    expect(result.code, describeRun('mutt', result)).toBe(0);

    const [captured] = await bridge.lab!.waitForCaptured(1, 20_000);
    const delivered = toCrlf(stripPostfixTrace(captured.raw));
    expect(headerField(delivered, 'Subject')).toBe('Hello from mutt');
    expect(headerField(delivered, 'From')).toBe(`Alice Compat <${bridge.address}>`);
    expect(headerField(delivered, 'To')).toBe('friend@example.org');
    expect(delivered.subarray(delivered.indexOf('\r\n\r\n') + 4).toString()).toBe(
      'Hello,\r\n\r\nthis went through hotbridge.\r\n-- \r\nAlice\r\n',
    );

    await waitForEmptyOutbox();
    const copies = await sentCopies();
    expect(copies.map((copy) => headerField(copy.source, 'Subject'))).toEqual(['Hello from mutt']);
    const [copy] = copies;
    expect(headerField(copy.source, 'Message-ID')).toBe(headerField(delivered, 'Message-ID'));
    expect(copy.flags).toContain('\\Seen');
    // The copy is the message mutt sent (its Date aside), not a rewrite of it.
    expect(withoutDate(copy.source).toString('latin1')).toBe(withoutDate(delivered).toString('latin1'));
  });

  it('sends a message with an attachment and a non-ASCII subject; still one copy per message in Sent', async () => {
    await bridge.lab!.clearCaptured();
    const attachment = path.join(home, 'report.bin');
    const bytes = Buffer.alloc(3000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) % 256;
    fs.writeFileSync(attachment, bytes);
    const result = await runMutt(
      ['-s', 'Grüße mit Anhang', '-a', attachment, '--', 'friend@example.org', 'other@example.net'],
      'See the attachment.\n',
    );
    expect(result.code, describeRun('mutt', result)).toBe(0);

    // One delivery per recipient in the lab's capture.
    const captured = await bridge.lab!.waitForCaptured(2, 20_000);
    const delivered = toCrlf(stripPostfixTrace(captured[0].raw));
    // RFC 2047 encoded words on the wire, the same text once decoded.
    expect(headerField(delivered, 'Subject')).toMatch(/=\?utf-8\?[QB]\?/i);
    expect(libmime.decodeWords(headerField(delivered, 'Subject')!)).toBe('Grüße mit Anhang');
    expect(headerField(delivered, 'Content-Type')).toMatch(/^multipart\/mixed;/);
    const base64 = /Content-Transfer-Encoding: base64\r\n(?:[^\r\n]+\r\n)*\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--/.exec(
      delivered.toString('latin1'),
    );
    expect(base64, delivered.toString('latin1').slice(0, 2000)).not.toBeNull();
    expect(Buffer.from(base64![1].replace(/\r\n/g, ''), 'base64').equals(bytes)).toBe(true);

    await waitForEmptyOutbox();
    const copies = await sentCopies();
    expect(copies).toHaveLength(2);
    expect(headerField(copies[1].source, 'Message-ID')).toBe(headerField(delivered, 'Message-ID'));
    expect(withoutDate(copies[1].source).toString('latin1')).toBe(withoutDate(delivered).toString('latin1'));
  });
});
