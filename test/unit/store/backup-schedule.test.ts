/**
 * Rotating backups (`[backup]`, src/daemon/backup-schedule.ts) with a real store and real files: each one a
 * checked archive named by its time, the oldest removed beyond `keep`, other files in the directory left
 * alone, the next one due `every` after the newest; a failure is reported and touches nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backupName, backupTime, BackupSchedule } from '../../../src/daemon/backup-schedule.js';
import { silentLogger } from '../../../src/runtime/logger.js';
import { StatusBoard } from '../../../src/runtime/status-board.js';
import { readArchive } from '../../../src/store/backup-archive.js';
import { Store } from '../../../src/store/index.js';
import { simpleMessage } from '../../helpers/messages.js';
import { removeDir, tempDir } from '../../helpers/tmp.js';

describe('rotating backups', () => {
  let dir: string;
  let store: Store;

  beforeEach(async () => {
    dir = tempDir('hotbridge-rotate-');
    store = await Store.open(path.join(dir, 'data'), { accounts: ['a@example.test'] });
    const inbox = store.findMailbox('a@example.test', 'INBOX')!;
    for (let i = 0; i < 20; i++) await store.appendMessage(inbox.id, simpleMessage(i));
  });
  afterEach(async () => {
    await store.close();
    removeDir(dir);
  });

  it('keeps the newest `keep`, each one whole, and leaves other files alone', async () => {
    const backups = path.join(dir, 'backups');
    fs.mkdirSync(backups);
    fs.writeFileSync(path.join(backups, 'my-notes.txt'), 'mine');
    let clock = Date.UTC(2026, 0, 1, 3, 0, 0);
    const status = new StatusBoard();
    const schedule = new BackupSchedule(store, { everyMs: 86_400_000, keep: 3, dir: backups }, silentLogger(), status, 'test', () => clock);
    for (let day = 0; day < 5; day++) {
      await schedule.backupNow();
      clock += 86_400_000;
    }
    await schedule.stop();
    const names = fs.readdirSync(backups).sort();
    expect(names).toEqual([
      'hotbridge-2026-01-03T03-00-00Z.hbk',
      'hotbridge-2026-01-04T03-00-00Z.hbk',
      'hotbridge-2026-01-05T03-00-00Z.hbk',
      'my-notes.txt',
    ]);
    for (const name of names.filter((n) => n.endsWith('.hbk')))
      expect(
        (
          await readArchive(
            path.join(backups, name),
            () => undefined,
            () => undefined,
          )
        ).entries,
      ).toBeGreaterThan(20);
    expect(status.get('backup', 'store')).toMatchObject({
      lastFile: path.join(backups, 'hotbridge-2026-01-05T03-00-00Z.hbk'),
      nextAt: new Date(clock - 86_400_000 + 86_400_000).toISOString(),
    });
  });

  it('names files by their time and reads the time back', () => {
    const at = new Date(Date.UTC(2026, 11, 2, 19, 40, 18));
    expect(backupName(at)).toBe('hotbridge-2026-12-02T19-40-18Z.hbk');
    expect(backupTime(backupName(at))).toBe(at.getTime());
    expect(backupTime('hotbridge-notes.hbk')).toBeUndefined();
  });

  it('reports a failed backup in status and keeps the ones there', async () => {
    const backups = path.join(dir, 'backups');
    fs.mkdirSync(backups);
    const status = new StatusBoard();
    let clock = Date.UTC(2026, 0, 1);
    const schedule = new BackupSchedule(store, { everyMs: 3_600_000, keep: 2, dir: backups }, silentLogger(), status, 'test', () => clock);
    await schedule.backupNow();
    // The directory becomes a file's name: the next backup cannot be written there.
    clock += 3_600_000;
    fs.writeFileSync(path.join(backups, backupName(new Date(clock)).replace('.hbk', '')), '');
    fs.mkdirSync(path.join(backups, backupName(new Date(clock))));
    await schedule.backupNow();
    await schedule.stop();
    expect(status.get('backup', 'store')?.lastError).toMatch(/is a directory/);
    expect(fs.readdirSync(backups).filter((name) => name.endsWith('.hbk') && fs.statSync(path.join(backups, name)).isFile())).toHaveLength(
      1,
    );
  });
});
