/**
 * CONDSTORE (RFC 7162 §3.1) is switched on by the first command that uses it (ENABLE CONDSTORE or
 * QRESYNC, SELECT (CONDSTORE), FETCH MODSEQ/CHANGEDSINCE, STORE UNCHANGEDSINCE, SEARCH MODSEQ, STATUS
 * HIGHESTMODSEQ). From then on flag updates carry MODSEQ, and a client that switches it on with a
 * mailbox selected learns that mailbox's HIGHESTMODSEQ at once (§3.1).
 */
import type { CommandContext } from './command.js';

export function enableCondstore(ctx: CommandContext): void {
  if (ctx.session.condstore) return;
  ctx.session.enabled.add('CONDSTORE');
  const view = ctx.session.view;
  if (view) ctx.out.untagged(`OK [HIGHESTMODSEQ ${view.reportableModseq()}] Highest`);
}

/**
 * RFC 7162 §3.2.7, §3.2.9: once QRESYNC is on, EXPUNGE and UID EXPUNGE that removed something end
 * with the mailbox's new HIGHESTMODSEQ in the tagged OK (MOVE too, as Dovecot does: it expunges). The
 * value is taken after the VANISHED responses went out, so it never runs ahead of what was reported.
 * Not CLOSE (§3.2.8): the client would lose the changes it is no longer told about.
 */
export function highestModseqAfterExpunge(ctx: CommandContext, removedAny: boolean): { codeAfterSync?: () => string | undefined } {
  const view = ctx.session.view;
  if (!removedAny || !view || !ctx.session.enabled.has('QRESYNC')) return {};
  return { codeAfterSync: () => `HIGHESTMODSEQ ${view.reportableModseq()}` };
}
