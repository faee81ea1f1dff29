/**
 * Store commands the running daemon does for the CLI (`hotbridge verify`, `backup`, `export`, `import`,
 * `resync`): the CLI cannot open the store while the daemon holds it, so it asks over the status socket
 * (status-endpoint.ts), and the daemon runs the command on its own, live store.
 */
import type { HotbridgeConfig } from '../config/types.js';
import type { Logger } from '../runtime/logger.js';
import { exportStore, importIntoStore, type ExportFormat, type Store } from '../store/index.js';

export interface StoreCommandContext {
  logger: Logger;
  version: string;
  config: HotbridgeConfig;
  /** Called after a change the workers should act on at once (resync: poll now). */
  wake?: () => void;
}

function text(body: unknown, key: string): string | undefined {
  const value = (body as Record<string, unknown> | null)?.[key];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Runs one store command; the answer is JSON for the CLI to print. */
export async function runStoreCommand(store: Store, action: string, body: unknown, context: StoreCommandContext): Promise<unknown> {
  const log = context.logger.child({ part: 'store-command', action });
  switch (action) {
    case 'verify': {
      const quick = (body as { quick?: unknown } | null)?.quick === true;
      const report = await store.verify({ quick });
      log.info({ ok: report.ok, problems: report.problems.length }, report.ok ? 'verify: the store is whole' : 'verify found problems');
      return report;
    }
    case 'backup': {
      const file = text(body, 'file');
      if (!file) throw new Error('backup needs a file name');
      const report = await store.backup(file, { hotbridge: context.version });
      log.info({ file: report.file, entries: report.entries, bytes: report.bytes }, 'backup written and checked');
      return report;
    }
    case 'export': {
      const dir = text(body, 'dir');
      const format = text(body, 'format') as ExportFormat | undefined;
      if (!dir || (format !== 'maildir' && format !== 'mbox')) throw new Error('export needs a directory and a format (maildir or mbox)');
      const mailbox = text(body, 'mailbox');
      const account = text(body, 'account');
      return exportStore(store, dir, { format, ...(mailbox ? { mailbox } : {}), ...(account ? { account } : {}) });
    }
    case 'import': {
      const source = text(body, 'source');
      const account = text(body, 'account');
      if (!source || !account) throw new Error('import needs a source and an account');
      const mailbox = text(body, 'mailbox');
      const report = await importIntoStore(store, source, { account, ...(mailbox ? { mailbox } : {}) });
      log.info({ source: report.source, added: report.added, found: report.found }, 'import done');
      return report;
    }
    case 'resync': {
      const forgotten = await store.resyncLost();
      context.wake?.();
      return forgotten;
    }
    case 'health':
      return store.health();
    default:
      throw new Error(`unknown store command ${action}`);
  }
}
