/** Loading the config for a command, with the one-line errors the user should see. */
import { ConfigError, loadConfig } from '../config/load.js';
import { defaultConfigFile } from '../config/paths.js';
import type { HotbridgeConfig } from '../config/types.js';

/** A failure already explained to the user; main() prints the message without a stack trace. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export function configFileFrom(option: string | undefined): string {
  return option ?? defaultConfigFile();
}

export function loadConfigOrExplain(option: string | undefined): HotbridgeConfig {
  try {
    return loadConfig(configFileFrom(option));
  } catch (err) {
    if (err instanceof ConfigError) throw new UserError(err.message, 2);
    throw err;
  }
}

export function findAccount(config: HotbridgeConfig, address: string) {
  const account = config.accounts.find((entry) => entry.address === address.toLowerCase());
  if (!account) {
    throw new UserError(
      `${address} is not an account in ${config.file} (accounts: ${config.accounts.map((a) => a.address).join(', ')})`,
      2,
    );
  }
  return account;
}
