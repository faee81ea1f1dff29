/**
 * Which application signs in to Outlook.com: the set-up question, asked as an explicit numbered choice
 * with no default. hotbridge has no application ID of its own (a personal Microsoft account can no longer
 * register one outside a directory), so the user either brings one or knowingly borrows Thunderbird's.
 */
import { THUNDERBIRD_CLIENT_ID } from '../../config/presets.js';
import type { Terminal } from './terminal.js';

export const SIGN_IN_DOCS = 'docs/signing-in.md';

export type SignInChoice = { kind: 'own'; clientId: string } | { kind: 'thunderbird'; clientId: string } | { kind: 'later' };

/**
 * Why `text` is not an application (client) ID, or undefined when it is one. Entra application IDs are
 * GUIDs: 32 hexadecimal digits in groups of 8-4-4-4-12 (RFC 9562 §4's text form).
 */
export function clientIdProblem(text: string): string | undefined {
  const id = text.trim();
  if (id === '') return 'an application ID is needed here (or choose 3 to decide later)';
  if (/\s/.test(id)) return 'an application ID has no spaces: copy just the "Application (client) ID" value';
  const bare = id.replace(/^\{(.*)\}$/, '$1');
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(bare)) return undefined;
  const digits = bare.replace(/-/g, '');
  if (/[^0-9a-f-]/i.test(bare)) {
    const wrong = [...new Set(bare.replace(/[0-9a-f-]/gi, ''))].join('');
    return `an application ID has only the digits 0-9 and the letters a-f (this has "${wrong}"); it looks like 00000000-0000-0000-0000-000000000000`;
  }
  if (digits.length !== 32)
    return `an application ID has 32 digits and letters a-f (this has ${digits.length}); it looks like 00000000-0000-0000-0000-000000000000`;
  return 'an application ID is grouped 8-4-4-4-12, like 00000000-0000-0000-0000-000000000000';
}

export const SIGN_IN_CHOICE_TEXT = [
  'Outlook.com wants a Microsoft sign-in: since September 2024 it takes no passwords for POP and SMTP.',
  'Microsoft lets a program sign in only under an application ID, and hotbridge has none of its own.',
  'Which one should sign in?',
  '',
  '  1. My own application ID. Free, about ten minutes, once: a free Microsoft Entra directory or',
  `     the Microsoft 365 developer programme lets you register one. ${SIGN_IN_DOCS} shows every step.`,
  `  2. Thunderbird's application ID (${THUNDERBIRD_CLIENT_ID}), which works for personal accounts.`,
  '     Its makers ask other programs not to reuse it, and Microsoft may stop it at any time;',
  '     hotbridge uses it only because you choose it here.',
  '  3. Decide later: the config is written without one, and `hotbridge login` explains this again.',
];

export async function askSignInChoice(term: Terminal): Promise<SignInChoice> {
  for (const line of SIGN_IN_CHOICE_TEXT) term.say(line);
  const choice = await term.askUntil('Your choice (1, 2 or 3)', (answer) =>
    ['1', '2', '3'].includes(answer) ? undefined : 'type 1, 2 or 3 (there is no default here: it is your choice)',
  );
  if (choice === '2') {
    term.say(`Using Thunderbird's application ID, as you chose. To change it later: client_id in the config, then hotbridge login.`);
    return { kind: 'thunderbird', clientId: THUNDERBIRD_CLIENT_ID };
  }
  if (choice === '3') return { kind: 'later' };
  const id = await term.askUntil('Application (client) ID', clientIdProblem);
  return {
    kind: 'own',
    clientId: id
      .trim()
      .replace(/^\{(.*)\}$/, '$1')
      .toLowerCase(),
  };
}
