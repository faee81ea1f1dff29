/** `hotbridge run`: the daemon in the foreground until SIGTERM/SIGINT; SIGHUP reloads the config. */
import { ConfigError, loadConfig } from '../../config/load.js';
import { Daemon } from '../../daemon/daemon.js';
import { AlreadyRunningError } from '../../daemon/instance-lock.js';
import { DataDirError } from '../../runtime/data-dir.js';
import { createLogger, type LogFormat } from '../../runtime/logger.js';
import { LocalPasswordsError } from '../../runtime/local-passwords.js';
import { StoreError } from '../../store/index.js';
import { loadConfigOrExplain, UserError } from '../config-option.js';

/** How long a stop may take before the process exits anyway (issue 8: within 10 s). */
const STOP_DEADLINE_MS = 9000;

export async function runDaemon(options: { config?: string; logLevel?: string; logFormat?: LogFormat }): Promise<number> {
  const config = loadConfigOrExplain(options.config);
  process.umask(0o077);
  const logger = createLogger({ level: options.logLevel ?? config.logLevel, ...(options.logFormat ? { format: options.logFormat } : {}) });
  let daemon: Daemon;
  try {
    daemon = await Daemon.start(config, logger);
  } catch (err) {
    if (err instanceof AlreadyRunningError) throw new UserError(err.message, 3);
    if (err instanceof DataDirError) throw new UserError(`${err.message} (data_dir in ${config.file})`, 3);
    const { code, syscall, address, port } = err as NodeJS.ErrnoException & { address?: string; port?: number };
    // Only a failed listen is about an address and a port (Node's own error, or a server's that names the
    // port); any other EACCES (a file) keeps its own message.
    if ((syscall === 'listen' || typeof port === 'number') && (code === 'EADDRINUSE' || code === 'EACCES')) {
      throw new UserError(
        code === 'EADDRINUSE'
          ? `cannot listen on ${address}:${port}: the port is in use (another program, or another hotbridge with another data dir); change [imap]/[smtp] listen in ${config.file}`
          : `cannot listen on ${address}:${port}: permission denied (ports below 1024 need privileges)`,
        3,
      );
    }
    if (err instanceof LocalPasswordsError || err instanceof StoreError) throw new UserError(`cannot start: ${err.message}`, 1);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      const file = (err as NodeJS.ErrnoException).path;
      throw new UserError(
        `cannot write${file ? ` to ${file}` : ''}: ${code === 'EROFS' ? 'read-only file system' : 'permission denied'}; run hotbridge as the user who owns ${config.dataDir}, or fix the owner`,
        3,
      );
    }
    throw err;
  }

  const code = await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        // A second signal: the user wants out now. Everything acknowledged is already durable.
        logger.warn({ signal }, 'stopping at once');
        resolve(1);
        return;
      }
      stopping = true;
      logger.info({ signal }, 'stopping');
      const deadline = setTimeout(() => {
        logger.error('stop took too long; exiting anyway (queued mail is safe in the store)');
        resolve(1);
      }, STOP_DEADLINE_MS);
      daemon.stop().then(
        () => {
          clearTimeout(deadline);
          resolve(0);
        },
        (err: Error) => {
          logger.error({ err }, 'stop failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', () => {
      try {
        const next = loadConfig(config.file);
        // log_level applies at once, unless --log-level set it for this run.
        if (options.logLevel === undefined && next.logLevel !== logger.level) {
          logger.level = next.logLevel;
          logger.info({ level: next.logLevel }, 'log level changed');
        }
        daemon.reload(next).catch((err: Error) => logger.error({ err }, 'reload failed'));
      } catch (err) {
        const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
        logger.error({ problems }, 'the new config has problems; the previous config stays in force');
      }
    });
  });
  // Exit now rather than when the event loop drains: a connection still being set up upstream (a silent
  // server) holds timers for up to its timeout, and nothing it could do matters any more.
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  process.exit(code);
}
