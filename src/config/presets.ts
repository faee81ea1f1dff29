/**
 * Provider presets: the servers and sign-in method for well-known providers, so that a config needs
 * nothing but an address. Outlook.com facts: POP3 outlook.office365.com:995 (implicit TLS), SMTP
 * smtp-mail.outlook.com:587 (STARTTLS), and OAuth2 since basic authentication was disabled in September 2024.
 */

export type TlsMode = 'implicit' | 'starttls' | 'none';

export interface ServerPreset {
  host: string;
  port: number;
  tls: TlsMode;
}

export interface ProviderPreset {
  id: string;
  label: string;
  /** Address domains this preset is chosen for automatically. */
  domains: string[];
  pop3: ServerPreset;
  smtp: ServerPreset;
  auth: 'oauth2' | 'password';
  /** Where the user must switch POP access on, in plain words; shown by setup and doctor. */
  popHelp?: string;
}

export const OUTLOOK_SCOPES = ['https://outlook.office.com/POP.AccessAsUser.All', 'https://outlook.office.com/SMTP.Send', 'offline_access'];

export const DEFAULT_AUTHORITY = 'https://login.microsoftonline.com/consumers';

/**
 * Thunderbird's public application ID on the Microsoft identity platform (a public client: no secret).
 * Used only when the user picks it in set-up: its makers ask other programs not to reuse it, and
 * Microsoft may stop it at any time. hotbridge never uses it by default.
 */
export const THUNDERBIRD_CLIENT_ID = '9e5f94bc-e8a4-4e73-b8be-63364c29d753';

export const PRESETS: Record<string, ProviderPreset> = {
  outlook: {
    id: 'outlook',
    label: 'Outlook.com / Hotmail',
    domains: [
      'hotmail.com',
      'outlook.com',
      'live.com',
      'msn.com',
      'hotmail.co.uk',
      'hotmail.fr',
      'hotmail.de',
      'hotmail.it',
      'hotmail.es',
      'live.co.uk',
      'live.fr',
      'live.de',
      'live.nl',
      'outlook.fr',
      'outlook.de',
      'outlook.es',
      'outlook.it',
      'passport.com',
    ],
    pop3: { host: 'outlook.office365.com', port: 995, tls: 'implicit' },
    smtp: { host: 'smtp-mail.outlook.com', port: 587, tls: 'starttls' },
    auth: 'oauth2',
    popHelp: 'Outlook.com → Settings → Mail → Forwarding and IMAP → "Let devices and apps use POP": Yes, then Save.',
  },
  gmx: {
    id: 'gmx',
    label: 'GMX',
    domains: ['gmx.net', 'gmx.de', 'gmx.at', 'gmx.ch', 'gmx.com'],
    pop3: { host: 'pop.gmx.net', port: 995, tls: 'implicit' },
    smtp: { host: 'mail.gmx.net', port: 587, tls: 'starttls' },
    auth: 'password',
    popHelp: 'GMX → Settings → POP3 & IMAP → "Enable access via POP3 and IMAP".',
  },
  webde: {
    id: 'webde',
    label: 'WEB.DE',
    domains: ['web.de'],
    pop3: { host: 'pop3.web.de', port: 995, tls: 'implicit' },
    smtp: { host: 'smtp.web.de', port: 587, tls: 'starttls' },
    auth: 'password',
    popHelp: 'WEB.DE → Settings → POP3/IMAP → "Enable POP3 and IMAP access".',
  },
};

/** The preset an address gets when the config names none: Outlook.com for its domains, otherwise none. */
export function presetForAddress(address: string): ProviderPreset | undefined {
  const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
  return Object.values(PRESETS).find((preset) => preset.domains.includes(domain));
}
