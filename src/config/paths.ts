/**
 * Where hotbridge keeps its files when nothing says otherwise. Two layouts:
 * - a person's own: the platform's config and data dirs (~/.config/hotbridge, ~/.local/share/hotbridge);
 * - the system's, set up by root for the system service: /etc/hotbridge and /var/lib/hotbridge, run by
 *   the `hotbridge` user.
 * Every command finds the config the same way, so `hotbridge status` as root, as the hotbridge user or as
 * an admin finds the system config without --config.
 */
import envPaths from 'env-paths';
import fs from 'node:fs';
import path from 'node:path';

const paths = envPaths('hotbridge', { suffix: '' });

export const SYSTEM_CONFIG_FILE = '/etc/hotbridge/config.toml';
/** Where the system service keeps its data: systemd's StateDirectory=hotbridge. */
export const SYSTEM_DATA_DIR = '/var/lib/hotbridge';

/** The config of the person running this (not root's: root uses the system layout). */
export function userConfigFile(): string {
  return path.join(paths.config, 'config.toml');
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * The config file used when `--config` is not given: `$HOTBRIDGE_CONFIG`; else, for root, the system one
 * (unless only a config of root's own exists); for anyone else their own (unless only the system one exists).
 */
export function defaultConfigFile(): string {
  if (process.env.HOTBRIDGE_CONFIG) return process.env.HOTBRIDGE_CONFIG;
  const own = userConfigFile();
  const system = process.platform === 'linux' ? SYSTEM_CONFIG_FILE : undefined;
  if (!system) return own;
  if (isRoot()) return fs.existsSync(own) && !fs.existsSync(system) ? own : system;
  return !fs.existsSync(own) && fs.existsSync(system) ? system : own;
}

/** The data dir used when the config has no `data_dir`. */
export function defaultDataDir(): string {
  return paths.data;
}
