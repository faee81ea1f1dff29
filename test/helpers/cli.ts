/** Drives the `hotbridge` command line and the daemon as child processes, over their real interfaces. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePorts } from './ports.js';

const ENTRY = path.resolve(__dirname, 'cli-entry.ts');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The command that runs the CLI from source. */
export function cliCommand(args: string[]): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', ENTRY, ...args]];
}

export function runCli(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  const [command, argv] = cliCommand(args);
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

export interface TestAccount {
  address: string;
  /** Extra TOML lines for the account table (e.g. poll_interval). */
  extra?: string;
  pop3?: { host: string; port: number; tls: string; caFile?: string };
  smtp?: { host: string; port: number; tls: string; caFile?: string };
  passwordFile?: string;
}

export interface TestConfig {
  file: string;
  dataDir: string;
  imapPort: number;
  smtpPort: number;
  pop3Port: number;
}

/**
 * Writes a config for a daemon under test: its own data dir, free loopback ports, custom upstream
 * servers (by default a closed local port, so nothing leaves the machine).
 */
export async function writeTestConfig(dir: string, accounts: TestAccount[], extraTop = '', pop3Extra = ''): Promise<TestConfig> {
  const [imapPort, smtpPort, closedPort, pop3Port] = await freePorts(4);
  const dataDir = path.join(dir, 'data');
  const lines = [
    `data_dir = "${dataDir}"`,
    extraTop,
    '[imap]',
    `listen = ["127.0.0.1:${imapPort}"]`,
    '[smtp]',
    `listen = ["127.0.0.1:${smtpPort}"]`,
    '[pop3]',
    `listen = ["127.0.0.1:${pop3Port}"]`,
    pop3Extra,
  ];
  for (const account of accounts) {
    const pop3 = account.pop3 ?? { host: '127.0.0.1', port: closedPort, tls: 'implicit' };
    const smtp = account.smtp ?? { host: '127.0.0.1', port: closedPort, tls: 'starttls' };
    lines.push('[[accounts]]', `address = "${account.address}"`, 'provider = "custom"', account.extra ?? '');
    lines.push('[accounts.auth]', 'method = "password"');
    if (account.passwordFile) lines.push(`password_file = "${account.passwordFile}"`);
    lines.push(...upstreamTable('pop3', pop3), ...upstreamTable('smtp', smtp));
  }
  const file = path.join(dir, 'config.toml');
  fs.writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  return { file, dataDir, imapPort, smtpPort, pop3Port };
}

/** An account's `[accounts.pop3]` or `[accounts.smtp]` table, as TOML lines (tls left out: the default). */
export function upstreamTable(table: 'pop3' | 'smtp', server: { host: string; port: number; tls?: string; caFile?: string }): string[] {
  const lines = [`[accounts.${table}]`, `host = "${server.host}"`, `port = ${server.port}`];
  if (server.tls) lines.push(`tls = "${server.tls}"`);
  if (server.caFile) lines.push(`ca_file = "${server.caFile}"`);
  return lines;
}

/** The upstream tables of an account on the lab: its Dovecot over POP3S (the default tls) and its Postfix with STARTTLS. */
export function labUpstreamTables(lab: { host: string; pop3sPort: number; smtpPort: number; caFile: string }): string[] {
  return [
    ...upstreamTable('pop3', { host: lab.host, port: lab.pop3sPort, caFile: lab.caFile }),
    ...upstreamTable('smtp', { host: lab.host, port: lab.smtpPort, tls: 'starttls', caFile: lab.caFile }),
  ];
}

export interface RunningDaemon {
  child: ChildProcess;
  /** Everything the daemon logged so far (JSON lines). */
  log(): string;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM and wait; resolves to the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  kill(): Promise<void>;
}

/**
 * Starts `hotbridge run --config FILE` and waits (up to `startTimeoutMs`, default 20 s) until it says it is
 * running; a daemon that does not get there in time is killed, so it cannot hold the data dir of the next try.
 */
export async function startDaemon(configFile: string, env: NodeJS.ProcessEnv = {}, startTimeoutMs = 20_000): Promise<RunningDaemon> {
  const [command, argv] = cliCommand(['run', '--config', configFile]);
  const child = spawn(command, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of [...waiters]) {
      const match = output.split('\n').find((line) => waiter.pattern.test(line));
      if (match !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const daemon: RunningDaemon = {
    child,
    log: () => output,
    waitForLog: (pattern, timeoutMs = 20_000) =>
      new Promise<string>((resolve, reject) => {
        const existing = output.split('\n').find((line) => pattern.test(line));
        if (existing !== undefined) return resolve(existing);
        const timer = setTimeout(
          () => reject(new Error(`daemon did not log ${pattern} within ${timeoutMs} ms; log:\n${output}`)),
          timeoutMs,
        );
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`daemon exited (${code}) before logging ${pattern}; log:\n${output}`));
        });
      }),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  try {
    await daemon.waitForLog(/hotbridge is running/, startTimeoutMs);
  } catch (err) {
    await daemon.kill();
    throw err;
  }
  return daemon;
}
