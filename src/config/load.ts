/**
 * Loads the TOML config and turns every problem into one readable line that names the file and the key
 * (`config.toml: accounts[0].pop3.port: expected a number from 1 to 65535`), never a stack trace.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { DEFAULT_AUTHORITY, OUTLOOK_SCOPES, PRESETS, presetForAddress, type ServerPreset } from './presets.js';
import { configSchema, LISTEN_PATTERN, type RawAccount, type RawConfig } from './schema.js';
import type { AccountAuth, AccountConfig, HotbridgeConfig, ListenAddress, LocalTls, TlsMinVersion, UpstreamServer } from './types.js';
import { parseDuration, parseSize } from './units.js';
import { defaultDataDir } from './paths.js';
import { isLoopbackHost } from './loopback.js';
import { closest } from './closest.js';

export { isLoopbackHost } from './loopback.js';

export const DEFAULT_IMAP_LISTEN = DEFAULTS.imapListen;
export const DEFAULT_SMTP_LISTEN = DEFAULTS.smtpListen;
export const DEFAULT_POP3_LISTEN = DEFAULTS.pop3Listen;
export const DEFAULT_MAX_MESSAGE_SIZE = DEFAULTS.maxMessageBytes;

/**
 * What happens to the provider's copies when the config says nothing. Set-up, the README, docs/config.md
 * and the config comments describe these (src/config/deletion-text.ts words them; a test compares).
 */
export const DELETION_DEFAULTS = {
  leaveOnServer: true,
  deleteOnExpunge: false,
  /** No age limit: with leave_on_server the provider's copies stay until deleted there. */
  deleteOnServerAfterMs: undefined as number | undefined,
} as const;

/** A config that cannot be used; `problems` holds one line per problem. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(problems.map((problem) => `${file}: ${problem}`).join('\n'));
    this.name = 'ConfigError';
  }
}

/** `accounts[0].pop3.port` from zod's path array. */
function keyPath(parts: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of parts) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** The value at a zod path in the parsed document (undefined when the key is missing). */
function valueAt(document: unknown, parts: ReadonlyArray<PropertyKey>): unknown {
  let value = document;
  for (const part of parts) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

/** The keys the schema allows in the table at `parts` (array indices skipped). */
function keysAllowedAt(parts: ReadonlyArray<PropertyKey>): string[] {
  let schema: unknown = configSchema;
  for (const part of [...parts.filter((p) => typeof p !== 'number'), undefined]) {
    // zod 4 keeps the structure in `_zod.def`; its public types do not expose the walk.
    for (;;) {
      const def = (schema as { _zod?: { def: Record<string, unknown> & { type: string } } })._zod?.def;
      if (!def) return [];
      if (def.type === 'optional' || def.type === 'nullable' || def.type === 'default') schema = def.innerType;
      else if (def.type === 'array') schema = def.element;
      else break;
    }
    const shape = (schema as { _zod: { def: { shape?: Record<string, unknown> } } })._zod.def.shape;
    if (!shape) return [];
    if (part === undefined) return Object.keys(shape);
    schema = shape[String(part)];
  }
  return [];
}

function describeIssue(issue: z.core.$ZodIssue, document: unknown): string {
  if (issue.code === 'unrecognized_keys') {
    const where = keyPath(issue.path);
    const allowed = keysAllowedAt(issue.path);
    return issue.keys
      .map((key) => {
        const guess = closest(key, allowed);
        const table = where === '' ? 'at the top of the file' : `in ${tableName(issue.path)}`;
        return `${where === '' ? key : `${where}.${key}`}: unknown key ${table} (${guess ? `did you mean ${guess}?` : `known here: ${allowed.join(', ')}`})`;
      })
      .join('\n');
  }
  const where = keyPath(issue.path);
  let message = issue.message;
  if (issue.code === 'invalid_type' && valueAt(document, issue.path) === undefined) message = 'is required';
  return `${where === '' ? '(top level)' : where}: ${message}`;
}

/** `[accounts.pop3]` from a zod path like ['accounts', 0, 'pop3']. */
function tableName(parts: ReadonlyArray<PropertyKey>): string {
  const names = parts.filter((p) => typeof p !== 'number').map(String);
  return names.length === 1 && names[0] === 'accounts' ? '[[accounts]]' : `[${names.join('.')}]`;
}

export function parseListen(text: string): ListenAddress {
  const match = LISTEN_PATTERN.exec(text);
  if (!match) throw new Error(`bad listen address ${text}`);
  return { host: match[1] ?? match[2], port: Number(match[3]) };
}

/** Default addresses: [::1] is optional, so a machine without IPv6 still starts on 127.0.0.1. */
function defaultListen(text: string): ListenAddress {
  const address = parseListen(text);
  return address.host === '::1' ? { ...address, optional: true } : address;
}

function server(
  raw: { host?: string; port?: number; tls?: 'implicit' | 'starttls' | 'none'; ca_file?: string; timeout?: string | number } | undefined,
  preset: ServerPreset | undefined,
  where: string,
  baseDir: string,
  problems: string[],
): UpstreamServer {
  const host = raw?.host ?? preset?.host;
  // Without a preset: POP3 over implicit TLS (995), SMTP submission with STARTTLS (587), as docs/config.md says.
  const tls = raw?.tls ?? preset?.tls ?? (where.endsWith('pop3') ? 'implicit' : 'starttls');
  if (!host) problems.push(`${where}.host: is required for provider "custom"`);
  const defaultPort = where.endsWith('pop3') ? (tls === 'implicit' ? 995 : 110) : tls === 'implicit' ? 465 : 587;
  const port = raw?.port ?? (raw?.tls === undefined ? preset?.port : undefined) ?? defaultPort;
  if (tls === 'none' && host && !isLoopbackHost(host)) {
    problems.push(`${where}.tls: "none" is only allowed for a loopback host (127.0.0.1, ::1, localhost); use "implicit" or "starttls"`);
  }
  const caFile = raw?.ca_file ? path.resolve(baseDir, raw.ca_file) : undefined;
  if (caFile && !fs.existsSync(caFile)) problems.push(`${where}.ca_file: ${caFile} does not exist`);
  return {
    host: host ?? '',
    port,
    tls,
    caFile,
    timeoutMs: raw?.timeout !== undefined ? parseDuration(raw.timeout)! : DEFAULTS.upstreamTimeoutMs,
  };
}

function resolveAccount(raw: RawAccount, index: number, baseDir: string, problems: string[]): AccountConfig {
  const where = `accounts[${index}]`;
  const address = raw.address.toLowerCase();
  let preset = raw.provider === undefined ? presetForAddress(address) : PRESETS[raw.provider];
  if (raw.provider !== undefined && raw.provider !== 'custom' && !preset) {
    problems.push(`${where}.provider: unknown provider "${raw.provider}" (known: ${[...Object.keys(PRESETS), 'custom'].join(', ')})`);
  }
  if (raw.provider === 'custom') preset = undefined;
  if (!preset && raw.provider === undefined && (!raw.pop3?.host || !raw.smtp?.host)) {
    problems.push(
      `${where}: no preset for ${address.slice(address.indexOf('@') + 1)}: set provider = "custom" and give [accounts.pop3] and [accounts.smtp] hosts`,
    );
  }
  const method = raw.auth?.method ?? preset?.auth ?? 'password';
  const user = raw.auth?.user ?? address;
  let auth: AccountAuth;
  if (method === 'password') {
    const passwordFile = raw.auth?.password_file ? path.resolve(baseDir, raw.auth.password_file) : undefined;
    auth = { method, user, passwordFile };
    for (const key of ['client_id', 'tenant', 'authority', 'scopes'] as const) {
      if (raw.auth?.[key] !== undefined) problems.push(`${where}.auth.${key}: only used with method = "oauth2"`);
    }
  } else {
    const tenant = raw.auth?.tenant ?? 'consumers';
    const authority = (
      raw.auth?.authority ?? (raw.auth?.tenant ? `https://login.microsoftonline.com/${tenant}` : DEFAULT_AUTHORITY)
    ).replace(/\/+$/, '');
    const url = new URL(authority);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
      problems.push(`${where}.auth.authority: must be https (http is allowed only for a test server on 127.0.0.1)`);
    }
    if (raw.auth?.password_file !== undefined) problems.push(`${where}.auth.password_file: only used with method = "password"`);
    auth = { method, user, clientId: raw.auth?.client_id, tenant, authority, scopes: raw.auth?.scopes ?? OUTLOOK_SCOPES };
  }
  const pop3Base = server(raw.pop3, preset?.pop3, `${where}.pop3`, baseDir, problems);
  const leaveOnServer = raw.leave_on_server ?? DELETION_DEFAULTS.leaveOnServer;
  if (raw.delete_on_server_after !== undefined && !leaveOnServer) {
    problems.push(
      `${where}.delete_on_server_after: only used with leave_on_server = true (with false, messages are deleted right after download)`,
    );
  }
  return {
    address,
    name: raw.name,
    provider: raw.provider ?? preset?.id ?? 'custom',
    pollIntervalMs: raw.poll_interval !== undefined ? Math.max(parseDuration(raw.poll_interval)!, 1000) : DEFAULTS.pollIntervalMs,
    leaveOnServer,
    deleteOnServerAfterMs:
      raw.delete_on_server_after !== undefined ? parseDuration(raw.delete_on_server_after) : DELETION_DEFAULTS.deleteOnServerAfterMs,
    deleteOnExpunge: raw.delete_on_expunge ?? DELETION_DEFAULTS.deleteOnExpunge,
    saveSent: raw.save_sent ?? false,
    sendAs: (raw.send_as ?? []).map((entry) => entry.toLowerCase()),
    auth,
    pop3: {
      ...pop3Base,
      maxMessageBytes: raw.pop3?.max_message_size !== undefined ? parseSize(raw.pop3.max_message_size)! : DEFAULTS.pop3MaxMessageBytes,
      batchSize: raw.pop3?.batch_size ?? DEFAULTS.pop3BatchSize,
    },
    smtp: server(raw.smtp, preset?.smtp, `${where}.smtp`, baseDir, problems),
  };
}

type RawLocalTls = {
  tls_cert?: string;
  tls_key?: string;
  tls_listen?: string[];
  tls_min_version?: TlsMinVersion;
  allow_plaintext_lan?: boolean;
};

/** The TLS settings of one listener table; a certificate needs its key and the other way round. */
function localTls(raw: RawLocalTls | undefined, table: string, baseDir: string, problems: string[]): LocalTls {
  if ((raw?.tls_cert === undefined) !== (raw?.tls_key === undefined))
    problems.push(`${table}.${raw?.tls_cert ? 'tls_key' : 'tls_cert'}: tls_cert and tls_key go together`);
  return {
    certFile: raw?.tls_cert ? path.resolve(baseDir, raw.tls_cert) : undefined,
    keyFile: raw?.tls_key ? path.resolve(baseDir, raw.tls_key) : undefined,
    tlsListen: (raw?.tls_listen ?? []).map(parseListen),
    tlsMinVersion: raw?.tls_min_version ?? DEFAULTS.tlsMinVersion,
    allowPlaintextLan: raw?.allow_plaintext_lan ?? false,
  };
}

/** Checks an already-parsed TOML document; `file` is only used in messages and to resolve relative paths. */
export function resolveConfig(document: unknown, file: string): HotbridgeConfig {
  const parsed = configSchema.safeParse(document);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    // "adress" both is unknown and leaves address missing: the "did you mean address?" says it all.
    const misspelt = new Set(
      issues.flatMap((issue) =>
        issue.code === 'unrecognized_keys'
          ? issue.keys
              .map((key) => closest(key, keysAllowedAt(issue.path)))
              .filter((k) => k !== undefined)
              .map((k) => keyPath([...issue.path, k]))
          : [],
      ),
    );
    const shown = issues.filter(
      (issue) => !(issue.code === 'invalid_type' && valueAt(document, issue.path) === undefined && misspelt.has(keyPath(issue.path))),
    );
    throw new ConfigError(
      file,
      shown.flatMap((issue) => describeIssue(issue, document).split('\n')),
    );
  }
  const raw: RawConfig = parsed.data;
  const baseDir = path.dirname(file);
  const problems: string[] = [];
  const accounts = raw.accounts.map((account, index) => resolveAccount(account, index, baseDir, problems));
  const seen = new Set<string>();
  accounts.forEach((account, index) => {
    if (seen.has(account.address)) problems.push(`accounts[${index}].address: ${account.address} is listed twice`);
    seen.add(account.address);
  });
  if (raw.backup && raw.backup.every === undefined)
    problems.push('backup.every: set how often to make a backup (for example every = "1d"), or remove the [backup] table');
  const backupEveryMs = raw.backup?.every !== undefined ? parseDuration(raw.backup.every)! : undefined;
  if (backupEveryMs !== undefined && backupEveryMs < 60_000) problems.push('backup.every: at least "1m"');
  const imapTls = localTls(raw.imap, 'imap', baseDir, problems);
  const smtpTls = localTls(raw.smtp, 'smtp', baseDir, problems);
  const pop3Tls = localTls(raw.pop3, 'pop3', baseDir, problems);
  if (problems.length > 0) throw new ConfigError(file, problems);
  const dataDir = raw.data_dir ? path.resolve(baseDir, raw.data_dir) : defaultDataDir();
  return {
    file,
    dataDir,
    logLevel: raw.log_level ?? 'info',
    imap: {
      listen: raw.imap?.listen ? raw.imap.listen.map(parseListen) : DEFAULT_IMAP_LISTEN.map(defaultListen),
      maxLiteralBytes:
        raw.imap?.max_literal_size !== undefined
          ? parseSize(raw.imap.max_literal_size)!
          : parseSize(raw.smtp?.max_message_size ?? DEFAULT_MAX_MESSAGE_SIZE)!,
      maxConnectionsPerAddress: raw.imap?.max_connections_per_address ?? DEFAULTS.imapMaxConnectionsPerAddress,
      maxConnections: raw.imap?.max_connections ?? DEFAULTS.imapMaxConnections,
      ...imapTls,
    },
    smtp: {
      listen: raw.smtp?.listen ? raw.smtp.listen.map(parseListen) : DEFAULT_SMTP_LISTEN.map(defaultListen),
      maxMessageBytes: raw.smtp?.max_message_size !== undefined ? parseSize(raw.smtp.max_message_size)! : DEFAULT_MAX_MESSAGE_SIZE,
      ...smtpTls,
    },
    pop3: {
      listen: raw.pop3?.listen ? raw.pop3.listen.map(parseListen) : DEFAULT_POP3_LISTEN.map(defaultListen),
      maxConnectionsPerAddress: raw.pop3?.max_connections_per_address ?? DEFAULTS.pop3MaxConnectionsPerAddress,
      maxConnections: raw.pop3?.max_connections ?? DEFAULTS.pop3MaxConnections,
      ...pop3Tls,
    },
    status: { listen: (raw.status?.listen ?? []).map(parseListen) },
    ...(backupEveryMs !== undefined
      ? {
          backup: {
            everyMs: backupEveryMs,
            keep: raw.backup?.keep ?? 7,
            dir: raw.backup?.dir ? path.resolve(baseDir, raw.backup.dir) : path.join(dataDir, 'backups'),
          },
        }
      : {}),
    ...(raw.allowed_networks ? { allowedNetworks: raw.allowed_networks } : {}),
    accounts,
  };
}

/**
 * A TOML syntax error in words: where it is (line and column), the line itself, and what is wrong with it
 * in terms of what the person typed, not smol-toml's parser states.
 */
export function tomlProblem(err: TomlError, text: string): string {
  const reason = err.message.split('\n')[0].replace(/^Invalid TOML document:\s*/, '');
  const line = text.split(/\r?\n/)[err.line - 1] ?? '';
  const shown = line.trim().length > 0 ? ` (\`${line.trim().slice(0, 80)}\`)` : '';
  let words: string;
  if (/invalid value/.test(reason)) {
    words =
      /=\s*[^"'[{\d\s-]/.test(line) && !/=\s*(true|false)\s*(#.*)?$/.test(line)
        ? 'this value is not valid: text must be in double quotes, like address = "you@hotmail.com"'
        : 'this value is not valid: text goes in double quotes, true and false and numbers without';
  } else if (/unfinished string|control characters are not allowed in strings/.test(reason)) {
    words = 'a text value is missing its closing quote (")';
  } else if (/redefine/.test(reason)) {
    words = /^\s*\[accounts\]/.test(line)
      ? 'this table is already defined above: each account starts with [[accounts]] (two brackets)'
      : 'this key or table is already defined earlier in the file';
  } else if (/end-of-line/.test(reason)) {
    words = 'something follows the value on the same line: one key = value per line (a comment starts with #)';
  } else if (/key/.test(reason) && /^\s*\[/.test(line)) {
    words = 'a [table] name must end with ] on the same line';
  } else {
    words = reason;
  }
  return `line ${err.line}, column ${err.column}${shown}: ${words}`;
}

/** Reads and checks the config file. Throws ConfigError (never a parser stack trace). */
export function loadConfig(file: string): HotbridgeConfig {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file (run `hotbridge setup` to create one)'
        : code === 'EACCES'
          ? 'permission denied'
          : String((err as Error).message);
    throw new ConfigError(absolute, [reason]);
  }
  let document: unknown;
  try {
    document = parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) throw new ConfigError(absolute, [tomlProblem(err, text)]);
    throw new ConfigError(absolute, [String((err as Error).message)]);
  }
  return resolveConfig(document, absolute);
}
