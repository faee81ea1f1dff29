/**
 * The one door between the IMAP server and the store: the store's `ImapStore` interface, written by the
 * store in its own words (src/store/doors.ts). The server never touches LevelDB, and the store never
 * speaks IMAP: this server turns store error codes into RFC 5530 response codes (errors.ts) and filters
 * its own changes out of the change feed (session-view.ts).
 */
export type { ImapStore as MailStore } from '../../store/index.js';
