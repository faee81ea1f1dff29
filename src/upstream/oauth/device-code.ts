/**
 * Sign-in with the OAuth 2.0 device authorization grant (RFC 8628), as the Microsoft identity platform
 * implements it: we ask `{authority}/oauth2/v2.0/devicecode` for a code, the user opens the verification
 * page on any device (a phone will do: nothing needs a browser on this machine, so it works over SSH) and
 * types the code, and meanwhile we poll `{authority}/oauth2/v2.0/token` until the sign-in is done.
 *
 *   POST /consumers/oauth2/v2.0/devicecode   client_id=...&scope=...POP.AccessAsUser.All ... offline_access
 *   <- {"device_code":"...","user_code":"ABCD1234","verification_uri":"https://www.microsoft.com/link","expires_in":900,"interval":5}
 *   POST /consumers/oauth2/v2.0/token        grant_type=urn:ietf:params:oauth:grant-type:device_code&client_id=...&device_code=...
 *   <- 400 {"error":"authorization_pending"}   ... until ...   <- 200 {"access_token":"...","refresh_token":"...","expires_in":3600}
 */
import { deviceCodeEndpoint, tokenEndpoint } from './authority.js';
import { EndpointUnreachableError, MissingRefreshTokenError, postForm, tokensFromReply, type FetchFn } from './token-endpoint.js';
import { explainSignInError, type SignInContext } from './signin-errors.js';
import type { TokenSet } from './token-store.js';

/** What the user must be shown: the page to open and the code to type there. */
export interface DeviceCodePrompt {
  verificationUri: string;
  userCode: string;
  /** Microsoft's own sentence saying the same, in the user's language when it knows it. */
  message: string;
  expiresInS: number;
}

/**
 * Why a device-code sign-in ended without tokens:
 * - `declined`: the user said no on the sign-in page (RFC 8628 `access_denied`, Microsoft `authorization_declined`);
 * - `expired`: the code was not used in time (`expired_token`);
 * - `refused`: the identity platform refused the request itself (unknown or misconfigured client id, bad scope, bad code);
 * - `unreachable`: the sign-in service could not be asked at the start;
 * - `aborted`: our caller gave up (Ctrl-C).
 */
export type DeviceCodeFailure = 'declined' | 'expired' | 'refused' | 'unreachable' | 'aborted';

export class DeviceCodeError extends Error {
  constructor(
    readonly reason: DeviceCodeFailure,
    message: string,
  ) {
    super(message);
    this.name = 'DeviceCodeError';
  }
}

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8628 §3.2: when the server names no interval, poll every 5 seconds. */
const DEFAULT_INTERVAL_S = 5;
/** RFC 8628 §3.5: `slow_down` adds 5 seconds to the interval for this and all later polls. */
const SLOW_DOWN_STEP_S = 5;
/** Microsoft gives 15 minutes; when a server names no lifetime, assume the same. */
const DEFAULT_EXPIRES_S = 900;

function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DeviceCodeError('aborted', 'sign-in cancelled'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new DeviceCodeError('aborted', 'sign-in cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function refusal(what: string, error: string, description: string, context: SignInContext): DeviceCodeError {
  // "to start the sign-in" is worth saying only when Microsoft refused before showing a code.
  const line = explainSignInError(error, description, context);
  return new DeviceCodeError('refused', what === 'the sign-in' ? line : line.replace('refused the sign-in', `refused ${what}`));
}

function positiveNumber(value: unknown, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/** Runs the whole device-code sign-in and resolves with the tokens; throws {@link DeviceCodeError}. */
export async function signInWithDeviceCode(options: {
  authority: string;
  clientId: string;
  scopes: string[];
  /** The account signing in and its tenant, for the advice in refusals. */
  address?: string;
  tenant?: string;
  onPrompt: (p: DeviceCodePrompt) => void;
  fetch?: FetchFn;
  sleep?: (ms: number) => Promise<void>;
  signal?: AbortSignal;
}): Promise<TokenSet> {
  const sleep = options.sleep ?? ((ms: number) => realSleep(ms, options.signal));
  const context: SignInContext = {
    address: options.address ?? 'ADDRESS',
    clientId: options.clientId,
    tenant: options.tenant ?? 'consumers',
  };
  const common = { ...(options.fetch ? { fetch: options.fetch } : {}), ...(options.signal ? { signal: options.signal } : {}) };
  const checkAborted = (): void => {
    if (options.signal?.aborted) throw new DeviceCodeError('aborted', 'sign-in cancelled');
  };

  // RFC 8628 §3.1: the device authorization request.
  let start;
  try {
    start = await postForm({
      url: deviceCodeEndpoint(options.authority),
      form: { client_id: options.clientId, scope: options.scopes.join(' ') },
      secrets: [],
      ...common,
    });
  } catch (err) {
    checkAborted();
    if (err instanceof EndpointUnreachableError)
      throw new DeviceCodeError('unreachable', `${err.message}; check the network and try again`);
    throw err;
  }
  if (start.kind === 'oauth-error') throw refusal('to start the sign-in', start.error, start.description, context);
  const body = start.body;
  const deviceCode = body.device_code;
  const userCode = body.user_code;
  // RFC 8628 names it verification_uri; Azure AD v1 endpoints called it verification_url.
  const verificationUri = body.verification_uri ?? body.verification_url;
  if (typeof deviceCode !== 'string' || typeof userCode !== 'string' || typeof verificationUri !== 'string') {
    throw new DeviceCodeError('refused', 'the sign-in service answered the device code request without a code or verification page');
  }
  const expiresInS = positiveNumber(body.expires_in, DEFAULT_EXPIRES_S);
  let intervalS = positiveNumber(body.interval, DEFAULT_INTERVAL_S);
  const message =
    typeof body.message === 'string'
      ? body.message
      : `To sign in, open ${verificationUri} in a web browser and enter the code ${userCode}.`;
  options.onPrompt({ verificationUri, userCode, message, expiresInS });

  // RFC 8628 §3.4/3.5: poll the token endpoint, waiting `interval` between requests.
  const deadline = Date.now() + expiresInS * 1000;
  const form = { grant_type: DEVICE_CODE_GRANT, client_id: options.clientId, device_code: deviceCode };
  for (;;) {
    checkAborted();
    await sleep(intervalS * 1000);
    checkAborted();
    const requestedAt = Date.now();
    let reply;
    try {
      reply = await postForm({ url: tokenEndpoint(options.authority), form, secrets: [deviceCode], ...common });
    } catch (err) {
      checkAborted();
      // The user is busy signing in on another device; a dropped request must not throw that away.
      if (err instanceof EndpointUnreachableError && Date.now() < deadline) continue;
      if (err instanceof EndpointUnreachableError)
        throw new DeviceCodeError('expired', `${err.message}, and the code has expired meanwhile: try again`);
      throw err;
    }
    if (reply.kind === 'ok') {
      try {
        return tokensFromReply(reply.body, requestedAt);
      } catch (err) {
        if (err instanceof MissingRefreshTokenError || err instanceof EndpointUnreachableError)
          throw new DeviceCodeError('refused', err.message);
        throw err;
      }
    }
    switch (reply.error) {
      case 'authorization_pending':
        if (Date.now() >= deadline) throw expired();
        continue;
      case 'slow_down':
        intervalS += SLOW_DOWN_STEP_S;
        continue;
      case 'authorization_declined':
      case 'access_denied':
        throw new DeviceCodeError('declined', 'the sign-in was declined on the sign-in page; run the command again to retry');
      case 'expired_token':
        throw expired();
      default:
        throw refusal('the sign-in', reply.error, reply.description, context);
    }
  }
}

function expired(): DeviceCodeError {
  return new DeviceCodeError('expired', 'the code expired before the sign-in was finished; run the command again for a new code');
}
