/** A failed store operation the caller can explain to a client (IMAP NO, SMTP 4xx). */
export class StoreError extends Error {
  constructor(
    readonly code: 'NONEXISTENT' | 'ALREADYEXISTS' | 'CANNOT' | 'INUSE' | 'CLOSED' | StoreFaultCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

/**
 * What is wrong with the store itself rather than with a request (store-health.ts says it in words):
 * - `no-space`: the disk is full; nothing was written, and writing resumes by itself once there is room
 *   (IMAP NO [OVERQUOTA], SMTP 452 4.3.1, the poller backs off);
 * - `damaged`: LevelDB found damage, or a message's bytes no longer match their hash; `hotbridge repair`;
 * - `unwritable`: the files cannot be written (permissions, a read-only file system);
 * - `unavailable`: the store is being reopened after a failure, or could not be; try again shortly.
 */
export type StoreFaultCode = 'no-space' | 'damaged' | 'unwritable' | 'unavailable';
