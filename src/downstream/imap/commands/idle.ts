/**
 * IDLE (RFC 2177): the client waits, and the server sends mailbox updates (new mail from the poller,
 * other sessions' expunges and flag changes) the moment they happen, until the client says DONE.
 * An IDLE longer than 29 minutes is ended with BYE (RFC 2177 §3 asks clients to re-issue IDLE before
 * 29 minutes; a client that does not is gone).
 *
 *   C: A002 IDLE
 *   S: + idling
 *   S: * 4 EXISTS
 *   C: DONE
 *   S: A002 OK IDLE terminated
 */
import { AUTHENTICATED, defineCommand, noArguments } from '../command.js';
import { ImapError } from '../errors.js';

/** How long one IDLE may last without DONE. */
export const IDLE_LIMIT_MS = 29 * 60_000;

export default defineCommand({
  name: 'IDLE',
  states: AUTHENTICATED,
  parse: noArguments,
  async run(ctx) {
    const view = ctx.session.view;
    ctx.sendContinuation('idling');
    let pushing: Promise<void> = Promise.resolve();
    const push = () => {
      pushing = pushing.then(() => ctx.syncNow()).catch((err: unknown) => ctx.server.logger.warn({ err }, 'IDLE update failed'));
    };
    // Anything that happened between the last command and now goes out at once.
    push();
    view?.onPending(push);
    let reply;
    try {
      reply = await ctx.readLine(IDLE_LIMIT_MS);
    } finally {
      view?.onPending(undefined);
      await pushing;
    }
    if ('timeout' in reply) {
      ctx.closeWithBye('IDLE for more than 29 minutes, closing the connection');
      return;
    }
    if ('closed' in reply) return;
    if ('tooLong' in reply || reply.line.toString('latin1').trim().toUpperCase() !== 'DONE') {
      throw ImapError.bad('Expected DONE to end IDLE');
    }
    return { text: 'IDLE terminated' };
  },
});
