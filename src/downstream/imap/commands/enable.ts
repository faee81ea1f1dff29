/**
 * ENABLE (RFC 5161): switches on extensions that change how the server talks. CONDSTORE (RFC 7162
 * §3.1) and QRESYNC (§3.2.3: implies CONDSTORE, and from then on expunges are reported as VANISHED)
 * are known; other names are ignored, as the RFC asks. The ENABLED response names what this command
 * switched on that was not on before.
 *
 *   C: t2 ENABLE CONDSTORE X-GOOD-IDEA
 *   S: * ENABLED CONDSTORE
 *   S: t2 OK ENABLE completed
 *   C: t3 ENABLE QRESYNC
 *   S: * ENABLED QRESYNC
 *   S: t3 OK ENABLE completed
 */
import { AUTHENTICATED, defineCommand } from '../command.js';
import { enableCondstore } from '../condstore.js';
import type { EnabledExtension } from '../session.js';

const KNOWN: readonly EnabledExtension[] = ['CONDSTORE', 'QRESYNC'];

export default defineCommand({
  name: 'ENABLE',
  states: AUTHENTICATED,
  parse(args) {
    const names: string[] = [];
    args.space();
    do names.push(args.atom('a capability name').toUpperCase());
    while (args.acceptSpace());
    args.end();
    return names;
  },
  async run(ctx, names) {
    const { session } = ctx;
    const newly: EnabledExtension[] = [];
    for (const name of names) {
      const known = KNOWN.find((extension) => extension === name);
      if (!known || session.enabled.has(known) || newly.includes(known)) continue;
      newly.push(known);
    }
    if (newly.length > 0) {
      enableCondstore(ctx);
      for (const extension of newly) session.enabled.add(extension);
    }
    ctx.out.untagged(newly.length > 0 ? `ENABLED ${newly.join(' ')}` : 'ENABLED');
  },
});
