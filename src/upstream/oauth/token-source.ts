/**
 * XOAUTH2 credentials for one account, shared by its POP3 poller and its SMTP relay. The token file is
 * the truth: each `get()` reads it (a few hundred bytes), so a `hotbridge login` run while the daemon is up
 * takes effect on the next poll without a restart.
 *
 * Refresh (RFC 6749 §6) happens ahead of expiry and at most once at a time per account: callers that arrive
 * while a refresh runs wait for the same one, because Microsoft rotates the refresh token and the old one
 * stops working, so two parallel refreshes would race each other into `invalid_grant`. The rotated token
 * is written to disk (atomically, fsynced) before anyone gets the new access token: a crash right after
 * cannot leave us holding only a dead refresh token.
 *
 * Failures: a network problem keeps the tokens untouched and is temporary (never wipe a sign-in because the
 * network was down). `invalid_grant` (revoked, password changed, refresh token expired) puts the account in
 * the `signin-needed` state until a new sign-in appears in the token file.
 */
import { ConditionLog } from '../../runtime/condition-log.js';
import type { Logger } from '../../runtime/logger.js';
import { CredentialError, type CredentialSource, type UpstreamLogin } from '../credentials.js';
import { tokenEndpoint } from './authority.js';
import { explainSignInError } from './signin-errors.js';
import { EndpointUnreachableError, MissingRefreshTokenError, postForm, tokensFromReply, type FetchFn } from './token-endpoint.js';
import { TokenFileError, type TokenSet, type TokenStore } from './token-store.js';

export type OAuth2State = 'ok' | 'signin-needed' | 'no-token';

export interface OAuth2SourceOptions {
  /** The account's address: names its token file and appears in messages. */
  address: string;
  /** The XOAUTH2 `user=`: the mailbox address as configured, never an id-token claim. */
  user: string;
  authority: string;
  clientId: string;
  scopes: string[];
  tokens: TokenStore;
  logger: Logger;
  /** Called once each time the account enters the `signin-needed` state (status, INBOX notice). */
  onSignInNeeded?: (address: string) => void | Promise<void>;
  /** Refresh when the access token has less than this left. Default 5 minutes. */
  refreshAheadMs?: number;
  fetch?: FetchFn;
}

export const DEFAULT_REFRESH_AHEAD_MS = 5 * 60_000;
/**
 * When a refresh ahead of expiry cannot reach the service, an access token with at least this much
 * life left is still handed out: the provider accepts it, and the next get() tries the refresh again.
 */
const STILL_USABLE_MS = 30_000;

/**
 * OAuth2 errors that only the user can cure by signing in again (RFC 6749 §5.2 `invalid_grant`;
 * Microsoft's `interaction_required` family when MFA or consent is newly required).
 */
const SIGNIN_ERRORS = new Set(['invalid_grant', 'interaction_required', 'consent_required', 'login_required']);
/** OAuth2 errors that pass on their own (RFC 6749 §4.1.2.1 lists these two for the service's trouble). */
const TEMPORARY_ERRORS = new Set(['temporarily_unavailable', 'server_error']);

export class OAuth2CredentialSource implements CredentialSource {
  private currentState: OAuth2State;
  /** The refresh in flight; everyone who needs fresh tokens meanwhile waits for it. */
  private refreshing: Promise<TokenSet> | undefined;
  /** The access token handed out last, and the one the provider refused (refresh before handing it out again). */
  private lastHandedOut: string | undefined;
  private refusedAccessToken: string | undefined;
  /** The refresh token the service refused; the account stays signed out until the file holds another. */
  private deadRefreshToken: string | undefined;
  /** What to tell callers while it is dead. */
  private deadMessage = '';
  /** Rotated tokens we could not write to disk yet; they are the only working ones, so they win over the file. */
  private unsaved: TokenSet | undefined;
  private readonly refreshAheadMs: number;
  /** The account's logger (naming the account once, whether or not the caller's logger already does). */
  private readonly log: Logger;
  /** Refreshes failing for a passing reason: logged when it starts, hourly, and when it ends. */
  private readonly refreshTrouble: ConditionLog;

  constructor(private readonly options: OAuth2SourceOptions) {
    this.refreshAheadMs = options.refreshAheadMs ?? DEFAULT_REFRESH_AHEAD_MS;
    this.log = options.logger.bindings().account === undefined ? options.logger.child({ account: options.address }) : options.logger;
    this.refreshTrouble = new ConditionLog(this.log);
    let saved: TokenSet | undefined;
    try {
      saved = options.tokens.load(options.address);
    } catch {
      saved = undefined;
    }
    this.currentState = saved ? 'ok' : 'no-token';
  }

  /** `ok`, `signin-needed` (the service refused the sign-in: run `hotbridge login`), or `no-token` (never signed in). */
  get state(): OAuth2State {
    return this.currentState;
  }

  async get(): Promise<UpstreamLogin> {
    const tokens = this.currentTokens();
    const refused = this.refusedAccessToken !== undefined && tokens.accessToken === this.refusedAccessToken;
    if (!refused && tokens.expiresAt - Date.now() > this.refreshAheadMs) return this.handOut(tokens);
    this.refreshing ??= this.refresh(tokens, refused).finally(() => {
      this.refreshing = undefined;
    });
    return this.handOut(await this.refreshing);
  }

  rejected(): void {
    // The next get() refreshes instead of handing the same token out again.
    if (this.lastHandedOut !== undefined) this.refusedAccessToken = this.lastHandedOut;
  }

  private handOut(tokens: TokenSet): UpstreamLogin {
    this.lastHandedOut = tokens.accessToken;
    return { kind: 'xoauth2', user: this.options.user, accessToken: tokens.accessToken };
  }

  private signInNeededError(): CredentialError {
    return new CredentialError('signin-needed', this.deadMessage);
  }

  /** The tokens to work with: unsaved rotated ones first (saved now if possible), else the token file. */
  private currentTokens(): TokenSet {
    const { address } = this.options;
    if (this.unsaved) {
      this.saveOrThrow(this.unsaved);
      this.unsaved = undefined;
    }
    let tokens: TokenSet | undefined;
    try {
      tokens = this.options.tokens.load(address);
    } catch (err) {
      if (!(err instanceof TokenFileError)) throw err;
      this.currentState = 'no-token';
      throw new CredentialError('signin-needed', err.message);
    }
    if (!tokens) {
      this.currentState = 'no-token';
      throw new CredentialError('signin-needed', `not signed in: run hotbridge login ${address}`);
    }
    if (this.deadRefreshToken !== undefined) {
      if (tokens.refreshToken === this.deadRefreshToken) throw this.signInNeededError();
      this.deadRefreshToken = undefined;
      this.log.info('new sign-in found; using it');
    }
    this.currentState = 'ok';
    return tokens;
  }

  private saveOrThrow(tokens: TokenSet): void {
    try {
      this.options.tokens.save(this.options.address, tokens);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      this.log.error({ code }, 'cannot save the refreshed sign-in; keeping it in memory and retrying');
      throw new CredentialError(
        'temporary',
        `cannot save the token file ${this.options.tokens.fileFor(this.options.address)} (${code}); will retry`,
      );
    }
  }

  private async refresh(tokens: TokenSet, forced: boolean): Promise<TokenSet> {
    const { address } = this.options;
    const logger = this.log;
    const requestedAt = Date.now();
    const form = {
      client_id: this.options.clientId,
      grant_type: 'refresh_token',
      refresh_token: tokens.refreshToken,
      scope: this.options.scopes.join(' '),
    };
    const secrets = [tokens.refreshToken, tokens.accessToken];
    let reply;
    try {
      reply = await postForm({
        url: tokenEndpoint(this.options.authority),
        form,
        secrets,
        ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
      });
    } catch (err) {
      if (!(err instanceof EndpointUnreachableError)) throw err;
      return this.keepOldTokens(tokens, forced, err.message);
    }
    if (reply.kind === 'oauth-error') {
      if (TEMPORARY_ERRORS.has(reply.error)) return this.keepOldTokens(tokens, forced, `the sign-in service is busy (${reply.error})`);
      const what = reply.description ? `${reply.error}: ${reply.description}` : reply.error;
      this.enterSignInNeeded(
        tokens.refreshToken,
        what,
        SIGNIN_ERRORS.has(reply.error)
          ? `sign-in expired: run hotbridge login ${address}`
          : // invalid_client, unauthorized_client, invalid_scope...: a new sign-in will not help until the config is fixed.
            explainSignInError(reply.error, reply.description, { address, clientId: this.options.clientId, tenant: 'consumers' }),
      );
      throw this.signInNeededError();
    }
    let fresh: TokenSet;
    try {
      fresh = tokensFromReply(reply.body, requestedAt, tokens.refreshToken);
    } catch (err) {
      if (err instanceof EndpointUnreachableError || err instanceof MissingRefreshTokenError)
        return this.keepOldTokens(tokens, forced, err.message);
      throw err;
    }
    // Saved before anyone sees the new access token: Microsoft has already retired the old refresh token.
    try {
      this.saveOrThrow(fresh);
    } catch (err) {
      this.unsaved = fresh;
      throw err;
    }
    this.refusedAccessToken = undefined;
    logger.info({ expiresInS: Math.round((fresh.expiresAt - Date.now()) / 1000) }, 'OAuth2 access token refreshed');
    this.refreshTrouble.ended('token refresh works again');
    return fresh;
  }

  /** A refresh that failed for a passing reason: the tokens stay as they are on disk. */
  private keepOldTokens(tokens: TokenSet, forced: boolean, reason: string): TokenSet {
    const left = tokens.expiresAt - Date.now();
    if (!forced && left > STILL_USABLE_MS) {
      this.refreshTrouble.holds(`token refresh failed (${reason}); the current access token is still valid, retrying later`, {
        secondsLeft: Math.round(left / 1000),
      });
      return tokens;
    }
    this.refreshTrouble.holds(`token refresh failed (${reason}); keeping the sign-in and retrying later`);
    throw new CredentialError('temporary', `cannot refresh the sign-in for ${this.options.address}: ${reason}; will retry`);
  }

  private enterSignInNeeded(refreshToken: string, why: string, message: string): void {
    const { address, onSignInNeeded } = this.options;
    const logger = this.log;
    const first = this.currentState !== 'signin-needed';
    this.deadRefreshToken = refreshToken;
    this.deadMessage = message;
    this.currentState = 'signin-needed';
    if (!first) return;
    logger.warn({ why }, `sign-in needed: run hotbridge login ${address}`);
    if (!onSignInNeeded) return;
    const report = (err: unknown): void => {
      logger.error({ err: (err as Error)?.message }, 'the sign-in-needed handler failed');
    };
    try {
      const result = onSignInNeeded(address);
      if (result) result.catch(report);
    } catch (err) {
      report(err);
    }
  }
}
