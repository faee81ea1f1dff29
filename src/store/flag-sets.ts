/**
 * One shared array per distinct flag list of the in-memory message lists. A mailbox holds few distinct
 * lists (none, \Seen, \Seen \Answered ...), so 100,000 messages share a handful of arrays instead of
 * holding 100,000 (about 5 MB of a 100,000-message mailbox, bench/imap.bench.ts). Flag lists are never
 * changed in place (flags.ts returns new arrays), which is what makes sharing them safe.
 */

/** Past this many distinct lists new ones are kept as they come: interning then saves little. */
const MAX_SETS = 4096;

export class FlagSets {
  private readonly sets = new Map<string, string[]>();

  /** The shared array holding these flags in this order (or `flags` itself when the table is full). */
  intern(flags: string[]): string[] {
    if (flags.length === 0) return EMPTY;
    // \x00 cannot occur in a flag (RFC 3501 §9: atom characters), so the key is unambiguous.
    const key = flags.length === 1 ? flags[0] : flags.join('\x00');
    const shared = this.sets.get(key);
    if (shared) return shared;
    if (this.sets.size < MAX_SETS) this.sets.set(key, flags);
    return flags;
  }
}

/** The empty flag list every message without flags shares. */
const EMPTY: string[] = [];
