/** The `hotbridge` command line: one yargs command per subcommand, each with its own --help. */
import fs from 'node:fs';
import yargs from 'yargs';
import { ConfigError } from '../config/load.js';
import { VERSION } from '../daemon/version.js';
import { configFileFrom, UserError } from './config-option.js';
import { setPassword } from './commands/password.js';
import { runDaemon } from './commands/run.js';
import { showStatus } from './commands/status.js';

const notYet = (name: string, issue: string) => async (): Promise<number> => {
  process.stderr.write(`hotbridge ${name}: not yet available (${issue})\n`);
  return 2;
};

/** Runs the command line; resolves to the exit code. Errors meant for the user print one line, no stack. */
export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const out = process.stdout;
  const run = (work: () => Promise<number>) => async () => {
    exitCode = await work();
  };
  const parser = yargs(argv)
    .scriptName('hotbridge')
    .usage('$0 <command> [options]\n\nGives old mail clients a working Hotmail / Outlook.com account on localhost.')
    .version(VERSION)
    .option('config', { alias: 'c', type: 'string', describe: 'config file (default: the platform config dir, or $HOTBRIDGE_CONFIG)', global: true })
    .command(
      ['run', '$0'],
      'run the daemon in the foreground (SIGTERM/SIGINT stop it, SIGHUP reloads the config)',
      (y) => y.option('log-level', { type: 'string', describe: 'fatal, error, warn, info, debug or trace' }),
      async (args) => {
        const file = configFileFrom(args.config);
        if (!fs.existsSync(file) && args._.length === 0) {
          // `npm start` on a fresh clone: no config yet.
          if (!process.stdin.isTTY) {
            throw new UserError(`no config at ${file}: run \`hotbridge setup\` in a terminal first (or pass --config FILE)`, 2);
          }
          const { runSetup } = await import('./commands/setup.js');
          exitCode = await runSetup({ config: args.config, out });
          if (exitCode !== 0 || !fs.existsSync(file)) return;
          // First run from `npm start`: go on and run it, unless the service set-up already started it.
          const { fetchStatus } = await import('../daemon/status-endpoint.js');
          const { loadConfigOrExplain } = await import('./config-option.js');
          if ((await fetchStatus(loadConfigOrExplain(args.config).dataDir).catch(() => undefined)) !== undefined) return;
          out.write('\nStarting hotbridge now, in this terminal (Ctrl-C stops it; next time: npm start, or hotbridge run).\n\n');
        }
        exitCode = await runDaemon({ config: args.config, logLevel: args['log-level'] as string | undefined });
      },
    )
    .command('setup', 'guided set-up: the account, the sign-in, a local password, the mail client settings', {}, async (args) => {
      const { runSetup } = await import('./commands/setup.js');
      exitCode = await runSetup({ config: args.config as string | undefined, out });
    })
    .command(
      'login <address>',
      'sign in to Microsoft for an Outlook.com account (OAuth2 device code; works over SSH)',
      (y) => y.positional('address', { type: 'string', demandOption: true }),
      async (args) => {
        const { loadConfigOrExplain } = await import('./config-option.js');
        const { runLogin } = await import('./commands/login.js');
        const { wakeDaemon } = await import('../daemon/status-endpoint.js');
        const config = loadConfigOrExplain(args.config);
        exitCode = await runLogin({ config, address: args.address, out });
        // A running daemon picks the new tokens up at its next try; tell it to try now.
        if (exitCode === 0 && (await wakeDaemon(config.dataDir))) out.write('The running hotbridge is using the new sign-in now.\n');
      },
    )
    .command(
      'password <address>',
      'set the local password mail clients use (echo SECRET | hotbridge password ADDRESS)',
      (y) => y.positional('address', { type: 'string', demandOption: true }),
      async (args) => run(() => setPassword({ config: args.config, address: args.address, out }))(),
    )
    .command(
      'status',
      'show each account\'s sync state and the outbox of the running daemon',
      (y) => y.option('json', { type: 'boolean', describe: 'machine-readable output' }),
      async (args) => run(() => showStatus({ config: args.config, json: args.json, out }))(),
    )
    .command(
      'cert [action]',
      'make the local TLS certificate (for SSL clients and phones); `cert export` writes the CA for devices to import',
      (y) =>
        y
          .positional('action', { choices: ['export'] as const, describe: 'export: write the CA certificate (PEM and DER) and print its fingerprint' })
          .option('dir', { type: 'string', describe: 'with export: the directory to write to (default: the current one)' }),
      async (args) => {
        const { runCert, runCertExport } = await import('./commands/cert.js');
        exitCode = args.action === 'export' ? await runCertExport({ config: args.config, dir: args.dir, out }) : await runCert({ config: args.config, out });
      },
    )
    .command('doctor', 'check the config, ports, the provider\'s servers, TLS and sign-in, one line each', {}, async (args) => {
      const { runDoctor } = await import('./commands/doctor.js');
      exitCode = await runDoctor({ config: args.config as string | undefined, out });
    })
    .command(
      'verify',
      'check every message and record of the store (also while hotbridge runs); exit 0 only when all is well',
      (y) => y.option('quick', { type: 'boolean', describe: 'skip re-indexing every message' }).option('json', { type: 'boolean', describe: 'machine-readable output' }),
      async (args) => {
        const { runVerify } = await import('./commands/verify.js');
        exitCode = await runVerify({ config: args.config as string | undefined, quick: args.quick, json: args.json, out });
      },
    )
    .command('repair', 'repair a damaged store (hotbridge stopped): keeps a copy, rebuilds what it can, says what was lost', {}, async (args) => {
      const { runRepair } = await import('./commands/repair.js');
      exitCode = await runRepair({ config: args.config as string | undefined, out });
    })
    .command('resync', 'after a repair: fetch again from the provider the lost messages it still has, without doubling', {}, async (args) => {
      const { runResync } = await import('./commands/repair.js');
      exitCode = await runResync({ config: args.config as string | undefined, out });
    })
    .command(
      'backup <file>',
      'write a consistent copy of the store to one file, and check it (also while hotbridge runs)',
      (y) => y.positional('file', { type: 'string', demandOption: true }),
      async (args) => {
        const { runBackup } = await import('./commands/backup.js');
        exitCode = await runBackup({ config: args.config as string | undefined, file: args.file, out });
      },
    )
    .command(
      'restore <file>',
      'put a backup back in place of the store (hotbridge stopped; the store it replaces is kept)',
      (y) => y.positional('file', { type: 'string', demandOption: true }),
      async (args) => {
        const { runRestore } = await import('./commands/backup.js');
        exitCode = await runRestore({ config: args.config as string | undefined, file: args.file, out });
      },
    )
    .command(
      'export <dir>',
      'write every folder with flags and dates as Maildir or mbox files (for Dovecot, mutt, Thunderbird)',
      (y) =>
        y
          .positional('dir', { type: 'string', demandOption: true })
          .option('format', { choices: ['maildir', 'mbox'] as const, demandOption: true, describe: 'maildir (one file per message) or mbox (one file per folder)' })
          .option('mailbox', { type: 'string', describe: 'only this mailbox' })
          .option('account', { type: 'string', describe: 'only this account (default: all)' }),
      async (args) => {
        const { runExport } = await import('./commands/export-import.js');
        exitCode = await runExport({ config: args.config as string | undefined, dir: args.dir, format: args.format, mailbox: args.mailbox, account: args.account, out });
      },
    )
    .command(
      'import <path>',
      'add messages from a Maildir tree, mbox files or a folder of .eml files (importing twice adds nothing)',
      (y) =>
        y
          .positional('path', { type: 'string', demandOption: true })
          .option('mailbox', { type: 'string', describe: 'the mailbox to put them in (subfolders go below it)' })
          .option('account', { type: 'string', describe: 'the account to import into (default: the first)' }),
      async (args) => {
        const { runImport } = await import('./commands/export-import.js');
        exitCode = await runImport({ config: args.config as string | undefined, source: args.path, mailbox: args.mailbox, account: args.account, out });
      },
    )
    .command(
      'service <action>',
      'install or uninstall the system service (systemd or launchd)',
      (y) =>
        y
          .positional('action', { choices: ['install', 'uninstall'] as const, demandOption: true })
          .option('user', { type: 'boolean', describe: 'a per-user service (default when not root)' })
          .option('system', { type: 'boolean', describe: 'a system-wide service (default as root)' })
          .option('dry-run', { type: 'boolean', describe: 'print what would be written, change nothing' }),
      async (args) => {
        const { runService } = await import('./commands/service.js');
        exitCode = await runService({ config: args.config, action: args.action, user: args.user, system: args.system, dryRun: args['dry-run'], out });
      },
    )
    .strict()
    .demandCommand(0)
    .help()
    .alias('help', 'h')
    .exitProcess(false)
    .fail((message, err) => {
      if (err) throw err;
      throw new UserError(`${message}\nRun \`hotbridge --help\` for the commands.`, 2);
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

export { notYet };
