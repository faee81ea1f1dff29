/**
 * The password checks (scrypt, 32 MiB and ~50-150 ms each) of every local login, IMAP, SMTP and POP3
 * together: at most a few run at once, so a burst of logins cannot multiply the daemon's memory (issue
 * 11: four parallel hashes took the RSS to 321 MB). A check waits for a slot, not for anyone's penalty:
 * the penalty of a failure is a delay of its reply (runtime/local-auth.ts), never a held slot.
 *
 * Waiting checks are served newest first: a burst of guesses queued ahead of a real login (all of
 * loopback is one client, so they cannot be told apart before the hash) then delays it by the checks
 * already running, not by the whole burst. A check that has waited longer than `agingMs` goes before
 * newer ones, so a steady flood cannot starve anyone. A check whose client went away (its signal
 * aborted) leaves the queue without running.
 */

interface Waiter {
  since: number;
  admit(): void;
}

/** How much work the queue did, for status and the tests that count hashes. */
export interface PasswordCheckCounts {
  /** Checks that ran. */
  ran: number;
  /** Checks dropped before they ran because their client went away. */
  dropped: number;
  running: number;
  waiting: number;
}

export class PasswordCheckQueue {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  private ran = 0;
  private dropped = 0;

  constructor(
    private readonly maxRunning: number,
    private readonly agingMs: number,
  ) {
    if (!(maxRunning >= 1)) throw new Error('maxRunning must be at least 1');
  }

  /** Runs `check` once a slot is free; undefined, without running it, when `signal` aborts first. */
  async run<T>(check: () => Promise<T>, signal?: AbortSignal): Promise<T | undefined> {
    if (signal?.aborted) {
      this.dropped += 1;
      return undefined;
    }
    if (this.running < this.maxRunning) this.running += 1;
    else if (!(await this.slot(signal))) return undefined;
    this.ran += 1;
    try {
      return await check();
    } finally {
      this.release();
    }
  }

  counts(): PasswordCheckCounts {
    return { ran: this.ran, dropped: this.dropped, running: this.running, waiting: this.waiting.length };
  }

  /** Resolves true once release() hands this caller a slot (`running` is unchanged then), false when aborted. */
  private slot(signal: AbortSignal | undefined): Promise<boolean> {
    return new Promise((resolve) => {
      const onAbort = (): void => {
        const index = this.waiting.indexOf(waiter);
        if (index < 0) return;
        this.waiting.splice(index, 1);
        this.dropped += 1;
        resolve(false);
      };
      const waiter: Waiter = {
        since: Date.now(),
        admit: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(true);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private release(): void {
    const next = this.next();
    if (next) next.admit();
    else this.running -= 1;
  }

  private next(): Waiter | undefined {
    if (this.waiting.length === 0) return undefined;
    if (Date.now() - this.waiting[0].since >= this.agingMs) return this.waiting.shift();
    return this.waiting.pop();
  }
}
