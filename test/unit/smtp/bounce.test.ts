// The bounce placed in INBOX: an RFC 3464 / RFC 6522 multipart/report, read back with the same MIME
// parser the IMAP server uses, so what is checked here is what a mail client will see.
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../src/mime/structure.js';
import {
  buildBounce,
  headerEnd,
  MAX_RETURNED_MESSAGE_BYTES,
  rfc5322Date,
  statusOf,
  type BounceInput,
} from '../../../src/upstream/smtp/bounce.js';

const original = Buffer.from(
  'From: Alice <alice@example.test>\r\nTo: bob@example.org, carol@example.org\r\nSubject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= from Alice\r\n' +
    'Message-ID: <1@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' +
    'K\u00e4se und .Punkte\r\n',
  'utf8',
);

function input(overrides: Partial<BounceInput> = {}): BounceInput {
  return {
    account: 'alice@example.test',
    original,
    arrivalDate: Date.UTC(2024, 10, 27, 6, 7, 8),
    failures: [{ recipient: 'carol@example.org', reply: '550 5.1.1 <carol@example.org>: Recipient address rejected: User unknown' }],
    delivered: ['bob@example.org'],
    stillTrying: [],
    remoteMta: 'smtp-mail.outlook.com',
    reportingMta: 'laptop',
    now: Date.UTC(2024, 10, 27, 6, 9, 0),
    ...overrides,
  };
}

function partBytes(raw: Buffer, part: { bodyStart: number; bodyEnd: number }): Buffer {
  return raw.subarray(part.bodyStart, part.bodyEnd);
}

function headerText(raw: Buffer): string {
  return raw.subarray(0, headerEnd(raw)).toString('latin1');
}

describe('buildBounce', () => {
  it('is a multipart/report with explanation, delivery-status and the original message', () => {
    const bounce = buildBounce(input());
    const { root } = parseMessage(bounce);
    expect(root.type.toLowerCase()).toBe('multipart');
    expect(root.subtype.toLowerCase()).toBe('report');
    expect(root.params?.find(([name]) => name.toLowerCase() === 'report-type')?.[1]).toBe('delivery-status');
    const [text, status, returned] = root.parts ?? [];
    expect(`${text.type}/${text.subtype}`.toLowerCase()).toBe('text/plain');
    expect(`${status.type}/${status.subtype}`.toLowerCase()).toBe('message/delivery-status');
    expect(`${returned.type}/${returned.subtype}`.toLowerCase()).toBe('message/rfc822');
    expect(root.parts).toHaveLength(3);
    // The original comes back byte for byte (8-bit, so declared 8bit: RFC 2046 §5.2.1 forbids re-encoding).
    expect(partBytes(bounce, returned).equals(original)).toBe(true);
    expect(returned.encoding?.toLowerCase()).toBe('8bit');
  });

  it('names each failed recipient with the exact reply in the delivery-status part', () => {
    const bounce = buildBounce(input());
    const status = partBytes(bounce, parseMessage(bounce).root.parts![1]).toString('latin1');
    const [perMessage, perRecipient] = status.split('\r\n\r\n');
    expect(perMessage).toContain('Reporting-MTA: dns; laptop');
    expect(perMessage).toContain('Arrival-Date: Wed, 27 Nov 2024 06:07:08 +0000');
    expect(perRecipient.replace(/\r\n$/, '').split('\r\n')).toEqual([
      'Final-Recipient: rfc822; carol@example.org',
      'Action: failed',
      'Status: 5.1.1',
      'Remote-MTA: dns; smtp-mail.outlook.com',
      'Diagnostic-Code: smtp; 550 5.1.1 <carol@example.org>: Recipient address rejected: User unknown',
      'Last-Attempt-Date: Wed, 27 Nov 2024 06:09:00 +0000',
    ]);
  });

  it('explains in plain words who got the message and who did not, with the original subject', () => {
    const bounce = buildBounce(input({ stillTrying: ['dave@example.org'] }));
    const textPart = parseMessage(bounce).root.parts![0];
    expect(textPart.encoding?.toLowerCase()).toBe('quoted-printable');
    const text = Buffer.from(
      partBytes(bounce, textPart)
        .toString('latin1')
        .replace(/=\r\n/g, '')
        .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
      'latin1',
    ).toString('utf8');
    expect(text).toContain('<carol@example.org>\r\n    550 5.1.1 <carol@example.org>: Recipient address rejected: User unknown');
    expect(text).toMatch(/delivered to:\r\n {4}<bob@example\.org>/);
    expect(text).toMatch(/still trying to deliver it to:\r\n {4}<dave@example\.org>/);
    expect(text).toContain('Subject: Grüße from Alice');
  });

  it('has the headers an automatic report needs', () => {
    const head = headerText(buildBounce(input()));
    expect(head).toMatch(/^From: Mail Delivery System <MAILER-DAEMON@hotbridge\.invalid>\r\n/);
    expect(head).toContain('\r\nTo: <alice@example.test>\r\n');
    expect(head).toContain('\r\nAuto-Submitted: auto-replied\r\n');
    expect(head).toContain('\r\nDate: Wed, 27 Nov 2024 06:09:00 +0000\r\n');
    expect(head).toMatch(/\r\nMessage-ID: <[^>]+@hotbridge\.invalid>\r\n/);
    // A non-ASCII subject goes into RFC 2047 encoded words; the header stays 7-bit.
    expect(head).toContain('\r\nSubject: Undelivered Mail Returned to Sender: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= from Alice\r\n');
    // eslint-disable-next-line no-control-regex
    expect(/^[\x00-\x7f]*$/.test(head)).toBe(true);
  });

  it('uses only CRLF line ends outside the returned message', () => {
    const bounce = buildBounce(input());
    const returned = parseMessage(bounce).root.parts![2];
    const outside = Buffer.concat([bounce.subarray(0, returned.bodyStart), bounce.subarray(returned.bodyEnd)]).toString('latin1');
    expect(outside.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });

  it('for an expired message says how long hotbridge tried and keeps the transient status', () => {
    const bounce = buildBounce(
      input({
        failures: [
          { recipient: 'bob@example.org', reply: '451 4.7.500 Server busy. Please try again later' },
          { recipient: 'eve@example.org', reply: 'connect ECONNREFUSED 192.0.2.1:587' },
        ],
        delivered: [],
        expired: { attempts: 31, ageMs: 5 * 24 * 3_600_000 },
      }),
    );
    const parts = parseMessage(bounce).root.parts!;
    const status = partBytes(bounce, parts[1]).toString('latin1');
    expect(status).toContain('Final-Recipient: rfc822; bob@example.org\r\nAction: failed\r\nStatus: 4.7.500\r\n');
    expect(status).toContain('Diagnostic-Code: smtp; 451 4.7.500 Server busy. Please try again later\r\n');
    expect(status).toContain('Final-Recipient: rfc822; eve@example.org\r\nAction: failed\r\nStatus: 4.4.7\r\n');
    expect(status).toContain('Diagnostic-Code: X-hotbridge; connect ECONNREFUSED 192.0.2.1:587\r\n');
    const text = partBytes(bounce, parts[0]).toString('latin1').replace(/=\r\n/g, '');
    expect(text).toContain('tried 31 times over 5 days');
  });

  it('returns only the header of a very large message', () => {
    const big = Buffer.concat([
      Buffer.from('Subject: big\r\nFrom: a@example.test\r\n\r\n'),
      Buffer.alloc(MAX_RETURNED_MESSAGE_BYTES + 10, 'x\r\n'),
    ]);
    const bounce = buildBounce(input({ original: big }));
    const returned = parseMessage(bounce).root.parts![2];
    expect(`${returned.type}/${returned.subtype}`).toBe('text/rfc822-headers');
    expect(partBytes(bounce, returned).toString('latin1')).toBe('Subject: big\r\nFrom: a@example.test\r\n\r\n');
    expect(bounce.length).toBeLessThan(10_000);
  });
});

describe('statusOf', () => {
  it('takes the enhanced code from a reply, or makes one from the basic code', () => {
    expect(statusOf('550 5.1.1 <x@example.org>: Recipient address rejected')).toBe('5.1.1');
    expect(statusOf('554 5.2.252 SendAsDenied; alice@example.test not allowed to send as x@example.org')).toBe('5.2.252');
    expect(statusOf('550 Requested action not taken')).toBe('5.0.0');
    expect(statusOf('451-4.3.0 first line\n451 4.3.0 second line')).toBe('4.3.0');
    expect(statusOf('socket hang up', '4.4.7')).toBe('4.4.7');
  });
});

describe('rfc5322Date', () => {
  it('writes RFC 5322 §3.3 dates in UTC', () => {
    expect(rfc5322Date(Date.UTC(2025, 0, 5, 23, 4, 5))).toBe('Sun, 05 Jan 2025 23:04:05 +0000');
  });
});
