// Account configs for tests and benchmarks, as the config loader would produce them (src/config/types.ts).
import type { AccountConfig, Pop3Settings, UpstreamServer } from '../../src/config/types.js';

/**
 * An account on the given upstream servers, logging in with a password under its own address; what a
 * test does not care about at the config defaults (leave_on_server on, no deletions, no Sent copies),
 * with an hour between polls. `overrides` replace whole fields.
 */
export function accountConfig(
  address: string,
  servers: { pop3: Pop3Settings; smtp: UpstreamServer },
  overrides: Partial<AccountConfig> = {},
): AccountConfig {
  return {
    address,
    provider: 'custom',
    pollIntervalMs: 60 * 60_000,
    leaveOnServer: true,
    deleteOnExpunge: false,
    saveSent: false,
    sendAs: [],
    auth: { method: 'password', user: address },
    ...servers,
    ...overrides,
  };
}
