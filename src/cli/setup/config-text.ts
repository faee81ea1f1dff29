/**
 * The config file `hotbridge setup` writes: the TOML of ARCHITECTURE.md for one account, with a comment
 * beside each choice so that the file explains itself when opened later. Only the keys the answers decide
 * are written; everything else keeps its default (docs/config.md lists them all).
 */
import type { TlsMode } from '../../config/presets.js';

export interface ServerAnswer {
  host: string;
  port: number;
  tls: TlsMode;
}

export interface SetupAnswers {
  name?: string;
  address: string;
  /** A preset id (`outlook`, `gmx`, …) or `custom`. */
  provider: string;
  /** For a Microsoft 365 mailbox on its own domain: the sign-in authority's tenant (`organizations`). */
  tenant?: string;
  leaveOnServer: boolean;
  auth: { method: 'oauth2'; clientId?: string } | { method: 'password'; passwordFile: string };
  /** Only for `custom`. */
  pop3?: ServerAnswer;
  smtp?: ServerAnswer;
  dataDir?: string;
  /** Daily backups of the store, the last 7 kept (`[backup]`). */
  backups?: boolean;
}

/**
 * A TOML basic string (TOML 1.0 §"String"): JSON's escapes are TOML's too, except that TOML also forbids
 * a raw DEL (U+007F), which JSON leaves as it is.
 */
export function tomlString(value: string): string {
  return JSON.stringify(value).replace(/\u007f/g, '\\u007F');
}

function serverTable(name: 'pop3' | 'smtp', server: ServerAnswer): string[] {
  return ['', `[accounts.${name}]`, `host = ${tomlString(server.host)}`, `port = ${server.port}`, `tls = ${tomlString(server.tls)}`];
}

export function configText(a: SetupAnswers, now = new Date()): string {
  const lines = [
    `# hotbridge config, written by \`hotbridge setup\` on ${now.toISOString().slice(0, 10)}.`,
    '# Every key is explained in docs/config.md of hotbridge (and in its README).',
    '# After a change: hotbridge doctor, then restart hotbridge (or reload it: kill -HUP its pid).',
  ];
  if (a.dataDir) lines.push('', `data_dir = ${tomlString(a.dataDir)}   # where the mail is kept`);
  lines.push('', '[[accounts]]', `address = ${tomlString(a.address)}`);
  if (a.name) lines.push(`name = ${tomlString(a.name)}`);
  lines.push(`provider = ${tomlString(a.provider)}`);
  lines.push(
    a.leaveOnServer
      ? 'leave_on_server = true    # a copy stays at the provider: webmail and phone still see it (delete it in both places)'
      : 'leave_on_server = false   # mail moves here and is deleted at the provider once it is safely stored',
  );
  lines.push('', '[accounts.auth]');
  if (a.auth.method === 'oauth2') {
    lines.push('method = "oauth2"          # the Microsoft sign-in (hotbridge login ADDRESS)');
    if (a.auth.clientId) lines.push(`client_id = ${tomlString(a.auth.clientId)}`);
    else lines.push(`# client_id = "00000000-0000-0000-0000-000000000000"   # add it here, then run: hotbridge login ${a.address}`);
    if (a.tenant) lines.push(`tenant = ${tomlString(a.tenant)}   # a work or school (Microsoft 365) account`);
  } else {
    lines.push('method = "password"');
    lines.push(`password_file = ${tomlString(a.auth.passwordFile)}   # the provider password, one line, readable by you only`);
  }
  if (a.pop3) lines.push(...serverTable('pop3', a.pop3));
  if (a.smtp) lines.push(...serverTable('smtp', a.smtp));
  if (a.backups) {
    lines.push('', '[backup]', 'every = "1d"               # a backup of all mail once a day (hotbridge restore FILE puts one back)', 'keep = 7                   # the last seven; they go to DATA_DIR/backups unless dir = "…" says elsewhere (another disk is better)');
  }
  return `${lines.join('\n')}\n`;
}
