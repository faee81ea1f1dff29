// Real mail clients (mbsync, mutt, curl, python3, ...) for the compatibility tests: find them, install
// them when they are missing, run them, and start a daemon for them to talk to.
//
// Policy (issue 4): under CI a missing tool is a test FAILURE, never a skip; outside CI we are root on a
// Debian machine and install the package with apt-get, then fail only if that did not work either.
import fs from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { runCli, startDaemon, writeTestConfig, type RunningDaemon, type TestConfig } from './cli.js';
import { LAB_USERS, startLab, type Lab, type LabOptions } from './lab.js';
import { removeDir, tempDir } from './tmp.js';

// Finding, installing and running tools: tools.ts (re-exported here for the tests that import them from here).
export * from './tools.js';

// ---------------------------------------------------------------------------------------------
// A running hotbridge for clients to talk to

export const COMPAT_ADDRESS = LAB_USERS.alice.user;
export const COMPAT_PASSWORD = 'local-secret-for-clients';

export interface CompatBridge {
  dir: string;
  config: TestConfig;
  daemon: RunningDaemon;
  /** The upstream lab (Dovecot POP3, Postfix when asked for); undefined when started with `lab: false`. */
  lab?: Lab;
  address: string;
  password: string;
  /** A fresh imapflow client logged in with the local password (not connected yet). */
  imapflow(): ImapFlow;
  /** Kills the daemon, stops the lab, removes the temp dir; safe to call twice and after a failed start. */
  stop(): Promise<void>;
}

export interface CompatBridgeOptions {
  /** The upstream lab to start; false: none (the account then points at a closed port). Default Dovecot only. */
  lab?: LabOptions | false;
  /** The account's poll interval (default "1s", the shortest allowed). */
  pollInterval?: string;
  /** Extra TOML lines for the account table. */
  accountExtra?: string;
  /** Extra TOML lines for the [pop3] table. */
  pop3Extra?: string;
  /** Runs after the config and the local password are written, before the daemon starts (e.g. hotbridge cert). */
  beforeStart?: (config: TestConfig) => Promise<void>;
}

/**
 * Starts the real daemon (`hotbridge run`, a child process) with one account, alice@example.test, whose
 * upstream is the lab's Dovecot POP3S (and Postfix submission), and sets its local password. Call
 * stop() in afterAll.
 */
export async function startCompatBridge(options: CompatBridgeOptions = {}): Promise<CompatBridge> {
  const dir = tempDir('hotbridge-compat-');
  let lab: Lab | undefined;
  let daemon: RunningDaemon | undefined;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      try {
        await daemon?.kill();
      } finally {
        try {
          await lab?.stop();
        } finally {
          removeDir(dir);
        }
      }
    })();
    return stopped;
  };
  try {
    if (options.lab !== false) lab = await startLab(options.lab ?? {});
    const passwordFile = path.join(dir, 'alice.secret');
    fs.writeFileSync(passwordFile, `${LAB_USERS.alice.password}\n`, { mode: 0o600 });
    const config = await writeTestConfig(
      dir,
      [
        {
          address: COMPAT_ADDRESS,
          extra: [`poll_interval = "${options.pollInterval ?? '1s'}"`, options.accountExtra ?? ''].join('\n'),
          passwordFile,
          ...(lab
            ? {
                pop3: { host: lab.host, port: lab.pop3sPort, tls: 'implicit', caFile: lab.caFile },
                smtp: { host: lab.host, port: lab.smtpPort, tls: 'starttls', caFile: lab.caFile },
              }
            : {}),
        },
      ],
      '',
      options.pop3Extra ?? '',
    );
    const set = await runCli(['password', COMPAT_ADDRESS, '--config', config.file], { input: `${COMPAT_PASSWORD}\n` });
    if (set.code !== 0) throw new Error(`hotbridge password failed (${String(set.code)}): ${set.stderr}`);
    await options.beforeStart?.(config);
    daemon = await startDaemon(config.file);
    const imapPort = config.imapPort;
    return {
      dir,
      config,
      daemon,
      ...(lab ? { lab } : {}),
      address: COMPAT_ADDRESS,
      password: COMPAT_PASSWORD,
      imapflow: () =>
        new ImapFlow({
          host: '127.0.0.1',
          port: imapPort,
          secure: false,
          auth: { user: COMPAT_ADDRESS, pass: COMPAT_PASSWORD },
          logger: false,
          disableAutoIdle: true,
        }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Polls `check` every 100 ms until it returns true; rejects with `what` after timeoutMs. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the daemon's INBOX holds at least `count` messages (e.g. after the lab got new POP3 mail). */
export async function waitForInboxCount(bridge: CompatBridge, count: number, timeoutMs = 15_000): Promise<void> {
  const client = bridge.imapflow();
  await client.connect();
  try {
    await waitUntil(
      `${count} messages in INBOX`,
      async () => {
        const status = await client.status('INBOX', { messages: true });
        return status !== false && (status.messages ?? 0) >= count;
      },
      timeoutMs,
    );
  } finally {
    await client.logout();
  }
}
