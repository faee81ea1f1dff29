/**
 * NAMESPACE (RFC 2342): one personal namespace with no prefix and "/" as the hierarchy delimiter;
 * no other users' or shared namespaces.
 *
 *   C: A001 NAMESPACE
 *   S: * NAMESPACE (("" "/")) NIL NIL
 *   S: A001 OK NAMESPACE completed
 */
import { AUTHENTICATED, defineCommand, noArguments } from '../command.js';

export default defineCommand({
  name: 'NAMESPACE',
  states: AUTHENTICATED,
  parse: noArguments,
  async run(ctx) {
    ctx.out.untagged('NAMESPACE (("" "/")) NIL NIL');
  },
});
