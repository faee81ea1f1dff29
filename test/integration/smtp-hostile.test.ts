// The submission server against a hostile or clumsy client, over real sockets with a bare SMTP client
// (exact reply codes matter here): UTF-8 addresses without SMTPUTF8, parameters of extensions we do not
// offer, another user's authorization identity, every limit named in its reply, nothing buffered past
// the limits, and no client able to hold the server (deadlines, room for a new client). Also pins the
// smtp-server behaviour session-guard.ts relies on (its 421 replies and when it closes).
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/runtime/logger.js';
import { startSubmissionServer, type SubmissionServer, type SubmissionServerOptions } from '../../src/downstream/smtp/server.js';
import { collectUncaught } from '../helpers/uncaught.js';
import { LOCAL_PASSWORD, openLocalSide, testAccount, type LocalSide } from './fixtures/smtp-setup.js';
import { plainAuth, SmtpWire } from './fixtures/smtp-wire.js';

const ALICE = 'alice@example.test';
const MAX_BYTES = 64 * 1024;
const account = testAccount(ALICE);
const uncaught = collectUncaught();

let local: LocalSide;
const servers: SubmissionServer[] = [];

beforeAll(async () => {
  local = await openLocalSide([ALICE], 200);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await local?.close();
  expect(uncaught).toEqual([]);
});

async function start(options: Partial<SubmissionServerOptions> = {}): Promise<{ server: SubmissionServer; port: number }> {
  const server = await startSubmissionServer({
    listen: [{ host: '127.0.0.1', port: 0 }],
    store: local.store,
    auth: local.auth,
    logger: silentLogger(),
    maxMessageBytes: MAX_BYTES,
    accounts: () => [account],
    ...options,
  });
  servers.push(server);
  return { server, port: server.addresses()[0].port };
}

async function greeted(port: number): Promise<SmtpWire> {
  const wire = await SmtpWire.connect('127.0.0.1', port);
  expect((await wire.reply()).code).toBe(220);
  expect((await wire.command('EHLO client.example')).code).toBe(250);
  return wire;
}

async function loggedIn(port: number): Promise<SmtpWire> {
  const wire = await greeted(port);
  expect((await wire.command(`AUTH PLAIN ${plainAuth(ALICE, LOCAL_PASSWORD)}`)).code).toBe(235);
  return wire;
}

describe('envelope: SMTPUTF8 and parameters', () => {
  let port: number;
  let offered = false;
  beforeAll(async () => {
    ({ port } = await start({ smtpUtf8Offered: () => offered }));
  });

  it('does not offer SMTPUTF8 while the provider is not known to, and refuses UTF-8 addresses with 553 5.6.7', async () => {
    offered = false;
    const wire = await loggedIn(port);
    try {
      const ehlo = await wire.command('EHLO client.example');
      expect(ehlo.lines).not.toContain('SMTPUTF8');
      expect((await wire.command(`MAIL FROM:<${ALICE}> SMTPUTF8`)).text).toMatch(/^555 5\.5\.4 .*SMTPUTF8/);
      // The refused SMTPUTF8 must not linger for the next transaction (smtp-server sets its flag before asking us).
      expect((await wire.command(`MAIL FROM:<${ALICE}>`)).code).toBe(250);
      const local8 = await wire.command('RCPT TO:<jörg@example.org>');
      expect(local8.text).toMatch(/^553 5\.6\.7 The recipient address is not ASCII/);
      expect((await wire.command('RCPT TO:<bob@bücher.example>')).text).toMatch(/^553 5\.6\.7 /);
      // The same domain in its ASCII form (A-label) needs nothing.
      expect((await wire.command('RCPT TO:<bob@xn--bcher-kva.example>')).code).toBe(250);
      expect((await wire.command('RSET')).code).toBe(250);
      expect((await wire.command('MAIL FROM:<alicé@example.test>')).text).toMatch(/^553 5\.6\.7 The sender address is not ASCII/);
    } finally {
      wire.close();
    }
  });

  it('offers SMTPUTF8 once the provider does, and then takes UTF-8 addresses in a transaction that declares it', async () => {
    offered = true;
    const wire = await greeted(port);
    try {
      expect((await wire.command('EHLO client.example')).lines).toContain('SMTPUTF8');
      expect((await wire.command(`AUTH PLAIN ${plainAuth(ALICE, LOCAL_PASSWORD)}`)).code).toBe(235);
      expect((await wire.command(`MAIL FROM:<${ALICE}> SMTPUTF8`)).code).toBe(250);
      expect((await wire.command('RCPT TO:<jörg@bücher.example>')).code).toBe(250);
      // Bytes that are no UTF-8 at all are still refused.
      wire.send(Buffer.concat([Buffer.from('RCPT TO:<j'), Buffer.from([0xff, 0xfe]), Buffer.from('rg@example.org>\r\n')]));
      expect((await wire.reply()).text).toMatch(/^553 5\.1\.3 The recipient address is not valid UTF-8/);
      expect((await wire.command('RSET')).code).toBe(250);
      // Offered but not declared: still 553 5.6.7.
      expect((await wire.command(`MAIL FROM:<${ALICE}>`)).code).toBe(250);
      expect((await wire.command('RCPT TO:<jörg@example.org>')).text).toMatch(/^553 5\.6\.7 /);
    } finally {
      wire.close();
      offered = false;
    }
  });

  it('refuses parameters of extensions it does not offer with 555 5.5.4, and takes those it does', async () => {
    const wire = await loggedIn(port);
    try {
      for (const parameter of ['FOO=bar', 'RET=FULL', 'ENVID=x', 'MT-PRIORITY=3']) {
        expect((await wire.command(`MAIL FROM:<${ALICE}> ${parameter}`)).text).toMatch(/^555 5\.5\.4 MAIL FROM parameter /);
      }
      // REQUIRETLS (RFC 8689) is refused by smtp-server itself on a connection without TLS.
      expect((await wire.command(`MAIL FROM:<${ALICE}> REQUIRETLS`)).code).toBeGreaterThanOrEqual(500);
      expect((await wire.command(`MAIL FROM:<${ALICE}> BODY=8BITMIME SIZE=100 AUTH=<>`)).code).toBe(250);
      for (const parameter of ['NOTIFY=NEVER', 'ORCPT=rfc822;bob@example.org', 'X']) {
        expect((await wire.command(`RCPT TO:<bob@example.org> ${parameter}`)).text).toMatch(/^555 5\.5\.4 RCPT TO parameter /);
      }
      expect((await wire.command('RCPT TO:<bob@example.org>')).code).toBe(250);
    } finally {
      wire.close();
    }
  });

  it('names the recipient limit in its 452, and does not count a repeated recipient twice', async () => {
    const wire = await loggedIn(port);
    try {
      expect((await wire.command(`MAIL FROM:<${ALICE}>`)).code).toBe(250);
      // Pipelined: 500 recipients in one write, then their 500 replies.
      wire.send(Buffer.from(Array.from({ length: 500 }, (_, i) => `RCPT TO:<r${i}@example.org>\r\n`).join('')));
      for (let i = 0; i < 500; i++) expect((await wire.reply()).code).toBe(250);
      expect((await wire.command('RCPT TO:<one-more@example.org>')).text).toMatch(
        /^452 4\.5\.3 Too many recipients: at most 500 per message/,
      );
      expect((await wire.command('RCPT TO:<R7@example.org>')).code).toBe(250);
    } finally {
      wire.close();
    }
  });
});

describe('AUTH PLAIN authorization identity', () => {
  let port: number;
  beforeAll(async () => {
    ({ port } = await start());
  });

  const plain = (authzid: string, authcid: string, password: string): string =>
    Buffer.from(`${authzid}\u0000${authcid}\u0000${password}`).toString('base64');

  it('refuses acting as another user with 535 and the reason, without trying the password', async () => {
    const hashes = local.auth.counts().hashes;
    const wire = await greeted(port);
    try {
      const reply = await wire.command(`AUTH PLAIN ${plain('bob@example.test', ALICE, LOCAL_PASSWORD)}`);
      expect(reply.text).toMatch(/^535 5\.7\.8 Acting as another user is not supported/);
      expect(local.auth.counts().hashes).toBe(hashes);
      expect((await wire.command(`MAIL FROM:<${ALICE}>`)).code).toBe(530);
    } finally {
      wire.close();
    }
  });

  it('accepts an authorization identity that is the login itself, or stands alone for it', async () => {
    for (const token of [plain('Alice@Example.TEST', ALICE, LOCAL_PASSWORD), plain(ALICE, '', LOCAL_PASSWORD)]) {
      const wire = await greeted(port);
      try {
        expect((await wire.command(`AUTH PLAIN ${token}`)).code).toBe(235);
      } finally {
        wire.close();
      }
    }
  });
});

describe('limits named in replies, and nothing buffered past them', () => {
  let server: SubmissionServer;
  let port: number;
  beforeAll(async () => {
    ({ server, port } = await start());
  });

  it('closes on an over-long command line with a 421 that names the limit, and keeps serving others', async () => {
    const before = server.closedCounts().closedForErrors;
    const wire = await greeted(port);
    wire.send(`NOOP ${'x'.repeat(5000)}\r\n`);
    expect((await wire.reply()).text).toMatch(/^421 .*Command line too long: the limit is 4096 bytes/);
    expect(await wire.closedByServer()).toBe(true);
    await expect.poll(() => server.closedCounts().closedForErrors).toBe(before + 1);
    const other = await loggedIn(port);
    expect((await other.command('NOOP')).code).toBe(250);
    other.close();
  });

  it('stops reading an endless line: the connection closes long before the client has sent it all', async () => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const limit = 64 * 1024 * 1024;
    let gone = false;
    void closed.then(() => (gone = true));
    while (!gone && socket.bytesWritten < limit) {
      if (!socket.write(chunk)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
    }
    await closed;
    // What the kernel buffers took is all that went: the server read at most its line limit of it.
    expect(socket.bytesWritten).toBeLessThan(limit);
  });

  it('refuses a message over the size limit with 552 naming it, queues nothing, and the session goes on', async () => {
    const before = (await local.store.listOutbox(ALICE)).length;
    const wire = await loggedIn(port);
    try {
      expect((await wire.command(`MAIL FROM:<${ALICE}>`)).code).toBe(250);
      expect((await wire.command('RCPT TO:<bob@example.org>')).code).toBe(250);
      expect((await wire.command('DATA')).code).toBe(354);
      // Twenty times the limit, in long lines without a break and in short ones.
      const long = Buffer.alloc(10 * MAX_BYTES, 0x62);
      const lines = Buffer.from(`${'c'.repeat(70)}\r\n`.repeat(Math.ceil((10 * MAX_BYTES) / 72)));
      wire.send(Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), long, Buffer.from('\r\n'), lines, Buffer.from('.\r\n')]));
      expect((await wire.reply()).text).toMatch(new RegExp(`^552 .*maximum message size ${MAX_BYTES}`));
      expect((await wire.command('NOOP')).code).toBe(250);
    } finally {
      wire.close();
    }
    expect((await local.store.listOutbox(ALICE)).length).toBe(before);
  });

  it('closes after ten unrecognised commands, and counts it as closed for errors', async () => {
    const before = server.closedCounts().closedForErrors;
    const wire = await greeted(port);
    for (let i = 0; i < 9; i++) expect((await wire.command(`BOGUS${i}`)).code).toBe(500);
    expect((await wire.command('BOGUS9')).text).toMatch(/^421 .*too many unrecognized commands/);
    expect(await wire.closedByServer()).toBe(true);
    await expect.poll(() => server.closedCounts().closedForErrors).toBe(before + 1);
  });

  it('closes after three failed logins on one connection', async () => {
    const before = server.closedCounts().closedForErrors;
    const wire = await greeted(port);
    expect((await wire.command(`AUTH PLAIN ${plainAuth(ALICE, 'wrong 1')}`)).code).toBe(535);
    expect((await wire.command(`AUTH PLAIN ${plainAuth(ALICE, 'wrong 2')}`)).code).toBe(535);
    expect((await wire.command(`AUTH PLAIN ${plainAuth(ALICE, 'wrong 3')}`)).text).toMatch(/^421 4\.7\.0 3 failed logins/);
    expect(await wire.closedByServer()).toBe(true);
    expect(server.closedCounts().closedForErrors).toBe(before + 1);
  });
});

describe('no client can hold the server', () => {
  // Deadlines of a few seconds: the logins that must beat them come from the cache, never a slow hash.
  beforeAll(async () => {
    expect(await local.auth.verify(ALICE, LOCAL_PASSWORD, '127.0.0.1')).toBe(ALICE);
  });

  it('closes a connection that has not logged in by its deadline, however busy it keeps it', async () => {
    const { server, port } = await start({ timeouts: { loginMs: 2000 } });
    const wire = await greeted(port);
    const stayingIn = await loggedIn(port);
    // A byte now and then restarts smtp-server's idle timeout, never this deadline (and completes no
    // command, so smtp-server's own limit of commands before login does not end it first).
    const trickle = setInterval(() => wire.send(Buffer.from('N')), 200);
    try {
      expect((await wire.reply()).text).toMatch(/^421 4\.4\.2 No login within 2s of connecting/);
      expect(await wire.closedByServer()).toBe(true);
    } finally {
      clearInterval(trickle);
    }
    expect(server.closedCounts().closedForLoginDeadline).toBe(1);
    // The deadline is for logging in only: the session that did stays.
    expect((await stayingIn.command('NOOP')).code).toBe(250);
    stayingIn.close();
  });

  it('ends any session at its overall deadline', async () => {
    const { server, port } = await start({ timeouts: { sessionMs: 3000 } });
    const wire = await loggedIn(port);
    expect(await wire.closedByServer(30_000)).toBe(true);
    expect(server.closedCounts().closedForSessionDeadline).toBe(1);
  });

  it('makes room for a new client by closing the oldest connection that has not logged in', async () => {
    const { server, port } = await start({ maxClients: 3 });
    const user = await loggedIn(port);
    const oldest = await greeted(port);
    const newer = await greeted(port);
    // Full: the next client still gets in, and the oldest anonymous connection makes room for it.
    const next = await greeted(port);
    expect((await oldest.reply()).text).toMatch(/^421 4\.7\.0 Too many connections: closing the oldest one that has not logged in/);
    expect(await oldest.closedByServer()).toBe(true);
    expect(server.closedCounts().closedForRoom).toBe(1);
    expect((await next.command(`AUTH PLAIN ${plainAuth(ALICE, LOCAL_PASSWORD)}`)).code).toBe(235);
    expect((await newer.command('NOOP')).code).toBe(250);
    expect((await user.command('NOOP')).code).toBe(250);
    for (const wire of [user, newer, next]) wire.close();
  });

  it('refuses a new client only when every slot holds a logged-in session', async () => {
    const { port } = await start({ maxClients: 2 });
    const sessions = [await loggedIn(port), await loggedIn(port)];
    const refused = await SmtpWire.connect('127.0.0.1', port);
    expect((await refused.reply()).code).toBe(421);
    expect(await refused.closedByServer()).toBe(true);
    for (const wire of sessions) expect((await wire.command('NOOP')).code).toBe(250);
    for (const wire of sessions) wire.close();
  });
});
