/**
 * Key codecs. Numbers are zero-padded to fixed width so LevelDB's byte order is numeric order; the
 * account and the UIDL are separated by NUL, which neither may contain.
 */

const pad10 = (n: number): string => n.toString().padStart(10, '0');

export const mailboxKey = (id: number): string => pad10(id);

export const messageKey = (mailboxId: number, uid: number): string => `${pad10(mailboxId)}!${pad10(uid)}`;
export const messageRange = (mailboxId: number): { gt: string; lt: string } => ({
  gt: `${pad10(mailboxId)}!`,
  lt: `${pad10(mailboxId)}!~`,
});
export const uidFromMessageKey = (key: string): number => Number(key.slice(11));

export const pop3Key = (account: string, uidl: string): string => `${account}\u0000${uidl}`;
export const pop3Range = (account: string): { gt: string; lt: string } => ({ gt: `${account}\u0000`, lt: `${account}\u0001` });
export const uidlFromPop3Key = (key: string): string => key.slice(key.indexOf('\u0000') + 1);

export const subscriptionKey = (account: string, name: string): string => `${account}\u0000${name}`;
export const subscriptionRange = pop3Range;

// The expunge history (QRESYNC, RFC 7162 §3.2.5): mailbox id + the mod-sequence of the expunge.
// Mod-sequences reach 2^53 at most (JavaScript numbers), 16 digits.
const pad16 = (n: number): string => n.toString().padStart(16, '0');
export const vanishedKey = (mailboxId: number, modseq: number): string => `${pad10(mailboxId)}!${pad16(modseq)}`;
export const vanishedRange = messageRange;
export const modseqFromVanishedKey = (key: string): number => Number(key.slice(11));
