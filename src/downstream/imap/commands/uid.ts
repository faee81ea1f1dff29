/**
 * UID (RFC 3501 §6.4.8): COPY, FETCH, SEARCH and STORE (and EXPUNGE from UIDPLUS, MOVE from RFC 6851)
 * addressed by UID instead of sequence number. The dispatcher reads the word after UID and runs the
 * command module with `uid` set; these are the commands that have a UID form.
 *
 *   C: A999 UID FETCH 4827313:4828442 FLAGS
 *   S: * 23 FETCH (UID 4827313 FLAGS (\Seen))
 *   S: * 24 FETCH (UID 4827943 FLAGS (\Seen))
 *   S: * 25 FETCH (UID 4828442 FLAGS (\Seen))
 *   S: A999 OK UID FETCH completed
 */
export const UID_COMMANDS = ['COPY', 'FETCH', 'SEARCH', 'STORE', 'EXPUNGE', 'MOVE'] as const;
