/**
 * `hotbridge setup` (and `npm start` without a config): the original guide's dialog steps as one short
 * conversation, and then the part the guide left to luck: a check that fetching and sending really work.
 *
 * As root it sets up the whole computer (the system layout: /etc/hotbridge, /var/lib/hotbridge, run by
 * the `hotbridge` user); as anyone else, that person's own. Run again, it adds an account beside the
 * first, or removes one.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { loadConfig, resolveConfig } from '../../config/load.js';
import { isRoot, SYSTEM_CONFIG_FILE, SYSTEM_DATA_DIR } from '../../config/paths.js';
import type { AccountConfig, HotbridgeConfig } from '../../config/types.js';
import { certificateNames } from '../../daemon/certificate-names.js';
import { fetchStatus } from '../../daemon/status-endpoint.js';
import { readPid } from '../../daemon/instance-lock.js';
import { writeFileAtomic } from '../../runtime/files.js';
import { ensureLocalCertificate } from '../../runtime/local-ca.js';
import { LocalPasswords } from '../../runtime/local-passwords.js';
import { TokenStore } from '../../upstream/oauth/token-store.js';
import type { FetchFn } from '../../upstream/oauth/token-endpoint.js';
import { configFileFrom, UserError } from '../config-option.js';
import { giveToDataDirOwner } from '../data-dir-owner.js';
import { serviceManagerFor, type Availability } from '../service/availability.js';
import { askAccount, type AccountAnswers } from '../setup/ask-account.js';
import { configText, withAccountAdded, withAccountRemoved, type SetupAnswers } from '../setup/config-text.js';
import { generateLocalPassword } from '../setup/local-password.js';
import { proveAccount } from '../setup/prove-account.js';
import { hiddenFromSystemService, installSystemCopy } from '../setup/system-copy.js';
import { Terminal } from '../setup/terminal.js';
import { runLogin } from './login.js';
import { runService } from './service.js';

/** Where set-up writes, and whether that is the system service's layout. */
interface Layout {
  file: string;
  system: boolean;
  /** How later commands must name this config (empty when it is their default). */
  configOption: string;
}

function layoutFor(option: string | undefined): Layout {
  // As root, without --config: the system layout, whatever root's own home holds.
  const file = path.resolve(option ?? (isRoot() && process.platform === 'linux' ? SYSTEM_CONFIG_FILE : configFileFrom(undefined)));
  const system = file.startsWith('/etc/');
  return { file, system, configOption: file === path.resolve(configFileFrom(undefined)) ? '' : ` --config ${file}` };
}

/** hotbridge's own certificate, offered once for a new config (pop3-server: SSL clients, phones). */
const CERTIFICATE_HELP = [
  'Some mail programs insist on SSL ("This server requires a secure connection" in Outlook Express), and',
  'phones and other computers on your home network need it. hotbridge can make its own certificate for',
  'that (a small certificate authority of this computer; devices import it once: hotbridge cert export).',
  'Programs on this computer that are set to "no SSL" keep working as before.',
];

function settingsText(
  config: HotbridgeConfig,
  account: AccountConfig,
  name: string | undefined,
  localPassword: string,
  layout: Layout,
  certificate: boolean,
): string {
  const imap = config.imap.listen[0];
  const smtp = config.smtp.listen[0];
  // Listening on both 127.0.0.1 and ::1 makes "localhost" work whichever one the client tries first.
  const bothLoopbacks = (listen: HotbridgeConfig['imap']['listen']) =>
    listen.some((a) => a.host === '127.0.0.1') && listen.some((a) => a.host === '::1');
  const hostFor = (listen: HotbridgeConfig['imap']['listen']) => (bothLoopbacks(listen) ? 'localhost' : listen[0].host);
  return [
    'All set. Now tell your mail program (Outlook Express, Thunderbird, Apple Mail, mutt, …):',
    '',
    ...(name ? [`  Your name:              ${name}`] : []),
    `  E-mail address:         ${account.address}`,
    '  Incoming mail server:   IMAP (not POP3)',
    `      server ${hostFor(config.imap.listen)}, port ${imap.port}, no SSL/TLS`,
    '  Outgoing mail server:   SMTP',
    `      server ${hostFor(config.smtp.listen)}, port ${smtp.port}, no SSL/TLS`,
    `  User name:              ${account.address}`,
    `  Password:               ${localPassword}`,
    '  "My outgoing server requires authentication": yes, with the same user name and password.',
    '',
    'A program or device that only speaks POP3 (an old phone, Outlook Express set up as POP) uses instead:',
    `  Incoming mail server:   POP3, server ${hostFor(config.pop3.listen)}, port ${config.pop3.listen[0].port}, no SSL/TLS`,
    '  "Leave a copy of messages on server": the server is now this computer. Ticked, the program downloads',
    '  the mail and it stays here too (for other programs, over IMAP); unticked, what it downloads is',
    `  deleted here${account.deleteOnExpunge ? ' and at the provider' : ' (what happens at the provider stays as you chose above)'}.`,
    ...(certificate
      ? [
          '  SSL: tick "This server requires a secure connection" only where you set up tls_listen (docs/clients/phones.md);',
          '  on the ports above hotbridge offers STARTTLS/STLS now.',
        ]
      : []),
    '',
    'Write the password down now: it is shown only this once.',
    `(A new one any time: hotbridge password ${account.address}${layout.configOption})`,
    'Step by step for your mail program: docs/clients/ (Outlook Express, Thunderbird, Apple Mail, mutt, …)',
    '',
  ].join('\n');
}

export async function runSetup(options: {
  config?: string;
  out: NodeJS.WritableStream;
  /** Scripted answers (tests); without it, the terminal. */
  input?: NodeJS.ReadableStream;
  /** The HTTP client of the Microsoft sign-in (tests point it at a local identity server). */
  fetch?: FetchFn;
  /** Tests: TOML lines added to the new account (see SetupAnswers.extraLines). */
  accountExtra?: string[];
  /** Tests: whether a service manager is there, instead of asking this machine. */
  serviceManager?: Availability;
}): Promise<number> {
  const stdin = process.stdin as NodeJS.ReadStream;
  if (!options.input && !stdin.isTTY) {
    throw new UserError(
      'hotbridge setup asks a few questions, so it needs a terminal: run it in one (or write the config by hand: every key is in docs/config.md)',
      2,
    );
  }
  const layout = layoutFor(options.config);
  const term = new Terminal(options.input ?? stdin, options.out, !options.input && stdin.isTTY === true);
  try {
    return await conversation(term, layout, options);
  } finally {
    term.close();
  }
}

type Context = { out: NodeJS.WritableStream; fetch?: FetchFn; accountExtra?: string[]; serviceManager?: Availability };

async function conversation(term: Terminal, layout: Layout, options: Context): Promise<number> {
  term.say('Welcome to hotbridge. A few questions, and your mail program gets your mail through this computer.');
  term.say('(Press Enter to take what is suggested in [brackets].)');
  term.say();
  if (layout.system) {
    term.say(`Setting up hotbridge for the whole computer, as a system service: the config in ${layout.file},`);
    term.say(`the mail in ${SYSTEM_DATA_DIR}, run by its own user "hotbridge".`);
    if (isRoot()) term.say('(To set it up for one person instead, run hotbridge setup as that person, without sudo.)');
    term.say();
  }
  if (!fs.existsSync(layout.file)) return newConfig(term, layout, options);

  let existing: HotbridgeConfig | undefined;
  try {
    existing = loadConfig(layout.file);
  } catch (err) {
    term.say(`There is a config already, ${layout.file}, but it cannot be used: ${(err as Error).message}`);
  }
  term.say(
    `There is a config already: ${layout.file}${existing ? ` (accounts: ${existing.accounts.map((a) => a.address).join(', ')})` : ''}`,
  );
  const choices = existing
    ? ['Add another account', 'Remove an account', 'Start over with a new config', 'Leave it as it is']
    : ['Start over with a new config', 'Leave it as it is'];
  choices.forEach((text, i) => term.say(`  ${i + 1}. ${text}`));
  const picked =
    choices[
      Number(
        await term.askUntil(
          'Your choice',
          (answer) =>
            /^\d+$/.test(answer) && Number(answer) >= 1 && Number(answer) <= choices.length
              ? undefined
              : `a number from 1 to ${choices.length}, please`,
          String(choices.length),
        ),
      ) - 1
    ];
  term.say();
  if (picked === 'Add another account') return addAccount(term, layout, existing!, options);
  if (picked === 'Remove an account') return removeAccount(term, layout, existing!);
  if (picked === 'Start over with a new config') {
    if (!(await term.yesNo(`Replace ${layout.file}? The mail already fetched stays in the data dir.`, false))) {
      term.say('Nothing was changed.');
      return 0;
    }
    return newConfig(term, layout, options);
  }
  term.say('Nothing was changed. To check the config you have: hotbridge doctor' + layout.configOption);
  return 0;
}

async function newConfig(term: Terminal, layout: Layout, options: Context): Promise<number> {
  const dir = path.dirname(layout.file);
  const asked = await askAccount(term, {
    configDir: dir,
    taken: [],
    offerBackups: true,
    ...(layout.system ? { dataDir: SYSTEM_DATA_DIR } : {}),
  });
  return completeAccount(term, layout, asked, (answers) => configText(answers), options, true);
}

async function addAccount(term: Terminal, layout: Layout, existing: HotbridgeConfig, options: Context): Promise<number> {
  const asked = await askAccount(term, { configDir: path.dirname(layout.file), taken: existing.accounts.map((a) => a.address) });
  const text = fs.readFileSync(layout.file, 'utf8');
  return completeAccount(term, layout, asked, (answers) => withAccountAdded(text, answers), options, false);
}

/** Parses `text` as the daemon would, without writing it (it must name `address`). */
function checkedConfig(text: string, file: string, address: string): HotbridgeConfig {
  const config = resolveConfig(parseToml(text), file);
  if (!config.accounts.some((account) => account.address === address)) throw new Error(`the new config has no account ${address}`);
  return config;
}

/**
 * The part after the questions: try a password login before anything is written; write the config (and the
 * password file); sign in with Microsoft and prove the account; the local password; the service; the settings.
 */
async function completeAccount(
  term: Terminal,
  layout: Layout,
  asked: AccountAnswers,
  render: (answers: SetupAnswers) => string,
  options: Context,
  fresh: boolean,
): Promise<number> {
  const answers: SetupAnswers = options.accountExtra ? { ...asked.answers, extraLines: options.accountExtra } : asked.answers;
  const dir = path.dirname(layout.file);
  let providerPassword = asked.providerPassword;

  // A password account is tried before the config is written: a typo should be fixed here, not found tomorrow.
  if (answers.auth.method === 'password' && providerPassword !== undefined) {
    for (;;) {
      const trial = checkedConfig(render(answers), layout.file, answers.address);
      const account = trial.accounts.find((a) => a.address === answers.address)!;
      term.say(`Trying the login at ${asked.providerName} (no mail is fetched or sent):`);
      const proof = await proveAccount(
        trial,
        account,
        { kind: 'password', user: account.auth.user, password: providerPassword },
        options.out,
      );
      if (proof.receives && proof.sends) break;
      term.say();
      if (!(await term.yesNo('Type the password again?', true))) {
        term.say('The config is written as it is; fix what the lines above say, then check with: hotbridge doctor' + layout.configOption);
        break;
      }
      providerPassword = await term.askHidden(`Your ${asked.providerName} password`);
    }
    term.say();
  }

  const text = render(answers);
  checkedConfig(text, layout.file, answers.address);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (providerPassword !== undefined && answers.auth.method === 'password')
    writeFileAtomic(path.join(dir, answers.auth.passwordFile), `${providerPassword}\n`, 0o600);
  writeFileAtomic(layout.file, text, 0o600);
  const config = loadConfig(layout.file);
  const account = config.accounts.find((a) => a.address === answers.address)!;
  term.say(`Saved the config: ${layout.file}`);

  if (account.auth.method === 'oauth2') {
    term.say();
    if (!account.auth.clientId) {
      term.say(`Sign in later, once client_id is in ${layout.file}: hotbridge login ${account.address}${layout.configOption}`);
    } else if (await term.yesNo('Sign in with Microsoft now?', true)) {
      const code = await runLogin({
        config,
        address: account.address,
        out: options.out,
        ...(options.fetch ? { fetch: options.fetch } : {}),
      });
      if (code === 0) {
        const tokens = new TokenStore(config.dataDir).load(account.address);
        if (tokens) {
          term.say();
          term.say(`Checking that ${account.address} works (no mail is fetched or sent):`);
          await proveAccount(config, account, { kind: 'xoauth2', user: account.auth.user, accessToken: tokens.accessToken }, options.out);
        }
      } else {
        // runLogin has said what went wrong, once; here only how to try again.
        term.say(`Try again any time: hotbridge login ${account.address}${layout.configOption}`);
      }
    } else {
      term.say(`Sign in later: hotbridge login ${account.address}${layout.configOption}`);
    }
  }

  // The password the mail program uses here; never the provider's.
  const localPassword = generateLocalPassword();
  await new LocalPasswords(config.dataDir).set(account.address, localPassword);
  giveToDataDirOwner(config.dataDir);

  let certificate = false;
  if (fresh) {
    term.say();
    for (const text of CERTIFICATE_HELP) term.say(text);
    if (await term.yesNo('Make that certificate now?', false)) {
      const state = ensureLocalCertificate(config.dataDir, certificateNames(config));
      giveToDataDirOwner(config.dataDir);
      certificate = true;
      term.say(
        `  Made it (valid until ${state.serverNotAfter.toISOString().slice(0, 10)}). For a phone: hotbridge cert export${layout.configOption}`,
      );
    } else {
      term.say(`  Any time later: hotbridge cert${layout.configOption}`);
    }
  }

  term.say();
  if (fresh) await offerService(term, layout, config, options.out, options.serviceManager);
  else await reloadRunning(term, config);
  term.say();
  options.out.write(settingsText(config, account, answers.name, localPassword, layout, certificate));
  term.say(`If something does not work: hotbridge doctor${layout.configOption}`);
  return 0;
}

async function offerService(
  term: Terminal,
  layout: Layout,
  config: HotbridgeConfig,
  out: NodeJS.WritableStream,
  known?: Availability,
): Promise<void> {
  const scope = layout.system ? 'system' : 'user';
  const manager = known ?? serviceManagerFor(scope);
  const byHand = `hotbridge run${layout.configOption}`;
  if (!manager.available) {
    term.say(`hotbridge cannot start by itself on this computer: ${manager.reason}.`);
    term.say(`Start it when you want mail: ${byHand}   (it runs until you stop it with Ctrl-C)`);
    return;
  }
  if (scope === 'system' && !isRoot()) {
    term.say(`To start it with the computer: sudo hotbridge service install${layout.configOption}`);
    return;
  }
  if (scope === 'system') {
    const hidden = hiddenFromSystemService();
    if (hidden) {
      term.say(`This hotbridge runs from ${path.dirname(path.dirname(hidden))}, where the system service cannot see it`);
      term.say('(home directories and /tmp are hidden from it). It can run a copy installed for the whole system.');
      if (!(await term.yesNo('Install that copy now (npm install -g) and start it with the computer?', true))) {
        term.say(`Start it when you like: ${byHand}   (or later, from an installed copy: hotbridge service install)`);
        return;
      }
      try {
        const installed = installSystemCopy(out);
        // The service is installed by the copy, so that its unit runs the copy.
        const result = spawnSync(process.execPath, [installed, 'service', 'install', '--system', '--config', config.file], {
          encoding: 'utf8',
        });
        out.write(result.stdout);
        if (result.status !== 0) throw new UserError(result.stderr.replace(/^hotbridge: /, '').trim() || `exit ${result.status}`);
      } catch (err) {
        term.say(`The service could not be installed: ${(err as Error).message}`);
        term.say(`Start hotbridge by hand instead: ${byHand}`);
      }
      return;
    }
  }
  const when = scope === 'system' ? 'whenever this computer starts' : 'whenever you log in';
  if (!(await term.yesNo(`Start hotbridge by itself, now and ${when} (${manager.manager})?`, true))) {
    term.say(`Start it when you like: ${byHand}   (or later: hotbridge service install${layout.configOption})`);
    return;
  }
  try {
    await runService({ config: config.file, action: 'install', ...(scope === 'system' ? { system: true } : { user: true }), out });
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    term.say(`The service could not be installed: ${err.message}`);
    term.say(`Start hotbridge by hand instead: ${byHand}`);
  }
}

/** After an account was added or removed: a running hotbridge reloads its config (SIGHUP). */
async function reloadRunning(term: Terminal, config: HotbridgeConfig): Promise<void> {
  const running = await fetchStatus(config.dataDir, 3000).catch(() => undefined);
  const pid = readPid(config.dataDir);
  if (running === undefined || pid === undefined) {
    term.say('hotbridge is not running now; it picks the change up when it starts.');
    return;
  }
  try {
    process.kill(pid, 'SIGHUP');
    term.say(`The running hotbridge (pid ${pid}) is reloading its config now.`);
  } catch (err) {
    term.say(
      `Tell the running hotbridge (pid ${pid}) to reload: sudo kill -HUP ${pid} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

async function removeAccount(term: Terminal, layout: Layout, existing: HotbridgeConfig): Promise<number> {
  if (existing.accounts.length === 1) {
    term.say(
      `${existing.accounts[0].address} is the only account. To stop using hotbridge: hotbridge service uninstall, then delete ${layout.file}.`,
    );
    return 0;
  }
  existing.accounts.forEach((account, i) => term.say(`  ${i + 1}. ${account.address}`));
  const n = existing.accounts.length;
  const index =
    Number(
      await term.askUntil('Which one', (answer) =>
        /^\d+$/.test(answer) && Number(answer) >= 1 && Number(answer) <= n ? undefined : `a number from 1 to ${n}, please`,
      ),
    ) - 1;
  const address = existing.accounts[index].address;
  if (!(await term.yesNo(`Remove ${address} from hotbridge? Its mail stays at the provider and in ${existing.dataDir}.`, false))) {
    term.say('Nothing was changed.');
    return 0;
  }
  const text = withAccountRemoved(fs.readFileSync(layout.file, 'utf8'), index);
  const after = resolveConfig(parseToml(text), layout.file);
  const expected = existing.accounts.filter((_, i) => i !== index).map((a) => a.address);
  if (JSON.stringify(after.accounts.map((a) => a.address)) !== JSON.stringify(expected)) {
    throw new UserError(
      `the config is laid out in a way set-up cannot edit safely: remove the [[accounts]] table of ${address} in ${layout.file} by hand`,
      1,
    );
  }
  writeFileAtomic(layout.file, text, 0o600);
  term.say(`Removed ${address} from ${layout.file}.`);
  await reloadRunning(term, after);
  return 0;
}
