/**
 * SIGHUP applies [status] too: the status page starts, moves and stops with the config, and what a reload
 * cannot apply (data_dir) is named in the log. The real daemon, a real HTTP client.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, writeTestConfig, type RunningDaemon, type TestConfig } from '../helpers/cli.js';
import { freePorts } from '../helpers/ports.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

let dir: string;
let config: TestConfig;
let daemon: RunningDaemon;
let original: string;

beforeAll(async () => {
  dir = tempDir();
  config = await writeTestConfig(dir, [{ address: 'alice@example.test' }]);
  original = fs.readFileSync(config.file, 'utf8');
  daemon = await startDaemon(config.file);
});
afterAll(async () => {
  await daemon?.kill();
  if (dir) removeDir(dir);
});

const page = (port: number) =>
  fetch(`http://127.0.0.1:${port}/status`).then(
    (r) => r.status,
    () => 'refused',
  );

async function reloadWith(extraTop: string, count: number, text = original.replace(/^\[imap\]/m, `${extraTop}\n[imap]`)): Promise<void> {
  fs.writeFileSync(config.file, text);
  daemon.child.kill('SIGHUP');
  const deadline = Date.now() + 20_000;
  while ((daemon.log().match(/config reloaded/g) ?? []).length < count && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  expect((daemon.log().match(/config reloaded/g) ?? []).length, daemon.log()).toBe(count);
}

describe('a reload (SIGHUP)', () => {
  it('starts, moves and stops the status page', async () => {
    const [first, second] = await freePorts(2);
    expect(await page(first)).toBe('refused');
    await reloadWith(`[status]\nlisten = ["127.0.0.1:${first}"]`, 1);
    expect(await page(first)).toBe(200);
    await reloadWith(`[status]\nlisten = ["127.0.0.1:${second}"]`, 2);
    expect(await page(second)).toBe(200);
    expect(await page(first)).toBe('refused');
    await reloadWith('', 3);
    expect(await page(second)).toBe('refused');
    expect(daemon.log()).toMatch(/status page off/);
  });

  it('says which key needs a restart', async () => {
    await reloadWith('', 4, original.replace(/^data_dir = .*$/m, `data_dir = "${path.join(dir, 'elsewhere')}"`));
    expect(daemon.log()).toMatch(/data_dir changed: that needs a restart; the rest of the new config is applied/);
  });
});
