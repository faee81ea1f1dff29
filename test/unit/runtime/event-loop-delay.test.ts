// The daemon's loop-delay monitor (src/runtime/event-loop-delay.ts): a loop held up on purpose shows in
// both views, and the "last minute" view moves on once its window is over. Only lower bounds on what a
// deliberate block must show: a loaded machine can make delays longer, never shorter.
import { afterEach, expect, test } from 'vitest';
import { EventLoopDelayMonitor } from '../../../src/runtime/event-loop-delay.js';

let monitor: EventLoopDelayMonitor | undefined;
afterEach(() => monitor?.stop());

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
function holdLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Busy on purpose: this is the blocking the monitor must see.
  }
}

test('a loop held for 150 ms shows as a delay of at least 100 ms, since start and in the current window', async () => {
  monitor = new EventLoopDelayMonitor(10, 60_000);
  await wait(50);
  holdLoop(150);
  await wait(50);
  const { resolutionMs, sinceStart, lastMinute } = monitor.snapshot();
  expect(resolutionMs).toBe(10);
  expect(sinceStart.samples).toBeGreaterThan(0);
  expect(sinceStart.maxMs).toBeGreaterThanOrEqual(100);
  expect(sinceStart.maxMs).toBeGreaterThanOrEqual(sinceStart.p99Ms);
  expect(lastMinute.maxMs).toBeGreaterThanOrEqual(100);
});

test('once its window is over, the last-window view no longer holds an old spike, the since-start view does', async () => {
  monitor = new EventLoopDelayMonitor(10, 300);
  await wait(30);
  // Long enough that no scheduling hiccup of a loaded machine in the later window comes near it.
  holdLoop(500);
  // Two windows later the spike is in neither the finished window nor the current one.
  await wait(800);
  const { sinceStart, lastMinute } = monitor.snapshot();
  expect(sinceStart.maxMs).toBeGreaterThanOrEqual(400);
  expect(lastMinute.samples).toBeGreaterThan(0);
  expect(lastMinute.maxMs).toBeLessThan(sinceStart.maxMs);
});
