/**
 * Message flags as the store keeps them (RFC 3501 §2.3.2): the system flags in their canonical spelling,
 * keywords as the client wrote them, each once (flags compare case-insensitively), never \Recent (it is
 * per session, not stored).
 */

/** The system flags every mailbox supports, in the order clients are used to seeing them. */
export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'] as const;

const CANONICAL = new Map<string, string>(SYSTEM_FLAGS.map((flag) => [flag.toLowerCase(), flag]));

/** The canonical spelling of a system flag (`\seen` -> `\Seen`), or undefined for anything else. */
export function canonicalSystemFlag(flag: string): string | undefined {
  return CANONICAL.get(flag.toLowerCase());
}

/** Whether a flag is a keyword (not a system flag). */
export function isKeyword(flag: string): boolean {
  return !flag.startsWith('\\');
}

/** System flags get their canonical case; keywords keep theirs; duplicates and \Recent go. */
export function normalizeFlags(flags: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const flag of flags) {
    const lower = flag.toLowerCase();
    if (lower === '\\recent') continue;
    const canonical = CANONICAL.get(lower) ?? flag;
    if (seen.has(canonical.toLowerCase())) continue;
    seen.add(canonical.toLowerCase());
    out.push(canonical);
  }
  return out;
}

/** How a STORE changes a flag list: replace it, add to it, or remove from it. */
export type FlagChange = 'set' | 'add' | 'remove';

/** The flag list after a change (flags already normalized). */
export function applyFlags(current: readonly string[], mode: FlagChange, flags: readonly string[]): string[] {
  if (mode === 'set') return [...flags];
  const lower = new Set(flags.map((flag) => flag.toLowerCase()));
  if (mode === 'remove') return current.filter((flag) => !lower.has(flag.toLowerCase()));
  const existing = new Set(current.map((flag) => flag.toLowerCase()));
  return [...current, ...flags.filter((flag) => !existing.has(flag.toLowerCase()))];
}

/** Whether two flag lists hold the same flags, in any order. */
export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a.map((flag) => flag.toLowerCase()));
  return b.every((flag) => set.has(flag.toLowerCase()));
}
