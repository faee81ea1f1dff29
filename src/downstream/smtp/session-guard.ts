/**
 * Per-connection rules of the submission server that smtp-server does not have, so that no client can
 * hold the server: a fixed deadline to log in (its idle timeout restarts with every byte, so a client
 * trickling NOOPs would stay for ever), a deadline for the whole session, and room for a new client
 * when all slots are taken: the oldest connection that has not logged in is closed for it, as Dovecot's
 * login processes do, so held anonymous connections can never lock a mail client out. It also counts
 * the connections closed for each reason (status: `listeners.smtp.closed`), including smtp-server's
 * own closes after 10 unrecognised commands or a line over the limit, and keeps the raw line of the
 * command being handled (envelope-policy.ts needs the address as the client wrote it).
 *
 * It uses smtp-server's connection objects (`server.connections`, a connection's `session`, `send`,
 * `_onCommand`, `_parser`, `_createParser`, `_handlerPending`), all in the package's own type
 * declarations; test/integration/smtp-hostile.test.ts pins the behaviour this relies on.
 */
import type { SMTPServer, SMTPServerSession } from 'smtp-server';
import { formatDuration } from '../../config/units.js';

type Connection = SMTPServer['connections'] extends Set<infer C> ? C : never;

export interface SessionDeadlines {
  /** From connect to a successful AUTH (not restarted by activity). */
  loginMs: number;
  /** From connect to the end; a transaction under way (a handler pending) finishes first. */
  sessionMs: number;
}

/** Connections closed since start, by reason. */
export interface ClosedCounts {
  /** Too many unrecognised or unauthenticated commands, a command line over the limit, too many failed logins. */
  closedForErrors: number;
  /** No login within the login deadline. */
  closedForLoginDeadline: number;
  /** The whole session lasted longer than its deadline. */
  closedForSessionDeadline: number;
  /** Idle longer than the idle timeout (after login). */
  closedIdle: number;
  /** Closed, not yet logged in, to make room for a new client. */
  closedForRoom: number;
}

/** Replies of smtp-server's own that close a connection for the client's errors (pinned by the hostile-input tests). */
const LIBRARY_ERROR_CLOSE = /too many unrecognized commands|too many unauthenticated commands|Command line too long/i;
const LIBRARY_IDLE_CLOSE = /Timeout - closing connection/;
/** smtp-server's parser error for an over-long line; the reply gets the limit added. */
const LINE_TOO_LONG = 'Command line too long';

interface Guarded {
  connection: Connection;
  loginTimer?: NodeJS.Timeout;
  sessionTimer?: NodeJS.Timeout;
  /** The raw line of the command being handled. */
  line?: Buffer;
  failedLogins: number;
  /** Aborted when the connection closes: a login check still queued is given up. */
  gone: AbortController;
  /** This guard closed it (and counted it already). */
  closedByGuard: boolean;
}

export class SessionGuard {
  private readonly guarded = new Map<string, Guarded>();
  private readonly counted: ClosedCounts = {
    closedForErrors: 0,
    closedForLoginDeadline: 0,
    closedForSessionDeadline: 0,
    closedIdle: 0,
    closedForRoom: 0,
  };
  /** Sockets accepted whose connection smtp-server has not created yet (it does so on the next turn). */
  private pending = 0;

  constructor(
    private readonly server: SMTPServer,
    private readonly limits: {
      maxClients: number;
      maxLineBytes: number;
      deadlines: SessionDeadlines;
      onClosed?: (reason: keyof ClosedCounts, session: SMTPServerSession) => void;
    },
  ) {
    // Runs after smtp-server's own listener, which creates the connection on the next turn only.
    server.server.on('connection', () => {
      if (this.server.connections.size + this.pending >= this.limits.maxClients) this.makeRoom();
      this.pending += 1;
      setImmediate(() => (this.pending -= 1));
    });
  }

  counts(): ClosedCounts {
    return { ...this.counted };
  }

  /** onConnect: arms the deadlines and the taps for this session (before its greeting). */
  connected(session: SMTPServerSession): void {
    const connection = [...this.server.connections].find((candidate) => candidate.session === session);
    if (!connection) return;
    const guarded: Guarded = { connection, failedLogins: 0, gone: new AbortController(), closedByGuard: false };
    this.guarded.set(session.id, guarded);
    guarded.loginTimer = setTimeout(() => {
      if (!session.user)
        this.close(
          guarded,
          'closedForLoginDeadline',
          `4.4.2 No login within ${formatDuration(this.limits.deadlines.loginMs)} of connecting, closing the connection`,
        );
    }, this.limits.deadlines.loginMs).unref();
    this.armSessionTimer(guarded, this.limits.deadlines.sessionMs);
    const handle = connection._onCommand.bind(connection);
    connection._onCommand = (command, callback) => {
      // MAIL and RCPT reach onMailFrom/onRcptTo within this call; the line (an AUTH continuation may be
      // a password) is not kept past it.
      guarded.line = command;
      try {
        handle(command, callback);
      } finally {
        guarded.line = undefined;
      }
    };
    this.nameLineLimit(connection._parser);
    const createParser = connection._createParser.bind(connection);
    // STARTTLS starts a new parser for the TLS session.
    connection._createParser = () => {
      const parser = createParser();
      this.nameLineLimit(parser);
      return parser;
    };
  }

  /** onClose: forgets the session and counts why it ended. */
  closed(session: SMTPServerSession): void {
    const guarded = this.guarded.get(session.id);
    if (!guarded) return;
    this.guarded.delete(session.id);
    guarded.gone.abort();
    clearTimeout(guarded.loginTimer);
    clearTimeout(guarded.sessionTimer);
    if (guarded.closedByGuard) return;
    const last = session.error ?? '';
    if (!last.startsWith('421')) return;
    if (LIBRARY_ERROR_CLOSE.test(last)) this.count('closedForErrors', session);
    else if (LIBRARY_IDLE_CLOSE.test(last)) this.count('closedIdle', session);
  }

  /** Aborts when the session's connection closes. */
  closedSignal(session: SMTPServerSession): AbortSignal | undefined {
    return this.guarded.get(session.id)?.gone.signal;
  }

  /** The raw line of the command being handled now (MAIL FROM, RCPT TO), if known. */
  currentLine(session: SMTPServerSession): Buffer | undefined {
    return this.guarded.get(session.id)?.line;
  }

  /** Counts a failed login of the session; true when it was one too many and the connection is to close. */
  failedLogin(session: SMTPServerSession, limit: number): boolean {
    const guarded = this.guarded.get(session.id);
    if (!guarded) return false;
    guarded.failedLogins += 1;
    if (guarded.failedLogins < limit) return false;
    // smtp-server closes after it sends the 421 our onAuth answers with.
    guarded.closedByGuard = true;
    this.count('closedForErrors', session);
    return true;
  }

  private armSessionTimer(guarded: Guarded, delay: number): void {
    guarded.sessionTimer = setTimeout(() => {
      // A handler under way (a message being stored, a login being checked) finishes first.
      if (guarded.connection._handlerPending) this.armSessionTimer(guarded, 1000);
      else
        this.close(
          guarded,
          'closedForSessionDeadline',
          `4.4.2 Session longer than ${formatDuration(this.limits.deadlines.sessionMs)}, closing the connection: connect again`,
        );
    }, delay).unref();
  }

  /** Closes the oldest connection that has not logged in (Set order is connect order). */
  private makeRoom(): void {
    for (const connection of this.server.connections) {
      if (connection.session.user) continue;
      const guarded = this.guarded.get(connection.session.id);
      if (guarded) this.close(guarded, 'closedForRoom', '4.7.0 Too many connections: closing the oldest one that has not logged in');
      else {
        // Not greeted yet: nothing to say, just make the room.
        connection.close();
        this.count('closedForRoom', connection.session);
      }
      return;
    }
  }

  private close(guarded: Guarded, reason: keyof ClosedCounts, text: string): void {
    if (guarded.closedByGuard) return;
    guarded.closedByGuard = true;
    this.count(reason, guarded.connection.session);
    // smtp-server closes the connection after any 421 it sends.
    guarded.connection.send(421, text);
  }

  private count(reason: keyof ClosedCounts, session: SMTPServerSession): void {
    this.counted[reason] += 1;
    this.limits.onClosed?.(reason, session);
  }

  /** smtp-server's reply to an over-long line does not say what the limit is: add it. */
  private nameLineLimit(parser: Connection['_parser']): void {
    if (!parser) return;
    parser.prependListener('error', (err: Error) => {
      if (err.message === LINE_TOO_LONG) err.message = `${LINE_TOO_LONG}: the limit is ${this.limits.maxLineBytes} bytes`;
    });
  }
}
