import { describe, expect, it } from 'vitest';
import { AuthorityError, checkAuthority, deviceCodeEndpoint, tokenEndpoint } from '../../../src/upstream/oauth/authority.js';

describe('authority URLs', () => {
  it('accepts https and builds the v2.0 endpoints', () => {
    expect(checkAuthority('https://login.microsoftonline.com/consumers/')).toBe('https://login.microsoftonline.com/consumers');
    expect(deviceCodeEndpoint('https://login.microsoftonline.com/consumers')).toBe(
      'https://login.microsoftonline.com/consumers/oauth2/v2.0/devicecode',
    );
    expect(tokenEndpoint('https://login.microsoftonline.com/common')).toBe('https://login.microsoftonline.com/common/oauth2/v2.0/token');
  });

  it('accepts http only for a loopback test server', () => {
    expect(checkAuthority('http://127.0.0.1:8080/consumers')).toBe('http://127.0.0.1:8080/consumers');
    expect(checkAuthority('http://localhost:8080/t')).toBe('http://localhost:8080/t');
    expect(checkAuthority('http://[::1]:8080/t')).toBe('http://[::1]:8080/t');
    for (const bad of ['http://login.microsoftonline.com/consumers', 'http://10.0.0.1/consumers', 'http://127.0.0.1.example.com/x']) {
      expect(() => checkAuthority(bad)).toThrow(/must use https/);
    }
  });

  it('refuses other schemes, credentials, queries and non-URLs', () => {
    expect(() => checkAuthority('ftp://login.microsoftonline.com/x')).toThrow(AuthorityError);
    expect(() => checkAuthority('https://user:pw@login.microsoftonline.com/x')).toThrow(/user name or password/);
    expect(() => checkAuthority('https://login.microsoftonline.com/x?a=b')).toThrow(/query/);
    expect(() => checkAuthority('login.microsoftonline.com')).toThrow(/not a URL/);
  });
});
