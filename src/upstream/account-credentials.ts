/**
 * The credentials of an account as its config says: a password file, or the OAuth2 tokens of the data dir.
 * One source per account serves both POP3 and SMTP, so an OAuth2 account refreshes one token at a time.
 */
import type { AccountConfig } from '../config/types.js';
import type { Logger } from '../runtime/logger.js';
import { PasswordFileSource, type CredentialSource } from './credentials.js';
import { OAuth2CredentialSource } from './oauth/token-source.js';
import { TokenStore } from './oauth/token-store.js';

export interface AccountCredentialOptions {
  dataDir: string;
  logger: Logger;
  /** OAuth2: called when the sign-in is lost (invalid_grant), so the user can be told. */
  onSignInNeeded?: (address: string) => void | Promise<void>;
  /** OAuth2: how long before expiry an access token is renewed. */
  refreshAheadMs?: number;
}

export function accountCredentials(account: AccountConfig, options: AccountCredentialOptions): CredentialSource {
  const { auth } = account;
  if (auth.method === 'password') return new PasswordFileSource(auth.user, auth.passwordFile);
  return new OAuth2CredentialSource({
    address: account.address,
    user: auth.user,
    authority: auth.authority,
    clientId: auth.clientId ?? '',
    scopes: auth.scopes,
    tokens: new TokenStore(options.dataDir),
    logger: options.logger,
    onSignInNeeded: options.onSignInNeeded,
    refreshAheadMs: options.refreshAheadMs,
  });
}
