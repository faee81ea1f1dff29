/**
 * The token file of each OAuth2 account: `<dataDir>/oauth/<address>.json`, mode 0600 in a 0700 directory,
 * replaced atomically (temp file, fsync, rename, directory fsync) so a crash leaves the old or the new
 * tokens, never half of each. Microsoft rotates the refresh token on every refresh and the old one stops
 * working, so losing a write would lose the sign-in. Nothing here logs or throws token values.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../runtime/files.js';

/** What the identity platform gave us for one account. */
export interface TokenSet {
  accessToken: string;
  refreshToken: string;
  /** When the access token stops working, in ms since the epoch (our clock, taken before the request). */
  expiresAt: number;
  /** The scopes granted, space-separated, as the token endpoint reported them. */
  scope?: string;
}

/** A token file that exists but cannot be used; the message names the file, never its content. */
export class TokenFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenFileError';
  }
}

const FILE_VERSION = 1;

/**
 * The file name for an address: the address itself when it is made of harmless characters, otherwise
 * with every other byte written as %XX, so no address can climb out of the directory or hide as a dot file.
 */
export function tokenFileName(address: string): string {
  const lower = address.toLowerCase();
  let name = '';
  for (const byte of Buffer.from(lower, 'utf8')) {
    const ch = String.fromCharCode(byte);
    name += /[a-z0-9@_+-]/.test(ch) || (ch === '.' && name !== '') ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `${name}.json`;
}

function isTokenSet(value: unknown): value is TokenSet {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.accessToken === 'string' &&
    typeof v.refreshToken === 'string' &&
    v.refreshToken !== '' &&
    typeof v.expiresAt === 'number' &&
    Number.isFinite(v.expiresAt) &&
    (v.scope === undefined || typeof v.scope === 'string')
  );
}

/** Reads and writes the token files under one data dir. */
export class TokenStore {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'oauth');
  }

  /** Path of the token file for `address` (it may not exist). */
  fileFor(address: string): string {
    return path.join(this.dir, tokenFileName(address));
  }

  /** The saved tokens, or undefined when the account never signed in (or was signed out). */
  load(address: string): TokenSet | undefined {
    const file = this.fileFor(address);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new TokenFileError(`cannot read the token file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new TokenFileError(`the token file ${file} is damaged (not JSON): run hotbridge login ${address}`);
    }
    const tokens = (parsed as { tokens?: unknown } | null)?.tokens;
    if (!isTokenSet(tokens)) {
      throw new TokenFileError(`the token file ${file} is damaged (fields missing): run hotbridge login ${address}`);
    }
    const out: TokenSet = { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: tokens.expiresAt };
    if (tokens.scope !== undefined) out.scope = tokens.scope;
    return out;
  }

  /** Replaces the tokens of `address` durably; returns only once the new file is on disk. */
  save(address: string, tokens: TokenSet): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const record: { version: number; address: string; savedAt: string; tokens: TokenSet } = {
      version: FILE_VERSION,
      address: address.toLowerCase(),
      savedAt: new Date().toISOString(),
      tokens: { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: tokens.expiresAt },
    };
    if (tokens.scope !== undefined) record.tokens.scope = tokens.scope;
    writeFileAtomic(this.fileFor(address), `${JSON.stringify(record, null, 2)}\n`, 0o600);
  }

  /** Forgets the sign-in of `address` (no error when there was none). */
  delete(address: string): void {
    fs.rmSync(this.fileFor(address), { force: true });
  }
}
