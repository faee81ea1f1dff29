// The envelope rules on their own (the server applies them in test/integration/smtp-hostile.test.ts).
import { describe, expect, it } from 'vitest';
import {
  addressCharsetRefusal,
  mailParameterRefusal,
  rawPath,
  rcptParameterRefusal,
} from '../../../src/downstream/smtp/envelope-policy.js';

describe('envelope policy', () => {
  it('takes the path as the client wrote it, bytes and all', () => {
    expect(rawPath(Buffer.from('MAIL FROM:<a@b.example> SIZE=10'))).toBe('<a@b.example>');
    expect(rawPath(Buffer.from('RCPT TO: <bob@bücher.example>', 'utf8'))).toBe(
      Buffer.from('<bob@bücher.example>', 'utf8').toString('latin1'),
    );
    expect(rawPath(Buffer.from('RCPT'))).toBe('');
  });

  it('allows MAIL FROM parameters of offered extensions only', () => {
    expect(mailParameterRefusal(false, false)).toBeUndefined();
    expect(mailParameterRefusal({ SIZE: '10', BODY: '8BITMIME', AUTH: '<>' }, false)).toBeUndefined();
    expect(mailParameterRefusal({ SMTPUTF8: true }, false)).toMatchObject({ code: 555 });
    expect(mailParameterRefusal({ SMTPUTF8: true }, true)).toBeUndefined();
    expect(mailParameterRefusal({ RET: 'FULL' }, true)?.text).toBe('5.5.4 MAIL FROM parameter RET is not supported here');
    expect(mailParameterRefusal({ ['X'.repeat(500)]: true }, true)?.text.length).toBeLessThan(100);
    expect(rcptParameterRefusal({ NOTIFY: 'NEVER' })).toMatchObject({ code: 555 });
    expect(rcptParameterRefusal(false)).toBeUndefined();
  });

  it('refuses non-ASCII addresses without SMTPUTF8, and bytes that are no UTF-8 with it', () => {
    const utf8 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');
    expect(addressCharsetRefusal('<bob@xn--bcher-kva.example>', 'recipient', false)).toBeUndefined();
    expect(addressCharsetRefusal(utf8('<jörg@example.org>'), 'recipient', false)).toMatchObject({
      code: 553,
      text: expect.stringMatching(/^5\.6\.7 /),
    });
    expect(addressCharsetRefusal(utf8('<jörg@example.org>'), 'sender', true)).toBeUndefined();
    expect(addressCharsetRefusal('<j\u00ffrg@example.org>', 'sender', true)).toMatchObject({
      code: 553,
      text: expect.stringMatching(/^5\.1\.7 .*not valid UTF-8/),
    });
  });
});
