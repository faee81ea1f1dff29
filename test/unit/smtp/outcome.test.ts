// How one relay attempt is read, per recipient. The error objects have the shape nodemailer 10 gives
// (code, response, responseCode, command, rejectedErrors with .recipient); the lab test
// (test/integration/smtp-relay.test.ts) checks the same paths against Postfix's real replies.
import { describe, expect, it } from 'vitest';
import { addressKey, reportFromError, reportFromInfo } from '../../../src/upstream/smtp/outcome.js';

const rcptError = (recipient: string, response: string) => ({
  code: 'EENVELOPE',
  message: `Recipient command failed: ${response}`,
  response,
  responseCode: Number(response.slice(0, 3)),
  command: 'RCPT TO',
  recipient,
});

describe('reportFromInfo (the message went out)', () => {
  it('delivers the accepted recipients and splits the refused ones by 5xx / 4xx', () => {
    const report = reportFromInfo(['a@example.org', 'b@Example.ORG', 'c@example.org'], {
      accepted: ['a@example.org'],
      rejected: ['b@example.org', 'c@example.org'],
      rejectedErrors: [rcptError('b@example.org', '550 5.1.1 <b@example.org>: unknown'), rcptError('c@example.org', '451 4.3.0 try later')],
    });
    expect(report.delivered).toEqual(['a@example.org']);
    expect(report.failed).toEqual([{ recipient: 'b@Example.ORG', reply: '550 5.1.1 <b@example.org>: unknown' }]);
    expect(report.deferred).toEqual([{ recipient: 'c@example.org', reply: '451 4.3.0 try later' }]);
    expect(report.problem).toBeUndefined();
  });
});

describe("reportFromInfo matches nodemailer's rewritten addresses to the submitted ones", () => {
  // nodemailer sends IDN domains as A-labels (or as U-labels when the local part is not ASCII) and names
  // the recipients in its answer the way it sent them; smtp-server gives us A-labels as Unicode.
  it('a 5xx for an IDN domain answered in punycode bounces; it is not taken as delivered', () => {
    const report = reportFromInfo(['ok@example.org', 'nobody@bücher.example'], {
      accepted: ['ok@example.org'],
      rejected: ['nobody@xn--bcher-kva.example'],
      rejectedErrors: [rcptError('nobody@xn--bcher-kva.example', '550 5.1.1 no such user')],
    });
    expect(report.delivered).toEqual(['ok@example.org']);
    expect(report.failed).toEqual([{ recipient: 'nobody@bücher.example', reply: '550 5.1.1 no such user' }]);
    expect(report.deferred).toEqual([]);
  });

  it('a 4xx answered in Unicode for an address submitted in punycode is retried', () => {
    const report = reportFromInfo(['jörg@xn--bcher-kva.example', 'ok@example.org'], {
      accepted: ['ok@example.org'],
      rejected: ['jörg@bücher.example'],
      rejectedErrors: [rcptError('jörg@bücher.example', '451 4.3.0 try later')],
    });
    expect(report.delivered).toEqual(['ok@example.org']);
    expect(report.deferred).toEqual([{ recipient: 'jörg@xn--bcher-kva.example', reply: '451 4.3.0 try later' }]);
  });

  it('an accepted IDN or mixed-case domain is delivered under the address the client gave', () => {
    const report = reportFromInfo(['Ann@BÜCHER.Example', 'bob@Example.ORG'], {
      accepted: ['Ann@xn--bcher-kva.example', 'bob@example.org'],
    });
    expect(report.delivered).toEqual(['Ann@BÜCHER.Example', 'bob@Example.ORG']);
    expect(report.deferred).toEqual([]);
  });

  it('local parts keep their case (RFC 5321 §2.4): Bob and bob are decided separately', () => {
    const report = reportFromInfo(['Bob@example.org', 'bob@example.org'], {
      accepted: ['Bob@example.org'],
      rejected: ['bob@example.org'],
      rejectedErrors: [rcptError('bob@example.org', '550 5.1.1 unknown')],
    });
    expect(report.delivered).toEqual(['Bob@example.org']);
    expect(report.failed).toEqual([{ recipient: 'bob@example.org', reply: '550 5.1.1 unknown' }]);
  });

  it('a quoted local part matches its unquoted spelling (RFC 5321 §4.1.2)', () => {
    const report = reportFromInfo(['john doe@example.org', '"a\\"b"@example.org'], {
      accepted: ['"john doe"@example.org', '"a\\"b"@example.org'],
    });
    expect(report.delivered).toEqual(['john doe@example.org', '"a\\"b"@example.org']);
  });

  it('a recipient the answer does not name is retried, never delivered', () => {
    const report = reportFromInfo(['a@example.org', 'BOB@example.org', 'c@example.org'], {
      accepted: ['a@example.org', 'bob@example.org'],
      rejected: ['c@example.org'],
    });
    expect(report.delivered).toEqual(['a@example.org']);
    expect(report.failed).toEqual([]);
    expect(report.deferred.map((d) => d.recipient)).toEqual(['BOB@example.org', 'c@example.org']);
    expect(report.problem).toBeUndefined();
  });
});

describe('addressKey', () => {
  it('gives one form for the spellings nodemailer and smtp-server use', () => {
    expect(addressKey('x@bücher.example')).toBe('x@xn--bcher-kva.example');
    expect(addressKey('x@XN--BCHER-KVA.Example')).toBe('x@xn--bcher-kva.example');
    expect(addressKey('"x y"@example.org')).toBe(addressKey('x y@example.org'));
    expect(addressKey('X@example.org')).not.toBe(addressKey('x@example.org'));
    expect(addressKey('x@[IPv6:::1]')).toBe('x@[ipv6:::1]');
    expect(addressKey('"a@b"@[192.0.2.1]')).toBe('a@b@[192.0.2.1]');
  });
});

describe('reportFromError (the attempt failed)', () => {
  const two = ['a@example.org', 'b@example.org'];

  it('a refused login is an auth problem, not a bounce', () => {
    const report = reportFromError(two, {
      code: 'EAUTH',
      message: 'Invalid login',
      response: '535 5.7.8 Error: authentication failed',
      responseCode: 535,
      command: 'AUTH PLAIN',
    });
    expect(report.problem).toEqual({ kind: 'auth', reply: '535 5.7.8 Error: authentication failed' });
    expect(report.failed).toEqual([]);
    expect(report.deferred.map((d) => d.recipient)).toEqual(two);
  });

  it('454 during AUTH is temporary (RFC 4954 §6)', () => {
    const report = reportFromError(two, {
      code: 'EAUTH',
      message: 'x',
      response: '454 4.7.0 Temporary authentication failure',
      responseCode: 454,
    });
    expect(report.problem?.kind).toBe('temporary');
  });

  it('530 at MAIL FROM ("client not authenticated") is an auth problem', () => {
    const report = reportFromError(two, {
      code: 'EENVELOPE',
      message: 'x',
      response: '530 5.7.57 Client not authenticated to send mail',
      responseCode: 530,
      command: 'MAIL FROM',
    });
    expect(report.problem?.kind).toBe('auth');
  });

  it('all recipients refused at RCPT: each keeps its own reply', () => {
    const report = reportFromError(two, {
      code: 'EENVELOPE',
      message: "Can't send mail - all recipients were rejected",
      response: '451 4.7.500 Server busy',
      responseCode: 451,
      command: 'RCPT TO',
      rejectedErrors: [rcptError('a@example.org', '550 5.7.1 no'), rcptError('b@example.org', '451 4.7.500 Server busy')],
    });
    expect(report.failed).toEqual([{ recipient: 'a@example.org', reply: '550 5.7.1 no' }]);
    expect(report.deferred).toEqual([{ recipient: 'b@example.org', reply: '451 4.7.500 Server busy' }]);
  });

  it('all recipients refused at RCPT: IDN recipients are matched in their punycode form', () => {
    const report = reportFromError(['a@bücher.example', 'b@xn--bcher-kva.example'], {
      code: 'EENVELOPE',
      message: "Can't send mail - all recipients were rejected",
      response: '451 4.7.500 Server busy',
      responseCode: 451,
      command: 'RCPT TO',
      rejectedErrors: [
        rcptError('a@xn--bcher-kva.example', '550 5.7.1 no'),
        rcptError('b@xn--bcher-kva.example', '451 4.7.500 Server busy'),
      ],
    });
    expect(report.failed).toEqual([{ recipient: 'a@bücher.example', reply: '550 5.7.1 no' }]);
    expect(report.deferred).toEqual([{ recipient: 'b@xn--bcher-kva.example', reply: '451 4.7.500 Server busy' }]);
    expect(report.delivered).toEqual([]);
  });

  it('only 4xx at RCPT: a temporary problem', () => {
    const report = reportFromError(two, {
      code: 'EENVELOPE',
      message: 'x',
      response: '451 4.7.500 Server busy',
      responseCode: 451,
      command: 'RCPT TO',
      rejectedErrors: two.map((r) => rcptError(r, '451 4.7.500 Server busy')),
    });
    expect(report.problem).toEqual({ kind: 'temporary', reply: '451 4.7.500 Server busy' });
    expect(report.failed).toEqual([]);
  });

  it('a 5xx after DATA fails every recipient with that reply; a 4xx defers them', () => {
    const permanent = reportFromError(two, {
      code: 'EMESSAGE',
      message: 'Message failed',
      response: '554 5.2.252 SendAsDenied',
      responseCode: 554,
      command: 'DATA',
    });
    expect(permanent.failed).toEqual(two.map((recipient) => ({ recipient, reply: '554 5.2.252 SendAsDenied' })));
    expect(permanent.problem).toBeUndefined();
    const temporary = reportFromError(two, {
      code: 'EMESSAGE',
      message: 'Message failed',
      response: '451 4.3.0 later',
      responseCode: 451,
      command: 'DATA',
    });
    expect(temporary.failed).toEqual([]);
    expect(temporary.problem?.kind).toBe('temporary');
  });

  it('connection trouble, TLS failures and 421 are temporary', () => {
    for (const err of [
      { code: 'ECONNECTION', message: 'connect ECONNREFUSED 127.0.0.1:1', command: 'CONN' },
      { code: 'ETLS', message: 'self-signed certificate', command: 'CONN' },
      { code: 'ECONNECTION', message: 'x', response: '421 4.3.2 Service shutting down', responseCode: 421, command: 'CONN' },
      { code: 'ETIMEDOUT', message: 'Greeting never received', command: 'CONN' },
      { code: 'EABORT', message: 'Message sending aborted' },
    ]) {
      const report = reportFromError(two, err);
      expect(report.problem?.kind, err.message).toBe('temporary');
      expect(report.failed).toEqual([]);
      expect(report.deferred).toHaveLength(2);
    }
  });

  it('a message larger than the provider SIZE is refused for good', () => {
    const report = reportFromError(two, { code: 'EMESSAGE', message: 'Message size larger than allowed 1000', command: 'MAIL FROM' });
    expect(report.failed.map((f) => f.reply)).toEqual(['Message size larger than allowed 1000', 'Message size larger than allowed 1000']);
  });
});

describe('reportFromError wording', () => {
  it('a failed STARTTLS says so, not just the bare reply', () => {
    const report = reportFromError(['a@example.org'], {
      code: 'ETLS',
      message: 'Error upgrading connection with STARTTLS: 500 Error: command not recognized',
      response: '500 Error: command not recognized',
      responseCode: 500,
      command: 'STARTTLS',
    });
    expect(report.problem).toEqual({
      kind: 'temporary',
      reply: 'Error upgrading connection with STARTTLS: 500 Error: command not recognized',
    });
  });
});
