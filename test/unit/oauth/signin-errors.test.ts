// The one-line explanations of Microsoft's sign-in refusals that the identity server cannot play through
// a device-code sign-in (a refresh refused with invalid_grant, a bare unauthorized_client), and the rule
// that each line names the error once.
import { describe, expect, it } from 'vitest';
import { aadstsCode, explainSignInError } from '../../../src/upstream/oauth/signin-errors.js';

const context = { address: 'ann@hotmail.com', clientId: '9e5f94bc-e8a4-4e73-b8be-63364c29d753', tenant: 'consumers' };

describe('sign-in refusals', () => {
  it('invalid_grant: the sign-in expired or was withdrawn, and the command that fixes it', () => {
    const line = explainSignInError(
      'invalid_grant',
      'AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.\r\nTrace ID: x',
      context,
    );
    expect(line).toBe(
      'Microsoft refused the sign-in (invalid_grant: AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.); ' +
        'the sign-in expired or was withdrawn (a password change, "sign out everywhere", months unused): run hotbridge login ann@hotmail.com',
    );
  });

  it('unauthorized_client without a number Microsoft explains: what to check', () => {
    expect(explainSignInError('unauthorized_client', '', context)).toBe(
      'Microsoft refused the sign-in (unauthorized_client); the application 9e5f94bc-e8a4-4e73-b8be-63364c29d753 may not sign in this account with a code: check client_id, that the app takes personal Microsoft accounts, and "Allow public client flows": Yes',
    );
  });

  it('recognises "not enabled for consumers" without its number', () => {
    expect(explainSignInError('unauthorized_client', 'The client does not exist or is not enabled for consumers.', context)).toContain(
      'not open to personal Microsoft accounts',
    );
  });

  it('reads the AADSTS number, and names it once', () => {
    expect(aadstsCode('AADSTS7000218: The request body must contain…')).toBe('7000218');
    const line = explainSignInError(
      'invalid_client',
      "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.\r\nTrace ID: 1",
      context,
    );
    expect(line.match(/AADSTS7000218/g)).toHaveLength(1);
    expect(line).not.toContain('Trace ID');
  });
});
