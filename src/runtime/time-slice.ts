/**
 * Turns for long work on the one event loop. Every client, the poller and the status page share the
 * daemon's single loop, so a loop over 100,000 messages must stop now and then and let the others run
 * (issue 11). A `TimeSlice` says when its slice is used up; the work then awaits `yield()`, which
 * continues after the I/O that arrived meanwhile has been handled (setImmediate runs after the poll
 * phase, where a resolved promise would not let anything else in).
 *
 *   const slice = new TimeSlice();
 *   for (const item of items) {
 *     if (slice.due()) await slice.yield();
 *     work(item);
 *   }
 */

/** How long work may run before it lets the others in, in milliseconds. */
export const DEFAULT_SLICE_MS = 8;

/** Continues after pending I/O has been handled (one full turn of the event loop). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** One piece of work's share of the event loop. */
export class TimeSlice {
  private startedAt = performance.now();

  constructor(private readonly sliceMs = DEFAULT_SLICE_MS) {}

  /** Whether the slice is used up (cheap: call it every iteration). */
  due(): boolean {
    return performance.now() - this.startedAt >= this.sliceMs;
  }

  /** Lets the others run, then starts a new slice. */
  async yield(): Promise<void> {
    await nextTurn();
    this.startedAt = performance.now();
  }

  /** `yield()` if the slice is used up. */
  async check(): Promise<void> {
    if (this.due()) await this.yield();
  }
}

/**
 * Runs `work` over `items` in turns: the items in one turn are processed synchronously, and between
 * turns the loop is free.
 */
export async function forEachInTurns<T>(items: Iterable<T>, work: (item: T) => void, slice = new TimeSlice()): Promise<void> {
  for (const item of items) {
    if (slice.due()) await slice.yield();
    work(item);
  }
}
