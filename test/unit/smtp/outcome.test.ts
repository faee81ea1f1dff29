// How one relay attempt is read, per recipient. The error objects have the shape nodemailer 10 gives
// (code, response, responseCode, command, rejectedErrors with .recipient); the lab test
// (test/integration/smtp-relay.test.ts) checks the same paths against Postfix's real replies.
import { describe, expect, it } from 'vitest';
import { reportFromError, reportFromInfo } from '../../../src/upstream/smtp/outcome.js';

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
    const report = reportFromInfo(['a@example.org', 'B@example.org', 'c@example.org'], {
      accepted: ['a@example.org'],
      rejected: ['b@example.org', 'c@example.org'],
      rejectedErrors: [rcptError('b@example.org', '550 5.1.1 <b@example.org>: unknown'), rcptError('c@example.org', '451 4.3.0 try later')],
    });
    expect(report.delivered).toEqual(['a@example.org']);
    expect(report.failed).toEqual([{ recipient: 'B@example.org', reply: '550 5.1.1 <b@example.org>: unknown' }]);
    expect(report.deferred).toEqual([{ recipient: 'c@example.org', reply: '451 4.3.0 try later' }]);
    expect(report.problem).toBeUndefined();
  });
});

describe('reportFromError (the attempt failed)', () => {
  const two = ['a@example.org', 'b@example.org'];

  it('a refused login is an auth problem, not a bounce', () => {
    const report = reportFromError(two, { code: 'EAUTH', message: 'Invalid login', response: '535 5.7.8 Error: authentication failed', responseCode: 535, command: 'AUTH PLAIN' });
    expect(report.problem).toEqual({ kind: 'auth', reply: '535 5.7.8 Error: authentication failed' });
    expect(report.failed).toEqual([]);
    expect(report.deferred.map((d) => d.recipient)).toEqual(two);
  });

  it('454 during AUTH is temporary (RFC 4954 §6)', () => {
    const report = reportFromError(two, { code: 'EAUTH', message: 'x', response: '454 4.7.0 Temporary authentication failure', responseCode: 454 });
    expect(report.problem?.kind).toBe('temporary');
  });

  it('530 at MAIL FROM ("client not authenticated") is an auth problem', () => {
    const report = reportFromError(two, { code: 'EENVELOPE', message: 'x', response: '530 5.7.57 Client not authenticated to send mail', responseCode: 530, command: 'MAIL FROM' });
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
    const permanent = reportFromError(two, { code: 'EMESSAGE', message: 'Message failed', response: '554 5.2.252 SendAsDenied', responseCode: 554, command: 'DATA' });
    expect(permanent.failed).toEqual(two.map((recipient) => ({ recipient, reply: '554 5.2.252 SendAsDenied' })));
    expect(permanent.problem).toBeUndefined();
    const temporary = reportFromError(two, { code: 'EMESSAGE', message: 'Message failed', response: '451 4.3.0 later', responseCode: 451, command: 'DATA' });
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
    const report = reportFromError(['a@example.org'], { code: 'ETLS', message: 'Error upgrading connection with STARTTLS: 500 Error: command not recognized', response: '500 Error: command not recognized', responseCode: 500, command: 'STARTTLS' });
    expect(report.problem).toEqual({ kind: 'temporary', reply: 'Error upgrading connection with STARTTLS: 500 Error: command not recognized' });
  });
});
