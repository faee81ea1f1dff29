// The doctor's pieces and its answers to problems the lab cannot stage: a missing or broken config, a host
// that does not resolve, a closed port, an address this machine does not have, and Outlook's answers when
// POP is switched off (a small fake POP3 server plays Exchange there, since Dovecot never answers that way).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor } from '../../../src/cli/commands/doctor.js';
import { clockResult, MAX_SKEW_MS } from '../../../src/cli/doctor/clock.js';
import { checkListenAddress, tryListen } from '../../../src/cli/doctor/local-ports.js';
import { classifyTlsError, dateInText } from '../../../src/cli/doctor/network.js';
import { DoctorReport, fail, formatCheck, info, ok } from '../../../src/cli/doctor/report.js';
import { PRESETS } from '../../../src/config/presets.js';
import { startFakeLineServer, type FakeLineServer } from '../../helpers/fake-line-server.js';
import { freePorts } from '../../helpers/ports.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-doctor-unit-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function doctor(config: string): Promise<{ code: number; lines: string[]; text: string }> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const code = await runDoctor({ config, out });
  return { code, text, lines: text.split('\n') };
}

const line = (lines: string[], pattern: RegExp): string => lines.find((l) => pattern.test(l)) ?? `(no line matches ${pattern})`;
const fixOf = (lines: string[], pattern: RegExp): string => {
  const at = lines.findIndex((l) => pattern.test(l));
  return at >= 0
    ? lines
        .slice(at + 1)
        .filter((l, i) => (i === 0 ? l.startsWith('    fix: ') : l.startsWith('         ')))
        .join('\n')
    : '';
};

function writeConfig(name: string, text: string): string {
  const file = path.join(dir, `${name}.toml`);
  fs.writeFileSync(file, text);
  return file;
}

describe('report lines', () => {
  it('prints ✓, ✗ with its fix indented below, and · for what was not judged', () => {
    expect(formatCheck(ok('config is valid'))).toBe('✓ config is valid\n');
    expect(formatCheck(fail('port in use', 'stop it\nor pick another'))).toBe(
      '✗ port in use\n    fix: stop it\n         or pick another\n',
    );
    expect(formatCheck(info('clock: not checked'))).toBe('· clock: not checked\n');
    expect(formatCheck(info('hotbridge is not running now', 'start it with: hotbridge run'))).toBe(
      '· hotbridge is not running now\n    start it with: hotbridge run\n',
    );
  });

  it('counts only failures', () => {
    const report = new DoctorReport(new PassThrough());
    report.add(ok('a'));
    report.add(info('b'));
    report.add(fail('c', 'd'));
    expect(report.failures).toBe(1);
  });
});

describe('TLS errors', () => {
  it('maps OpenSSL codes and messages to what the user can do', () => {
    expect(classifyTlsError('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate')).toBe('untrusted');
    expect(classifyTlsError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', '')).toBe('untrusted');
    expect(classifyTlsError('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames")).toBe('wrong-name');
    expect(classifyTlsError('CERT_HAS_EXPIRED', 'certificate has expired')).toBe('expired');
    expect(classifyTlsError('CERT_NOT_YET_VALID', 'certificate is not yet valid')).toBe('not-yet-valid');
    expect(classifyTlsError('ERR_SSL_WRONG_VERSION_NUMBER', 'C0:error:0A00010B:SSL routines:ssl3_get_record:wrong version number')).toBe(
      'not-tls',
    );
    expect(classifyTlsError('ECONNRESET', 'socket hang up')).toBe('other');
  });
});

describe('clock', () => {
  it('reads the date Exchange puts at the end of its SMTP greeting', () => {
    const date = dateInText(
      '220 AM6PR0502CA0061.outlook.office365.com Microsoft ESMTP MAIL Service ready at Mon, 4 Nov 2024 10:21:33 +0000',
    );
    expect(date?.toISOString()).toBe('2024-11-04T10:21:33.000Z');
    expect(dateInText('220 smtp.example.test ESMTP Postfix')).toBeUndefined();
  });

  it('passes within five minutes, fails beyond, and says so when no server states the time', () => {
    const serverTime = new Date('2025-01-01T12:00:00Z');
    const sample = (skewMs: number) => ({
      source: 'login.example.test',
      serverTime,
      localTime: serverTime.getTime() + skewMs,
      resolutionMs: 1000,
    });
    expect(clockResult([sample(90_000)], true)).toEqual(ok('clock: within 89 s of login.example.test'));
    const late = clockResult([sample(-(MAX_SKEW_MS + 61_000))], true);
    expect(late.verdict).toBe('fail');
    expect(late.title).toBe('clock: this computer is 6 min behind login.example.test');
    expect(late.fix).toMatch(/network time/);
    // The best of several sources counts (one greeting may be cached or slow).
    expect(clockResult([sample(3_600_000), sample(2_000)], true).verdict).toBe('ok');
    expect(clockResult([], true).verdict).toBe('info');
    expect(clockResult([], false).title).toBe('clock: not checked (no server could be asked)');
  });
});

describe('local ports', () => {
  it('says free, in use by another program, or in use by hotbridge itself', async () => {
    const [port] = await freePorts(1);
    const address = { host: '127.0.0.1', port };
    expect(await checkListenAddress('IMAP', '[imap] listen', address, 'c.toml', undefined)).toEqual(ok(`IMAP 127.0.0.1:${port} is free`));
    const other = net.createServer();
    await new Promise<void>((resolve) => other.listen({ host: '127.0.0.1', port }, resolve));
    try {
      expect(await tryListen(address)).toBe('EADDRINUSE');
      const busy = await checkListenAddress('IMAP', '[imap] listen', address, 'c.toml', undefined);
      expect(busy.verdict).toBe('fail');
      expect(busy.fix).toContain('pick another port in [imap] listen of c.toml');
      const ours = await checkListenAddress('IMAP', '[imap] listen', address, 'c.toml', { pid: 7, addresses: [address] });
      expect(ours).toEqual(ok(`IMAP 127.0.0.1:${port} is in use by hotbridge itself (running, pid 7)`));
      // Another hotbridge process listening elsewhere does not make this port ours.
      const elsewhere = await checkListenAddress('IMAP', '[imap] listen', address, 'c.toml', {
        pid: 7,
        addresses: [{ host: '127.0.0.1', port: port + 1 }],
      });
      expect(elsewhere.verdict).toBe('fail');
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it('says when the address does not exist on this machine', async () => {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): no machine has it configured.
    const result = await checkListenAddress('SMTP', '[smtp] listen', { host: '192.0.2.1', port: 1025 }, 'c.toml', undefined);
    expect(result).toEqual(
      fail('SMTP 192.0.2.1:1025: this computer has no such address', 'remove "192.0.2.1:1025" from [smtp] listen in c.toml'),
    );
  });
});

describe('runDoctor without the network', () => {
  it('says to run setup when there is no config, and exits 1', async () => {
    const { code, lines } = await doctor(path.join(dir, 'missing.toml'));
    expect(code).toBe(1);
    expect(line(lines, /no config/)).toBe(`✗ no config at ${path.join(dir, 'missing.toml')}`);
    expect(fixOf(lines, /no config/)).toBe('    fix: run: hotbridge setup (or pass --config FILE)');
  });

  it('lists every config problem as a failed check', async () => {
    const file = writeConfig('broken', '[[accounts]]\naddress = "you@hotmail.com"\npoll_intervall = "2m"\n[accounts.pop3]\nport = 99999\n');
    const { code, lines } = await doctor(file);
    expect(code).toBe(1);
    expect(lines).toContain(`✗ config: accounts[0].poll_intervall: unknown key in [[accounts]] (did you mean poll_interval?)`);
    expect(lines).toContain(`✗ config: accounts[0].pop3.port: expected a number from 1 to 65535`);
  });

  it('names the unknown host and the closed port, and tries no login', async () => {
    const [closed, imap, smtp] = await freePorts(3);
    const secret = path.join(dir, 'x.secret');
    fs.writeFileSync(secret, 'pw\n', { mode: 0o600 });
    const file = writeConfig(
      'unreachable',
      `data_dir = "data-unreachable"\n[imap]\nlisten = ["127.0.0.1:${imap}"]\n[smtp]\nlisten = ["127.0.0.1:${smtp}"]\n` +
        `[[accounts]]\naddress = "me@example.org"\nprovider = "custom"\n[accounts.auth]\npassword_file = "x.secret"\n` +
        `[accounts.pop3]\nhost = "pop.nowhere.invalid"\n[accounts.smtp]\nhost = "127.0.0.1"\nport = ${closed}\ntls = "starttls"\n`,
    );
    const { code, lines } = await doctor(file);
    expect(code).toBe(1);
    expect(line(lines, /POP3 server/)).toBe('✗ POP3 server pop.nowhere.invalid is not a known host name');
    expect(fixOf(lines, /POP3 server/)).toContain('check the spelling of accounts[0].pop3.host');
    expect(line(lines, /SMTP server/)).toBe(`✗ SMTP server nothing answers on 127.0.0.1:${closed} (connection refused)`);
    expect(fixOf(lines, /SMTP server/)).toContain('check accounts[0].smtp.port');
    expect(lines.filter((l) => /server 127\.0\.0\.1 is found/.test(l))).toEqual([]);
    expect(line(lines, /POP3 login/)).toBe('· POP3 login not tried (the server cannot be reached safely)');
    expect(line(lines, /local password/)).toBe('✗ no local password for mail clients yet');
    expect(fixOf(lines, /local password/)).toBe('    fix: hotbridge password me@example.org');
  });
});

/**
 * A fake POP3 server answering like Exchange Online for a mailbox whose POP is switched off. No real server
 * here (Dovecot) can produce these answers, so a small one plays them: `stat` answers STAT after a login,
 * `auth` answers the XOAUTH2 payload.
 */
async function fakeExchange(answers: { stat?: string; auth?: string }): Promise<FakeLineServer> {
  return startFakeLineServer(({ socket }) => {
    socket.write('+OK The Microsoft Exchange POP3 service is ready.\r\n');
    let inAuth = false;
    return (command) => {
      const verb = command.split(' ')[0].toUpperCase();
      if (inAuth) {
        inAuth = false;
        socket.write(`${answers.auth ?? '+OK User successfully authenticated.'}\r\n`);
      } else if (verb === 'CAPA') socket.write('+OK\r\nTOP\r\nUIDL\r\nSASL PLAIN XOAUTH2\r\nUSER\r\n.\r\n');
      else if (verb === 'AUTH') {
        inAuth = true;
        socket.write('+ \r\n');
      } else if (verb === 'STAT') socket.write(`${answers.stat ?? '+OK 0 0'}\r\n`);
      else if (verb === 'QUIT') socket.end('+OK Microsoft Exchange Server POP3 server signing off.\r\n');
      else socket.write('-ERR Command is not valid in this state.\r\n');
    };
  });
}

describe("Outlook's answers when POP is off", () => {
  const popHelp = PRESETS.outlook.popHelp!;

  async function outlookConfig(name: string, pop3Port: number, auth: string): Promise<string> {
    const [imap, smtp, closed] = await freePorts(3);
    return writeConfig(
      name,
      `data_dir = "data-${name}"\n[imap]\nlisten = ["127.0.0.1:${imap}"]\n[smtp]\nlisten = ["127.0.0.1:${smtp}"]\n` +
        `[[accounts]]\naddress = "someone@hotmail.com"\n[accounts.auth]\n${auth}` +
        // The Outlook preset with its POP3 server replaced by the fake one (tls none: loopback only).
        `[accounts.pop3]\nhost = "127.0.0.1"\nport = ${pop3Port}\ntls = "none"\n` +
        `[accounts.smtp]\nhost = "127.0.0.1"\nport = ${closed}\ntls = "starttls"\n`,
    );
  }

  it('a login that works but STAT refused: POP is off at Outlook.com, with where to switch it on', async () => {
    const exchange = await fakeExchange({ stat: '-ERR User is authenticated but not connected.' });
    try {
      fs.writeFileSync(path.join(dir, 'outlook.secret'), 'app-password\n', { mode: 0o600 });
      const { code, lines } = await doctor(
        await outlookConfig('pop-off-stat', exchange.port, 'method = "password"\npassword_file = "outlook.secret"\n'),
      );
      expect(line(lines, /POP3 login/)).toBe('✓ POP3 login as someone@hotmail.com');
      expect(line(lines, /POP is off/)).toBe('✗ POP is off at Outlook.com (it answered: User is authenticated but not connected.)');
      expect(fixOf(lines, /POP is off/)).toBe(`    fix: switch it on at ${popHelp}`);
      expect(code).toBe(1);
    } finally {
      await exchange.close();
    }
  });

  it('a Microsoft token refused by POP3: the fix says where to switch POP on, then to sign in again', async () => {
    const exchange = await fakeExchange({ auth: '-ERR Authentication failure: unknown user name or bad password.' });
    try {
      const config = await outlookConfig('pop-off-token', exchange.port, 'method = "oauth2"\nclient_id = "my-app"\n');
      const { TokenStore } = await import('../../../src/upstream/oauth/token-store.js');
      new TokenStore(path.join(dir, 'data-pop-off-token')).save('someone@hotmail.com', {
        accessToken: 'at',
        refreshToken: 'rt',
        expiresAt: Date.now() + 3_600_000,
      });
      const { code, lines } = await doctor(config);
      expect(line(lines, /POP3 login/)).toBe(
        '✗ POP3 login as someone@hotmail.com refused: Authentication failure: unknown user name or bad password.',
      );
      expect(fixOf(lines, /POP3 login/)).toBe(
        `    fix: POP is probably off at Outlook.com: switch it on at ${popHelp}\n         if it is on already, sign in again: hotbridge login someone@hotmail.com`,
      );
      expect(code).toBe(1);
    } finally {
      await exchange.close();
    }
  });

  it('an Outlook.com password login refused: the fix says passwords no longer work there', async () => {
    const exchange = await fakeExchange({ auth: '-ERR Authentication failure: unknown user name or bad password.' });
    try {
      fs.writeFileSync(path.join(dir, 'outlook2.secret'), 'old-password\n', { mode: 0o600 });
      const { lines } = await doctor(
        await outlookConfig('outlook-password', exchange.port, 'method = "password"\npassword_file = "outlook2.secret"\n'),
      );
      expect(fixOf(lines, /POP3 login/)).toMatch(/Outlook\.com takes no passwords for POP3 since September 2024: set method = "oauth2"/);
    } finally {
      await exchange.close();
    }
  });
});
