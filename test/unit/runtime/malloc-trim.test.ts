// The malloc_trim helper (src/runtime/malloc-trim.c and .ts): where it is built (Linux with glibc and a C
// compiler, which CI has), a process whose heap is mostly free after a burst gets that memory back, and
// the daemon's trimmer calls it on its interval. The compiled module is tested (dist/, which `npm test`
// builds first): the addon sits next to it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test, vi } from 'vitest';

type TrimModule = typeof import('../../../src/runtime/malloc-trim.js');
const compiled = new URL('../../../dist/runtime/malloc-trim.js', import.meta.url);
const load = async (): Promise<TrimModule> => (await import(compiled.href)) as TrimModule;
const glibc =
  process.platform === 'linux' &&
  Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime);

afterEach(() => vi.useRealTimers());

test('the addon is built on Linux with glibc when a C compiler is there (always under CI), and absent elsewhere', async () => {
  const { mallocTrimAddon } = await load();
  const built = fs.existsSync(fileURLToPath(new URL('../../../dist/runtime/malloc-trim.node', import.meta.url)));
  if (process.env.CI === 'true' && glibc) expect(built).toBe(true);
  if (!glibc) expect(built).toBe(false);
  expect(mallocTrimAddon() !== null).toBe(built);
});

test('memory freed in the middle of the heap goes back to the system when the addon is called', async () => {
  const { mallocTrimAddon } = await load();
  if (!mallocTrimAddon()) return; // not built here (see the test above): nothing to give back with
  // In a process of its own, so that this file's own allocations do not blur the figures. 60,000 Buffers
  // of 1,000 bytes come from glibc's heap; every 64th is kept, so no free run reaches the heap's top and
  // glibc alone gives nothing back.
  const script = `
    const { mallocTrimAddon } = await import(${JSON.stringify(compiled.href)});
    const anon = () => Number(/RssAnon:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
    let buffers = Array.from({ length: 60000 }, () => Buffer.allocUnsafeSlow(1000).fill(1));
    const kept = buffers.filter((_, i) => i % 64 === 0);
    buffers = undefined;
    const before = [];
    const after = [];
    const gaveBack = [];
    // V8 frees the Buffers' memory on a background thread after the collection: try a few times.
    for (let attempt = 0; attempt < 5; attempt++) {
      globalThis.gc();
      await new Promise((resolve) => setTimeout(resolve, 300));
      before.push(anon());
      gaveBack.push(mallocTrimAddon().trim());
      after.push(anon());
      if (before[attempt] - after[attempt] > 20 * 1024 * 1024) break;
    }
    console.log(JSON.stringify({ before, after, gaveBack, kept: kept.length }));
  `;
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=commonjs', '-e', `(async () => { ${script} })()`], {
    encoding: 'utf8',
  });
  const { before, after, gaveBack, kept } = JSON.parse(out) as { before: number[]; after: number[]; gaveBack: boolean[]; kept: number };
  expect(kept).toBe(938);
  expect(gaveBack[0]).toBe(true);
  // About 55 MB of the heap were free; at least 20 MB of it must have left the process.
  const returned = Math.max(...before.map((bytes, i) => bytes - after[i]));
  expect(returned).toBeGreaterThan(20 * 1024 * 1024);
});

test('the trimmer calls the addon on its interval and stops when told', async () => {
  const { mallocTrimAddon, startMemoryTrimmer } = await load();
  const addon = mallocTrimAddon();
  if (!addon) {
    expect(() => startMemoryTrimmer(1000)()).not.toThrow(); // without the addon it is a no-op
    return;
  }
  vi.useFakeTimers();
  const trim = vi.spyOn(addon, 'trim');
  const stop = startMemoryTrimmer(1000);
  vi.advanceTimersByTime(3500);
  expect(trim).toHaveBeenCalledTimes(3);
  stop();
  vi.advanceTimersByTime(5000);
  expect(trim).toHaveBeenCalledTimes(3);
  trim.mockRestore();
});
