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
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
