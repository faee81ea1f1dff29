/** Modified UTF-7 mailbox names (RFC 3501 §5.1.3) live in src/mime/mutf7.ts: export and import need them too. */
export { decodeMailboxName, encodeMailboxName } from '../../../mime/mutf7.js';
