/**
 * A command that fails: the `-ERR` line, with an RFC 2449 §8 / RFC 3206 response code where one applies
 * ([AUTH] for credentials that are wrong, [SYS/TEMP] for a failure on our side worth retrying,
 * [SYS/PERM] for one that is not, [IN-USE] never: sessions share the maildrop, see session.ts).
 */
export type Pop3Code = 'AUTH' | 'SYS/TEMP' | 'SYS/PERM' | 'IN-USE' | 'LOGIN-DELAY';

export class Pop3Error extends Error {
  constructor(
    readonly text: string,
    readonly code?: Pop3Code,
  ) {
    super(text);
    this.name = 'Pop3Error';
  }
}

/** The status line for an error (RFC 2449 §8: the code in brackets right after "-ERR"). */
export function errLine(error: Pop3Error): string {
  return `-ERR ${error.code ? `[${error.code}] ` : ''}${error.text}\r\n`;
}
