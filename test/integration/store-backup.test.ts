/**
 * `hotbridge verify`, `backup`, `export` and `import` while the daemon runs (they go through its status
 * socket and work on its live store), and `restore` with the daemon stopped (issue 12): a backup taken
 * while a mail client keeps appending is one consistent moment of the store; a restore puts exactly that
 * back and keeps the store it replaced; a damaged backup is refused and changes nothing.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/index.js';
import { runCli, startDaemon, writeTestConfig, type RunningDaemon, type TestConfig } from '../helpers/cli.js';
import { simpleMessage } from '../helpers/messages.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const ALICE = 'alice@example.test';
const PASSWORD = 'backup-local';
const hash = (raw: Buffer): string => createHash('sha256').update(raw).digest('hex');

async function storedHashes(dataDir: string): Promise<string[]> {
  const store = await Store.open(dataDir);
  try {
    const out: string[] = [];
    for (const mailbox of store.listMailboxes(ALICE))
      for (const m of await store.listMessages(mailbox.id)) out.push(hash(await store.getBlob(m.blobId)));
    return out.sort();
  } finally {
    await store.close();
  }
}

describe('backup and restore, verify, export and import while the daemon runs', () => {
  let dir: string;
  let config: TestConfig;
  let daemon: RunningDaemon;
  let client: ImapFlow;
  const cli = (args: string[]) => runCli([...args, '--config', config.file], { timeoutMs: 120_000 });

  beforeAll(async () => {
    dir = tempDir('hotbridge-backup-');
    config = await writeTestConfig(dir, [{ address: ALICE }]);
    expect((await runCli(['password', ALICE, '--config', config.file], { input: `${PASSWORD}\n` })).code).toBe(0);
    daemon = await startDaemon(config.file);
    client = new ImapFlow({
      host: '127.0.0.1',
      port: config.imapPort,
      secure: false,
      auth: { user: ALICE, pass: PASSWORD },
      logger: false,
      disableAutoIdle: true,
    });
    await client.connect();
  });
  afterAll(async () => {
    await client?.logout().catch(() => undefined);
    await daemon?.kill();
    removeDir(dir);
  });

  let before: Set<string>;
  const after: string[] = [];
  const file = () => path.join(dir, 'mail.hbk');

  it('verifies and backs up the live store while a client appends; restore refuses while it runs', async () => {
    for (let i = 0; i < 200; i++) await client.append('INBOX', simpleMessage(i, 4000), ['\\Seen']);
    await client.mailboxCreate('Archive');
    for (let i = 0; i < 50; i++) await client.append('Archive', simpleMessage(1000 + i, 20_000));

    const verify = await cli(['verify']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/Checked 250 messages in 6 mailboxes/);
    expect(verify.stdout).toContain('✓ the store is whole');

    // A client keeps appending during the backup.
    const appended: string[] = [];
    let appending = true;
    const writer = (async () => {
      for (let i = 0; appending; i++) {
        const raw = simpleMessage(5000 + i, 4000);
        await client.append('INBOX', raw);
        appended.push(hash(raw));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const atStart = appended.length;
    const backup = await cli(['backup', file()]);
    const atEnd = appended.length;
    appending = false;
    await writer;
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/^Backup written and checked: .*mail\.hbk \(\d+ messages, \d+ entries, [\d.]+ MB, [\d.]+ s\)/);

    before = new Set(appended.slice(0, atStart));
    // Appended after the backup finished: not in it.
    for (let i = 0; i < 5; i++) {
      const raw = simpleMessage(9000 + i, 4000);
      await client.append('INBOX', raw);
      after.push(hash(raw));
    }
    void atEnd;

    const refused = await cli(['restore', file()]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/restore needs hotbridge stopped/);
  }, 300_000);

  it('exports and imports through the running daemon; the client sees imported mail at once', async () => {
    const out = path.join(dir, 'export');
    const exported = await cli(['export', '--format', 'mbox', out, '--mailbox', 'Archive']);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/^Exported 50 messages/);
    const imported = await cli(['import', path.join(out, 'Archive'), '--mailbox', 'Archive copy']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/^Imported 50 of 50 messages/);
    const copied = await client.status('Archive copy', { messages: true });
    expect(copied && copied.messages).toBe(50);
  }, 300_000);

  it('restores the backup (daemon stopped): that moment of the store, exactly; the replaced store is kept', async () => {
    await client.logout();
    expect(await daemon.stop()).toBe(0);
    const current = await storedHashes(config.dataDir);
    const restore = await cli(['restore', file()]);
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    const kept = /kept in (\S+) /.exec(restore.stdout)?.[1];
    expect(kept).toBeDefined();
    expect(fs.existsSync(kept!)).toBe(true);

    const restored = await storedHashes(config.dataDir);
    // Everything appended before the backup began is there; nothing appended after it ended.
    for (const h of before) expect(restored).toContain(h);
    for (const h of after) expect(current).toContain(h);
    for (const h of after) expect(restored).not.toContain(h);
    for (const h of restored) expect(current).toContain(h);
    expect((await cli(['verify'])).code).toBe(0);
  }, 300_000);

  it('refuses a damaged backup and leaves the store as it was', async () => {
    const bad = path.join(dir, 'bad.hbk');
    const bytes = fs.readFileSync(file());
    fs.writeFileSync(bad, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const was = await storedHashes(config.dataDir);
    const cut = await cli(['restore', bad]);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(/cannot restore: .*bad\.hbk: the backup is (damaged or cut short|cut short)/);
    expect(cut.stderr).toMatch(/the store was not changed/);
    expect(await storedHashes(config.dataDir)).toEqual(was);

    const flipped = Buffer.from(bytes);
    flipped[Math.floor(flipped.length / 2)] ^= 0xff;
    fs.writeFileSync(bad, flipped);
    const damaged = await cli(['restore', bad]);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toMatch(/cannot restore: .*the backup is damaged/);
    expect(await storedHashes(config.dataDir)).toEqual(was);
  }, 300_000);
});
