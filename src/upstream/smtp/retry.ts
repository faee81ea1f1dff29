/**
 * When to try a queued message again. MTAs retry for days (RFC 5321 §4.5.4.1: "give up ... at least
 * 4-5 days"); the first retry comes quickly because most 4xx replies ("Server busy") pass within
 * minutes, later ones grow so that a provider outage does not turn into a flood of connections.
 */

/** Delays after the 1st, 2nd, … failed attempt; the last one repeats until the message expires. */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = [
  30_000,
  60_000,
  2 * 60_000,
  5 * 60_000,
  10 * 60_000,
  20 * 60_000,
  40 * 60_000,
  60 * 60_000,
  2 * 60 * 60_000,
  4 * 60 * 60_000,
];

/** How long a message may wait for temporary failures to pass before it bounces. */
export const DEFAULT_MAX_AGE_MS = 5 * 24 * 60 * 60_000;

/** The delay before the next try after `attempts` failed attempts (attempts >= 1). */
export function retryDelay(attempts: number, schedule: readonly number[] = DEFAULT_RETRY_SCHEDULE_MS): number {
  if (schedule.length === 0) throw new Error('the retry schedule is empty');
  const index = Math.min(Math.max(attempts, 1), schedule.length) - 1;
  return schedule[index];
}
