// OAuth2CredentialSource against the local identity server over real HTTP: refresh ahead of expiry, one refresh
// at a time, rotation saved before use, network failures that keep the sign-in, invalid_grant -> signin-needed.
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OUTLOOK_SCOPES } from '../../../src/config/presets.js';
import { createLogger, type Logger } from '../../../src/runtime/logger.js';
import { CredentialError } from '../../../src/upstream/credentials.js';
import { signInWithDeviceCode } from '../../../src/upstream/oauth/device-code.js';
import { OAuth2CredentialSource } from '../../../src/upstream/oauth/token-source.js';
import { TokenStore, type TokenSet } from '../../../src/upstream/oauth/token-store.js';
import { startIdentityServer, type IdentityServer } from '../../helpers/identity-server.js';
import { rejection } from '../../helpers/rejection.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

const ALICE = 'alice@example.test';

describe('OAuth2CredentialSource', () => {
  let idp: IdentityServer;
  let dir: string;
  let store: TokenStore;
  let logText: string;
  let logger: Logger;
  /** Every error any get() threw, checked for secrets at the end. */
  const thrown: unknown[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    idp = await startIdentityServer({ interval: 1 });
  });
  afterAll(async () => {
    const secrets = idp.allSecrets();
    expect(thrown.length).toBeGreaterThan(5);
    const everything = [...thrown.map((e) => `${(e as Error).message}\n${(e as Error).stack ?? ''}`), ...logs].join('\n');
    for (const secret of secrets) expect(everything).not.toContain(secret);
    await idp.close();
  });

  beforeEach(() => {
    dir = tempDir();
    store = new TokenStore(dir);
    logText = '';
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => {
      logText += chunk.toString();
    });
    logger = createLogger({ level: 'debug', format: 'json', destination: stream });
    idp.accessTokenLifetimeS = 3600;
    idp.refreshDelayMs = 0;
  });
  afterEach(() => {
    logs.push(logText);
    removeDir(dir);
  });

  /** A real device-code sign-in for `user`, saved as `hotbridge login` does. */
  async function signIn(user = ALICE, lifetimeS = idp.accessTokenLifetimeS): Promise<TokenSet> {
    const previous = idp.accessTokenLifetimeS;
    idp.accessTokenLifetimeS = lifetimeS;
    idp.scriptDeviceFlow({ user });
    const tokens = await signInWithDeviceCode({
      authority: idp.authority,
      clientId: idp.clientId,
      scopes: OUTLOOK_SCOPES,
      onPrompt: () => undefined,
      sleep: async () => undefined,
    });
    idp.accessTokenLifetimeS = previous;
    store.save(user, tokens);
    return tokens;
  }

  function source(extra: Partial<ConstructorParameters<typeof OAuth2CredentialSource>[0]> = {}): OAuth2CredentialSource {
    return new OAuth2CredentialSource({
      address: ALICE,
      user: ALICE,
      authority: idp.authority,
      clientId: idp.clientId,
      scopes: OUTLOOK_SCOPES,
      tokens: store,
      logger,
      ...extra,
    });
  }

  async function failure(promise: Promise<unknown>): Promise<CredentialError> {
    const error = await rejection(promise, CredentialError);
    thrown.push(error);
    return error;
  }

  it('hands out the saved access token while it is fresh, with user= the configured address', async () => {
    const tokens = await signIn();
    const src = source({ user: 'Alice@Example.Test' });
    const before = idp.stats.refreshRequests;
    expect(await src.get()).toEqual({ kind: 'xoauth2', user: 'Alice@Example.Test', accessToken: tokens.accessToken });
    expect(await src.get()).toEqual({ kind: 'xoauth2', user: 'Alice@Example.Test', accessToken: tokens.accessToken });
    expect(idp.stats.refreshRequests).toBe(before);
    expect(src.state).toBe('ok');
  });

  it('refreshes ahead of expiry, saves the rotated refresh token before handing out the access token, and survives a restart', async () => {
    const first = await signIn(ALICE, 60); // 1 minute left: inside the default 5-minute window
    const src = source();
    const login = await src.get();
    expect(login.kind).toBe('xoauth2');
    const accessToken = (login as { accessToken: string }).accessToken;
    expect(accessToken).not.toBe(first.accessToken);
    // On disk already when get() resolved: the new access token and the successor refresh token.
    const saved = store.load(ALICE)!;
    expect(saved.accessToken).toBe(accessToken);
    expect(saved.refreshToken).not.toBe(first.refreshToken);
    expect(idp.liveRefreshTokens(ALICE)).toEqual(expect.arrayContaining([saved.refreshToken]));
    expect(idp.liveRefreshTokens(ALICE)).not.toContain(first.refreshToken);
    expect(saved.expiresAt).toBeGreaterThan(Date.now() + 3500_000);
    // A restarted daemon (new instance, same data dir) keeps going with the saved, rotated token.
    const restarted = source({ refreshAheadMs: 3600_000 + 60_000 });
    const afterRestart = await restarted.get();
    expect((afterRestart as { accessToken: string }).accessToken).not.toBe(accessToken);
    expect(idp.isAccessTokenValid((afterRestart as { accessToken: string }).accessToken)).toBe(true);
    expect(logText).toContain('OAuth2 access token refreshed');
  });

  it('keeps working across several expiries of short-lived access tokens', async () => {
    // Half-second tokens (the helper takes fractions) keep this test short.
    idp.accessTokenLifetimeS = 0.5;
    await signIn(ALICE, 0.5);
    const src = source({ refreshAheadMs: 100 });
    const seen = new Set<string>();
    const before = idp.stats.refreshes;
    // Round 1 uses the signed-in token; rounds 2-4 each find it expired and refresh.
    for (let round = 0; round < 4; round++) {
      const login = (await src.get()) as { accessToken: string };
      expect(idp.isAccessTokenValid(login.accessToken)).toBe(true);
      seen.add(login.accessToken);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(seen.size).toBe(4);
    // Three at least; four if a slow machine let the signed-in token age past the window before round 1.
    expect(idp.stats.refreshes - before).toBeGreaterThanOrEqual(3);
  });

  it('runs one refresh for many concurrent callers (POP3 and SMTP share the source)', async () => {
    await signIn(ALICE, 10);
    idp.refreshDelayMs = 150;
    const src = source();
    const before = idp.stats.refreshRequests;
    const logins = await Promise.all(Array.from({ length: 6 }, () => src.get()));
    expect(idp.stats.refreshRequests - before).toBe(1);
    expect(new Set(logins.map((l) => (l as { accessToken: string }).accessToken)).size).toBe(1);
    expect(idp.stats.invalidGrants).toBe(0);
  });

  it('keeps the tokens untouched on a dropped connection, a 500 and temporarily_unavailable, and refreshes once the service is back', async () => {
    const first = await signIn(ALICE, 0.5);
    await new Promise((r) => setTimeout(r, 600)); // the access token has expired
    const file = store.fileFor(ALICE);
    const bytes = fs.readFileSync(file);
    const src = source();
    for (const how of ['drop', 'http500', 'temporarily_unavailable'] as const) {
      idp.failNext(1, how);
      const error = await failure(src.get());
      expect(error.reason).toBe('temporary');
      expect(error.message).toMatch(/cannot refresh the sign-in for alice@example\.test: .*; will retry/);
      expect(fs.readFileSync(file)).toEqual(bytes);
      expect(src.state).toBe('ok');
    }
    // The old refresh token was never spent.
    expect(idp.liveRefreshTokens(ALICE)).toContain(first.refreshToken);
    const login = (await src.get()) as { accessToken: string };
    expect(idp.isAccessTokenValid(login.accessToken)).toBe(true);
    expect(logText).toContain('keeping the sign-in and retrying later');
  });

  it('says temporary when the identity server is down altogether', async () => {
    const gone = await startIdentityServer();
    const authority = gone.authority;
    await gone.close();
    await signIn(ALICE, 0.5);
    await new Promise((r) => setTimeout(r, 600));
    const error = await failure(source({ authority }).get());
    expect(error.reason).toBe('temporary');
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('hands out a still-valid access token when a refresh ahead of expiry cannot reach the service', async () => {
    const tokens = await signIn(ALICE, 600);
    const src = source({ refreshAheadMs: 900_000 });
    idp.failNext(1, 'drop');
    expect(await src.get()).toEqual({ kind: 'xoauth2', user: ALICE, accessToken: tokens.accessToken });
    expect(store.load(ALICE)).toEqual(tokens);
    expect(logText).toContain('the current access token is still valid');
  });

  it('refreshes after rejected(), even when the token is not near expiry', async () => {
    const tokens = await signIn();
    const src = source();
    const a = (await src.get()) as { accessToken: string };
    expect(a.accessToken).toBe(tokens.accessToken);
    src.rejected();
    const b = (await src.get()) as { accessToken: string };
    expect(b.accessToken).not.toBe(a.accessToken);
    const before = idp.stats.refreshRequests;
    const c = (await src.get()) as { accessToken: string };
    expect(c.accessToken).toBe(b.accessToken);
    expect(idp.stats.refreshRequests).toBe(before);
  });

  it('goes to signin-needed on invalid_grant (revoked), tells once, keeps the file, and recovers after a new sign-in', async () => {
    await signIn(ALICE, 1);
    const notices: string[] = [];
    const src = source({ onSignInNeeded: (address) => void notices.push(address) });
    await src.get();
    idp.revokeUser(ALICE);
    src.rejected();
    const error = await failure(src.get());
    expect(error.reason).toBe('signin-needed');
    expect(error.message).toBe('sign-in expired: run hotbridge login alice@example.test');
    expect(src.state).toBe('signin-needed');
    expect(notices).toEqual([ALICE]);
    // Later attempts do not ask the service again and do not tell again.
    const requests = idp.stats.refreshRequests;
    for (let i = 0; i < 3; i++) expect((await failure(src.get())).reason).toBe('signin-needed');
    src.rejected();
    expect((await failure(src.get())).reason).toBe('signin-needed');
    expect(idp.stats.refreshRequests).toBe(requests);
    expect(notices).toEqual([ALICE]);
    // The sign-in is not wiped: the file is still there for the user to see (and replace).
    expect(store.load(ALICE)).toBeDefined();
    expect(logText).toContain('sign-in needed: run hotbridge login alice@example.test');
    // `hotbridge login` while the daemon runs: the next get() picks the new sign-in up.
    const fresh = await signIn(ALICE, 3600);
    expect(await src.get()).toEqual({ kind: 'xoauth2', user: ALICE, accessToken: fresh.accessToken });
    expect(src.state).toBe('ok');
    // A second revocation is a new episode: told again.
    idp.revokeUser(ALICE);
    src.rejected();
    expect((await failure(src.get())).reason).toBe('signin-needed');
    expect(notices).toEqual([ALICE, ALICE]);
  });

  it('fails with invalid_grant when an old, already rotated refresh token is used again', async () => {
    const old = await signIn(ALICE, 1);
    const src = source();
    await src.get(); // rotates
    expect(idp.liveRefreshTokens(ALICE)).not.toContain(old.refreshToken);
    // A stale copy of the token file comes back (a restored backup).
    store.save(ALICE, old);
    const invalidBefore = idp.stats.invalidGrants;
    const error = await failure(source().get());
    expect(error.reason).toBe('signin-needed');
    expect(idp.stats.invalidGrants).toBe(invalidBefore + 1);
  });

  it('never returns a rotated access token it could not save, and saves it on the next get() without a second refresh', async () => {
    await signIn(ALICE, 1);
    // A store whose next save fails as on a full disk (root ignores permission bits, so no chmod trick).
    const failingStore = new (class extends TokenStore {
      failSaves = 1;
      override save(address: string, tokens: TokenSet): void {
        if (this.failSaves > 0) {
          this.failSaves -= 1;
          throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
        }
        super.save(address, tokens);
      }
    })(dir);
    const src2 = source({ tokens: failingStore });
    const before = idp.stats.refreshes;
    const error = await failure(src2.get());
    expect(error.reason).toBe('temporary');
    expect(error.message).toContain('ENOSPC');
    expect(idp.stats.refreshes).toBe(before + 1);
    // The file still holds the old (now spent) refresh token; the live one is only in memory.
    const onDisk = store.load(ALICE)!;
    expect(idp.liveRefreshTokens(ALICE)).not.toContain(onDisk.refreshToken);
    const login = (await src2.get()) as { accessToken: string };
    expect(idp.stats.refreshes).toBe(before + 1);
    const saved = store.load(ALICE)!;
    expect(saved.accessToken).toBe(login.accessToken);
    expect(idp.liveRefreshTokens(ALICE)).toContain(saved.refreshToken);
  });

  it('says not signed in when there is no token file, and names a damaged one', async () => {
    const src = source();
    expect(src.state).toBe('no-token');
    const error = await failure(src.get());
    expect(error.reason).toBe('signin-needed');
    expect(error.message).toBe('not signed in: run hotbridge login alice@example.test');
    fs.mkdirSync(path.join(dir, 'oauth'), { recursive: true });
    fs.writeFileSync(store.fileFor(ALICE), '{ broken');
    const damaged = await failure(src.get());
    expect(damaged.reason).toBe('signin-needed');
    expect(damaged.message).toContain(store.fileFor(ALICE));
    expect(src.state).toBe('no-token');
  });

  it('reports a refused client id as signin-needed with what to check', async () => {
    await signIn(ALICE, 1);
    const src = source({ clientId: 'someone-else' });
    const error = await failure(src.get());
    expect(error.reason).toBe('signin-needed');
    expect(error.message).toContain('unauthorized_client');
    expect(error.message).toContain('Microsoft does not know the application ID someone-else: copy the "Application (client) ID"');
    expect(src.state).toBe('signin-needed');
    // Later calls keep the same explanation (no request: the config has not changed).
    const requests = idp.stats.refreshRequests;
    expect((await failure(src.get())).message).toBe(error.message);
    expect(idp.stats.refreshRequests).toBe(requests);
    // The sign-in itself is untouched: with the right client id it still works.
    expect((await source().get()).kind).toBe('xoauth2');
  });
});
