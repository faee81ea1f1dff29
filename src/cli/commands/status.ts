/** `hotbridge status`: asks the running daemon (over its status socket) and prints each account's state. */
import { fetchStatus, statusSocketPath } from '../../daemon/status-endpoint.js';
import { loadConfigOrExplain, UserError } from '../config-option.js';
import { formatStatus, type StatusSnapshot } from '../../runtime/status-format.js';

export async function showStatus(options: { config?: string; json?: boolean; out: NodeJS.WritableStream }): Promise<number> {
  const config = loadConfigOrExplain(options.config);
  const snapshot = (await fetchStatus(config.dataDir)) as StatusSnapshot | undefined;
  if (snapshot === undefined) {
    throw new UserError(
      `hotbridge is not running for ${config.file} (nothing answers on ${statusSocketPath(config.dataDir)}); start it with: hotbridge run`,
      3,
    );
  }
  options.out.write(options.json ? `${JSON.stringify(snapshot, null, 2)}\n` : formatStatus(snapshot));
  return 0;
}
