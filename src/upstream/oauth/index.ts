/** Microsoft identity platform for Outlook.com: device-code sign-in, the token file, XOAUTH2 credentials that refresh themselves. */
export { AuthorityError, checkAuthority, deviceCodeEndpoint, tokenEndpoint } from './authority.js';
export { DeviceCodeError, signInWithDeviceCode, type DeviceCodeFailure, type DeviceCodePrompt } from './device-code.js';
export { signInNeededNotice } from './notice.js';
export { DEFAULT_REFRESH_AHEAD_MS, OAuth2CredentialSource, type OAuth2SourceOptions, type OAuth2State } from './token-source.js';
export { TokenFileError, TokenStore, tokenFileName, type TokenSet } from './token-store.js';
