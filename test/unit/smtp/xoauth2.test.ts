// The XOAUTH2 exchange our nodemailer handler speaks. The lab (Postfix + Dovecot) covers the normal
// two-step login and a refused token end to end (test/integration/smtp-relay.test.ts); what no real
// server here can be made to do is insist on the one-line form (504 to a bare `AUTH XOAUTH2`), so a
// scripted SMTP server on a real socket plays those dialogues and records what the client sent.
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { XOAUTH2_CUSTOM_METHOD, xoauth2Auth, xoauth2Handler } from '../../../src/upstream/smtp/xoauth2.js';
import { startFakeLineServer, type FakeLineServer } from '../../helpers/fake-line-server.js';

type Script = (line: string, step: number) => string;

const servers: FakeLineServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A plain-text SMTP server that answers AUTH lines from `script` and everything else with 250/354. */
async function scriptedServer(script: Script): Promise<{ port: number; lines: string[] }> {
  const lines: string[] = [];
  const server = await startFakeLineServer(({ socket }) => {
    let step = 0;
    let inAuth = false;
    let inData = false;
    socket.write('220 scripted ESMTP\r\n');
    return (line) => {
      if (inData) {
        if (line === '.') {
          inData = false;
          socket.write('250 queued\r\n');
        }
        return;
      }
      lines.push(line);
      if (/^EHLO /i.test(line)) socket.write('250-scripted\r\n250 AUTH XOAUTH2\r\n');
      else if (/^AUTH /i.test(line) || inAuth) {
        const reply = script(line, step++);
        inAuth = reply.startsWith('334');
        socket.write(`${reply}\r\n`);
      } else if (/^DATA/i.test(line)) {
        inData = true;
        socket.write('354 go on\r\n');
      } else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n');
      else socket.write('250 ok\r\n');
    };
  });
  servers.push(server);
  return { port: server.port, lines };
}

function send(port: number): Promise<unknown> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    forceAuth: true,
    auth: xoauth2Auth('alice@example.test', 'token-123'),
    customAuth: { [XOAUTH2_CUSTOM_METHOD]: xoauth2Handler },
    logger: false,
  });
  return transport
    .sendMail({ envelope: { from: 'alice@example.test', to: ['bob@example.org'] }, raw: Buffer.from('Subject: x\r\n\r\nx\r\n') })
    .finally(() => transport.close());
}

const payload = Buffer.from('user=alice@example.test\u0001auth=Bearer token-123\u0001\u0001').toString('base64');

describe('XOAUTH2 handler', () => {
  it('sends the token in a second step after 334 (the form Microsoft documents)', async () => {
    const server = await scriptedServer((line, step) => (step === 0 ? '334 ' : line === payload ? '235 2.7.0 ok' : '535 5.7.3 bad'));
    await send(server.port);
    expect(server.lines.filter((line) => !/^(EHLO|MAIL|RCPT|DATA|QUIT)/.test(line))).toEqual(['AUTH XOAUTH2', payload]);
  });

  it('falls back to the one-line form when the bare command gets 504', async () => {
    const server = await scriptedServer((line) =>
      line === 'AUTH XOAUTH2'
        ? '504 5.7.4 initial response required'
        : line === `AUTH XOAUTH2 ${payload}`
          ? '235 2.7.0 ok'
          : '535 5.7.3 bad',
    );
    await send(server.port);
    expect(server.lines).toContain(`AUTH XOAUTH2 ${payload}`);
  });

  it('answers an error challenge with an empty line and reports the final 535 as a login failure', async () => {
    const challenge = Buffer.from('{"status":"401","schemes":"bearer","scope":"https://outlook.office.com/SMTP.Send"}').toString('base64');
    const server = await scriptedServer((_line, step) =>
      step === 0 ? '334 ' : step === 1 ? `334 ${challenge}` : '535 5.7.3 Authentication unsuccessful',
    );
    await expect(send(server.port)).rejects.toMatchObject({
      code: 'EAUTH',
      responseCode: 535,
      response: '535 5.7.3 Authentication unsuccessful',
    });
    const authLines = server.lines.filter((line) => !/^(EHLO|QUIT|RSET)/.test(line));
    expect(authLines).toEqual(['AUTH XOAUTH2', payload, '']);
  });
});
