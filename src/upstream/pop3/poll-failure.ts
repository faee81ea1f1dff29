/**
 * Turns whatever stopped a poll into what `hotbridge status` shows: a state and one sentence in plain words
 * for the person reading it ("authentication failed: the provider refused the password"), and whether the
 * poller should back off (a passing condition) or wait for the user (a configuration or sign-in problem).
 */
import { PRESETS } from '../../config/presets.js';
import { StoreError } from '../../store/index.js';
import { CredentialError, type UpstreamLogin } from '../credentials.js';
import { Pop3Error } from './errors.js';

export type FailureState = 'error' | 'signin-needed' | 'backoff';

export interface PollFailure {
  state: FailureState;
  /** Plain words, no secrets. */
  text: string;
  /** The condition may pass by itself: retry with exponential backoff. */
  temporary: boolean;
}

/** The provider refused our credentials; carries which kind we sent, to say it in the right words. */
export class LoginRefused extends Error {
  constructor(
    readonly login: UpstreamLogin['kind'],
    readonly refusal: Pop3Error,
  ) {
    super(refusal.message, { cause: refusal });
    this.name = 'LoginRefused';
  }
}

/** The ca_file of the account could not be read. */
export class CaFileError extends Error {
  constructor(file: string, code: string) {
    super(`cannot read ca_file ${file} (${code})`);
    this.name = 'CaFileError';
  }
}

export interface FailureContext {
  address: string;
  provider: string;
  host: string;
  port: number;
}

function serverSaid(error: Pop3Error): string {
  const text = error.serverText?.trim();
  return text ? ` (the server said: "${text.slice(0, 200)}")` : '';
}

export function describeFailure(error: unknown, context: FailureContext): PollFailure {
  const where = `${context.host}:${context.port}`;
  const popHelp = PRESETS[context.provider]?.popHelp;
  if (error instanceof LoginRefused) {
    const refusal = error.refusal;
    let text =
      error.login === 'password'
        ? 'authentication failed: the provider refused the password'
        : 'authentication failed: the provider refused the sign-in';
    text += serverSaid(refusal);
    if (context.provider === 'outlook') {
      text +=
        error.login === 'password'
          ? '; Outlook.com no longer accepts passwords for POP (since September 2024): set auth method = "oauth2" and run hotbridge login ' +
            context.address
          : `; POP may be switched off for this account${popHelp ? ` (${popHelp})` : ''}, or the sign-in was withdrawn: run hotbridge login ${context.address}`;
    } else if (popHelp) {
      text += `; check the password and that POP is switched on (${popHelp})`;
    }
    return { state: 'error', text, temporary: false };
  }
  if (error instanceof CredentialError) {
    if (error.reason === 'signin-needed') return { state: 'signin-needed', text: `sign-in needed: ${error.message}`, temporary: false };
    if (error.reason === 'temporary') return { state: 'backoff', text: error.message, temporary: true };
    return { state: 'error', text: error.message, temporary: false };
  }
  if (error instanceof CaFileError) return { state: 'error', text: error.message, temporary: false };
  if (error instanceof Pop3Error) {
    switch (error.kind) {
      case 'tls':
        return { state: 'error', text: `secure connection to ${where} failed: ${error.message}`, temporary: error.temporary };
      case 'timeout':
        return { state: 'backoff', text: `the provider did not answer in time: ${error.message}`, temporary: true };
      case 'io':
        return { state: 'backoff', text: `connection to ${where} failed or dropped: ${error.message}`, temporary: true };
      case 'auth':
        // A refusal outside the login step (it is wrapped in LoginRefused there): a mechanism problem.
        return { state: 'error', text: `authentication failed: ${error.message}`, temporary: false };
      case 'protocol':
        if (error.temporary) {
          return {
            state: 'backoff',
            text: `the provider is busy or throttling this account${serverSaid(error)}; trying again later`,
            temporary: true,
          };
        }
        return { state: 'error', text: `the POP3 server reported an error: ${error.message}`, temporary: false };
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof StoreError) {
    // A full disk passes (and the store recovers by itself once there is room): back off, say so plainly.
    if (error.code === 'no-space')
      return { state: 'backoff', text: `${message}; new mail waits on the server until there is room`, temporary: true };
    return { state: 'error', text: `cannot store mail locally: ${message}`, temporary: false };
  }
  return { state: 'error', text: `sync failed: ${message}`, temporary: false };
}
