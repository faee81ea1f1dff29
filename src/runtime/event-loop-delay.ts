/**
 * How long the daemon's one event loop was held up: `perf_hooks.monitorEventLoopDelay` samples how late
 * a timer fires. Every client (IMAP, SMTP), the poller and the status page share this loop, so a delay
 * here is a delay for all of them; `hotbridge status --json` and `/metrics` show it (issue 11: no command
 * may block the loop).
 *
 * Two views: since the daemon started, and the last full minute (the histogram of the current minute
 * is kept apart and becomes "last minute" when the minute is over), so a spike an hour ago does not hide
 * that the loop is fine now, and a spike now shows up within a minute.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** The figures of one histogram, in milliseconds. */
export interface LoopDelayFigures {
  /** How many samples the figures are made of. */
  samples: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** What the status shows. */
export interface LoopDelaySnapshot {
  /** The sampling interval: a delay shorter than this is not seen. */
  resolutionMs: number;
  sinceStart: LoopDelayFigures;
  /** The last complete minute (the current one until the first minute is over). */
  lastMinute: LoopDelayFigures;
}

const NS_PER_MS = 1e6;
const round = (ms: number) => Math.round(ms * 100) / 100;

/** The figures of a histogram (nanoseconds inside) in milliseconds. */
export function figuresOf(histogram: IntervalHistogram): LoopDelayFigures {
  const samples = histogram.count;
  if (samples === 0) return { samples: 0, meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
  return {
    samples,
    meanMs: round(histogram.mean / NS_PER_MS),
    p50Ms: round(histogram.percentile(50) / NS_PER_MS),
    p99Ms: round(histogram.percentile(99) / NS_PER_MS),
    maxMs: round(histogram.max / NS_PER_MS),
  };
}

/** Watches the event loop's delay for as long as it runs. */
export class EventLoopDelayMonitor {
  private readonly total: IntervalHistogram;
  private current: IntervalHistogram;
  private previous: LoopDelayFigures | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly resolutionMs = 10,
    windowMs = 60_000,
  ) {
    this.total = monitorEventLoopDelay({ resolution: resolutionMs });
    this.current = monitorEventLoopDelay({ resolution: resolutionMs });
    this.total.enable();
    this.current.enable();
    this.timer = setInterval(() => this.rotate(), windowMs);
    // The monitor never keeps the process alive by itself.
    this.timer.unref();
  }

  private rotate(): void {
    this.previous = figuresOf(this.current);
    this.current.reset();
  }

  snapshot(): LoopDelaySnapshot {
    return { resolutionMs: this.resolutionMs, sinceStart: figuresOf(this.total), lastMinute: this.previous ?? figuresOf(this.current) };
  }

  stop(): void {
    clearInterval(this.timer);
    this.total.disable();
    this.current.disable();
  }
}
