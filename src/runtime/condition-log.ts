/**
 * Logging a state that lasts (not signed in, the provider down, throttled, a refused password) the way a
 * person wants to read it: one line with the fix when it starts, the same line again at most once an hour
 * while it lasts (so a log read tomorrow still shows it), and one INFO line when it ends. A poll that fails
 * every two minutes for a day then leaves 25 lines, not 720.
 */
import type { Logger } from './logger.js';

/** How often a lasting state is logged again. */
export const REPEAT_MS = 60 * 60 * 1000;

interface Active {
  text: string;
  loggedAt: number;
}

export class ConditionLog {
  private active: Active | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly repeatMs = REPEAT_MS,
  ) {}

  /** The state (still) holds; `text` names it and its fix. Logged when new, changed, or an hour old. */
  holds(text: string, fields: Record<string, unknown> = {}, level: 'warn' | 'error' = 'warn'): void {
    const now = this.now();
    const active = this.active;
    if (active !== undefined && active.text === text && now - active.loggedAt < this.repeatMs) {
      // Still the same: the details go to debug only.
      this.logger.debug(fields, text);
      return;
    }
    this.active = { text, loggedAt: now };
    this.logger[level](fields, active !== undefined && active.text === text ? `${text} (still)` : text);
  }

  /** The state is over: one INFO line, only when a state was logged. */
  ended(text: string, fields: Record<string, unknown> = {}): void {
    if (this.active === undefined) return;
    this.active = undefined;
    this.logger.info(fields, text);
  }

  get holding(): boolean {
    return this.active !== undefined;
  }
}
