/** A failed store operation the caller can explain to a client (IMAP NO, SMTP 4xx). */
export class StoreError extends Error {
  constructor(
    readonly code: 'NONEXISTENT' | 'ALREADYEXISTS' | 'CANNOT' | 'INUSE' | 'CLOSED',
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
