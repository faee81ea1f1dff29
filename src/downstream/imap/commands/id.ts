/**
 * ID (RFC 2971): the client says who it is (logged for diagnosis), the server answers in kind.
 *
 *   C: a023 ID ("name" "sodr" "version" "19.34")
 *   S: * ID ("name" "hotbridge" "vendor" "hotbridge")
 *   S: a023 OK ID completed
 */
import { ANY_STATE, defineCommand } from '../command.js';
import { ImapError } from '../errors.js';

// RFC 2971 §3.3: at most 30 pairs, field names up to 30 octets, values up to 1024.
const MAX_PAIRS = 30;

export default defineCommand({
  name: 'ID',
  states: ANY_STATE,
  parse(args) {
    args.space();
    const fields: Record<string, string | null> = {};
    if (args.acceptWord('NIL')) {
      args.end();
      return fields;
    }
    const items = args.list(() => args.nstring('an ID field or value'), 'NIL or a list of ID fields');
    args.end();
    if (items.length % 2 !== 0) throw ImapError.bad('ID fields and values must come in pairs');
    if (items.length / 2 > MAX_PAIRS) throw ImapError.bad(`At most ${MAX_PAIRS} ID fields are allowed`);
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i];
      const value = items[i + 1];
      if (key === null || key.length > 30) throw ImapError.bad('ID field names must be strings of at most 30 octets');
      if (value !== null && value.length > 1024) throw ImapError.bad('ID values must be at most 1024 octets');
      fields[key.toString('utf8').toLowerCase()] = value === null ? null : value.toString('utf8');
    }
    return fields;
  },
  async run(ctx, fields) {
    if (Object.keys(fields).length > 0) ctx.server.logger.info({ client: fields, remote: ctx.session.remoteAddress }, 'IMAP client ID');
    ctx.out.untagged('ID ("name" "hotbridge" "vendor" "hotbridge")');
  },
});
