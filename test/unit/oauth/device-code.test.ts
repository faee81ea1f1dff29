// The device-code sign-in against the local identity server (test/helpers/identity-server.ts), over real HTTP.
// Most tests pass a recording `sleep` so the waits are checked without being spent; one test uses the real wait.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceCodeError, signInWithDeviceCode, type DeviceCodePrompt } from '../../../src/upstream/oauth/device-code.js';
import { OUTLOOK_SCOPES } from '../../../src/config/presets.js';
import { startIdentityServer, type IdentityServer } from '../../helpers/identity-server.js';

const ALICE = 'alice@example.test';

describe('signInWithDeviceCode', () => {
  let idp: IdentityServer;
  const errors: Error[] = [];

  beforeAll(async () => {
    idp = await startIdentityServer({ interval: 1, accessTokenLifetimeS: 3600 });
  });
  afterAll(async () => {
    // No error of any test may carry a token or device code the server handed out.
    const secrets = idp.allSecrets();
    expect(secrets.length).toBeGreaterThan(5);
    for (const err of errors) for (const secret of secrets) expect(`${err.message}\n${err.stack ?? ''}`).not.toContain(secret);
    await idp.close();
  });

  /** Runs a sign-in with a recording sleep; returns the result or the DeviceCodeError. */
  async function signIn(extra: { clientId?: string; scopes?: string[]; signal?: AbortSignal } = {}) {
    const sleeps: number[] = [];
    const prompts: DeviceCodePrompt[] = [];
    try {
      const tokens = await signInWithDeviceCode({
        authority: idp.authority,
        clientId: extra.clientId ?? idp.clientId,
        scopes: extra.scopes ?? OUTLOOK_SCOPES,
        onPrompt: (p) => prompts.push(p),
        sleep: async (ms) => {
          sleeps.push(ms);
        },
        ...(extra.signal ? { signal: extra.signal } : {}),
      });
      return { tokens, sleeps, prompts, error: undefined };
    } catch (err) {
      errors.push(err as Error);
      return { tokens: undefined, sleeps, prompts, error: err as DeviceCodeError };
    }
  }

  it('shows the page and code, waits through authorization_pending, adds 5 s after slow_down, and returns rotating tokens', async () => {
    idp.scriptDeviceFlow({ user: ALICE, steps: ['pending', 'pending', 'slow_down', 'pending', 'approve'] });
    const pollsBefore = idp.pollLog.length;
    const before = Date.now();
    const { tokens, sleeps, prompts, error } = await signIn();
    expect(error).toBeUndefined();
    expect(prompts).toHaveLength(1);
    expect(prompts[0].verificationUri).toBe(`http://127.0.0.1:${idp.port}/link`);
    expect(prompts[0].userCode).toMatch(/^[0-9A-F]{8}$/);
    expect(prompts[0].message).toContain(prompts[0].userCode);
    expect(prompts[0].expiresInS).toBe(900);
    // interval 1 s before each poll; after slow_down 1 + 5 = 6 s for this and every later poll (RFC 8628 §3.5).
    expect(sleeps).toEqual([1000, 1000, 1000, 6000, 6000]);
    expect(idp.pollLog.slice(pollsBefore).map((p) => p.answer)).toEqual([
      'authorization_pending',
      'authorization_pending',
      'slow_down',
      'authorization_pending',
      'tokens',
    ]);
    expect(tokens!.accessToken).not.toBe('');
    expect(idp.introspect(tokens!.accessToken)).toEqual({ active: true, username: ALICE });
    expect(idp.liveRefreshTokens(ALICE)).toContain(tokens!.refreshToken);
    expect(tokens!.expiresAt).toBeGreaterThanOrEqual(before + 3600_000);
    expect(tokens!.expiresAt).toBeLessThanOrEqual(Date.now() + 3600_000);
    expect(tokens!.scope).toBe('https://outlook.office.com/POP.AccessAsUser.All https://outlook.office.com/SMTP.Send');
  });

  it('waits the real interval between polls when no sleep is given', async () => {
    idp.scriptDeviceFlow({ user: ALICE, steps: ['pending', 'approve'] });
    const start = Date.now();
    const pollsBefore = idp.pollLog.length;
    const tokens = await signInWithDeviceCode({
      authority: idp.authority,
      clientId: idp.clientId,
      scopes: OUTLOOK_SCOPES,
      onPrompt: () => undefined,
    });
    expect(tokens.refreshToken).not.toBe('');
    const polls = idp.pollLog.slice(pollsBefore);
    expect(polls).toHaveLength(2);
    expect(polls[0].at - start).toBeGreaterThanOrEqual(990);
    expect(polls[1].at - polls[0].at).toBeGreaterThanOrEqual(990);
  });

  it('stops with "declined" when the user declines', async () => {
    idp.scriptDeviceFlow({ user: ALICE, steps: ['pending', 'decline'] });
    const { error, sleeps } = await signIn();
    expect(error).toBeInstanceOf(DeviceCodeError);
    expect(error!.reason).toBe('declined');
    expect(error!.message).toMatch(/declined/);
    expect(sleeps).toHaveLength(2);
  });

  it('stops with "expired" on expired_token', async () => {
    idp.scriptDeviceFlow({ user: ALICE, steps: ['pending', 'pending', 'expire'] });
    const { error } = await signIn();
    expect(error!.reason).toBe('expired');
    expect(error!.message).toMatch(/expired.*run the command again/);
  });

  it('stops with "expired" when the code runs out of time while the user does nothing', async () => {
    const shortLived = await startIdentityServer({ interval: 1, deviceCodeLifetimeS: 1 });
    try {
      shortLived.scriptDeviceFlow({ user: ALICE, steps: ['pending'] });
      const started = Date.now();
      const error = await signInWithDeviceCode({
        authority: shortLived.authority,
        clientId: shortLived.clientId,
        scopes: OUTLOOK_SCOPES,
        onPrompt: () => undefined,
        // Shorter than the 1 s interval, so the expiry (not the poll count) ends it.
        sleep: (ms) => new Promise((r) => setTimeout(r, ms / 4)),
      }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(DeviceCodeError);
      expect((error as DeviceCodeError).reason).toBe('expired');
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await shortLived.close();
    }
  });

  it('keeps polling through a dropped connection and a 500 from the token endpoint', async () => {
    idp.scriptDeviceFlow({ user: ALICE, steps: ['pending', 'pending', 'approve'] });
    idp.failNext(1, 'drop');
    idp.failNext(1, 'http500');
    const { tokens, error, sleeps } = await signIn();
    expect(error).toBeUndefined();
    expect(tokens).toBeDefined();
    expect(sleeps).toHaveLength(5);
  });

  it('explains an unknown client id without polling', async () => {
    const polls = idp.stats.devicePolls;
    const { error, prompts } = await signIn({ clientId: 'not-registered' });
    expect(error!.reason).toBe('refused');
    expect(error!.message).toContain('unauthorized_client');
    expect(error!.message).toContain('AADSTS700016');
    expect(error!.message).not.toContain('Trace ID');
    expect(error!.message).toContain('client_id');
    expect(prompts).toHaveLength(0);
    expect(idp.stats.devicePolls).toBe(polls);
  });

  it('refuses tokens without a refresh token (offline_access missing)', async () => {
    idp.scriptDeviceFlow({ user: ALICE });
    const { error } = await signIn({ scopes: ['https://outlook.office.com/POP.AccessAsUser.All'] });
    expect(error!.reason).toBe('refused');
    expect(error!.message).toContain('offline_access');
  });

  it('says "unreachable" when the identity server cannot be reached', async () => {
    const gone = await startIdentityServer();
    const authority = gone.authority;
    await gone.close();
    const error = await signInWithDeviceCode({ authority, clientId: 'x', scopes: OUTLOOK_SCOPES, onPrompt: () => undefined }).catch(
      (e: unknown) => e,
    );
    expect((error as DeviceCodeError).reason).toBe('unreachable');
    expect((error as Error).message).toMatch(/cannot reach the sign-in service at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });

  it('stops with "aborted" when the signal fires while waiting', async () => {
    idp.scriptDeviceFlow({ user: ALICE, steps: ['pending'] });
    const controller = new AbortController();
    const promise = signInWithDeviceCode({
      authority: idp.authority,
      clientId: idp.clientId,
      scopes: OUTLOOK_SCOPES,
      onPrompt: () => setTimeout(() => controller.abort(), 50),
      signal: controller.signal,
    });
    const error = await promise.catch((e: unknown) => e);
    errors.push(error as Error);
    expect((error as DeviceCodeError).reason).toBe('aborted');
  });

  it('refuses an http authority that is not loopback before sending anything', async () => {
    const error = await signInWithDeviceCode({
      authority: 'http://login.example.com/consumers',
      clientId: idp.clientId,
      scopes: OUTLOOK_SCOPES,
      onPrompt: () => undefined,
    }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/must use https/);
  });
});
