/** Flag lists as IMAP shows them (RFC 3501 §2.3.2). */

/** The system flags every mailbox supports, in the order clients are used to seeing them. */
export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'] as const;

/** `(\Seen $Label)` with `\Recent` added when the message is recent in this session. */
export function formatFlags(flags: readonly string[], recent: boolean): string {
  if (!recent) return `(${flags.join(' ')})`;
  return flags.length === 0 ? '(\\Recent)' : `(${flags.join(' ')} \\Recent)`;
}

/** Whether a flag list holds a flag (flags compare case-insensitively). */
export function hasFlag(flags: readonly string[], flag: string): boolean {
  const lower = flag.toLowerCase();
  for (const f of flags) if (f.toLowerCase() === lower) return true;
  return false;
}

/** Whether a flag is a keyword (not a system flag). */
export function isKeyword(flag: string): boolean {
  return !flag.startsWith('\\');
}
