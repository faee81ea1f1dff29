/**
 * IDLE (RFC 2177): the client waits, and the server sends mailbox updates (new mail from the poller,
 * other sessions' expunges and flag changes) the moment they happen, until the client says DONE.
 *
 * While idling the server says `* OK Still here` every couple of minutes (as Dovecot does), so NAT
 * boxes and firewalls that drop silent connections keep this one. RFC 2177 §3 lets a server log out a
 * client that idles for more than 30 minutes and asks clients to re-issue IDLE before 29; one that
 * has not said DONE by then is ended with BYE, which every client treats as "reconnect" (a tagged OK
 * nobody asked for would leave the client's later DONE to be read as a broken command). Anything but
 * DONE ends the IDLE with BAD and is otherwise dropped; the commands after it are answered as usual.
 * An idle session costs no CPU: it waits on its socket, the change feed and two timers.
 *
 *   C: A002 IDLE
 *   S: + idling
 *   S: * 4 EXISTS
 *   S: * OK Still here
 *   C: DONE
 *   S: A002 OK IDLE terminated
 */
import { AUTHENTICATED, defineCommand, noArguments } from '../command.js';
import { ImapError } from '../errors.js';

export default defineCommand({
  name: 'IDLE',
  states: AUTHENTICATED,
  parse: noArguments,
  async run(ctx) {
    const { keepaliveMs, limitMs } = ctx.server.idle;
    const view = ctx.session.view;
    ctx.sendContinuation('idling');
    let pushing: Promise<void> = Promise.resolve();
    const push = () => {
      pushing = pushing.then(() => ctx.syncNow()).catch((err: unknown) => ctx.server.logger.warn({ err }, 'IDLE update failed'));
    };
    // Anything that happened between the last command and now goes out at once.
    push();
    view?.onPending(push);
    const keepalive = setInterval(() => {
      // Queued behind any update being written, so it never lands inside one.
      pushing = pushing
        .then(() => {
          ctx.out.untagged('OK Still here');
          ctx.out.flush();
        })
        .catch((err: unknown) => ctx.server.logger.warn({ err }, 'IDLE keep-alive failed'));
    }, keepaliveMs);
    let reply;
    try {
      reply = await ctx.readLine(limitMs);
    } finally {
      clearInterval(keepalive);
      view?.onPending(undefined);
      await pushing;
    }
    if ('timeout' in reply) {
      ctx.closeWithBye(`IDLE for longer than ${describeDuration(limitMs)} without DONE, closing the connection`);
      return;
    }
    if ('closed' in reply) return;
    if ('tooLong' in reply) throw ImapError.bad('Expected DONE to end IDLE (got an over-long line)');
    if (reply.line.toString('latin1').trim().toUpperCase() !== 'DONE') throw ImapError.bad('Expected DONE to end IDLE');
    return { text: 'IDLE terminated' };
  },
});

/** "29 minutes", or "1500 ms" for the short limits of tests. */
function describeDuration(ms: number): string {
  return ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000} minutes` : `${ms} ms`;
}
