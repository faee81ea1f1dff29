// A local stand-in for the Microsoft identity platform (login.microsoftonline.com/{tenant}/oauth2/v2.0/...),
// served by node:http on 127.0.0.1 with a port the kernel picks. It implements what hotbridge uses:
//   POST /{tenant}/oauth2/v2.0/devicecode  (RFC 8628 §3.1-3.2)
//   POST /{tenant}/oauth2/v2.0/token       device_code grant (RFC 8628 §3.4-3.5) and refresh_token grant (RFC 6749 §6)
// with Microsoft's behaviour where it matters to us: the refresh token ROTATES on every refresh and the old
// one then fails with invalid_grant, access tokens stay valid until they expire (their lifetime is set in
// seconds here, so tests can cross several expiries), and a revoked user gets invalid_grant for everything.
// Error bodies have Microsoft's shape ({error, error_description: "AADSTS…", error_codes}).
//
// Access-token validity is exported through hooks (issued / invalidated) so that the lab's Dovecot
// introspection endpoint accepts exactly the live access tokens: see linkTo(lab).
import crypto from 'node:crypto';
import http from 'node:http';

/** One answer of the token endpoint to a device-code poll, in order; the last one repeats. */
export type DevicePollStep = 'pending' | 'slow_down' | 'approve' | 'decline' | 'expire';

export interface DeviceFlowScript {
  /** The user who "signs in" on the verification page. */
  user: string;
  /** Answers to successive polls; default ['approve']. */
  steps?: DevicePollStep[];
}

/**
 * How an application is registered, for the refusals Microsoft gives when the registration does not fit
 * (each answers as Entra does, with its AADSTS number and text):
 * - `personalAccounts: false`: the app is for work or school accounts only; the consumers tenant refuses it (AADSTS70002);
 * - `consumersOnly: true`: the app takes personal accounts only; any other tenant refuses it (AADSTS9002331);
 * - `publicClientFlows: false`: "Allow public client flows" is off; the token poll wants a secret (AADSTS7000218);
 * - `mailScopes: false`: the app lacks the POP/SMTP permissions; the token poll is refused (AADSTS70000);
 * - `tenantUsers`: a single-tenant app knows only these users; anyone else gets AADSTS50020.
 */
export interface AppRegistration {
  personalAccounts?: boolean;
  consumersOnly?: boolean;
  publicClientFlows?: boolean;
  mailScopes?: boolean;
  tenantUsers?: string[];
}

export interface IdentityServerOptions {
  tenant?: string;
  /** The only application id the server knows; others get unauthorized_client (AADSTS700016). */
  clientId?: string;
  /** More applications the server knows besides `clientId`, each with its registration. */
  apps?: Record<string, AppRegistration>;
  /** Lifetime of access tokens in seconds (default 3600); may be changed later through the server object. */
  accessTokenLifetimeS?: number;
  /** `interval` named in the device code answer, seconds (default 1). */
  interval?: number;
  /** `expires_in` of device codes, seconds (default 900). A poll after that gets expired_token. */
  deviceCodeLifetimeS?: number;
}

export interface AccessTokenHooks {
  issued(token: string, user: string): void;
  invalidated(token: string, user: string): void;
}

export interface IdentityStats {
  deviceCodeRequests: number;
  devicePolls: number;
  /** Refresh requests received (successful or not). */
  refreshRequests: number;
  /** Refreshes that issued new tokens. */
  refreshes: number;
  invalidGrants: number;
}

export interface IdentityServer {
  /** `http://127.0.0.1:PORT/{tenant}`: what goes into `authority`. */
  authority: string;
  port: number;
  clientId: string;
  accessTokenLifetimeS: number;
  /** Queues the behaviour of the next device code (one script per devicecode request; default: approve at once as `defaultUser`). */
  scriptDeviceFlow(script: DeviceFlowScript): void;
  defaultUser: string;
  /** Every poll of the token endpoint with a device code: when it came and what it was answered. */
  pollLog: Array<{ at: number; answer: string }>;
  stats: IdentityStats;
  /** Delay before answering refresh requests, ms (to make concurrent refreshes overlap). */
  refreshDelayMs: number;
  /** The next `n` token-endpoint requests fail: the connection is dropped, or HTTP 500, or temporarily_unavailable. */
  failNext(n: number, how: 'drop' | 'http500' | 'temporarily_unavailable'): void;
  /** Invalidates every refresh token and access token of `user` (password change, "sign out everywhere"). */
  revokeUser(user: string): void;
  /** Live (unrotated, unrevoked) refresh tokens of `user`. */
  liveRefreshTokens(user: string): string[];
  isAccessTokenValid(token: string): boolean;
  /** RFC 7662 view of an access token. */
  introspect(token: string): { active: boolean; username?: string };
  /** Every secret this server ever handed out (access tokens, refresh tokens, device codes), for leak checks. */
  allSecrets(): string[];
  /** Reports access tokens becoming valid or invalid (expiry, revocation); live tokens are reported at once. */
  setHooks(hooks: AccessTokenHooks): void;
  /** Keeps the lab's introspection endpoint in step: exactly the live access tokens are active there. */
  linkTo(lab: { setToken(token: string, username: string, active?: boolean): void; revokeToken(token: string): void }): void;
  close(): Promise<void>;
}

interface DeviceCodeGrant {
  user: string;
  clientId: string;
  scope: string;
  steps: DevicePollStep[];
  polls: number;
  expiresAt: number;
  done: boolean;
}

interface RefreshGrant {
  user: string;
  clientId: string;
  scope: string;
  live: boolean;
}

interface AccessGrant {
  user: string;
  expiresAt: number;
  live: boolean;
  timer: NodeJS.Timeout;
}

function randomToken(prefix: string): string {
  // Long and opaque, like Microsoft's; base64url so it survives forms and JSON untouched.
  return `${prefix}${crypto.randomBytes(48).toString('base64url')}`;
}

function aadError(error: string, code: number, text: string): { error: string; error_description: string; error_codes: number[] } {
  return {
    error,
    error_description: `AADSTS${code}: ${text}\r\nTrace ID: ${crypto.randomUUID()}\r\nCorrelation ID: ${crypto.randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`,
    error_codes: [code],
  };
}

export async function startIdentityServer(opts: IdentityServerOptions = {}): Promise<IdentityServer> {
  const tenant = opts.tenant ?? 'consumers';
  const clientId = opts.clientId ?? 'hotbridge-test-client';
  const interval = opts.interval ?? 1;
  const deviceCodeLifetimeS = opts.deviceCodeLifetimeS ?? 900;
  const deviceCodes = new Map<string, DeviceCodeGrant>();
  const refreshTokens = new Map<string, RefreshGrant>();
  const accessTokens = new Map<string, AccessGrant>();
  const scripts: DeviceFlowScript[] = [];
  const secrets: string[] = [];
  const failures: Array<'drop' | 'http500' | 'temporarily_unavailable'> = [];
  let hooks: AccessTokenHooks | undefined;

  const invalidateAccess = (token: string): void => {
    const grant = accessTokens.get(token);
    if (!grant || !grant.live) return;
    grant.live = false;
    clearTimeout(grant.timer);
    hooks?.invalidated(token, grant.user);
  };

  const issueTokens = (user: string, grantClientId: string, scope: string): Record<string, unknown> => {
    const lifetimeS = server.accessTokenLifetimeS;
    const accessToken = randomToken('at.');
    secrets.push(accessToken);
    const timer = setTimeout(() => invalidateAccess(accessToken), lifetimeS * 1000);
    timer.unref();
    accessTokens.set(accessToken, { user, expiresAt: Date.now() + lifetimeS * 1000, live: true, timer });
    hooks?.issued(accessToken, user);
    const scopes = scope.split(/\s+/).filter((s) => s !== '');
    const reply: Record<string, unknown> = {
      token_type: 'Bearer',
      // Microsoft reports the resource scopes granted, without offline_access / openid.
      scope: scopes.filter((s) => s !== 'offline_access' && s !== 'openid' && s !== 'profile').join(' '),
      expires_in: lifetimeS,
      ext_expires_in: lifetimeS,
      access_token: accessToken,
    };
    if (scopes.includes('offline_access')) {
      const refreshToken = randomToken('rt.');
      secrets.push(refreshToken);
      refreshTokens.set(refreshToken, { user, clientId: grantClientId, scope, live: true });
      reply.refresh_token = refreshToken;
    }
    return reply;
  };

  const apps = new Map<string, AppRegistration>([[clientId, {}], ...Object.entries(opts.apps ?? {})]);

  /** Entra's answer to an application id it does not know (AADSTS700016), or one this tenant may not use. */
  const unknownClient = (requestClient: string): [number, unknown] | undefined => {
    const app = apps.get(requestClient);
    if (!app)
      return [
        400,
        aadError('unauthorized_client', 700016, `Application with identifier '${requestClient}' was not found in the directory.`),
      ];
    if (tenant === 'consumers' && app.personalAccounts === false) {
      return [
        400,
        aadError(
          'unauthorized_client',
          70002,
          'The client does not exist or is not enabled for consumers. If you are the application developer, configure a new application through the App Registrations in the Azure Portal.',
        ),
      ];
    }
    if (tenant !== 'consumers' && app.consumersOnly) {
      return [
        400,
        aadError(
          'invalid_request',
          9002331,
          'Application is configured for use by Microsoft Account users only. Please use the /consumers endpoint to serve this request.',
        ),
      ];
    }
    return undefined;
  };

  /** Refusals at the token poll that follow from the registration, once the user has signed in. */
  const registrationRefusal = (grant: DeviceCodeGrant): [number, unknown] | undefined => {
    const app = apps.get(grant.clientId) ?? {};
    if (app.tenantUsers && !app.tenantUsers.includes(grant.user)) {
      return [
        400,
        aadError(
          'invalid_grant',
          50020,
          `User account '${grant.user}' from identity provider 'live.com' does not exist in tenant 'Contoso' and cannot access the application '${grant.clientId}' in that tenant.`,
        ),
      ];
    }
    if (app.publicClientFlows === false) {
      return [
        401,
        aadError(
          'invalid_client',
          7000218,
          "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ),
      ];
    }
    if (app.mailScopes === false) {
      return [
        400,
        aadError(
          'invalid_grant',
          70000,
          'The request was denied because one or more scopes requested are unauthorized or expired. The user must first sign in and grant the client application access to the requested scope.',
        ),
      ];
    }
    return undefined;
  };

  const handleDeviceCode = (form: URLSearchParams): [number, unknown] => {
    server.stats.deviceCodeRequests += 1;
    const requestClient = form.get('client_id') ?? '';
    const refused = unknownClient(requestClient);
    if (refused) return refused;
    const scope = form.get('scope') ?? '';
    if (scope.trim() === '')
      return [400, aadError('invalid_request', 900144, "The request body must contain the following parameter: 'scope'.")];
    const script = scripts.shift() ?? { user: server.defaultUser };
    const deviceCode = randomToken('dc.');
    secrets.push(deviceCode);
    const userCode = crypto.randomBytes(4).toString('hex').toUpperCase();
    deviceCodes.set(deviceCode, {
      user: script.user,
      clientId: requestClient,
      scope,
      steps: script.steps && script.steps.length > 0 ? script.steps : ['approve'],
      polls: 0,
      expiresAt: Date.now() + deviceCodeLifetimeS * 1000,
      done: false,
    });
    const verificationUri = `http://127.0.0.1:${server.port}/link`;
    return [
      200,
      {
        user_code: userCode,
        device_code: deviceCode,
        verification_uri: verificationUri,
        expires_in: deviceCodeLifetimeS,
        interval,
        message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code ${userCode} to authenticate.`,
      },
    ];
  };

  const handleDevicePoll = (form: URLSearchParams): [number, unknown] => {
    server.stats.devicePolls += 1;
    const grant = deviceCodes.get(form.get('device_code') ?? '');
    const answer = (status: number, body: unknown, label: string): [number, unknown] => {
      server.pollLog.push({ at: Date.now(), answer: label });
      return [status, body];
    };
    if (!grant || grant.done)
      return answer(400, aadError('bad_verification_code', 70019, 'Verification code expired or not found.'), 'bad_verification_code');
    if (grant.clientId !== form.get('client_id')) {
      return answer(400, aadError('invalid_grant', 70000, 'The device code was issued to another application.'), 'invalid_grant');
    }
    if (Date.now() >= grant.expiresAt) {
      grant.done = true;
      return answer(400, aadError('expired_token', 70020, 'The device code has expired.'), 'expired_token');
    }
    const step = grant.steps[Math.min(grant.polls, grant.steps.length - 1)];
    grant.polls += 1;
    switch (step) {
      case 'pending':
        return answer(
          400,
          aadError(
            'authorization_pending',
            70016,
            'The provided request has not yet been authorized by the user. The user must input their code.',
          ),
          'authorization_pending',
        );
      case 'slow_down':
        return answer(400, aadError('slow_down', 70016, 'Polling too fast; slow down.'), 'slow_down');
      case 'decline':
        grant.done = true;
        return answer(
          400,
          aadError('authorization_declined', 70018, 'The user declined the authorization request.'),
          'authorization_declined',
        );
      case 'expire':
        grant.done = true;
        return answer(400, aadError('expired_token', 70020, 'The device code has expired.'), 'expired_token');
      case 'approve': {
        grant.done = true;
        const refused = registrationRefusal(grant);
        if (refused) return answer(refused[0], refused[1], (refused[1] as { error: string }).error);
        return answer(200, issueTokens(grant.user, grant.clientId, grant.scope), 'tokens');
      }
    }
  };

  const handleRefresh = (form: URLSearchParams): [number, unknown] => {
    server.stats.refreshRequests += 1;
    const requestClient = form.get('client_id') ?? '';
    const refused = unknownClient(requestClient);
    if (refused) return refused;
    const token = form.get('refresh_token') ?? '';
    const grant = refreshTokens.get(token);
    if (!grant || !grant.live) {
      server.stats.invalidGrants += 1;
      return [
        400,
        aadError(
          'invalid_grant',
          70000,
          "The provided value for the 'refresh_token' is not valid. The refresh token has been revoked or was already used.",
        ),
      ];
    }
    if (grant.clientId !== form.get('client_id')) {
      server.stats.invalidGrants += 1;
      return [400, aadError('invalid_grant', 70000, 'The refresh token was issued to a different client id.')];
    }
    // Rotation: the refresh token used now is spent; the answer carries its successor.
    grant.live = false;
    server.stats.refreshes += 1;
    const scope = form.get('scope') ?? grant.scope;
    return [200, issueTokens(grant.user, grant.clientId, scope.includes('offline_access') ? scope : `${scope} offline_access`)];
  };

  const route = (req: http.IncomingMessage, form: URLSearchParams): [number, unknown] => {
    const base = `/${tenant}/oauth2/v2.0/`;
    if (req.method !== 'POST') return [405, aadError('invalid_request', 900561, 'The endpoint only accepts POST requests.')];
    if (req.url === `${base}devicecode`) return handleDeviceCode(form);
    if (req.url === `${base}token`) {
      const grantType = form.get('grant_type');
      if (grantType === 'urn:ietf:params:oauth:grant-type:device_code') return handleDevicePoll(form);
      if (grantType === 'refresh_token') return handleRefresh(form);
      return [400, aadError('unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType ?? ''}'.`)];
    }
    return [404, { error: 'not_found' }];
  };

  const httpServer = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const isToken = req.url?.endsWith('/oauth2/v2.0/token') === true;
      const failure = isToken ? failures.shift() : undefined;
      if (failure === 'drop') {
        req.socket.destroy();
        return;
      }
      if (failure === 'http500') {
        res.writeHead(500, { 'Content-Type': 'text/html' });
        res.end('<html><body>Internal Server Error</body></html>');
        return;
      }
      const send = ([status, body]: [number, unknown]): void => {
        res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(JSON.stringify(body));
      };
      if (failure === 'temporarily_unavailable') {
        send([503, aadError('temporarily_unavailable', 90033, 'A transient error has occurred. Please try again.')]);
        return;
      }
      const isRefresh = isToken && form.get('grant_type') === 'refresh_token';
      if (isRefresh && server.refreshDelayMs > 0) {
        setTimeout(() => send(route(req, form)), server.refreshDelayMs);
      } else {
        send(route(req, form));
      }
    });
  });

  const port = await new Promise<number>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(0, '127.0.0.1', () => {
      const address = httpServer.address();
      if (address === null || typeof address === 'string') return reject(new Error('identity server has no port'));
      resolve(address.port);
    });
  });

  const server: IdentityServer = {
    authority: `http://127.0.0.1:${port}/${tenant}`,
    port,
    clientId,
    accessTokenLifetimeS: opts.accessTokenLifetimeS ?? 3600,
    defaultUser: 'alice@example.test',
    pollLog: [],
    stats: { deviceCodeRequests: 0, devicePolls: 0, refreshRequests: 0, refreshes: 0, invalidGrants: 0 },
    refreshDelayMs: 0,
    scriptDeviceFlow(script) {
      scripts.push(script);
    },
    failNext(n, how) {
      for (let i = 0; i < n; i++) failures.push(how);
    },
    revokeUser(user) {
      for (const grant of refreshTokens.values()) if (grant.user === user) grant.live = false;
      for (const [token, grant] of accessTokens) if (grant.user === user) invalidateAccess(token);
    },
    liveRefreshTokens(user) {
      return [...refreshTokens].filter(([, g]) => g.user === user && g.live).map(([t]) => t);
    },
    isAccessTokenValid(token) {
      const grant = accessTokens.get(token);
      return grant !== undefined && grant.live && Date.now() < grant.expiresAt;
    },
    introspect(token) {
      const grant = accessTokens.get(token);
      return grant && server.isAccessTokenValid(token) ? { active: true, username: grant.user } : { active: false };
    },
    allSecrets() {
      return [...secrets];
    },
    setHooks(h) {
      hooks = h;
      for (const [token, grant] of accessTokens) if (grant.live) h.issued(token, grant.user);
    },
    linkTo(lab) {
      server.setHooks({
        issued: (token, user) => lab.setToken(token, user),
        invalidated: (token) => lab.revokeToken(token),
      });
    },
    close() {
      for (const grant of accessTokens.values()) clearTimeout(grant.timer);
      return new Promise((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
    },
  };
  return server;
}
