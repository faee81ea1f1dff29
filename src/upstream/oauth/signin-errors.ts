/**
 * Microsoft's sign-in refusals, each as one line that names the error and says what fixes it. Microsoft
 * identifies them by an AADSTS number at the start of `error_description` (and in `error_codes`); the
 * OAuth `error` field alone (RFC 6749 §5.2) is too coarse: `unauthorized_client` covers an unknown app, an
 * app closed to personal accounts, and an app that forbids the device-code flow.
 */

export interface SignInContext {
  address: string;
  clientId: string;
  tenant: string;
}

/** The AADSTS number at the start of Microsoft's description ("AADSTS700016: …"), if any. */
export function aadstsCode(description: string): string | undefined {
  return /\bAADSTS(\d+)\b/.exec(description)?.[1];
}

/** What Microsoft said, short: "AADSTS700016: Application with identifier '…' was not found…" (first sentence). */
function said(error: string, description: string): string {
  const first = description.split(/\r?\n/)[0].trim();
  const sentence = /^(.*?[.!?])(\s|$)/.exec(first)?.[1] ?? first;
  return sentence !== '' ? `${error}: ${sentence.slice(0, 200)}` : error;
}

/** The fix for one refusal, in one sentence; undefined when there is nothing better than retrying. */
function fixFor(error: string, code: string | undefined, description: string, c: SignInContext): string {
  switch (code) {
    case '700016':
      return `Microsoft does not know the application ID ${c.clientId}: copy the "Application (client) ID" from the app's Overview page in the Entra admin center into client_id (a typo, or an app in another directory, gives this)`;
    case '70002':
    case '700054':
      return 'the application is not open to personal Microsoft accounts: in its App registration set "Supported account types" to include personal Microsoft accounts (or choose another application ID)';
    case '9002331':
      return 'the application takes personal Microsoft accounts only: set tenant = "consumers" under [accounts.auth] (or remove tenant), then sign in again';
    case '50020':
      return `${c.address} is not an account of the application's directory: register the application for "personal Microsoft accounts" (Supported account types), and keep tenant = "consumers" for an Outlook.com address`;
    case '50194':
      return `the application is registered for its own directory only: make it multi-tenant with personal accounts ("Supported account types"), or set tenant to its directory ID for a work account`;
    case '7000218':
      return 'the application does not allow the sign-in with a code (public client flows are off): in its App registration → Authentication → "Allow public client flows": Yes, then Save';
    case '70000':
      return 'the application may not ask for POP and SMTP access: in its App registration → API permissions add POP.AccessAsUser.All and SMTP.Send (Office 365 Exchange Online, delegated) and offline_access';
    case '65001':
      return `${c.address} has not agreed to the access yet: sign in again and accept what the page asks for`;
    case '50076':
    case '50079':
      return 'Microsoft wants a second sign-in step (MFA) for this account: sign in again and complete it on the page';
    case '50126':
      return "the password typed on Microsoft's page was wrong: sign in again";
    case '50034':
      return `Microsoft knows no account ${c.address} there: check the address, and that it is a Microsoft account`;
    default:
      break;
  }
  if (/not enabled for consumers/i.test(description)) return fixFor(error, '70002', description, c);
  switch (error) {
    case 'invalid_grant':
      return `the sign-in expired or was withdrawn (a password change, "sign out everywhere", months unused): run hotbridge login ${c.address}`;
    case 'unauthorized_client':
    case 'invalid_client':
      return `the application ${c.clientId} may not sign in this account with a code: check client_id, that the app takes personal Microsoft accounts, and "Allow public client flows": Yes`;
    case 'invalid_scope':
      return 'the scopes under [accounts.auth] are not ones Microsoft knows: remove scopes to use the defaults (POP, SMTP and offline_access)';
    case 'invalid_request':
      return 'the request was not accepted as sent: check client_id, tenant and authority under [accounts.auth]';
    default:
      return `check client_id and tenant under [accounts.auth], then run hotbridge login ${c.address}`;
  }
}

/** One line: what Microsoft said (error and AADSTS number) and what to do about it. */
export function explainSignInError(error: string, description: string, context: SignInContext): string {
  const code = aadstsCode(description);
  return `Microsoft refused the sign-in (${said(error, description)}); ${fixFor(error, code, description, context)}`;
}
