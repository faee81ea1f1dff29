/**
 * How the store commands (verify, backup, restore, repair, resync, export, import) reach the store: through
 * the running daemon when there is one (it holds the store; it runs the command on its live store), or
 * directly, holding the data dir's lock so no daemon starts meanwhile.
 */
import type { HotbridgeConfig } from '../../config/types.js';
import { acquireInstanceLock, AlreadyRunningError } from '../../daemon/instance-lock.js';
import { runStoreCommand } from '../../daemon/status-endpoint.js';
import { ONE_PASS_TABLES, Store, StoreError } from '../../store/index.js';
import { UserError } from '../config-option.js';

/** Asks the running daemon to do `action`; undefined when no daemon answers. */
export async function viaDaemon<T>(config: HotbridgeConfig, action: string, body: unknown): Promise<T | undefined> {
  try {
    return (await runStoreCommand(config.dataDir, action, body)) as T | undefined;
  } catch (err) {
    throw new UserError(`the running hotbridge could not ${action}: ${(err as Error).message}`, 1);
  }
}

/** Runs `work` holding the data dir's lock (the daemon must not be running). */
export async function withLock<T>(config: HotbridgeConfig, what: string, work: () => Promise<T>): Promise<T> {
  let release: () => Promise<void>;
  try {
    release = await acquireInstanceLock(config.dataDir);
  } catch (err) {
    if (err instanceof AlreadyRunningError) throw new UserError(`${what} needs hotbridge stopped: ${err.message}`, 3);
    throw err;
  }
  try {
    return await work();
  } finally {
    await release();
  }
}

/** Opens the store (the daemon is not running) for `work`, closing it afterwards; store errors become one line. */
export async function withOpenStore<T>(config: HotbridgeConfig, what: string, work: (store: Store) => Promise<T>): Promise<T> {
  return withLock(config, what, async () => {
    let store: Store;
    try {
      // These commands read the store through once: few open tables keep the memory small.
      store = await Store.open(config.dataDir, { maxOpenTables: ONE_PASS_TABLES });
    } catch (err) {
      if (err instanceof StoreError) throw new UserError(err.message, 1);
      throw err;
    }
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  });
}

/** Refuses when a daemon answers on the status socket (restore and repair replace the store under it). */
export async function requireStopped(config: HotbridgeConfig, what: string): Promise<void> {
  const health = await viaDaemon(config, 'health', {}).catch(() => 'running');
  if (health !== undefined)
    throw new UserError(
      `${what} needs hotbridge stopped (it is running with the data dir ${config.dataDir}); stop it first (systemctl --user stop hotbridge, or Ctrl-C)`,
      3,
    );
}

export function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
