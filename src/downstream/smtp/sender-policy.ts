/**
 * Which envelope senders (MAIL FROM) a logged-in account may use. The provider refuses any other
 * sender after the whole message was sent (Outlook.com: "554 5.2.252 SendAsDenied"), so such a message
 * could only bounce; refusing it at MAIL FROM tells the user at once, in their client.
 */
import type { AccountConfig } from '../../config/types.js';

/** The addresses `account` may send as: its own and its `send_as` list, lowercased. */
export function allowedSenders(account: AccountConfig): string[] {
  return [account.address.toLowerCase(), ...account.sendAs.map((address) => address.toLowerCase())];
}

/**
 * Undefined when `sender` is allowed for the logged-in `login`, otherwise the reason, worded for the
 * user of a mail client (it is shown in the client's error dialog).
 */
export function senderRefusal(sender: string, login: string, accounts: readonly AccountConfig[]): string | undefined {
  const account = accounts.find((candidate) => candidate.address.toLowerCase() === login.toLowerCase());
  if (!account) return `the account ${login} is no longer configured`;
  if (sender === '') return `a message from ${login} needs a sender address (MAIL FROM:<> is for bounces)`;
  // Local parts are case-sensitive in theory (RFC 5321 §2.4) but no provider treats them so.
  if (allowedSenders(account).includes(sender.toLowerCase())) return undefined;
  const allowed = allowedSenders(account).join(', ');
  return `sender <${sender}> is not allowed for ${login}: use ${allowed} (or add it to send_as in the config if the provider lets you send as it)`;
}
