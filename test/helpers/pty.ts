/**
 * A program run under a real pseudo-terminal, as a person runs it: util-linux `script` gives the child a
 * pty (so process.stdin.isTTY is true, hidden input really has echo off), and the test types into it and
 * reads the screen. Ctrl-C is a byte (\x03) the pty turns into SIGINT, as a keyboard would.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface PtySession {
  child: ChildProcess;
  /** Everything the terminal showed so far, with CR removed. */
  screen(): string;
  /** Waits until the screen (after `from`) matches; rejects after `timeoutMs` with the screen in the message. */
  expect(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Types text (add "\r" for Enter, as a terminal sends it). */
  type(text: string): void;
  /** Types a line and Enter. */
  line(text: string): void;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  kill(): void;
}

/** util-linux `script` must be there; it is in every Debian (bsdutils). */
export function havePty(): boolean {
  return spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
}

function quote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Starts `argv` under a pty; `wrap` puts commands before it (unshare, setpriv), run outside the pty. */
export function startPty(argv: string[], o: { env?: NodeJS.ProcessEnv; cwd?: string; wrap?: string[] } = {}): PtySession {
  const command = argv.map(quote).join(' ');
  // -q: no "Script started" lines; -e: exit with the child's code; -f: flush at once; log to /dev/null.
  const full = [...(o.wrap ?? []), 'script', '-qefc', command, '/dev/null'];
  const child = spawn(full[0], full.slice(1), {
    env: { ...process.env, TERM: 'dumb', ...o.env },
    cwd: o.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  let checked = 0;
  const waiters: Array<() => void> = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8').replace(/\r/g, '');
    for (const waiter of waiters.splice(0)) waiter();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const session: PtySession = {
    child,
    screen: () => output,
    expect(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const deadline = setTimeout(
          () => reject(new Error(`the screen did not show ${pattern} within ${timeoutMs} ms; it shows:\n${output}`)),
          timeoutMs,
        );
        const check = (): void => {
          const rest = output.slice(checked);
          const match = pattern.exec(rest);
          if (match) {
            clearTimeout(deadline);
            checked += match.index + match[0].length;
            resolve(match[0]);
            return;
          }
          waiters.push(check);
        };
        exited.then(() => {
          if (!pattern.test(output.slice(checked))) {
            clearTimeout(deadline);
            reject(new Error(`the program exited before showing ${pattern}; the screen:\n${output}`));
          }
        });
        check();
      });
    },
    type: (text) => {
      child.stdin!.write(text);
    },
    line: (text) => {
      child.stdin!.write(`${text}\r`);
    },
    exited,
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
  return session;
}
