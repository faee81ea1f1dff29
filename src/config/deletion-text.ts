/**
 * What "keep a copy at the provider" means, in the words set-up, the README, docs/config.md and the config
 * comments all use, derived from the defaults the loader applies (DELETION_DEFAULTS), so that no text can
 * promise what the code does not do. test/unit/deletion-text.test.ts reads every one of those texts.
 *
 * The old guide warned that with a copy left on the server you would have to remove mail at both ends; true of Outlook Express, and true
 * here only with delete_on_expunge = true, which is not the default.
 */
import { DELETION_DEFAULTS } from './load.js';

export interface DeletionWords {
  /** leave_on_server = true. */
  keep: string;
  /** leave_on_server = false. */
  move: string;
  /** delete_on_server_after, which is off unless set. */
  ageLimit: string;
}

/** The sentences for a provider named `where` ("Outlook.com", or "the provider" in the docs). */
export function deletionWords(where: string, defaults: typeof DELETION_DEFAULTS = DELETION_DEFAULTS): DeletionWords {
  const possessive = `${where}'s`;
  const deleting = defaults.deleteOnExpunge
    ? `deleting a message here deletes ${possessive} copy too`
    : `deleting a message here leaves ${possessive} copy (delete_on_expunge = true deletes both)`;
  return {
    keep: `Yes: a copy stays at ${where}, so webmail and your phone still show it; ${deleting}.`,
    move: `No: the mail moves to this computer; ${where} deletes its copy once the mail is safely stored here.`,
    ageLimit: `delete_on_server_after (off unless set) deletes ${possessive} copies older than the age you give, so they disappear from webmail and your phone too; the copy here stays.`,
  };
}

/** The comment beside `leave_on_server` in a config set-up writes. */
export function leaveOnServerComment(leave: boolean): string {
  return leave ? `# ${deletionWords('the provider').keep}` : `# ${deletionWords('the provider').move}`;
}
