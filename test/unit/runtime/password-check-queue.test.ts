// The shared slots of the password checks, with checks the test finishes by hand (the order of service
// is the point here, and a real scrypt would make it depend on the machine's speed).
import { describe, expect, it } from 'vitest';
import { PasswordCheckQueue } from '../../../src/runtime/password-check-queue.js';

/** A check that runs until the test finishes it. */
function manual(started: string[], name: string): { check: () => Promise<string>; finish: () => void } {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    check: async () => {
      started.push(name);
      await done;
      return name;
    },
    finish: () => finish(),
  };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('password check queue', () => {
  it('runs at most maxRunning checks at once', async () => {
    const queue = new PasswordCheckQueue(2, 60_000);
    const started: string[] = [];
    const checks = ['a', 'b', 'c', 'd'].map((name) => manual(started, name));
    const results = checks.map(({ check }) => queue.run(check));
    await turn();
    expect(started).toEqual(['a', 'b']);
    expect(queue.counts()).toMatchObject({ running: 2, waiting: 2 });
    for (const { finish } of checks) finish();
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd']);
    expect(queue.counts()).toEqual({ ran: 4, dropped: 0, running: 0, waiting: 0 });
  });

  it('serves the newest waiting check first, so a backlog does not delay a new login', async () => {
    const queue = new PasswordCheckQueue(1, 60_000);
    const started: string[] = [];
    const checks = ['running', 'old 1', 'old 2', 'new'].map((name) => manual(started, name));
    const results = checks.map(({ check }) => queue.run(check));
    await turn();
    checks[0].finish();
    await results[0];
    await turn();
    expect(started).toEqual(['running', 'new']);
    for (const { finish } of checks) finish();
    await Promise.all(results);
    expect(started).toEqual(['running', 'new', 'old 2', 'old 1']);
  });

  it('serves a check that waited longer than agingMs before newer ones', async () => {
    const queue = new PasswordCheckQueue(1, 0);
    const started: string[] = [];
    const checks = ['running', 'first', 'second', 'third'].map((name) => manual(started, name));
    const results = checks.map(({ check }) => queue.run(check));
    for (const { finish } of checks) finish();
    await Promise.all(results);
    expect(started).toEqual(['running', 'first', 'second', 'third']);
  });

  it('drops a waiting check whose signal aborts, without running it', async () => {
    const queue = new PasswordCheckQueue(1, 60_000);
    const started: string[] = [];
    const running = manual(started, 'running');
    const gone = manual(started, 'gone');
    const stays = manual(started, 'stays');
    const controller = new AbortController();
    const results = [queue.run(running.check), queue.run(gone.check, controller.signal), queue.run(stays.check)];
    controller.abort();
    expect(await results[1]).toBeUndefined();
    expect(queue.counts()).toMatchObject({ dropped: 1, waiting: 1 });
    running.finish();
    stays.finish();
    expect(await Promise.all([results[0], results[2]])).toEqual(['running', 'stays']);
    expect(started).toEqual(['running', 'stays']);
    // Already aborted: never queued at all.
    expect(await queue.run(gone.check, controller.signal)).toBeUndefined();
    expect(queue.counts()).toEqual({ ran: 2, dropped: 2, running: 0, waiting: 0 });
  });

  it('frees the slot when a check throws', async () => {
    const queue = new PasswordCheckQueue(1, 60_000);
    await expect(queue.run(() => Promise.reject(new Error('broken file')))).rejects.toThrow('broken file');
    expect(await queue.run(async () => 'next')).toBe('next');
  });
});
