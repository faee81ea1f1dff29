/**
 * Clock skew. A wrong clock breaks TLS (certificates "expired" or "not yet valid") and OAuth2 (tokens look
 * expired or not yet valid). No server hotbridge talks to is a time service, so the doctor uses what they
 * happen to say: the Date header of the identity platform's HTTP answers, the date in an SMTP greeting
 * (Exchange puts one there). Without any, it says so rather than claim the clock is right.
 */
import { fail, info, ok, type CheckResult } from './report.js';

export interface TimeSample {
  /** Who said it, for the report line. */
  source: string;
  /** The time the server stated. */
  serverTime: Date;
  /** Our clock when we read it (ms). */
  localTime: number;
  /** How coarse the server's time is (HTTP dates and greetings have whole seconds). */
  resolutionMs: number;
}

/** More skew than this is a problem: Microsoft's token checks and Kerberos both allow about five minutes. */
export const MAX_SKEW_MS = 5 * 60_000;

function seconds(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

export function clockResult(samples: TimeSample[], certificatesChecked: boolean): CheckResult {
  if (samples.length === 0) {
    return certificatesChecked
      ? info('clock: no server here states the time, so skew was not measured (the certificate dates agree with this clock)')
      : info('clock: not checked (no server could be asked)');
  }
  // The best sample is the one with the smallest skew beyond its resolution.
  const skews = samples.map((sample) => ({ sample, skew: sample.localTime - sample.serverTime.getTime() }));
  skews.sort((a, b) => Math.abs(a.skew) - Math.abs(b.skew));
  const { sample, skew } = skews[0];
  const beyond = Math.max(0, Math.abs(skew) - sample.resolutionMs);
  if (beyond > MAX_SKEW_MS) {
    return fail(
      `clock: this computer is ${seconds(skew)} ${skew > 0 ? 'ahead of' : 'behind'} ${sample.source}`,
      'set the clock right and keep it right: turn on network time (timedatectl set-ntp true; macOS: System Settings → General → Date & Time)',
    );
  }
  return ok(`clock: within ${seconds(Math.max(beyond, 1000))} of ${sample.source}`);
}

/** The Date header of an HTTP answer (RFC 9110 §6.6.1), or undefined. */
export function httpDate(headers: Headers): Date | undefined {
  const value = headers.get('date');
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
