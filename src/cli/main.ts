/**
 * The `hotbridge` command line: one yargs command per subcommand, each with its own --help. The commands
 * are built by {@link commandLine} from a table of handlers, so that a test can check a command line
 * against the real parser (options, choices, positionals) without running it: the docs test does that for
 * every command shown in the docs that needs a live provider.
 */
import fs from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { ConfigError } from '../config/load.js';
import { VERSION } from '../daemon/version.js';
import { LOG_FORMATS, type LogFormat } from '../runtime/logger.js';
import { configFileFrom, UserError } from './config-option.js';
import { translateUsageError, type CommandUsage } from './usage-errors.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export const SERVICE_ACTIONS = ['install', 'uninstall', 'status', 'start', 'stop', 'restart', 'logs'] as const;
export type ServiceActionName = (typeof SERVICE_ACTIONS)[number];

/** Every command, for usage errors ("did you mean …") and for the docs. */
export const COMMANDS: CommandUsage[] = [
  { name: 'run', positionals: [], example: 'hotbridge run --config /etc/hotbridge/config.toml', options: ['log-level', 'log-format'] },
  { name: 'setup', positionals: [], example: 'hotbridge setup', options: [] },
  { name: 'login', positionals: ['<address>'], example: 'hotbridge login you@hotmail.com', options: [] },
  { name: 'password', positionals: ['<address>'], example: 'hotbridge password you@hotmail.com', options: [] },
  { name: 'status', positionals: [], example: 'hotbridge status --json', options: ['json'] },
  { name: 'doctor', positionals: [], example: 'hotbridge doctor', options: [] },
  { name: 'cert', positionals: ['[action]'], example: 'hotbridge cert export --dir .', options: ['dir'] },
  { name: 'verify', positionals: [], example: 'hotbridge verify --quick', options: ['quick', 'json'] },
  { name: 'repair', positionals: [], example: 'hotbridge repair', options: [] },
  { name: 'resync', positionals: [], example: 'hotbridge resync', options: [] },
  { name: 'backup', positionals: ['<file>'], example: 'hotbridge backup /mnt/usb/mail.hbk', options: [] },
  { name: 'restore', positionals: ['<file>'], example: 'hotbridge restore /mnt/usb/mail.hbk', options: [] },
  {
    name: 'export',
    positionals: ['<dir>'],
    example: 'hotbridge export --format maildir ~/mail-export',
    options: ['format', 'mailbox', 'account'],
  },
  { name: 'import', positionals: ['<path>'], example: 'hotbridge import ~/Mail/old.mbox --mailbox Old', options: ['mailbox', 'account'] },
  {
    name: 'service',
    positionals: ['<action>'],
    example: 'hotbridge service install --dry-run',
    options: ['user', 'system', 'dry-run', 'follow', 'lines'],
  },
];

/** What each command does once its arguments are parsed; resolves to the exit code. */
export interface CommandHandlers {
  run(a: { config?: string; logLevel?: string; logFormat?: LogFormat; implicit: boolean }): Promise<number>;
  setup(a: { config?: string }): Promise<number>;
  login(a: { config?: string; address: string }): Promise<number>;
  password(a: { config?: string; address: string }): Promise<number>;
  status(a: { config?: string; json?: boolean }): Promise<number>;
  doctor(a: { config?: string }): Promise<number>;
  cert(a: { config?: string; action?: 'export'; dir?: string }): Promise<number>;
  verify(a: { config?: string; quick?: boolean; json?: boolean }): Promise<number>;
  repair(a: { config?: string }): Promise<number>;
  resync(a: { config?: string }): Promise<number>;
  backup(a: { config?: string; file: string }): Promise<number>;
  restore(a: { config?: string; file: string }): Promise<number>;
  export(a: { config?: string; dir: string; format: 'maildir' | 'mbox'; mailbox?: string; account?: string }): Promise<number>;
  import(a: { config?: string; source: string; mailbox?: string; account?: string }): Promise<number>;
  service(a: {
    config?: string;
    action: ServiceActionName;
    user?: boolean;
    system?: boolean;
    dryRun?: boolean;
    follow?: boolean;
    lines?: number;
  }): Promise<number>;
}

/** The parser with its commands; `exit` receives each handler's exit code. */
export function commandLine(argv: string[], handlers: CommandHandlers, exit: (code: number) => void): Argv {
  const run = (work: Promise<number>) => work.then(exit);
  return yargs(argv)
    .scriptName('hotbridge')
    .usage('$0 <command> [options]\n\nGives old mail clients a working Hotmail / Outlook.com account on localhost.')
    .version(VERSION)
    .option('config', {
      alias: 'c',
      type: 'string',
      requiresArg: true,
      describe: 'config file (default: the platform config dir, or $HOTBRIDGE_CONFIG)',
      global: true,
    })
    .command(
      ['run', '$0'],
      'run the daemon in the foreground (SIGTERM/SIGINT stop it, SIGHUP reloads the config)',
      (y) =>
        y
          .option('log-level', {
            type: 'string',
            choices: LOG_LEVELS,
            requiresArg: true,
            describe: 'debug: a line per connection and command; trace: the protocol dialogue, secrets replaced',
          })
          .option('log-format', {
            type: 'string',
            choices: LOG_FORMATS,
            requiresArg: true,
            describe: 'text (syslog-style lines; the default without a terminal), json, or pretty (the default on a terminal)',
          }),
      (args) =>
        run(
          handlers.run({
            config: args.config,
            logLevel: args['log-level'],
            logFormat: args['log-format'] as LogFormat | undefined,
            implicit: args._.length === 0,
          }),
        ),
    )
    .command(
      'setup',
      'guided set-up: the account, the sign-in, a check that it works, a local password, the mail client settings; again later to add or remove an account',
      {},
      (args) => run(handlers.setup({ config: args.config as string | undefined })),
    )
    .command(
      'login <address>',
      'sign in to Microsoft for an Outlook.com account (OAuth2 device code; works over SSH)',
      (y) => y.positional('address', { type: 'string', demandOption: true, describe: 'the account, for example you@hotmail.com' }),
      (args) => run(handlers.login({ config: args.config, address: args.address })),
    )
    .command(
      'password <address>',
      'set the local password mail clients use (at least 12 characters; echo SECRET | hotbridge password ADDRESS)',
      (y) => y.positional('address', { type: 'string', demandOption: true, describe: 'the account, for example you@hotmail.com' }),
      (args) => run(handlers.password({ config: args.config, address: args.address })),
    )
    .command(
      'status',
      "show each account's sync state and the outbox of the running daemon",
      (y) => y.option('json', { type: 'boolean', describe: 'machine-readable output' }),
      (args) => run(handlers.status({ config: args.config, json: args.json })),
    )
    .command('doctor', "check the config, data dir, ports, the provider's servers, TLS and sign-in, one line each", {}, (args) =>
      run(handlers.doctor({ config: args.config as string | undefined })),
    )
    .command(
      'cert [action]',
      'make the local TLS certificate (for SSL clients and phones); `cert export` writes the CA for devices to import',
      (y) =>
        y
          .positional('action', {
            choices: ['export'] as const,
            describe: 'export: write the CA certificate (PEM and DER) and print its fingerprint',
          })
          .option('dir', {
            type: 'string',
            requiresArg: true,
            describe: 'with export: the directory to write to (default: the current one)',
          }),
      (args) => run(handlers.cert({ config: args.config, action: args.action, dir: args.dir })),
    )
    .command(
      'verify',
      'check every message and record of the store (also while hotbridge runs); exit 0 only when all is well',
      (y) =>
        y
          .option('quick', { type: 'boolean', describe: 'skip re-indexing every message' })
          .option('json', { type: 'boolean', describe: 'machine-readable output' }),
      (args) => run(handlers.verify({ config: args.config, quick: args.quick, json: args.json })),
    )
    .command('repair', 'repair a damaged store (hotbridge stopped): keeps a copy, rebuilds what it can, says what was lost', {}, (args) =>
      run(handlers.repair({ config: args.config as string | undefined })),
    )
    .command('resync', 'after a repair: fetch again from the provider the lost messages it still has, without doubling', {}, (args) =>
      run(handlers.resync({ config: args.config as string | undefined })),
    )
    .command(
      'backup <file>',
      'write a consistent copy of the store to one file, and check it (also while hotbridge runs)',
      (y) => y.positional('file', { type: 'string', demandOption: true }),
      (args) => run(handlers.backup({ config: args.config, file: args.file })),
    )
    .command(
      'restore <file>',
      'put a backup back in place of the store (hotbridge stopped; the store it replaces is kept)',
      (y) => y.positional('file', { type: 'string', demandOption: true }),
      (args) => run(handlers.restore({ config: args.config, file: args.file })),
    )
    .command(
      'export <dir>',
      'write every folder with flags and dates as Maildir or mbox files (for Dovecot, mutt, Thunderbird)',
      (y) =>
        y
          .positional('dir', { type: 'string', demandOption: true })
          .option('format', {
            choices: ['maildir', 'mbox'] as const,
            demandOption: true,
            describe: 'maildir (one file per message) or mbox (one file per folder)',
          })
          .option('mailbox', { type: 'string', describe: 'only this mailbox' })
          .option('account', { type: 'string', describe: 'only this account (default: all)' }),
      (args) =>
        run(handlers.export({ config: args.config, dir: args.dir, format: args.format, mailbox: args.mailbox, account: args.account })),
    )
    .command(
      'import <path>',
      'add messages from a Maildir tree, mbox files or a folder of .eml files (importing twice adds nothing)',
      (y) =>
        y
          .positional('path', { type: 'string', demandOption: true })
          .option('mailbox', { type: 'string', describe: 'the mailbox to put them in (subfolders go below it)' })
          .option('account', { type: 'string', describe: 'the account to import into (default: the first)' }),
      (args) => run(handlers.import({ config: args.config, source: args.path, mailbox: args.mailbox, account: args.account })),
    )
    .command(
      'service <action>',
      'the background service (systemd or launchd): install, uninstall, status, start, stop, restart, logs',
      (y) =>
        y
          .positional('action', { choices: SERVICE_ACTIONS, demandOption: true })
          .option('user', { type: 'boolean', describe: 'the per-user service (default when not root)' })
          .option('system', { type: 'boolean', describe: 'the system-wide service (default as root)' })
          .option('dry-run', { type: 'boolean', describe: 'install/uninstall: print what would be written and run, change nothing' })
          .option('follow', { alias: 'f', type: 'boolean', describe: 'logs: keep showing new lines' })
          .option('lines', { alias: 'n', type: 'number', requiresArg: true, describe: 'logs: how many of the last lines (default 50)' }),
      (args) =>
        run(
          handlers.service({
            config: args.config,
            action: args.action,
            user: args.user,
            system: args.system,
            dryRun: args['dry-run'],
            follow: args.follow,
            lines: args.lines,
          }),
        ),
    )
    .strict()
    .demandCommand(0)
    .help()
    .alias('help', 'h')
    .exitProcess(false)
    .fail((message, err) => {
      // yargs reports some usage errors (an option without its value) as a YError rather than a message.
      if (err && err.name !== 'YError') throw err;
      throw new UserError(translateUsageError(message ?? err?.message ?? '', argv, COMMANDS), 2);
    });
}

/** The real handlers: each loads only the code its command needs. */
function realHandlers(out: NodeJS.WritableStream): CommandHandlers {
  return {
    async run(a) {
      const file = configFileFrom(a.config);
      if (!fs.existsSync(file) && a.implicit) {
        // `npm start` on a fresh clone: no config yet.
        if (!process.stdin.isTTY) {
          throw new UserError(`no config at ${file}: run \`hotbridge setup\` in a terminal first (or pass --config FILE)`, 2);
        }
        const { runSetup } = await import('./commands/setup.js');
        const code = await runSetup({ config: a.config, out });
        if (code !== 0 || !fs.existsSync(file)) return code;
        // First run from `npm start`: go on and run it, unless the service set-up already started it.
        const { fetchStatus } = await import('../daemon/status-endpoint.js');
        const { loadConfigOrExplain } = await import('./config-option.js');
        if ((await fetchStatus(loadConfigOrExplain(a.config).dataDir).catch(() => undefined)) !== undefined) return 0;
        out.write('\nStarting hotbridge now, in this terminal (Ctrl-C stops it; next time: npm start, or hotbridge run).\n\n');
      }
      const { runDaemon } = await import('./commands/run.js');
      return runDaemon({
        config: a.config,
        ...(a.logLevel ? { logLevel: a.logLevel } : {}),
        ...(a.logFormat ? { logFormat: a.logFormat } : {}),
      });
    },
    async setup(a) {
      const { runSetup } = await import('./commands/setup.js');
      return runSetup({ config: a.config, out });
    },
    async login(a) {
      const { loadConfigOrExplain } = await import('./config-option.js');
      const { runLogin } = await import('./commands/login.js');
      const { wakeDaemon } = await import('../daemon/status-endpoint.js');
      const config = loadConfigOrExplain(a.config);
      const code = await runLogin({ config, address: a.address, out });
      const { giveToDataDirOwner } = await import('./data-dir-owner.js');
      giveToDataDirOwner(config.dataDir);
      // A running daemon picks the new tokens up at its next try; tell it to try now.
      if (code === 0 && (await wakeDaemon(config.dataDir))) out.write('The running hotbridge is using the new sign-in now.\n');
      return code;
    },
    async password(a) {
      const { setPassword } = await import('./commands/password.js');
      return setPassword({ config: a.config, address: a.address, out });
    },
    async status(a) {
      const { showStatus } = await import('./commands/status.js');
      return showStatus({ config: a.config, json: a.json, out });
    },
    async doctor(a) {
      const { runDoctor } = await import('./commands/doctor.js');
      return runDoctor({ config: a.config, out });
    },
    async cert(a) {
      const { runCert, runCertExport } = await import('./commands/cert.js');
      return a.action === 'export' ? runCertExport({ config: a.config, dir: a.dir, out }) : runCert({ config: a.config, out });
    },
    async service(a) {
      const { runService } = await import('./commands/service.js');
      return runService({ ...a, out });
    },
    async verify(a) {
      const { runVerify } = await import('./commands/verify.js');
      return runVerify({ ...a, out });
    },
    async repair(a) {
      const { runRepair } = await import('./commands/repair.js');
      return runRepair({ ...a, out });
    },
    async resync(a) {
      const { runResync } = await import('./commands/repair.js');
      return runResync({ ...a, out });
    },
    async backup(a) {
      const { runBackup } = await import('./commands/backup.js');
      return runBackup({ ...a, out });
    },
    async restore(a) {
      const { runRestore } = await import('./commands/backup.js');
      return runRestore({ ...a, out });
    },
    async export(a) {
      const { runExport } = await import('./commands/export-import.js');
      return runExport({ ...a, out });
    },
    async import(a) {
      const { runImport } = await import('./commands/export-import.js');
      return runImport({ ...a, out });
    },
  };
}

/**
 * A reader that went away (`hotbridge doctor | head`) is not an error: stop writing and exit quietly,
 * instead of dying with an EPIPE stack.
 */
function exitQuietlyOnClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
}

/** Runs the command line; resolves to the exit code. Errors meant for the user print one line, no stack. */
export async function main(argv: string[]): Promise<number> {
  exitQuietlyOnClosedOutput();
  let exitCode = 0;
  const parser = commandLine(argv, realHandlers(process.stdout), (code) => {
    exitCode = code;
  });
  try {
    await parser.parseAsync();
  } catch (err) {
    if (err instanceof UserError || err instanceof ConfigError) {
      process.stderr.write(`hotbridge: ${err.message}\n`);
      return err instanceof UserError ? err.exitCode : 2;
    }
    throw err;
  }
  return exitCode;
}

/**
 * Checks a command line against the parser without running anything; resolves to the problem the user
 * would be shown, or undefined when hotbridge would accept it.
 */
export async function checkCommandLine(argv: string[]): Promise<string | undefined> {
  const accept = async (): Promise<number> => 0;
  const handlers: CommandHandlers = {
    ...{ run: accept, setup: accept, login: accept, password: accept, status: accept, doctor: accept, cert: accept, service: accept },
    ...{ verify: accept, repair: accept, resync: accept, backup: accept, restore: accept, export: accept, import: accept },
  };
  try {
    await commandLine(argv, handlers, () => undefined).parseAsync();
    return undefined;
  } catch (err) {
    if (err instanceof UserError) return err.message;
    throw err;
  }
}
