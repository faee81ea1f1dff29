import { describe, expect, it } from 'vitest';
import { signInNeededNotice } from '../../../src/upstream/oauth/notice.js';

function split(raw: Buffer): { headers: Map<string, string>; body: string } {
  const text = raw.toString('utf8');
  const end = text.indexOf('\r\n\r\n');
  const headers = new Map<string, string>();
  for (const field of text.slice(0, end).split(/\r\n(?![ \t])/)) {
    const colon = field.indexOf(':');
    headers.set(field.slice(0, colon).toLowerCase(), field.slice(colon + 1).trim());
  }
  return { headers, body: text.slice(end + 4) };
}

describe('signInNeededNotice', () => {
  it('is an RFC 5322 message with CRLF line ends that says what to run', () => {
    const raw = signInNeededNotice('alice@hotmail.com', new Date('2025-03-04T05:06:07Z'));
    // Every LF is part of a CRLF, and there are no bare CRs.
    expect(raw.toString('latin1').replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    expect([...raw].every((b) => b < 0x80)).toBe(true);
    const { headers, body } = split(raw);
    expect(headers.get('from')).toBe('hotbridge <hotbridge@localhost>');
    expect(headers.get('to')).toBe('<alice@hotmail.com>');
    expect(headers.get('subject')).toBe('hotbridge: sign-in needed for alice@hotmail.com');
    expect(headers.get('date')).toBe('Tue, 04 Mar 2025 05:06:07 +0000');
    expect(headers.get('message-id')).toMatch(/^<signin-needed\.\d+\.[0-9a-f]{12}@hotbridge\.localhost>$/);
    expect(headers.get('mime-version')).toBe('1.0');
    expect(headers.get('content-type')).toBe('text/plain; charset=us-ascii');
    expect(body).toContain('hotbridge login alice@hotmail.com');
    expect(body).toMatch(/mail already here stays readable/);
    expect(body).toMatch(/waits in the outbox/);
    for (const line of raw.toString('latin1').split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
  });

  it('encodes the subject of a non-ASCII address (RFC 2047) and sends the body as UTF-8', () => {
    const raw = signInNeededNotice('jörg@example.de');
    const { headers, body } = split(raw);
    expect(headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const subject = headers.get('subject')!;
    const decoded = subject
      .split(/\s+/)
      .map((word) => Buffer.from(/^=\?UTF-8\?B\?(.*)\?=$/.exec(word)![1], 'base64').toString('utf8'))
      .join('');
    expect(decoded).toBe('hotbridge: sign-in needed for jörg@example.de');
    expect(body).toContain('hotbridge login jörg@example.de');
  });

  it('gives each notice its own Message-ID', () => {
    const a = split(signInNeededNotice('a@b.c')).headers.get('message-id');
    const b = split(signInNeededNotice('a@b.c')).headers.get('message-id');
    expect(a).not.toBe(b);
  });
});
