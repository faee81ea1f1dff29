/**
 * The authority is the base URL of the Microsoft identity platform for one tenant
 * (`https://login.microsoftonline.com/consumers`); the device-code and token endpoints hang below it.
 * Tokens and device codes travel to it, so it must be https. Plain http is accepted only for a test
 * identity server on the loopback interface (RFC 8252 §8.3 makes the same exception for loopback redirects).
 */

/** An authority URL we refuse to send secrets to. */
export class AuthorityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthorityError';
  }
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Checks an authority URL and returns it without trailing slashes; throws {@link AuthorityError}. */
export function checkAuthority(authority: string): string {
  let url: URL;
  try {
    url = new URL(authority);
  } catch {
    throw new AuthorityError(`the authority "${authority}" is not a URL (expected like https://login.microsoftonline.com/consumers)`);
  }
  const loopback = LOOPBACK_NAMES.has(url.hostname.toLowerCase());
  if (url.protocol === 'http:' && !loopback) {
    throw new AuthorityError(
      `the authority ${url.origin} must use https (http is allowed only for a test server on 127.0.0.1 or localhost)`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new AuthorityError(`the authority must be an https URL, not ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new AuthorityError('the authority URL must not contain a user name or password');
  }
  if (url.search !== '' || url.hash !== '') {
    throw new AuthorityError('the authority URL must not have a query (?...) or fragment (#...)');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** `{authority}/oauth2/v2.0/devicecode`: where the device authorization request goes (RFC 8628 §3.1). */
export function deviceCodeEndpoint(authority: string): string {
  return `${checkAuthority(authority)}/oauth2/v2.0/devicecode`;
}

/** `{authority}/oauth2/v2.0/token`: device-code polling (RFC 8628 §3.4) and refresh (RFC 6749 §6). */
export function tokenEndpoint(authority: string): string {
  return `${checkAuthority(authority)}/oauth2/v2.0/token`;
}
