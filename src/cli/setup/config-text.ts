/**
 * The config file `hotbridge setup` writes: the TOML of ARCHITECTURE.md, with a comment beside each choice
 * so that the file explains itself when opened later. Only the keys the answers decide are written;
 * everything else keeps its default (docs/config.md lists them all). A second account is added to the
 * text of the file as it stands (the user's own comments and edits stay), and one is removed the same way.
 */
import { leaveOnServerComment } from '../../config/deletion-text.js';
import { THUNDERBIRD_CLIENT_ID, type TlsMode } from '../../config/presets.js';

export interface ServerAnswer {
  host: string;
  port: number;
  tls: TlsMode;
  /** An extra CA the server's certificate needs (absolute path). */
  caFile?: string;
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
  /**
   * TOML lines placed after the account's [accounts.auth] keys, before any server table: tests use them to
   * point an Outlook.com account at the lab and the local identity server (`authority`, `[accounts.pop3]`…).
   */
  extraLines?: string[];
}

/**
 * A TOML basic string (TOML 1.0 §"String"): JSON's escapes are TOML's too, except that TOML also forbids
 * a raw DEL (U+007F), which JSON leaves as it is.
 */
export function tomlString(value: string): string {
  return JSON.stringify(value).replace(/\u007f/g, '\\u007F');
}

function serverTable(name: 'pop3' | 'smtp', server: ServerAnswer): string[] {
  const lines = ['', `[accounts.${name}]`, `host = ${tomlString(server.host)}`, `port = ${server.port}`, `tls = ${tomlString(server.tls)}`];
  if (server.caFile) lines.push(`ca_file = ${tomlString(server.caFile)}   # the CA that signed this server's certificate`);
  return lines;
}

/** One `[[accounts]]` table with its sub-tables, as lines. */
export function accountLines(a: SetupAnswers): string[] {
  const lines = ['[[accounts]]', `address = ${tomlString(a.address)}`];
  if (a.name) lines.push(`name = ${tomlString(a.name)}   # for you only: your mail program puts your name on what you send`);
  lines.push(`provider = ${tomlString(a.provider)}`);
  lines.push(`leave_on_server = ${a.leaveOnServer}`, leaveOnServerComment(a.leaveOnServer));
  lines.push('', '[accounts.auth]');
  if (a.auth.method === 'oauth2') {
    lines.push('method = "oauth2"          # the Microsoft sign-in (hotbridge login ADDRESS)');
    if (a.auth.clientId === THUNDERBIRD_CLIENT_ID) {
      lines.push(`client_id = ${tomlString(a.auth.clientId)}`);
      lines.push("# ^ Thunderbird's application ID, chosen in hotbridge setup. Its makers ask other programs not to");
      lines.push('#   reuse it and Microsoft may stop it at any time; docs/signing-in.md shows how to get your own.');
    } else if (a.auth.clientId) {
      lines.push(`client_id = ${tomlString(a.auth.clientId)}   # your own application (client) ID`);
    } else {
      lines.push(`# client_id = "00000000-0000-0000-0000-000000000000"   # add it here, then run: hotbridge login ${a.address}`);
      lines.push("#   (docs/signing-in.md: your own application ID, or Thunderbird's)");
    }
    if (a.tenant) lines.push(`tenant = ${tomlString(a.tenant)}   # a work or school (Microsoft 365) account`);
  } else {
    lines.push('method = "password"');
    lines.push(`password_file = ${tomlString(a.auth.passwordFile)}   # the provider password, one line, readable by you only`);
  }
  if (a.extraLines) lines.push(...a.extraLines);
  if (a.pop3) lines.push(...serverTable('pop3', a.pop3));
  if (a.smtp) lines.push(...serverTable('smtp', a.smtp));
  return lines;
}

/** A whole new config for one account. */
export function configText(a: SetupAnswers, now = new Date()): string {
  const lines = [
    `# hotbridge config, written by \`hotbridge setup\` on ${now.toISOString().slice(0, 10)}.`,
    '# Every key is explained in docs/config.md of hotbridge.',
    '# After a change: hotbridge doctor, then restart hotbridge (or reload it: kill -HUP its pid).',
    '# Add or remove an account: hotbridge setup again.',
  ];
  if (a.dataDir) lines.push('', `data_dir = ${tomlString(a.dataDir)}   # where the mail is kept`);
  if (a.backups) {
    lines.push(
      '',
      '[backup]',
      'every = "1d"               # a backup of all mail once a day (hotbridge restore FILE puts one back)',
      'keep = 7                   # the last seven; they go to DATA_DIR/backups unless dir = "…" says elsewhere (another disk is better)',
    );
  }
  lines.push('', ...accountLines(a));
  return `${lines.join('\n')}\n`;
}

/** `text` with one more account at its end. */
export function withAccountAdded(text: string, a: SetupAnswers): string {
  const base = text.endsWith('\n') ? text : `${text}\n`;
  return `${base}\n${accountLines(a).join('\n')}\n`;
}

/** A line that starts a table other than an account's own ([imap], [status], …): it ends an account block. */
const OTHER_TABLE = /^\s*\[(?!\[?accounts[.\]])/;
const ACCOUNT_HEADER = /^\s*\[\[\s*accounts\s*\]\]/;

/**
 * `text` without the `index`-th `[[accounts]]` table and its sub-tables. The caller checks the result with
 * the real loader (the address must be gone and the rest unchanged), so a file laid out in an unusual way
 * is refused rather than damaged.
 */
export function withAccountRemoved(text: string, index: number): string {
  const lines = text.split('\n');
  const starts = lines.flatMap((line, i) => (ACCOUNT_HEADER.test(line) ? [i] : []));
  const start = starts[index];
  if (start === undefined) throw new Error(`there is no account number ${index + 1} in the file`);
  let end = start + 1;
  while (end < lines.length && !ACCOUNT_HEADER.test(lines[end]) && !OTHER_TABLE.test(lines[end])) end++;
  // Blank lines before the block go with it, so no gap is left.
  let from = start;
  while (from > 0 && lines[from - 1].trim() === '') from--;
  return [...lines.slice(0, from), ...lines.slice(end)].join('\n').replace(/\n*$/, '\n');
}
