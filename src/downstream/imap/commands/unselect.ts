/**
 * UNSELECT (RFC 3691): CLOSE without expunging.
 *
 *   C: A342 UNSELECT
 *   S: A342 OK UNSELECT completed
 */
import { defineCommand, noArguments, SELECTED } from '../command.js';

export default defineCommand({
  name: 'UNSELECT',
  states: SELECTED,
  parse: noArguments,
  async run(ctx) {
    ctx.session.deselect();
  },
});
