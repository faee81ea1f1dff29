/**
 * A failed store operation, in the store's own words; each server turns the code into its protocol's
 * answer (the IMAP server into RFC 5530 response codes, downstream/imap/errors.ts).
 */
export type StoreErrorCode =
  /** The mailbox, message or blob named does not exist. */
  | 'not-found'
  /** A mailbox of that name exists already. */
  | 'exists'
  /** The change would break one of the store's rules (INBOX cannot be deleted). */
  | 'not-allowed'
  /** The change would go over a limit (keywords, keyword-limits.ts); nothing was written. */
  | 'limit'
  /** The data dir is open elsewhere (another hotbridge, or already in this process). */
  | 'in-use'
  /** The store is closed (shutting down). */
  | 'closed';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode | StoreFaultCode,
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
