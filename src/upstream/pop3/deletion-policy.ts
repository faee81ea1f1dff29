/**
 * Which upstream copies a POP3 session deletes, decided from the account's settings and the UIDL ledger.
 *
 * A message is deleted only when it is in the ledger, i.e. its ingest batch is durable (ARCHITECTURE.md,
 * invariant 1): a message the store does not hold is never a candidate, whatever the settings say.
 * DELE only marks a message; the server removes it when QUIT enters the UPDATE state (RFC 1939 §6), so
 * the caller records `deletedUpstreamAt` only after QUIT's `+OK`.
 */
import type { Pop3LedgerEntry, UidlLedgerView } from '../../store/index.js';

export interface DeletionRules {
  /** false: delete every message once it is stored ("leave a copy on the server" off). */
  leaveOnServer: boolean;
  /** With leaveOnServer: delete copies fetched at least this long ago. */
  deleteOnServerAfterMs?: number;
  /** Delete the upstream copy once the user expunged the local one over IMAP. */
  deleteOnExpunge: boolean;
}

/** One line of a UIDL listing (RFC 1939 §7): the session's message number and the message's unique id. */
export interface ListedMessage {
  msg: number;
  uidl: string;
}

export type DeletionReason = 'stored' | 'older-than-limit' | 'expunged-locally';

export interface Deletion extends ListedMessage {
  reason: DeletionReason;
}

/**
 * The messages of this session's listing to DELE. A UIDL the server lists more than once breaks RFC 1939 §7
 * ("unique-id ... unique within a maildrop"); we cannot tell which copy we stored, so such messages stay.
 */
export function chooseDeletions(
  listing: readonly ListedMessage[],
  ledger: Pick<UidlLedgerView, 'get'>,
  rules: DeletionRules,
  now: number,
): Deletion[] {
  const ambiguous = duplicateUidls(listing);
  const deletions: Deletion[] = [];
  for (const { msg, uidl } of listing) {
    const entry = ledger.get(uidl);
    if (entry === undefined || ambiguous.has(uidl)) continue;
    const reason = deletionReason(entry, rules, now);
    if (reason !== undefined) deletions.push({ msg, uidl, reason });
  }
  return deletions;
}

function deletionReason(entry: Readonly<Pop3LedgerEntry>, rules: DeletionRules, now: number): DeletionReason | undefined {
  if (!rules.leaveOnServer) return 'stored';
  if (rules.deleteOnServerAfterMs !== undefined && now - entry.fetchedAt >= rules.deleteOnServerAfterMs) return 'older-than-limit';
  if (rules.deleteOnExpunge && entry.expungedLocallyAt !== undefined) return 'expunged-locally';
  return undefined;
}

/**
 * Ledger UIDLs that can be forgotten: we deleted them upstream (QUIT confirmed it) and the server no longer
 * lists them. Any other entry stays, so a message the server still has — or shows again — is never fetched twice.
 */
export function uidlsToForget(listing: readonly ListedMessage[], ledger: Pick<UidlLedgerView, 'deletedUpstream'>): string[] {
  const listed = new Set(listing.map((entry) => entry.uidl));
  return ledger.deletedUpstream().filter((uidl) => !listed.has(uidl));
}

/** UIDLs that appear more than once in a listing. */
export function duplicateUidls(listing: readonly ListedMessage[]): Set<string> {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const { uidl } of listing) {
    if (seen.has(uidl)) duplicates.add(uidl);
    seen.add(uidl);
  }
  return duplicates;
}
