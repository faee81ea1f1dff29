/**
 * How long the poller waits after a failed poll. Providers that throttle (Outlook.com's
 * `-ERR Server Unavailable. 21`, dropped connections) punish clients that come straight back, so each
 * failure in a row doubles the wait up to a ceiling, and a random part spreads the retries of many
 * installations that failed at the same moment ("equal jitter": half fixed, half random).
 * The fixed half guarantees a floor: there is never a tight retry loop.
 */

export interface BackoffSettings {
  /** The wait after the first failure (before jitter). */
  initialMs: number;
  /** The largest wait (before jitter). */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { initialMs: 30_000, maxMs: 30 * 60_000 };

/** Consecutive failures and the delay they call for; `reset()` after a success or real progress. */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly settings: BackoffSettings = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {
    if (!(settings.initialMs > 0) || !(settings.maxMs >= settings.initialMs)) {
      throw new RangeError(`backoff needs 0 < initialMs <= maxMs, not ${settings.initialMs}..${settings.maxMs}`);
    }
  }

  /** Failures counted since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  /** Counts one more failure and returns how long to wait before the next try. */
  next(): number {
    this.failures += 1;
    const ceiling = Math.min(this.settings.maxMs, this.settings.initialMs * 2 ** Math.min(this.failures - 1, 40));
    const half = ceiling / 2;
    return Math.round(half + this.random() * half);
  }

  reset(): void {
    this.failures = 0;
  }
}
