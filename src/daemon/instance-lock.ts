/**
 * One daemon per data dir. A second `hotbridge run` on the same data dir must stop at once with a message
 * naming the running pid, not with a LevelDB lock error. proper-lockfile holds the lock; the pid file
 * names its owner, and a lock whose owner is dead (SIGKILL, power loss) is taken over at once rather than
 * after proper-lockfile's staleness timeout, so a restart right after a crash works.
 */
import fs from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';

export class AlreadyRunningError extends Error {
  constructor(
    readonly pid: number | undefined,
    readonly dataDir: string,
  ) {
    super(
      pid
        ? `hotbridge is already running (pid ${pid}) with the data dir ${dataDir}; stop it first, or use another data_dir`
        : `another hotbridge holds the data dir ${dataDir}; stop it first, or use another data_dir`,
    );
    this.name = 'AlreadyRunningError';
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function pidFile(dataDir: string): string {
  return path.join(dataDir, 'hotbridge.pid');
}

export function readPid(dataDir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile(dataDir), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the data dir's lock and writes the pid file; returns the function that releases both. */
export async function acquireInstanceLock(dataDir: string): Promise<() => Promise<void>> {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const target = path.join(dataDir, 'instance');
  fs.closeSync(fs.openSync(target, 'a', 0o600));
  const options = { realpath: false, stale: 30_000, update: 10_000, onCompromised: () => undefined };
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(target, options);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
    const owner = readPid(dataDir);
    if (owner !== undefined && owner !== process.pid && pidAlive(owner)) throw new AlreadyRunningError(owner, dataDir);
    // The owner died without releasing (a crash): the lock is ours to take.
    fs.rmSync(`${target}.lock`, { recursive: true, force: true });
    try {
      release = await lockfile.lock(target, options);
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code === 'ELOCKED') throw new AlreadyRunningError(readPid(dataDir), dataDir);
      throw again;
    }
  }
  fs.writeFileSync(pidFile(dataDir), `${process.pid}\n`, { mode: 0o600 });
  return async () => {
    if (readPid(dataDir) === process.pid) fs.rmSync(pidFile(dataDir), { force: true });
    await release().catch(() => undefined);
  };
}
