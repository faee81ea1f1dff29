/** What one doctor check found, and how it is printed: one line with ✓, ✗ or ·, and for ✗ a fix. */

/** `ok` ✓, `fail` ✗ (makes the exit code non-zero), `info` · (not checked, or nothing to judge). */
export type Verdict = 'ok' | 'fail' | 'info';

export interface CheckResult {
  verdict: Verdict;
  /** One line, in plain words. */
  title: string;
  /** What to do about it (for `fail`, sometimes for `info`). */
  fix?: string;
}

export const ok = (title: string): CheckResult => ({ verdict: 'ok', title });
export const fail = (title: string, fix: string): CheckResult => ({ verdict: 'fail', title, fix });
export const info = (title: string, fix?: string): CheckResult =>
  fix === undefined ? { verdict: 'info', title } : { verdict: 'info', title, fix };

const MARK: Record<Verdict, string> = { ok: '✓', fail: '✗', info: '·' };

export function formatCheck(result: CheckResult): string {
  const line = `${MARK[result.verdict]} ${result.title}\n`;
  if (!result.fix) return line;
  const fixLines = result.fix.split('\n');
  // A failure gets a "fix:"; a hint under a · line is just indented.
  const label = result.verdict === 'fail' ? 'fix: ' : '';
  const indent = ' '.repeat(4 + label.length);
  return `${line}    ${label}${fixLines[0]}\n${fixLines
    .slice(1)
    .map((text) => `${indent}${text}\n`)
    .join('')}`;
}

/** Prints each result as it comes and counts the failures. */
export class DoctorReport {
  failures = 0;
  readonly results: CheckResult[] = [];

  constructor(private readonly out: NodeJS.WritableStream) {}

  add(result: CheckResult): CheckResult {
    this.results.push(result);
    if (result.verdict === 'fail') this.failures++;
    this.out.write(formatCheck(result));
    return result;
  }

  heading(text: string): void {
    this.out.write(`\n${text}\n`);
  }
}
