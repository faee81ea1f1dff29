/**
 * Rotating backups (`[backup] every = "1d"`, `keep = 7`, `dir = …`): the daemon writes
 * DIR/hotbridge-TIME.hbk every so often (a consistent snapshot of its live store, checked after writing,
 * store/backup.ts) and removes the oldest beyond `keep`. The next one is due `every` after the newest one
 * in DIR, so a restart does not make an extra one, and a daemon that was down for a week makes one soon
 * after it starts. A failed backup (a full disk) is logged, shown in status, and tried again later; it never
 * touches the backups already there.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BackupSettings } from '../config/types.js';
import type { Logger } from '../runtime/logger.js';
import type { StatusBoard } from '../runtime/status-board.js';
import type { Store } from '../store/index.js';

const NAME = /^hotbridge-(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ)\.hbk$/;
/** A backup due at start waits this long, so that starting stays quick. */
const START_DELAY_MS = 30_000;
/** After a failure, the next try comes after this long at most. */
const RETRY_MS = 60 * 60_000;

/** When a backup file of ours was made, from its name (undefined for other files). */
export function backupTime(name: string): number | undefined {
  const match = NAME.exec(name);
  if (!match) return undefined;
  const iso = match[1].replace(/T(\d\d)-(\d\d)-(\d\d)Z$/, 'T$1:$2:$3Z');
  const time = Date.parse(iso);
  return Number.isNaN(time) ? undefined : time;
}

export function backupName(at: Date): string {
  return `hotbridge-${at
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-')}.hbk`;
}

export class BackupSchedule {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly settings: BackupSettings,
    private readonly logger: Logger,
    private readonly status: StatusBoard,
    private readonly version: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Our backups in the directory, newest first. */
  backups(): Array<{ file: string; at: number }> {
    let names: string[];
    try {
      names = fs.readdirSync(this.settings.dir);
    } catch {
      return [];
    }
    return names
      .map((name) => ({ file: path.join(this.settings.dir, name), at: backupTime(name) }))
      .filter((entry): entry is { file: string; at: number } => entry.at !== undefined)
      .sort((a, b) => b.at - a.at);
  }

  start(): void {
    const newest = this.backups()[0];
    const due = newest ? newest.at + this.settings.everyMs : this.now();
    this.schedule(Math.max(due - this.now(), Math.min(START_DELAY_MS, this.settings.everyMs)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const at = this.now() + delayMs;
    this.status.update('backup', 'store', { nextAt: new Date(at).toISOString(), dir: this.settings.dir, keep: this.settings.keep });
    this.timer = setTimeout(() => {
      this.running = this.backupNow().finally(() => (this.running = undefined));
    }, delayMs);
    this.timer.unref();
  }

  /** Makes one backup now and prunes the old ones; never throws. */
  async backupNow(): Promise<void> {
    const file = path.join(this.settings.dir, backupName(new Date(this.now())));
    try {
      fs.mkdirSync(this.settings.dir, { recursive: true, mode: 0o700 });
      const report = await this.store.backup(file, { hotbridge: this.version });
      this.logger.info(
        { file: report.file, messages: report.messages, bytes: report.bytes, seconds: Math.round(report.seconds) },
        'backup written and checked',
      );
      this.status.update('backup', 'store', { lastAt: new Date(this.now()).toISOString(), lastFile: report.file, lastError: undefined });
      this.prune();
      this.schedule(this.settings.everyMs);
    } catch (err) {
      const text = (err as Error).message;
      this.logger.error({ file, err: text }, `backup failed: ${text}`);
      this.status.update('backup', 'store', { lastError: text, lastErrorAt: new Date(this.now()).toISOString() });
      this.schedule(Math.min(this.settings.everyMs, RETRY_MS));
    }
  }

  /** Removes the oldest of our backups beyond `keep` (other files in the directory are left alone). */
  private prune(): void {
    for (const old of this.backups().slice(this.settings.keep)) {
      try {
        fs.rmSync(old.file);
        this.logger.info({ file: old.file }, 'old backup removed');
      } catch (err) {
        this.logger.warn({ file: old.file, err: (err as Error).message }, 'could not remove an old backup');
      }
    }
  }
}
