/**
 * Talking to the identity platform's endpoints: one form POST (RFC 6749 §3.2, application/x-www-form-urlencoded),
 * one JSON answer. A reply is either tokens (RFC 6749 §5.1), an OAuth error (RFC 6749 §5.2: HTTP 400 with
 * `error` and `error_description`), or "unreachable" (network down, timeout, 5xx, an answer that is not JSON),
 * which callers treat as temporary. Error texts are cut to Microsoft's first line (the AADSTS code and
 * reason, not the trace ids) and scrubbed of any secret we sent.
 */
import type { TokenSet } from './token-store.js';

export type FetchFn = typeof fetch;

/** The endpoint could not be asked or gave no usable answer; trying later may work. */
export class EndpointUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointUnreachableError';
  }
}

export type EndpointReply =
  { kind: 'ok'; body: Record<string, unknown> } | { kind: 'oauth-error'; status: number; error: string; description: string };

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Replaces every secret in `text` with `[redacted]`; secrets shorter than 4 characters are left (they cannot leak much). */
export function scrubSecrets(text: string, secrets: Array<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret !== undefined && secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out;
}

function firstLine(text: string): string {
  return text.split(/\r?\n/)[0].trim().slice(0, 300);
}

/**
 * POSTs `form` to `url` and classifies the answer. `secrets` are values in the form that must never
 * come back out in an error message (refresh token, device code).
 */
export async function postForm(request: {
  url: string;
  form: Record<string, string>;
  secrets: string[];
  fetch?: FetchFn;
  signal?: AbortSignal;
  timeoutMs?: number;
}): Promise<EndpointReply> {
  const doFetch = request.fetch ?? fetch;
  const timeout = AbortSignal.timeout(request.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  const host = new URL(request.url).host;
  let response: Response;
  let text: string;
  try {
    response = await doFetch(request.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams(request.form).toString(),
      signal,
      redirect: 'error',
    });
    text = await response.text();
  } catch (err) {
    if (request.signal?.aborted) throw request.signal.reason instanceof Error ? request.signal.reason : new Error('aborted');
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name ?? 'error';
    const reason = timeout.aborted ? 'no answer in time' : cause;
    throw new EndpointUnreachableError(scrubSecrets(`cannot reach the sign-in service at ${host} (${reason})`, request.secrets));
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
  const fields = (isObject ? body : {}) as Record<string, unknown>;
  if (response.ok && isObject) return { kind: 'ok', body: fields };
  // RFC 6749 §5.2: errors come as 400 (401 for invalid_client) with a JSON body; a 5xx or a page of HTML
  // is the service having trouble, not an answer about our grant.
  if (response.status < 500 && typeof fields.error === 'string') {
    const description = typeof fields.error_description === 'string' ? firstLine(fields.error_description) : '';
    return { kind: 'oauth-error', status: response.status, error: fields.error, description: scrubSecrets(description, request.secrets) };
  }
  throw new EndpointUnreachableError(`the sign-in service at ${host} answered HTTP ${response.status}${isObject ? '' : ' without JSON'}`);
}

/**
 * The tokens in a successful token response (RFC 6749 §5.1). `requestedAt` is our clock before the request,
 * so `expiresAt` errs on the early side. A refresh answer without a new refresh token keeps `previousRefreshToken`
 * (RFC 6749 §6 makes the new one optional; Microsoft always sends one).
 */
export function tokensFromReply(body: Record<string, unknown>, requestedAt: number, previousRefreshToken?: string): TokenSet {
  const accessToken = body.access_token;
  if (typeof accessToken !== 'string' || accessToken === '') {
    throw new EndpointUnreachableError('the sign-in service answered without an access token');
  }
  const refreshToken = typeof body.refresh_token === 'string' && body.refresh_token !== '' ? body.refresh_token : previousRefreshToken;
  if (refreshToken === undefined) {
    throw new MissingRefreshTokenError(
      'the sign-in service sent no refresh token, so hotbridge could not stay signed in: the scopes must include offline_access',
    );
  }
  // Microsoft sends a number; its older endpoints sent the number as a string.
  const expiresIn = Number(body.expires_in);
  const lifetimeS = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600;
  const tokens: TokenSet = { accessToken, refreshToken, expiresAt: requestedAt + lifetimeS * 1000 };
  if (typeof body.scope === 'string') tokens.scope = body.scope;
  return tokens;
}

/** A token answer that cannot keep an account signed in (no `offline_access`). */
export class MissingRefreshTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingRefreshTokenError';
  }
}
