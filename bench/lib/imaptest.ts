/**
 * Dovecot's imaptest for bench/imaptest.bench.ts: finding (or building) the binary, writing the mbox it
 * APPENDs from, running its stress mode against one server, and reading its per-command counts.
 *
 * imaptest's source comes with the team's shared tools (`shared/tools/imaptest/build.sh` beside the
 * repository, or above it); the build script is idempotent and prints the binary's path. IMAPTEST=PATH
 * names a binary built elsewhere.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** How to get imaptest when neither IMAPTEST nor the shared build script is there. */
export const HOW_TO_GET_IMAPTEST = [
  "imaptest (Dovecot's IMAP stress and conformance tool) was not found, so the imaptest rounds are skipped.",
  '  To run them: build it from https://github.com/dovecot/imaptest (branch release-2.3) against dovecot-dev',
  '  (apt-get install dovecot-dev autoconf automake libtool make gcc; ./autogen.sh && ./configure',
  "  --with-dovecot=/usr/lib/dovecot && make) and run again with IMAPTEST=/path/to/imaptest, or put the team's",
  '  shared/tools/imaptest/ next to (or above) this repository.',
].join('\n');

/** The shared build script, looked for in `shared/` beside the repository and beside each folder above it. */
function sharedBuildScript(): string | undefined {
  for (let dir = path.dirname(ROOT); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'shared/tools/imaptest/build.sh');
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The imaptest binary (building it the first time, about a minute), or undefined when there is none. */
export function findImaptest(): string | undefined {
  const named = process.env.IMAPTEST;
  if (named) {
    if (!fs.existsSync(named)) throw new Error(`IMAPTEST=${named}: no such file`);
    return named;
  }
  const script = sharedBuildScript();
  if (!script) return undefined;
  // The script's output is the path on its last line; its build log goes to stderr.
  const out = execFileSync(script, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 15 * 60_000 });
  return out.trim().split('\n').pop();
}

/**
 * An mbox of `raws` (CRLF messages) for imaptest to APPEND from: LF line ends (imaptest turns them
 * back into CRLF when it appends) and `>From ` quoting of body lines (mboxrd).
 */
export function writeMbox(file: string, raws: readonly Buffer[]): void {
  const parts: string[] = [];
  for (const raw of raws) {
    const text = raw
      .toString('latin1')
      .replace(/\r\n/g, '\n')
      .replace(/^(>*From )/gm, '>$1');
    parts.push(`From bench@example.org Mon Mar  2 10:00:00 2026\n${text}${text.endsWith('\n') ? '' : '\n'}\n`);
  }
  fs.writeFileSync(file, parts.join(''), 'latin1');
}

/** What one imaptest run did. */
export interface StressResult {
  /** Commands completed, by imaptest's short name (Logi, List, Stat, Sele, Fetc, Fet2, Stor, Dele, Expu, Appe, Logo). */
  counts: Map<string, number>;
  total: number;
  seconds: number;
  /** Error lines imaptest printed, grouped with numbers and tags taken out, most frequent first. */
  errors: Array<{ text: string; count: number }>;
}

export interface StressOptions {
  imaptest: string;
  port: number;
  user: string;
  password: string;
  mbox: string;
  clients: number;
  seconds: number;
  /** true: `logout=0`, every client keeps its session; false: login, commands, logout, again. */
  persistent: boolean;
}

/** The "Totals:" block at the end of imaptest's output: a row of names, two rows of percentages, the counts. */
export function parseTotals(stdout: string): Map<string, number> {
  const lines = stdout.split('\n');
  const at = lines.lastIndexOf('Totals:');
  if (at < 0) throw new Error(`imaptest printed no totals:\n${stdout.slice(-2000)}`);
  const names = lines[at + 1].trim().split(/\s+/);
  const counts = lines
    .slice(at + 2)
    .map((line) => line.trim())
    .find((line) => /^\d+(\s+\d+)*$/.test(line));
  if (!counts) throw new Error(`imaptest's totals have no counts:\n${lines.slice(at).join('\n')}`);
  const values = counts.split(/\s+/).map(Number);
  return new Map(names.map((name, i) => [name, values[i] ?? 0]));
}

function groupErrors(stderr: string): Array<{ text: string; count: number }> {
  const groups = new Map<string, number>();
  for (const line of stderr.split('\n')) {
    if (!/error|panic|fatal/i.test(line)) continue;
    // "Error: user[3]: FETCH failed: 9.123 NO ..." -> one group per kind of failure.
    const text = line
      .replace(/\[\d+\]/g, '')
      .replace(/\b\d+(\.\d+)+\b/g, 'N')
      .replace(/\b\d+\b/g, 'N')
      .slice(0, 160);
    groups.set(text, (groups.get(text) ?? 0) + 1);
  }
  return [...groups].map(([text, count]) => ({ text, count })).sort((a, b) => b.count - a.count);
}

/** One stress run against one server. */
export function runStress(options: StressOptions): Promise<StressResult> {
  const args = [
    'host=127.0.0.1',
    `port=${options.port}`,
    `user=${options.user}`,
    `pass=${options.password}`,
    `mbox=${options.mbox}`,
    `clients=${options.clients}`,
    `secs=${options.seconds}`,
    ...(options.persistent ? ['logout=0'] : []),
  ];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      options.imaptest,
      args,
      { cwd: os.tmpdir(), maxBuffer: 64 * 1024 * 1024, timeout: (options.seconds + 120) * 1000 },
      (error, stdout, stderr) => {
        const seconds = (performance.now() - started) / 1000;
        let counts: Map<string, number>;
        try {
          counts = parseTotals(stdout);
        } catch (err) {
          reject(error ?? err);
          return;
        }
        const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
        resolve({ counts, total, seconds, errors: groupErrors(stderr) });
      },
    );
  });
}
