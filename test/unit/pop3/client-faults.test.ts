/**
 * Faults of the POP3 client against fake servers on 127.0.0.1 (port 0).
 *
 * Fake servers are used here ONLY because no real server can be made to produce these cases on demand: a
 * connection cut in the middle of RETR, a server that stops answering, a reset, responses split at chosen byte
 * boundaries, Outlook's throttling reply `-ERR Server Unavailable. 21`, an XOAUTH2 error challenge followed by a
 * bogus `+OK`, data injected after STLS. Behaviour against a real server (Dovecot) is in
 * test/integration/pop3-client.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Pop3Client, isLoopbackHost, type Pop3ClientOptions } from '../../../src/upstream/pop3/client.js';
import { Pop3Error } from '../../../src/upstream/pop3/errors.js';
import { startFakeLineServer, type FakePeer } from '../../helpers/fake-line-server.js';
import { rejection } from '../../helpers/rejection.js';
import { collectUncaught } from '../../helpers/uncaught.js';

interface FakeSession extends FakePeer {
  /** Lines the client sent, without CRLF. */
  received: string[];
}

type LineHandler = (line: string, session: FakeSession) => void;

interface FakeServer {
  port: number;
  sessions: FakeSession[];
  close(): Promise<void>;
}

const servers: FakeServer[] = [];
const clients: Pop3Client[] = [];
const unhandled = collectUncaught();

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
  // Let late socket events (resets, closes) fire before checking that none escaped.
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(unhandled).toEqual([]);
});

const CAPA = '+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n';

/** Answers the commands a test does not care about the way a plain RFC 1939 server would. */
function ordinaryReply(line: string, session: FakeSession): void {
  const verb = line.split(' ')[0].toUpperCase();
  if (verb === 'CAPA') session.write(CAPA);
  else if (verb === 'QUIT') {
    session.write('+OK bye\r\n');
    session.socket.end();
  } else if (verb === 'USER' || verb === 'PASS' || verb === 'NOOP' || verb === 'DELE' || verb === 'RSET') {
    session.write('+OK\r\n');
  } else session.write('-ERR unknown command\r\n');
}

async function fakeServer(onLine: LineHandler = ordinaryReply, greeting: string | null = '+OK fake ready\r\n') {
  const sessions: FakeSession[] = [];
  const server = await startFakeLineServer(
    (peer) => {
      const session: FakeSession = { ...peer, received: [] };
      sessions.push(session);
      if (greeting !== null) peer.socket.write(greeting);
      return (line) => {
        session.received.push(line);
        onLine(line, session);
      };
    },
    { noDelay: true },
  );
  const fake: FakeServer = { port: server.port, sessions, close: () => server.close() };
  servers.push(fake);
  return fake;
}

async function connect(server: FakeServer, extra: Partial<Pop3ClientOptions> = {}): Promise<Pop3Client> {
  const client = await Pop3Client.connect({ host: '127.0.0.1', port: server.port, tls: 'none', ...extra });
  clients.push(client);
  return client;
}

async function loggedIn(server: FakeServer, extra: Partial<Pop3ClientOptions> = {}): Promise<Pop3Client> {
  const client = await connect(server, extra);
  await client.loginPassword('alice', 'secret-password');
  return client;
}

/** The rejection of `promise` as a Pop3Error (fails the test if it resolves or rejects with something else). */
const failure = (promise: Promise<unknown>): Promise<Pop3Error> => rejection(promise, Pop3Error);

function dotStuffed(message: string): string {
  return message
    .split('\r\n')
    .map((line) => (line.startsWith('.') ? `.${line}` : line))
    .join('\r\n');
}

describe('Pop3Client against misbehaving servers', () => {
  it('rejects RETR with kind io when the connection is cut in the middle of the message', async () => {
    const server = await fakeServer((line, session) => {
      if (line === 'RETR 1') {
        session.write('+OK 5000 octets\r\nSubject: cut\r\n\r\nhalf of the bo');
        setTimeout(() => session.socket.destroy(), 20);
      } else ordinaryReply(line, session);
    });
    const client = await loggedIn(server);
    const error = await failure(client.retr(1));
    expect(error.kind).toBe('io');
    expect(error.temporary).toBe(true);
    expect(client.isOpen).toBe(false);
    // Anything after the drop fails at once, typed, instead of hanging.
    expect((await failure(client.noop())).kind).toBe('io');
  });

  it('rejects with kind io when the server resets the connection (ECONNRESET), without crashing', async () => {
    const server = await fakeServer((line, session) => {
      if (line === 'RETR 1') {
        session.write('+OK\r\nSubject: x\r\n');
        setTimeout(() => session.socket.resetAndDestroy(), 20);
      } else ordinaryReply(line, session);
    });
    const client = await loggedIn(server);
    const error = await failure(client.retr(1));
    expect(error.kind).toBe('io');
    expect(error.temporary).toBe(true);
  });

  it('rejects every pipelined RETR when the connection drops, and retrMany rejects once, before handing any over', async () => {
    const server = await fakeServer((line, session) => {
      if (line === 'CAPA') session.write('+OK\r\nUSER\r\nPIPELINING\r\n.\r\n');
      else if (line === 'RETR 1') session.write('+OK\r\none\r\n.\r\n');
      else if (line === 'RETR 2') session.socket.destroy();
      else if (line.startsWith('RETR')) return;
      else ordinaryReply(line, session);
    });
    const client = await loggedIn(server);
    const seen: number[] = [];
    const error = await failure(client.retrMany([1, 2, 3, 4, 5], (msg) => void seen.push(msg)));
    expect(error.kind).toBe('io');
    // Message 1 ended, but no status line came after it: whether it was whole is unknown, so it is not handed over.
    expect(seen).toEqual([]);
  });

  it('times out with kind timeout when the server goes silent, instead of hanging', async () => {
    const server = await fakeServer((line, session) => {
      if (line === 'RETR 1')
        session.write('+OK\r\nSubject: slow\r\n'); // and then nothing
      else if (line === 'STAT')
        return; // never answered
      else ordinaryReply(line, session);
    });
    const client = await loggedIn(server, { timeoutMs: 300 });
    const started = Date.now();
    const error = await failure(client.stat());
    expect(error.kind).toBe('timeout');
    expect(error.temporary).toBe(true);
    expect(error.message).toContain('STAT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(client.isOpen).toBe(false);

    const again = await loggedIn(server, { timeoutMs: 300 });
    expect((await failure(again.retr(1))).kind).toBe('timeout');
  });

  it('restarts the deadline while bytes keep arriving: a slow but steady download is not a timeout', async () => {
    const body = 'line of a slowly downloaded message\r\n'.repeat(200);
    const server = await fakeServer((line, session) => {
      if (line !== 'RETR 1') return ordinaryReply(line, session);
      const wire = Buffer.from(`+OK\r\n${body}.\r\n`);
      let at = 0;
      // 700 bytes every 40 ms: about 450 ms in all with a 300 ms deadline, each window bringing far more than
      // MIN_PROGRESS_BYTES_PER_SECOND asks, even when a loaded machine stretches the gaps.
      const timer = setInterval(() => {
        session.write(wire.subarray(at, at + 700));
        at += 700;
        if (at >= wire.length) clearInterval(timer);
      }, 40);
    });
    const client = await loggedIn(server, { timeoutMs: 300 });
    expect((await client.retr(1)).toString('latin1')).toBe(body);
  });

  it('times out when the server accepts the connection but never greets', async () => {
    const server = await fakeServer(ordinaryReply, null);
    const error = await failure(connect(server, { timeoutMs: 200 }));
    expect(error.kind).toBe('timeout');
    expect(error.message).toContain('greeting');
  });

  it('treats Outlook throttling (-ERR Server Unavailable. 21) as temporary, at login and at RETR', async () => {
    const atLogin = await fakeServer((line, session) => {
      if (line.startsWith('PASS')) session.write('-ERR Server Unavailable. 21\r\n');
      else ordinaryReply(line, session);
    });
    const client = await connect(atLogin);
    const loginError = await failure(client.loginPassword('alice', 'secret-password'));
    expect(loginError.temporary).toBe(true);
    expect(loginError.kind).not.toBe('auth');
    expect(loginError.serverText).toBe('Server Unavailable. 21');
    expect(loginError.message).not.toContain('secret-password');

    const atRetr = await fakeServer((line, session) => {
      if (line.startsWith('RETR')) session.write('-ERR Server Unavailable. 21\r\n');
      else ordinaryReply(line, session);
    });
    const busy = await loggedIn(atRetr);
    const retrError = await failure(busy.retr(1));
    expect(retrError.kind).toBe('protocol');
    expect(retrError.temporary).toBe(true);
    // A -ERR for one command leaves the session usable.
    await busy.noop();
  });

  it('classifies RFC 2449/3206 response codes: [IN-USE] and [SYS/TEMP] temporary, [AUTH] a refused login', async () => {
    const replies = new Map([
      ['in-use', '-ERR [IN-USE] Mailbox is locked by another session'],
      ['sys-temp', '-ERR [SYS/TEMP] Temporary authentication failure.'],
      ['refused', '-ERR [AUTH] Authentication failed.'],
    ]);
    const server = await fakeServer((line, session) => {
      const user = /^USER (.*)$/.exec(line);
      if (user) (session as FakeSession & { user?: string }).user = user[1];
      if (line.startsWith('PASS')) {
        session.write(`${replies.get((session as FakeSession & { user?: string }).user ?? '')}\r\n`);
      } else ordinaryReply(line, session);
    });
    const results = new Map<string, Pop3Error>();
    for (const user of replies.keys()) {
      const client = await connect(server);
      results.set(user, await failure(client.loginPassword(user, 'secret-password')));
    }
    expect(results.get('in-use')).toMatchObject({ kind: 'protocol', temporary: true, code: 'IN-USE' });
    expect(results.get('sys-temp')).toMatchObject({ kind: 'protocol', temporary: true, code: 'SYS/TEMP' });
    expect(results.get('refused')).toMatchObject({ kind: 'auth', temporary: false, code: 'AUTH' });
    for (const error of results.values()) expect(error.message).not.toContain('secret-password');
  });

  it('answers an XOAUTH2 error challenge with an empty line and rejects with kind auth', async () => {
    const challenge = Buffer.from('{"status":"401","schemes":"bearer","scope":"https://outlook.office.com/"}');
    const server = await fakeServer((line, session) => {
      if (line === 'CAPA') session.write('+OK\r\nUSER\r\nSASL PLAIN XOAUTH2\r\n.\r\n');
      else if (line === 'AUTH XOAUTH2') session.write('+ \r\n');
      else if (line === '') session.write('-ERR Authentication failure: unknown user name or bad password.\r\n');
      else if (session.received.at(-2) === 'AUTH XOAUTH2') session.write(`+ ${challenge.toString('base64')}\r\n`);
      else ordinaryReply(line, session);
    });
    const client = await connect(server);
    const error = await failure(client.loginXoauth2('alice@example.test', 'the-secret-token'));
    expect(error.kind).toBe('auth');
    expect(error.temporary).toBe(false);
    expect(error.message).toContain('"status":"401"');
    expect(error.message).not.toContain('the-secret-token');
    const received = server.sessions[0].received;
    // Two-step form: the command alone, then the payload on its own line, then our empty answer to the challenge.
    expect(received.slice(1)).toEqual(['AUTH XOAUTH2', expect.any(String), '']);
    const payload = Buffer.from(received[2], 'base64').toString('utf8');
    expect(payload).toBe('user=alice@example.test\x01auth=Bearer the-secret-token\x01\x01');
  });

  it('never reads a rejected XOAUTH2 as success, even if the server says +OK after the error challenge', async () => {
    const server = await fakeServer((line, session) => {
      if (line === 'AUTH XOAUTH2') session.write('+\r\n');
      else if (line === '') session.write('+OK sure, come in\r\n');
      else if (session.received.at(-2) === 'AUTH XOAUTH2') session.write('+ eyJzdGF0dXMiOiI0MDEifQ==\r\n');
      else ordinaryReply(line, session);
    });
    const client = await connect(server);
    const error = await failure(client.loginXoauth2('alice@example.test', 'token'));
    expect(error.kind).toBe('auth');
    expect(client.isOpen).toBe(false);
  });

  it('logs in with XOAUTH2 when the server accepts the payload', async () => {
    const server = await fakeServer((line, session) => {
      if (line === 'AUTH XOAUTH2') session.write('+ \r\n');
      else if (session.received.at(-2) === 'AUTH XOAUTH2') session.write('+OK User successfully authenticated.\r\n');
      else if (line === 'STAT') session.write('+OK 2 320\r\n');
      else ordinaryReply(line, session);
    });
    const client = await connect(server);
    await client.loginXoauth2('alice@example.test', 'token');
    expect(await client.stat()).toEqual({ count: 2, size: 320 });
  });

  it('reads a RETR answer written one byte per TCP segment, byte for byte', async () => {
    const message = 'Subject: drip\r\n\r\n.leading dot\r\n.\r\n\u00e9 8-bit\r\nend\r\n';
    const messageBytes = Buffer.from(message, 'latin1');
    const server = await fakeServer((line, session) => {
      // The drip below answers the NOOP that follows RETR too (its line completes the message).
      if (line === 'NOOP') return;
      if (line !== 'RETR 1') return ordinaryReply(line, session);
      const wire = Buffer.concat([Buffer.from('+OK\r\n'), Buffer.from(dotStuffed(message), 'latin1'), Buffer.from('.\r\n+OK noop\r\n')]);
      let at = 0;
      const drip = (): void => {
        if (at < wire.length) session.write(wire.subarray(at, ++at));
        if (at < wire.length) setTimeout(drip, 1);
      };
      drip();
    });
    const client = await loggedIn(server);
    const raw = await client.retr(1);
    expect(raw.equals(messageBytes)).toBe(true);
  });

  it('pipelines RETR within the window when PIPELINING is advertised, and hands messages over in order', async () => {
    let maxOutstanding = 0;
    const server = await fakeServer((line, session) => {
      if (line === 'CAPA') return session.write('+OK\r\nUSER\r\nPIPELINING\r\n.\r\n');
      const retr = /^RETR (\d+)$/.exec(line);
      if (!retr) return ordinaryReply(line, session);
      const state = session as FakeSession & { outstanding?: string[] };
      state.outstanding ??= [];
      state.outstanding.push(retr[1]);
      maxOutstanding = Math.max(maxOutstanding, state.outstanding.length);
      // Answer in bursts: only when three are waiting, or the last one was asked for.
      if (state.outstanding.length >= 3 || retr[1] === '10') {
        const batch = state.outstanding.splice(0);
        session.write(batch.map((n) => `+OK\r\nmessage ${n}\r\n.\r\n`).join(''));
      }
    });
    const client = await loggedIn(server, { pipelineWindow: 4 });
    expect(client.pipelining).toBe(true);
    const got: string[] = [];
    await client.retrMany([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], async (msg, raw) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      got.push(`${msg}:${raw.toString('latin1')}`);
    });
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => `${i + 1}:message ${i + 1}\r\n`));
    expect(maxOutstanding).toBeGreaterThanOrEqual(3);
    expect(maxOutstanding).toBeLessThanOrEqual(4);
  });

  it('sends one command at a time when PIPELINING is not advertised', async () => {
    let maxOutstanding = 0;
    let outstanding = 0;
    const server = await fakeServer((line, session) => {
      if (!line.startsWith('RETR')) return ordinaryReply(line, session);
      outstanding++;
      maxOutstanding = Math.max(maxOutstanding, outstanding);
      setTimeout(() => {
        outstanding--;
        session.write(`+OK\r\n${line}\r\n.\r\n`);
      }, 5);
    });
    const client = await loggedIn(server);
    const got: number[] = [];
    await client.retrMany([3, 1, 2], (msg) => void got.push(msg));
    expect(got).toEqual([3, 1, 2]);
    expect(maxOutstanding).toBe(1);
  });

  it('cuts the connection at maxMessageBytes with code TOO-LARGE, so an endless RETR is never read on', async () => {
    let sent = 0;
    const server = await fakeServer((line, session) => {
      if (line !== 'RETR 1') return ordinaryReply(line, session);
      // An answer that never ends, written as fast as the socket takes it.
      session.write('+OK\r\n');
      const chunk = Buffer.from('0123456789abcdef\r\n'.repeat(4096));
      const pump = (): void => {
        while (!session.socket.destroyed && session.socket.write(chunk)) sent += chunk.length;
        if (!session.socket.destroyed) session.socket.once('drain', pump);
      };
      pump();
    });
    const client = await loggedIn(server, { maxMessageBytes: 1_000_000 });
    const error = await failure(client.retr(1));
    expect(error).toMatchObject({ kind: 'protocol', code: 'TOO-LARGE', temporary: false });
    expect(client.isOpen).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The server stopped once the client was gone: what it managed to send is the limit plus what TCP buffers.
    expect(sent).toBeLessThan(1_000_000 + 32 * 1024 * 1024);
  });

  it('fails RETR with code TRUNCATED when the server does not dot-stuff: the rest of the message follows its early end', async () => {
    const message = 'Subject: dots\r\n\r\nfirst part\r\n.\r\nsecond part, after a line holding only a dot\r\n';
    const server = await fakeServer((line, session) => {
      // No dot-stuffing: the lone "." inside the message goes out as it is (RFC 1939 §3 says it must be doubled).
      if (line === 'RETR 1') session.write(`+OK\r\n${message}.\r\n`);
      else ordinaryReply(line, session);
    });
    const client = await loggedIn(server);
    const error = await failure(client.retr(1));
    expect(error).toMatchObject({ kind: 'protocol', code: 'TRUNCATED' });
    expect(error.message).toMatch(/dot-stuff/);
    expect(client.isOpen).toBe(false);
  });

  it('completes a non-pipelined RETR with the answer to the command after it (NOOP after the last)', async () => {
    const server = await fakeServer((line, session) => {
      if (line.startsWith('RETR')) session.write(`+OK\r\n${line}\r\n.\r\n`);
      else ordinaryReply(line, session);
    });
    const client = await loggedIn(server);
    const got: string[] = [];
    await client.retrMany([1, 2], (msg, raw) => void got.push(`${msg}:${raw.toString()}`));
    expect(got).toEqual(['1:RETR 1\r\n', '2:RETR 2\r\n']);
    expect(server.sessions[0].received.slice(-3)).toEqual(['RETR 1', 'RETR 2', 'NOOP']);
  });

  it('times out a server that drips a RETR answer too slowly to ever finish', async () => {
    const server = await fakeServer((line, session) => {
      if (line !== 'RETR 1') return ordinaryReply(line, session);
      session.write('+OK\r\n');
      // A few bytes every 50 ms: never silent for a whole window, far below MIN_PROGRESS_BYTES_PER_SECOND.
      const timer = setInterval(() => (session.socket.destroyed ? clearInterval(timer) : session.write('ab')), 50);
    });
    const client = await loggedIn(server, { timeoutMs: 300 });
    const error = await failure(client.retr(1));
    expect(error.kind).toBe('timeout');
    expect(error.message).toMatch(/sent only \d+ bytes/);
  });

  it('refuses to log in without TLS when STARTTLS was asked for and the server lacks STLS', async () => {
    const server = await fakeServer();
    const error = await failure(connect(server, { tls: 'starttls' }));
    expect(error.kind).toBe('tls');
    expect(server.sessions[0].received).not.toContain('STLS');
    expect(server.sessions[0].received.some((line) => line.startsWith('USER'))).toBe(false);
  });

  it('treats bytes sent after the STLS +OK in the clear as an injection (RFC 2595 §4)', async () => {
    const server = await fakeServer((line, session) => {
      if (line === 'CAPA') session.write('+OK\r\nSTLS\r\n.\r\n');
      else if (line === 'STLS') session.write('+OK Begin TLS\r\n+OK injected\r\n');
      else ordinaryReply(line, session);
    });
    const error = await failure(connect(server, { tls: 'starttls' }));
    expect(error.kind).toBe('protocol');
  });

  it('fails with kind protocol on a stream that is not POP3', async () => {
    const server = await fakeServer(ordinaryReply, 'SSH-2.0-OpenSSH_9.2\r\n');
    expect((await failure(connect(server))).kind).toBe('protocol');
  });

  it('fails with kind io and temporary when nothing listens', async () => {
    const server = await fakeServer();
    const port = server.port;
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    const error = await failure(Pop3Client.connect({ host: '127.0.0.1', port, tls: 'none', timeoutMs: 2000 }));
    expect(error.kind).toBe('io');
    expect(error.temporary).toBe(true);
  });

  it('close() rejects the commands still waiting with kind io', async () => {
    const server = await fakeServer((line, session) => {
      if (!line.startsWith('RETR')) ordinaryReply(line, session);
    });
    const client = await loggedIn(server);
    const pending = failure(client.retr(1));
    client.close();
    expect((await pending).kind).toBe('io');
  });

  it('refuses tls = "none" for a host that is not loopback, before connecting', async () => {
    const error = await failure(Pop3Client.connect({ host: '192.0.2.1', port: 110, tls: 'none' }));
    expect(error.kind).toBe('tls');
    expect(error.message).toMatch(/loopback/);
    expect(isLoopbackHost('127.0.0.2')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopbackHost('outlook.office365.com')).toBe(false);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
  });

  it('never sends a command line with an embedded CR or LF', async () => {
    const server = await fakeServer();
    const client = await connect(server);
    expect((await failure(client.loginPassword('alice\r\nDELE 1', 'pw'))).kind).toBe('auth');
    expect(server.sessions[0].received.some((line) => line.startsWith('DELE'))).toBe(false);
  });

  it('uses AUTH PLAIN in two steps when SASL PLAIN is advertised', async () => {
    const server = await fakeServer((line, session) => {
      if (line === 'CAPA') session.write('+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n');
      else if (line === 'AUTH PLAIN') session.write('+ \r\n');
      else if (session.received.at(-2) === 'AUTH PLAIN') session.write('+OK Logged in.\r\n');
      else ordinaryReply(line, session);
    });
    const client = await connect(server);
    await client.loginPassword('alice@example.test', 'p\u00e4ss word');
    const received = server.sessions[0].received;
    expect(received.slice(1, 3)[0]).toBe('AUTH PLAIN');
    expect(Buffer.from(received[2], 'base64').toString('utf8')).toBe('\0alice@example.test\0p\u00e4ss word');
    expect(received.some((line) => line.startsWith('USER') || line.startsWith('PASS'))).toBe(false);
  });
});
