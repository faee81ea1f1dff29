/**
 * CONDSTORE (RFC 7162 §3.1) is switched on by the first command that uses it (ENABLE, SELECT
 * (CONDSTORE), FETCH MODSEQ/CHANGEDSINCE, STORE UNCHANGEDSINCE, SEARCH MODSEQ, STATUS HIGHESTMODSEQ).
 * From then on flag updates carry MODSEQ, and a client that switches it on with a mailbox selected
 * learns that mailbox's HIGHESTMODSEQ at once (§3.1.2.1).
 */
import type { CommandContext } from './command.js';

export function enableCondstore(ctx: CommandContext): void {
  if (ctx.session.enabled.has('CONDSTORE')) return;
  ctx.session.enabled.add('CONDSTORE');
  const view = ctx.session.view;
  if (view) ctx.out.untagged(`OK [HIGHESTMODSEQ ${view.mailbox.highestModseq}] Highest`);
}
