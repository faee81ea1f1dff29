/**
 * Doctor's look at the store: through the running daemon (its store's health: can it write, and if not,
 * why), or, when none runs, a quick verify of the store on disk (store/store-check.ts); and the room on the
 * disk that holds it.
 */
import type { HotbridgeConfig } from '../../config/types.js';
import { runStoreCommand } from '../../daemon/status-endpoint.js';
import { diskRoom, inspectStore, REPAIR_ADVICE, type StoreHealth } from '../../store/index.js';
import { fail, info, ok, type CheckResult } from './report.js';

export async function checkStore(config: HotbridgeConfig, daemonRunning: boolean): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  if (daemonRunning) {
    const health = (await runStoreCommand(config.dataDir, 'health', {}, 10_000).catch(() => undefined)) as StoreHealth | undefined;
    if (!health) results.push(info('the running hotbridge did not say how its store is'));
    else if (health.state === 'ok')
      results.push(ok('the store writes (the running hotbridge says so; hotbridge verify checks every message)'));
    else if (health.state === 'no-space')
      results.push(
        fail(`the store cannot write: ${health.text}`, 'make room on that disk; hotbridge goes on by itself once there is room'),
      );
    else results.push(fail(`the store cannot write: ${health.text}`, REPAIR_ADVICE));
  } else {
    const inspection = await inspectStore(config.dataDir);
    if (inspection.state === 'none') results.push(info(inspection.text));
    else if (inspection.state === 'ok') results.push(ok(inspection.text));
    else results.push(fail(inspection.text, inspection.fix ?? REPAIR_ADVICE));
  }
  const room = diskRoom(config.dataDir);
  if (room)
    results.push(room.low ? fail(room.text, 'make room on that disk: below a few MB hotbridge can take no new mail') : ok(room.text));
  return results;
}
