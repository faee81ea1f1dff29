/**
 * `hotbridge setup` (and `npm start` without a config): the original guide's eight dialog steps as one
 * short conversation. Name, address, the provider's servers (known ones filled in), POP switched on at the
 * provider, a copy left there or not, the sign-in, then a local password for the mail client, the config
 * file, the service, and at the end the exact settings to type into the mail program.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { loadConfig, resolveConfig } from '../../config/load.js';
import { presetForAddress, PRESETS, type ProviderPreset, type TlsMode } from '../../config/presets.js';
import type { HotbridgeConfig } from '../../config/types.js';
import { writeFileAtomic } from '../../runtime/files.js';
import { LocalPasswords } from '../../runtime/local-passwords.js';
import type { FetchFn } from '../../upstream/oauth/token-endpoint.js';
import { configFileFrom, UserError } from '../config-option.js';
import { configText, type ServerAnswer, type SetupAnswers } from '../setup/config-text.js';
import { generateLocalPassword } from '../setup/local-password.js';
import { Terminal } from '../setup/terminal.js';
import { certificateNames } from '../../daemon/certificate-names.js';
import { ensureLocalCertificate } from '../../runtime/local-ca.js';
import { runLogin } from './login.js';
import { runService, SYSTEM_DATA_DIR } from './service.js';

const ADDRESS = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

function hostPortText(server: { host: string; port: number; tls: TlsMode }): string {
  const how = server.tls === 'implicit' ? 'TLS' : server.tls === 'starttls' ? 'STARTTLS' : 'no TLS';
  return `${server.host}, port ${server.port} (${how})`;
}

async function askServer(term: Terminal, what: 'POP3' | 'SMTP'): Promise<ServerAnswer> {
  const host = await term.askUntil(`  ${what} server name`, (answer) => (/^[A-Za-z0-9.-]+$/.test(answer) ? undefined : 'a host name like pop.example.com, please'));
  const [implicitPort, startTlsPort] = what === 'POP3' ? [995, 110] : [465, 587];
  const portText = await term.askUntil(
    `  ${what} port`,
    (answer) => (/^\d+$/.test(answer) && Number(answer) >= 1 && Number(answer) <= 65535 ? undefined : 'a port number, please'),
    String(what === 'POP3' ? implicitPort : startTlsPort),
  );
  const port = Number(portText);
  let tls: TlsMode = port === implicitPort ? 'implicit' : 'starttls';
  if (port !== implicitPort && port !== startTlsPort) {
    const answer = await term.askUntil(
      `  Does port ${port} start with TLS ("implicit") or switch to it ("starttls")?`,
      (text) => (text === 'implicit' || text === 'starttls' ? undefined : 'implicit or starttls, please'),
      'implicit',
    );
    tls = answer as TlsMode;
  }
  return { host, port, tls };
}

const KEEP_COPY_HELP = (where: string) => [
  `Keep a copy of your mail at ${where}?`,
  `  Yes: the mail stays there too, so webmail and your phone still show it`,
  `       (but what you delete here you also delete there).`,
  `  No:  the mail moves to this computer; ${where} deletes it once it is safely here.`,
];

const CLIENT_ID_HELP = [
  'Outlook.com wants a Microsoft sign-in: since September 2024 it takes no passwords for POP and SMTP.',
  'Microsoft asks which program signs in, by its application ID ("client ID"). hotbridge has none of its',
  "own, and it never uses another program's ID unless you choose that. A personal Microsoft account can no",
  'longer easily register one, so you can:',
  '  - register one where you can (a Microsoft Entra directory; a free one does): Entra admin center →',
  '    App registrations → New registration, for "personal Microsoft accounts"; Authentication →',
  '    "Allow public client flows": Yes; API permissions: POP.AccessAsUser.All and SMTP.Send',
  '    (Office 365 Exchange Online) and offline_access. Its "Application (client) ID" is the ID.',
  '  - or use the ID of an application you trust with your mail (its publisher sees these sign-ins).',
];

const CERTIFICATE_HELP = [
  'Some mail programs insist on SSL ("This server requires a secure connection" in Outlook Express), and',
  'phones and other computers on your home network need it. hotbridge can make its own certificate for',
  'that (a small certificate authority of this computer; devices import it once: hotbridge cert export).',
  'Programs on this computer that are set to "no SSL" keep working as before.',
];

function settingsText(config: HotbridgeConfig, answers: SetupAnswers, localPassword: string, configOption: string, certificate: boolean): string {
  const account = config.accounts[0];
  const imap = config.imap.listen[0];
  const smtp = config.smtp.listen[0];
  // Listening on both 127.0.0.1 and ::1 makes "localhost" work whichever one the client tries first.
  const bothLoopbacks = (listen: HotbridgeConfig['imap']['listen']) => listen.some((a) => a.host === '127.0.0.1') && listen.some((a) => a.host === '::1');
  const hostFor = (listen: HotbridgeConfig['imap']['listen']) => (bothLoopbacks(listen) ? 'localhost' : listen[0].host);
  return [
    'All set. Now tell your mail program (Outlook Express, Thunderbird, Apple Mail, mutt, …):',
    '',
    ...(answers.name ? [`  Your name:              ${answers.name}`] : []),
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
    ...(certificate ? ['  SSL: tick "This server requires a secure connection" only where you set up tls_listen (docs/clients/phones.md);', '  on the ports above hotbridge offers STARTTLS/STLS now.'] : []),
    '',
    'Write the password down now: it is shown only this once.',
    `(A new one any time: hotbridge password ${account.address}${configOption})`,
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
}): Promise<number> {
  const stdin = process.stdin as NodeJS.ReadStream;
  if (!options.input && !stdin.isTTY) {
    throw new UserError('hotbridge setup asks a few questions, so it needs a terminal: run it in one (or write the config by hand: every key is in docs/config.md)', 2);
  }
  const file = path.resolve(configFileFrom(options.config));
  const term = new Terminal(options.input ?? stdin, options.out, !options.input && stdin.isTTY === true);
  try {
    return await conversation(term, file, options);
  } finally {
    term.close();
  }
}

async function conversation(term: Terminal, file: string, options: { config?: string; out: NodeJS.WritableStream; fetch?: FetchFn }): Promise<number> {
  term.say('Welcome to hotbridge. A few questions, and your mail program gets your mail through this computer.');
  term.say('(Press Enter to take what is suggested in [brackets].)');
  term.say();
  if (fs.existsSync(file)) {
    term.say(`There is a config already: ${file}`);
    if (!(await term.yesNo('Replace it with a new one?', false))) {
      term.say('Nothing was changed. To check the config you have: hotbridge doctor');
      return 0;
    }
  }

  // Steps 1 and 2 of the guide: the name on outgoing mail, then the address.
  const name = await term.ask('Your name, as people should see it on mail you send');
  const address = (await term.askUntil('Your e-mail address', (answer) => (ADDRESS.test(answer) ? undefined : 'an address like you@hotmail.com, please'))).toLowerCase();
  const domain = address.slice(address.lastIndexOf('@') + 1);

  // Step 3: the servers.
  let preset: ProviderPreset | undefined = presetForAddress(address);
  let tenant: string | undefined;
  let pop3: ServerAnswer | undefined;
  let smtp: ServerAnswer | undefined;
  if (preset) {
    term.say(`That is ${preset.label}: hotbridge knows its servers.`);
  } else {
    term.say(`hotbridge does not know the servers of ${domain}.`);
    if (await term.yesNo('Is this mailbox at Microsoft (Outlook.com, or Microsoft 365 for work or school)?', false)) {
      preset = PRESETS.outlook;
      tenant = 'organizations';
    } else {
      term.say("Then your provider's help pages give these (look for POP3 and SMTP settings):");
      pop3 = await askServer(term, 'POP3');
      smtp = await askServer(term, 'SMTP');
    }
  }
  if (preset) {
    term.say(`  Incoming: POP3 ${hostPortText(preset.pop3)}`);
    term.say(`  Outgoing: SMTP ${hostPortText(preset.smtp)}`);
  }
  const providerName = preset?.id === 'outlook' ? 'Outlook.com' : preset?.label ?? domain;
  term.say();
  term.say(`POP must be switched on at ${providerName}${preset?.id === 'outlook' ? ' (it is off to begin with)' : ''}:`);
  term.say(`  ${preset?.popHelp ?? "look for \"POP access\" in your provider's mail settings and switch it on."}`);
  term.say();

  // Step 7's "Leave a copy of messages on server", with both choices explained.
  for (const text of KEEP_COPY_HELP(providerName)) term.say(text);
  const leaveOnServer = await term.yesNo(`Keep a copy at ${providerName}?`, true);
  term.say();

  // Backups (issue 12): with no copy at the provider, the store is the only copy of the mail.
  term.say(leaveOnServer ? 'hotbridge can also back up the mail it keeps here, once a day (the last seven days are kept).' : 'The mail here will be its only copy: hotbridge can back it up once a day (the last seven days are kept).');
  const backups = await term.yesNo('Keep daily backups?', true);
  term.say();

  // Step 4: signing in.
  const dir = path.dirname(file);
  let auth: SetupAnswers['auth'];
  let providerPassword: string | undefined;
  if ((preset?.auth ?? 'password') === 'oauth2') {
    for (const text of CLIENT_ID_HELP) term.say(text);
    const clientId = await term.askUntil('Client ID (Enter to add it later)', (answer) => (/\s/.test(answer) ? 'an ID has no spaces' : undefined));
    auth = clientId ? { method: 'oauth2', clientId } : { method: 'oauth2' };
  } else {
    const passwordFile = `${address}.secret`;
    providerPassword = '';
    while (providerPassword === '') {
      providerPassword = await term.askHidden(`Your ${providerName} password (kept in ${path.join(dir, passwordFile)}, readable by you only)`);
      if (providerPassword === '') term.say('  The password is needed to fetch your mail.');
    }
    auth = { method: 'password', passwordFile };
  }

  const answers: SetupAnswers = {
    address,
    provider: preset?.id ?? 'custom',
    leaveOnServer,
    auth,
    backups,
    ...(name ? { name } : {}),
    ...(tenant ? { tenant } : {}),
    ...(pop3 ? { pop3 } : {}),
    ...(smtp ? { smtp } : {}),
    // A config under /etc is the system service's: its data lives where systemd's StateDirectory= puts it.
    ...(file.startsWith('/etc/') ? { dataDir: SYSTEM_DATA_DIR } : {}),
  };

  // The config (0600, in a 0700 directory), checked as the daemon will read it before it is written.
  const text = configText(answers);
  resolveConfig(parseToml(text), file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (providerPassword !== undefined && auth.method === 'password') writeFileAtomic(path.join(dir, auth.passwordFile), `${providerPassword}\n`, 0o600);
  writeFileAtomic(file, text, 0o600);
  const config = loadConfig(file);
  term.say();
  term.say(`Saved the config: ${file}`);
  // Commands shown from here on must find this config too.
  const configOption = options.config ? ` --config ${file}` : '';

  if (auth.method === 'oauth2') {
    term.say();
    if (!auth.clientId) {
      term.say(`Sign in later, once client_id is in ${file}: hotbridge login ${address}${configOption}`);
    } else if (await term.yesNo('Sign in with Microsoft now?', true)) {
      const code = await runLogin({ config, address, out: options.out, ...(options.fetch ? { fetch: options.fetch } : {}) });
      if (code !== 0) term.say(`The sign-in did not finish. Try again any time: hotbridge login ${address}${configOption}`);
    } else {
      term.say(`Sign in later: hotbridge login ${address}${configOption}`);
    }
  }

  // The password the mail program uses here; never the provider's.
  const localPassword = generateLocalPassword();
  await new LocalPasswords(config.dataDir).set(address, localPassword);

  term.say();
  for (const text of CERTIFICATE_HELP) term.say(text);
  let certificate = false;
  if (await term.yesNo('Make that certificate now?', false)) {
    const state = ensureLocalCertificate(config.dataDir, certificateNames(config));
    certificate = true;
    term.say(`  Made it (valid until ${state.serverNotAfter.toISOString().slice(0, 10)}). For a phone: hotbridge cert export${configOption}`);
  } else {
    term.say(`  Any time later: hotbridge cert${configOption}`);
  }

  term.say();
  if (await term.yesNo('Start hotbridge by itself, now and whenever this computer starts?', true)) {
    try {
      await runService({ config: file, action: 'install', out: options.out });
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      term.say(`The service could not be installed: ${err.message}`);
      term.say(`Start hotbridge by hand instead: hotbridge run${configOption}`);
    }
  } else {
    term.say(`Start it when you like: hotbridge run${configOption}   (or later: hotbridge service install)`);
  }
  term.say();
  options.out.write(settingsText(config, answers, localPassword, configOption, certificate));
  term.say(`If something does not work: hotbridge doctor${configOption}`);
  return 0;
}
