/**
 * The questions about one account, in the order of the original guide's dialogs: the name, the address,
 * the servers (known ones filled in, others asked and tried), POP at the provider, "leave a copy on the
 * server" with both answers explained as the code behaves, and how hotbridge signs in.
 */
import path from 'node:path';
import { deletionWords } from '../../config/deletion-text.js';
import { presetForAddress, PRESETS, type ProviderPreset, type TlsMode } from '../../config/presets.js';
import { askServer } from './custom-server.js';
import type { ServerAnswer, SetupAnswers } from './config-text.js';
import { askSignInChoice, type SignInChoice } from './sign-in-choice.js';
import type { Terminal } from './terminal.js';

const ADDRESS = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

function hostPortText(server: { host: string; port: number; tls: TlsMode }): string {
  const how = server.tls === 'implicit' ? 'TLS' : server.tls === 'starttls' ? 'STARTTLS' : 'no TLS';
  return `${server.host}, port ${server.port} (${how})`;
}

/** The "leave a copy" explanation set-up shows, for a provider named `where`. */
export function keepCopyHelp(where: string): string[] {
  const words = deletionWords(where);
  return [
    `Keep a copy of your mail at ${where}? (Outlook Express called it "Leave a copy of messages on server".)`,
    `  ${words.keep}`,
    `  ${words.move}`,
  ];
}

export interface AccountAnswers {
  answers: SetupAnswers;
  /** The provider password typed (password accounts), to be written to its file and tried. */
  providerPassword?: string;
  /** How the user chose to sign in (Outlook.com). */
  signIn?: SignInChoice;
  /** "Outlook.com", "GMX", or the domain. */
  providerName: string;
}

/**
 * The questions for one account. `offerBackups` (a new config only, since `[backup]` is the whole store's)
 * adds the daily-backup question after the one about the provider's copy.
 */
export async function askAccount(
  term: Terminal,
  o: { configDir: string; taken: string[]; dataDir?: string; offerBackups?: boolean },
): Promise<AccountAnswers> {
  // Steps 1 and 2 of the guide: the name, then the address.
  const name = await term.ask(
    'Your name (your mail program puts it on mail you send; hotbridge shows it in the settings at the end, Enter to skip)',
  );
  const address = (
    await term.askUntil('Your e-mail address', (answer) => {
      if (!ADDRESS.test(answer)) return 'an address like you@hotmail.com, please';
      if (o.taken.includes(answer.toLowerCase())) return `${answer.toLowerCase()} is set up already`;
      return undefined;
    })
  ).toLowerCase();
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
      pop3 = await askServer(term, 'pop3', o.configDir);
      smtp = await askServer(term, 'smtp', o.configDir);
    }
  }
  if (preset) {
    term.say(`  Incoming: POP3 ${hostPortText(preset.pop3)}`);
    term.say(`  Outgoing: SMTP ${hostPortText(preset.smtp)}`);
  }
  const providerName = preset?.id === 'outlook' ? 'Outlook.com' : (preset?.label ?? domain);
  term.say();
  term.say(`POP must be switched on at ${providerName}${preset?.id === 'outlook' ? ' (it is off to begin with)' : ''}:`);
  term.say(`  ${preset?.popHelp ?? 'look for "POP access" in your provider\'s mail settings and switch it on.'}`);
  term.say();

  // Step 7's "Leave a copy of messages on server", with both choices said as the code does them.
  for (const text of keepCopyHelp(providerName)) term.say(text);
  const leaveOnServer = await term.yesNo(`Keep a copy at ${providerName}?`, true);
  term.say();

  // Backups (issue 12): with no copy at the provider, the store is the only copy of the mail.
  let backups = false;
  if (o.offerBackups) {
    term.say(
      leaveOnServer
        ? 'hotbridge can also back up the mail it keeps here, once a day (the last seven days are kept).'
        : 'The mail here will be its only copy: hotbridge can back it up once a day (the last seven days are kept).',
    );
    backups = await term.yesNo('Keep daily backups?', true);
    term.say();
  }

  // Step 4: signing in.
  let auth: SetupAnswers['auth'];
  let providerPassword: string | undefined;
  let signIn: SignInChoice | undefined;
  if ((preset?.auth ?? 'password') === 'oauth2') {
    signIn = await askSignInChoice(term);
    auth = signIn.kind === 'later' ? { method: 'oauth2' } : { method: 'oauth2', clientId: signIn.clientId };
  } else {
    const passwordFile = `${address}.secret`;
    providerPassword = '';
    while (providerPassword === '') {
      providerPassword = await term.askHidden(
        `Your ${providerName} password (kept in ${path.join(o.configDir, passwordFile)}, readable by you only)`,
      );
      if (providerPassword === '') term.say('  The password is needed to fetch your mail.');
    }
    auth = { method: 'password', passwordFile };
  }

  const answers: SetupAnswers = {
    address,
    provider: preset?.id ?? 'custom',
    leaveOnServer,
    auth,
    ...(backups ? { backups } : {}),
    ...(name ? { name } : {}),
    ...(tenant ? { tenant } : {}),
    ...(pop3 ? { pop3 } : {}),
    ...(smtp ? { smtp } : {}),
    ...(o.dataDir ? { dataDir: o.dataDir } : {}),
  };
  return { answers, providerName, ...(providerPassword !== undefined ? { providerPassword } : {}), ...(signIn ? { signIn } : {}) };
}
