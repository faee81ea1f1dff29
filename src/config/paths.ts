/** Where hotbridge keeps its files when the config does not say: the platform's usual places. */
import envPaths from 'env-paths';
import path from 'node:path';

const paths = envPaths('hotbridge', { suffix: '' });

/** The config file used when `--config` is not given (also `HOTBRIDGE_CONFIG`). */
export function defaultConfigFile(): string {
  return process.env.HOTBRIDGE_CONFIG ?? path.join(paths.config, 'config.toml');
}

/** The data dir used when the config has no `data_dir`. */
export function defaultDataDir(): string {
  return paths.data;
}
