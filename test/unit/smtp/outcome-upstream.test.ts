// The relay's report when nodemailer rewrites the envelope before sending it: IDN domains go out as
// A-labels (or as U-labels beside a non-ASCII local part), and nodemailer's answer names the
// recipients the way they went out (`nobody@bücher.example` comes back as `nobody@xn--bcher-kva.example`). The report must still
// find each submitted recipient in that answer, and count none as delivered unless it was accepted.
//
// A fake upstream (smtp-server) is used here on purpose: the lab's Postfix cannot be made to refuse
// one IDN recipient and accept another within the same transaction without a per-address table that
// the lab does not have; what is under test is how nodemailer's real answer is read, not the server.
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RelaySession } from '../../../src/upstream/smtp/relay.js';

/** What the fake upstream answers to RCPT, chosen by the local part as the server received it. */
function rcptReply(address: SMTPServerAddress): { code: number; text: string } | undefined {
  const local = address.address.slice(0, address.address.lastIndexOf('@'));
  if (local === 'nobody' || local === 'jörg') return { code: 550, text: '5.1.1 no such user' };
  if (local === 'later') return { code: 451, text: '4.3.0 try again later' };
  return undefined;
}

let upstream: SMTPServer;
let port: number;
const seen: string[] = [];

beforeAll(async () => {
  upstream = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth: (_auth, _session, callback) => callback(null, { user: 'relay' }),
    onRcptTo: (address, _session, callback) => {
      seen.push(address.address);
      const reply = rcptReply(address);
      if (!reply) return callback();
      const err = Object.assign(new Error(reply.text), { responseCode: reply.code });
      return callback(err);
    },
    onData: (stream, _session, callback) => {
      stream.resume();
      stream.on('end', () => callback());
    },
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
  port = (upstream.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

describe('relay report against an upstream that refuses some IDN recipients', () => {
  it('bounces the 5xx ones, retries the 4xx ones, and delivers only the accepted ones', async () => {
    const session = new RelaySession({ host: '127.0.0.1', port, tls: 'none', timeoutMs: 5000 });
    const recipients = [
      'ok@example.org',
      'nobody@bücher.example',
      'later@BÜCHER.Example',
      'Ann@xn--bcher-kva.example',
      'jörg@xn--bcher-kva.example',
    ];
    try {
      const report = await session.send({
        login: { kind: 'password', user: 'u', password: 'p' },
        from: 'me@example.org',
        recipients,
        raw: Buffer.from('Subject: t\r\n\r\nhi\r\n'),
      });
      // Every recipient reached the server (smtp-server shows IDN domains to us as Unicode, whatever was sent).
      expect(seen).toHaveLength(recipients.length);
      expect(report.delivered.sort()).toEqual(['Ann@xn--bcher-kva.example', 'ok@example.org']);
      expect(report.failed).toEqual([
        { recipient: 'nobody@bücher.example', reply: '550 5.1.1 no such user' },
        { recipient: 'jörg@xn--bcher-kva.example', reply: '550 5.1.1 no such user' },
      ]);
      expect(report.deferred).toEqual([{ recipient: 'later@BÜCHER.Example', reply: '451 4.3.0 try again later' }]);
      expect(report.problem).toBeUndefined();
    } finally {
      session.close();
    }
  });
});
