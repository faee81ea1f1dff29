/**
 * What the POP3 poller and the SMTP relay log in upstream with: a password, or an OAuth2 access token
 * for XOAUTH2. The source hides where it comes from (a password file, the token store with its refresh).
 */
import fs from 'node:fs';
import path from 'node:path';

export type UpstreamLogin = { kind: 'password'; user: string; password: string } | { kind: 'xoauth2'; user: string; accessToken: string };

/** Why credentials cannot be had; `signin-needed` waits for the user (`hotbridge login`). */
export class CredentialError extends Error {
  constructor(
    readonly reason: 'signin-needed' | 'no-password' | 'temporary',
    message: string,
  ) {
    super(message);
    this.name = 'CredentialError';
  }
}

export interface CredentialSource {
  /** Credentials for the next login. OAuth2 sources refresh ahead of expiry. */
  get(): Promise<UpstreamLogin>;
  /** The provider refused what `get()` returned; an OAuth2 source refreshes before the next `get()`. */
  rejected(): void;
}

/**
 * Where a password file is read from. Under the system service (systemd/hotbridge.service) the file stays
 * root-only and systemd hands the service a copy named after it in $CREDENTIALS_DIRECTORY (LoadCredential=).
 */
export function secretFilePath(file: string): string {
  const dir = process.env.CREDENTIALS_DIRECTORY;
  if (dir) {
    const credential = path.join(dir, path.basename(file));
    if (fs.existsSync(credential)) return credential;
  }
  return file;
}

/** Password login; the password is read from `password_file` at each login (it may be rotated). */
export class PasswordFileSource implements CredentialSource {
  constructor(
    private readonly user: string,
    private readonly passwordFile: string | undefined,
  ) {}

  async get(): Promise<UpstreamLogin> {
    if (!this.passwordFile) {
      throw new CredentialError('no-password', `no upstream password: set accounts.auth.password_file for ${this.user}`);
    }
    let text: string;
    try {
      text = await fs.promises.readFile(secretFilePath(this.passwordFile), 'utf8');
    } catch (err) {
      throw new CredentialError(
        'no-password',
        `cannot read the password file ${this.passwordFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    // One line; a trailing newline from `echo` is not part of the password.
    const password = text.replace(/\r?\n$/, '');
    if (password === '') throw new CredentialError('no-password', `the password file ${this.passwordFile} is empty`);
    return { kind: 'password', user: this.user, password };
  }

  rejected(): void {
    // Nothing to refresh: the next get() re-reads the file, which the user may have fixed.
  }
}

/** XOAUTH2 initial response (Microsoft's form): base64 of `user=ADDRESS^Aauth=Bearer TOKEN^A^A`. */
export function xoauth2Payload(user: string, accessToken: string): string {
  return Buffer.from(`user=${user}\u0001auth=Bearer ${accessToken}\u0001\u0001`).toString('base64');
}
