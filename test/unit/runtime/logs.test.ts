// Log lines for a person and for journald: the syslog-prefixed text line, its fields each once, errors
// without repeated causes and without stacks below debug; lasting states logged when they start, at most
// hourly, and when they end; the protocol trace with every secret replaced.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConditionLog, REPEAT_MS } from '../../../src/runtime/condition-log.js';
import { formatRecord, joinReason, syslogPriority } from '../../../src/runtime/log-line.js';
import { createLogger, defaultLogFormat, type LogFormat } from '../../../src/runtime/logger.js';
import { ProtocolTrace, redactClientLine } from '../../../src/runtime/protocol-trace.js';

function capture(
  level: string,
  format: LogFormat,
  env: NodeJS.ProcessEnv = {},
): { logger: ReturnType<typeof createLogger>; lines: () => string[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const logger = createLogger({ level, format, destination: stream, env });
  return { logger, lines: () => text.split('\n').filter((line) => line !== '') };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('the format', () => {
  it('is text under systemd (JOURNAL_STREAM) and without a terminal, pretty on one', () => {
    expect(defaultLogFormat({ JOURNAL_STREAM: '8:12345' }, true)).toBe('text');
    expect(defaultLogFormat({}, false)).toBe('text');
    expect(defaultLogFormat({}, true)).toBe('pretty');
  });

  it('maps pino levels to sd-daemon(3) priorities', () => {
    expect([60, 50, 40, 30, 20, 10].map(syslogPriority)).toEqual([2, 3, 4, 6, 7, 7]);
  });

  it('under journald: one line, the priority first, no time, account and part as the prefix, fields once', async () => {
    const { logger, lines } = capture('info', 'text', { JOURNAL_STREAM: '8:1' });
    const child = logger.child({ account: 'ann@hotmail.com' }).child({ part: 'pop3' });
    child.warn({ retryIn: '30s', stored: 0 }, 'POP3 sync failed: the provider is busy\nline two');
    logger.error({ path: '/var/lib/hotbridge' }, 'cannot write');
    logger.debug('not shown at info');
    await flush();
    expect(lines()).toEqual([
      '<4>ann@hotmail.com pop3: POP3 sync failed: the provider is busy / line two retryIn=30s stored=0',
      '<3>cannot write path=/var/lib/hotbridge',
    ]);
  });

  it('without journald: the same line with an ISO time after the priority', async () => {
    const { logger, lines } = capture('info', 'text');
    logger.info({ version: '0.1.0' }, 'hotbridge is running');
    await flush();
    expect(lines()[0]).toMatch(/^<6>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z hotbridge is running version=0\.1\.0$/);
  });

  it('an error says its message once, its causes only where new, its stack only at debug', async () => {
    const cause = new Error('self-signed certificate');
    const err = Object.assign(new Error('TLS with 127.0.0.1:995 failed: self-signed certificate', { cause }), {
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    const info = capture('info', 'text', { JOURNAL_STREAM: '1:1' });
    info.logger.error({ err }, 'POP3 connection failed');
    const debug = capture('debug', 'text', { JOURNAL_STREAM: '1:1' });
    debug.logger.error({ err }, 'POP3 connection failed');
    const json = capture('info', 'json');
    json.logger.error({ err }, 'POP3 connection failed');
    await flush();
    expect(info.lines()).toEqual([
      '<3>POP3 connection failed err="TLS with 127.0.0.1:995 failed: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)"',
    ]);
    expect(info.lines()[0]).not.toMatch(/self-signed certificate.*self-signed certificate.*self-signed/);
    expect(debug.lines()[0]).toMatch(/\[at .*logs\.test\.ts/);
    const record = JSON.parse(json.lines()[0]) as { err: { message: string; stack?: string } };
    expect(record.err.message).toBe('TLS with 127.0.0.1:995 failed: self-signed certificate');
    expect(record.err.stack).toBeUndefined();
  });

  it('a message that already says the error does not repeat it', () => {
    const line = formatRecord(
      { level: 40, msg: 'POP3 sync failed: connection refused', err: { message: 'connection refused' } },
      { kind: 'journal', stacks: false },
    );
    expect(line).toBe('<4>POP3 sync failed: connection refused\n');
    expect(joinReason('cannot read x: EACCES', 'EACCES')).toBe('cannot read x: EACCES');
    expect(joinReason('cannot read x', 'EACCES')).toBe('cannot read x: EACCES');
  });

  it('JSON stays one object per line and keeps secrets out', async () => {
    const { logger, lines } = capture('info', 'json');
    logger.child({ account: 'ann@hotmail.com' }).info({ password: 'hunter2-hunter2', auth: { pass: 'x-secret-x' } }, 'login');
    await flush();
    const record = JSON.parse(lines()[0]) as Record<string, unknown>;
    expect(record).toMatchObject({
      level: 30,
      msg: 'login',
      account: 'ann@hotmail.com',
      password: '[redacted]',
      auth: { pass: '[redacted]' },
    });
    expect(lines()[0]).not.toContain('hunter2');
  });
});

describe('a lasting state', () => {
  it('is logged when it starts, again at most hourly, and once when it ends', async () => {
    const { logger, lines } = capture('info', 'text', { JOURNAL_STREAM: '1:1' });
    let now = 0;
    const trouble = new ConditionLog(logger, () => now);
    for (let minute = 0; minute < 130; minute += 2) {
      now = minute * 60_000;
      trouble.holds('POP3 sync failed: sign-in needed: run hotbridge login ann@hotmail.com', { retryIn: '120s' });
    }
    trouble.holds('POP3 sync failed: the provider is busy', {}, 'warn');
    trouble.ended('POP3 sync works again');
    trouble.ended('POP3 sync works again');
    await flush();
    expect(lines()).toEqual([
      '<4>POP3 sync failed: sign-in needed: run hotbridge login ann@hotmail.com retryIn=120s',
      '<4>POP3 sync failed: sign-in needed: run hotbridge login ann@hotmail.com (still) retryIn=120s',
      '<4>POP3 sync failed: sign-in needed: run hotbridge login ann@hotmail.com (still) retryIn=120s',
      '<4>POP3 sync failed: the provider is busy',
      '<6>POP3 sync works again',
    ]);
    expect(REPEAT_MS).toBe(3_600_000);
  });
});

describe('the protocol trace', () => {
  it.each([
    ['IMAP', 'a1 LOGIN ann@hotmail.com "my local password"', 'a1 LOGIN ann@hotmail.com [redacted]'],
    ['IMAP', 'a1 login {15}', 'a1 login {15}'],
    ['IMAP', 'a2 AUTHENTICATE PLAIN AGFubgBzZWNyZXQ=', 'a2 AUTHENTICATE PLAIN [redacted]'],
    ['POP3', 'PASS provider-password', 'PASS [redacted]'],
    ['POP3', 'AUTH PLAIN AGFubgBzZWNyZXQ=', 'AUTH PLAIN [redacted]'],
    ['POP3', 'APOP ann c4c9334bac560ecc979e58001b3e22fb', 'APOP ann [redacted]'],
    ['SMTP', 'AUTH XOAUTH2 dXNlcj1hbm4BYXV0aD1CZWFyZXIgdG9rZW4BAQ==', 'AUTH XOAUTH2 [redacted]'],
    ['SMTP', 'MAIL FROM:<ann@hotmail.com>', 'MAIL FROM:<ann@hotmail.com>'],
  ] as const)('%s: %s', (protocol, line, expected) => {
    expect(redactClientLine(protocol, line, false).text).toBe(expected);
  });

  it('replaces every client line of a SASL exchange until the server ends it, and message data by its size', async () => {
    const { logger, lines } = capture('trace', 'text', { JOURNAL_STREAM: '1:1' });
    const pop3 = new ProtocolTrace(logger, 'POP3', () => ['at.token-value-1234']);
    pop3.client('AUTH XOAUTH2');
    pop3.server('+ ');
    pop3.client('dXNlcj1hbm4BYXV0aD1CZWFyZXIgYXQudG9rZW4tdmFsdWUtMTIzNAEB');
    pop3.server('+OK User successfully authenticated.');
    pop3.client('RETR 1');
    pop3.server('+OK 120 octets');
    pop3.data('S', 120);
    pop3.client('NOOP at.token-value-1234');
    const imap = new ProtocolTrace(logger, 'IMAP');
    imap.client('a3 AUTHENTICATE LOGIN');
    imap.server('+ VXNlcm5hbWU6\r\n');
    imap.client('YW5u');
    imap.server('+ UGFzc3dvcmQ6\r\n');
    imap.client('c2VjcmV0');
    imap.server('a3 OK done\r\n* 1 FETCH (BODY[] {11}\r\nHello');
    imap.server(' world)\r\n');
    imap.client('a4 NOOP');
    await flush();
    expect(lines()).toEqual([
      '<7>POP3 C: AUTH XOAUTH2',
      '<7>POP3 S: +',
      '<7>POP3 C: [redacted]',
      '<7>POP3 S: +OK User successfully authenticated.',
      '<7>POP3 C: RETR 1',
      '<7>POP3 S: +OK 120 octets',
      '<7>POP3 S: [120 bytes of data]',
      '<7>POP3 C: NOOP [redacted]',
      '<7>IMAP C: a3 AUTHENTICATE LOGIN',
      '<7>IMAP S: + VXNlcm5hbWU6',
      '<7>IMAP C: [redacted]',
      '<7>IMAP S: + UGFzc3dvcmQ6',
      '<7>IMAP C: [redacted]',
      '<7>IMAP S: a3 OK done',
      '<7>IMAP S: * 1 FETCH (BODY[] {11} [11 bytes of message data follow]',
      '<7>IMAP S: )',
      '<7>IMAP C: a4 NOOP',
    ]);
  });
});
