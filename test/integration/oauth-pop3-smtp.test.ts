// OAuth2 end to end: `hotbridge login` against the local identity server, then POP3 XOAUTH2 (our client) to
// the lab's Dovecot and SMTP XOAUTH2 (nodemailer) to the lab's Postfix, which asks Dovecot. Dovecot's oauth2
// passdb asks the lab's introspection endpoint, which the identity server keeps in step: exactly the live
// access tokens are active (linkTo). Access tokens live 2 seconds, so the test crosses several refreshes,
// each rotating the refresh token, and checks that an expired or revoked token is really refused.
import path from 'node:path';
import { PassThrough } from 'node:stream';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLogin } from '../../src/cli/commands/login.js';
import { resolveConfig } from '../../src/config/load.js';
import type { HotbridgeConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { CredentialError, type UpstreamLogin } from '../../src/upstream/credentials.js';
import { OAuth2CredentialSource } from '../../src/upstream/oauth/token-source.js';
import { TokenStore } from '../../src/upstream/oauth/token-store.js';
import { Pop3Client } from '../../src/upstream/pop3/client.js';
import { Pop3Error } from '../../src/upstream/pop3/errors.js';
import { startIdentityServer, type IdentityServer } from '../helpers/identity-server.js';
import { startLab, type Lab } from '../helpers/lab.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const CAROL = 'carol@example.test';
const LIFETIME_S = 2;

function message(n: number): Buffer {
  return Buffer.from(
    `From: <${CAROL}>\r\nTo: <friend@example.org>\r\nSubject: oauth relay ${n}\r\nMessage-ID: <oauth-${n}@example.test>\r\n\r\nbody ${n}\r\n`,
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('OAuth2: POP3 and SMTP XOAUTH2 with short-lived, rotating tokens', () => {
  let lab: Lab | undefined;
  let idp: IdentityServer | undefined;
  let dir: string;
  let config: HotbridgeConfig;
  let store: TokenStore;

  beforeAll(async () => {
    dir = tempDir();
    idp = await startIdentityServer({ interval: 1, accessTokenLifetimeS: LIFETIME_S });
    lab = await startLab({ oauth: true, smtp: true });
    idp.linkTo(lab);
    config = resolveConfig(
      {
        data_dir: path.join(dir, 'data'),
        accounts: [
          {
            address: CAROL,
            provider: 'custom',
            auth: { method: 'oauth2', client_id: idp.clientId, authority: idp.authority },
            pop3: { host: lab.host, port: lab.pop3sPort, tls: 'implicit', ca_file: lab.caFile },
            smtp: { host: lab.host, port: lab.smtpPort, tls: 'starttls', ca_file: lab.caFile },
          },
        ],
      },
      path.join(dir, 'hotbridge.toml'),
    );
    store = new TokenStore(config.dataDir);
    await lab.injectMessages(CAROL, [message(100), message(101)]);
    // The sign-in, as the user runs it: `hotbridge login carol@example.test`.
    idp.scriptDeviceFlow({ user: CAROL, steps: ['pending', 'approve'] });
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const code = await runLogin({ config, address: CAROL, out, sleep: async () => undefined });
    expect(code, text).toBe(0);
  });

  afterAll(async () => {
    await idp?.close();
    await lab?.stop();
    removeDir(dir);
  });

  function source(extra: { onSignInNeeded?: (address: string) => void } = {}): OAuth2CredentialSource {
    const auth = config.accounts[0].auth;
    if (auth.method !== 'oauth2' || !auth.clientId) throw new Error('test config must be oauth2 with a client id');
    return new OAuth2CredentialSource({
      address: CAROL,
      user: auth.user,
      authority: auth.authority,
      clientId: auth.clientId,
      scopes: auth.scopes,
      tokens: store,
      logger: silentLogger(),
      // Tokens live 2 s: hand out only ones with more than 1.2 s left, so a session never starts with a dying one.
      refreshAheadMs: 1200,
      ...extra,
    });
  }

  function xoauth2(login: UpstreamLogin): { user: string; accessToken: string } {
    if (login.kind !== 'xoauth2') throw new Error(`expected an xoauth2 login, got ${login.kind}`);
    return login;
  }

  async function pop3Count(login: UpstreamLogin): Promise<number> {
    const { user, accessToken } = xoauth2(login);
    const client = await Pop3Client.connect({ host: lab!.host, port: lab!.pop3sPort, tls: 'implicit', ca: lab!.ca, timeoutMs: 10_000 });
    try {
      await client.loginXoauth2(user, accessToken);
      const { count } = await client.stat();
      await client.quit();
      return count;
    } finally {
      if (client.isOpen) await client.quit().catch(() => undefined);
    }
  }

  async function smtpSend(login: UpstreamLogin, raw: Buffer): Promise<string> {
    const { user, accessToken } = xoauth2(login);
    const transport = nodemailer.createTransport({
      host: lab!.host,
      port: lab!.smtpPort,
      secure: false,
      requireTLS: true,
      tls: { ca: lab!.ca, servername: 'localhost' },
      auth: { type: 'OAuth2', user, accessToken },
    });
    try {
      const info = await transport.sendMail({ envelope: { from: CAROL, to: ['friend@example.org'] }, raw });
      return info.response;
    } finally {
      transport.close();
    }
  }

  it('fetches and relays across several access-token expiries, each refresh rotating the refresh token, and after a restart', async () => {
    const src = source();
    const refreshesBefore = idp!.stats.refreshes;
    const seenAccess = new Set<string>();
    const seenRefresh = new Set<string>();
    let firstLogin: UpstreamLogin | undefined;
    await lab!.clearCaptured();
    for (let round = 0; round < 4; round++) {
      // POP3 and SMTP ask the same source, as the poller and the relay do.
      const [forPop3, forSmtp] = await Promise.all([src.get(), src.get()]);
      expect(xoauth2(forSmtp).accessToken).toBe(xoauth2(forPop3).accessToken);
      expect(xoauth2(forPop3).user).toBe(CAROL);
      firstLogin ??= forPop3;
      seenAccess.add(xoauth2(forPop3).accessToken);
      seenRefresh.add(store.load(CAROL)!.refreshToken);
      expect(await pop3Count(forPop3)).toBe(2);
      expect(await smtpSend(forSmtp, message(round))).toMatch(/^250 /);
      await sleep(1000);
    }
    // Every round needed a new token (each lived 2 s), and every refresh rotated the refresh token.
    expect(seenAccess.size).toBe(4);
    expect(seenRefresh.size).toBe(4);
    expect(idp!.stats.refreshes - refreshesBefore).toBeGreaterThanOrEqual(3);
    expect(idp!.stats.invalidGrants).toBe(0);
    const captured = await lab!.waitForCaptured(4);
    expect(captured.map((m) => /Subject: (.*)/.exec(m.raw.toString('latin1'))?.[1])).toEqual([0, 1, 2, 3].map((n) => `oauth relay ${n}`));

    // The first access token has expired by now, and Dovecot really refuses it.
    const expired = await pop3Count(firstLogin!).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(expired).toBeInstanceOf(Pop3Error);
    expect((expired as Pop3Error).kind).toBe('auth');

    // A restart: a new source over the same data dir continues with the rotated refresh token on disk.
    await sleep(LIFETIME_S * 1000);
    const restarted = source();
    const afterRestart = await restarted.get();
    expect(await pop3Count(afterRestart)).toBe(2);
    expect(await smtpSend(afterRestart, message(9))).toMatch(/^250 /);
  });

  it('refuses a reused old refresh token as Microsoft does', async () => {
    const before = store.load(CAROL)!;
    const src = source();
    await sleep(LIFETIME_S * 1000);
    const fresh = await src.get(); // rotates: `before.refreshToken` is spent
    expect(await pop3Count(fresh)).toBe(2);
    // The stale set comes back (a restored backup); its refresh token no longer works.
    store.save(CAROL, before);
    const error = await source()
      .get()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(error).toBeInstanceOf(CredentialError);
    expect((error as CredentialError).reason).toBe('signin-needed');
    expect((error as Error).message).toBe(`sign-in expired: run hotbridge login ${CAROL}`);
  });

  it('after a revocation POP3 and SMTP refuse the token, get() says what to run, and the handler hears it once', async () => {
    // A fresh sign-in first (the previous test left a dead one on disk).
    idp!.scriptDeviceFlow({ user: CAROL });
    const code = await runLogin({ config, address: CAROL, out: new PassThrough(), sleep: async () => undefined });
    expect(code).toBe(0);
    const told: string[] = [];
    const src = source({ onSignInNeeded: (address) => void told.push(address) });
    const login = await src.get();
    expect(await pop3Count(login)).toBe(2);

    idp!.revokeUser(CAROL); // password changed / "sign out everywhere": the lab's introspection drops the tokens too
    const pop3Error = await pop3Count(login).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(pop3Error).toBeInstanceOf(Pop3Error);
    expect((pop3Error as Pop3Error).kind).toBe('auth');
    const smtpError = await smtpSend(login, message(50)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((smtpError as { code?: string }).code).toBe('EAUTH');

    src.rejected();
    for (let i = 0; i < 3; i++) {
      const error = await src.get().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect((error as CredentialError).reason).toBe('signin-needed');
      expect((error as Error).message).toBe(`sign-in expired: run hotbridge login ${CAROL}`);
      for (const secret of idp!.allSecrets()) expect(`${(error as Error).message}${(error as Error).stack}`).not.toContain(secret);
    }
    expect(src.state).toBe('signin-needed');
    expect(told).toEqual([CAROL]);
  });
});
