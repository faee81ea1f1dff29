/**
 * CHECK (RFC 3501 §6.4.1): a checkpoint. Every store change is already durable when it is
 * acknowledged, so there is nothing to do but report pending updates.
 *
 *   C: FXXZ CHECK
 *   S: FXXZ OK CHECK Completed
 */
import { defineCommand, noArguments, SELECTED } from '../command.js';

export default defineCommand({
  name: 'CHECK',
  states: SELECTED,
  parse: noArguments,
  async run() {},
});
