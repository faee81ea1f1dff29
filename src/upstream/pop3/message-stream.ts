/**
 * Pipelined multi-line answers (RETR, TOP) for the POP3 client: each body streamed into its own sink, handed
 * over in the order asked once it is known to be complete (RequestOptions.verifyEnd in connection.ts, and for
 * RETR the `UIDL n` that follows it, see {@link streamAnswers}).
 */
import type { Pop3Connection, RequestOptions, ResponseSink } from './connection.js';
import { Pop3Error, TRUNCATED } from './errors.js';
import type { Pop3Response } from './reader.js';
import { commandLine } from './command-line.js';

/** What retrStream reports for each message once it is complete. */
export interface StreamedMessage {
  msg: number;
  /** Octets the sink received (dot-unstuffing undone). */
  size: number;
}

/** What streamAnswers needs of the client. */
export interface StreamContext {
  connection: Pop3Connection;
  /** Commands the server takes at once: its PIPELINING window, or 1. */
  window: number;
  /** Largest body (max message size). */
  limit: number;
  /** Sends a multi-line command, `-ERR` turned into a Pop3Error. */
  command(label: string, line: string, options: RequestOptions): Promise<Pop3Response>;
}

/** A sink that keeps everything, for the Buffer-returning calls (small messages, tests). */
export class CollectingSink implements ResponseSink {
  private parts: Buffer[] = [];
  write(parts: readonly Buffer[], bytes: number): void {
    this.parts.push(Buffer.concat(parts, bytes));
  }
  backlog(): undefined {
    return undefined;
  }
  bytes(): Buffer {
    return this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
  }
}

/**
 * Sends `commands` (message number, command line), at most the server's window (plus the one whose answer
 * completes the last) at a time, and calls `onMessage` for each in order once its body is complete. With
 * `uidlOf`, each command is followed by `UIDL n` whose answer must name that message; otherwise a NOOP after
 * the last gives the status line that completes it. The first failure rejects.
 */
export async function streamAnswers(
  ctx: StreamContext,
  label: string,
  commands: Array<[number, string]>,
  sinkFor: (msg: number) => ResponseSink,
  onMessage: (message: StreamedMessage) => Promise<void> | void,
  uidlOf?: (msg: number) => string | undefined,
): Promise<void> {
  if (commands.length === 0) return;
  const window = ctx.window + 1;
  type Outcome = { size: number } | { error: unknown };
  // Each command settles into an Outcome so that none is left rejected and unobserved when we stop early.
  const outstanding: Array<Promise<Outcome>> = [];
  let next = 0;
  let closing: Promise<unknown> | undefined;
  const sendNext = (): void => {
    const [msg, line] = commands[next++];
    const answer = ctx.command(label, line, { limit: ctx.limit, sink: sinkFor(msg), verifyEnd: true });
    const uidl = uidlOf?.(msg);
    const complete = uidl === undefined ? answer : Promise.all([answer, confirmUidl(ctx.connection, msg, uidl)]).then(([reply]) => reply);
    outstanding.push(
      complete.then(
        (reply) => ({ size: reply.size ?? 0 }),
        (error: unknown) => ({ error }),
      ),
    );
    if (next === commands.length && uidl === undefined) {
      // The last answer is complete once the next status line arrives: NOOP's, whatever it says.
      closing = ctx.connection.request('NOOP', commandLine('NOOP'), 'single').catch(() => undefined);
    }
  };
  try {
    while (next < commands.length && outstanding.length < window) sendNext();
    for (let i = 0; i < commands.length; i++) {
      const outcome = await outstanding.shift()!;
      if ('error' in outcome) throw outcome.error;
      if (next < commands.length) sendNext();
      await onMessage({ msg: commands[i][0], size: outcome.size });
    }
  } finally {
    // Settles quickly: answered, or rejected by the failure that stopped us (the caller then closes).
    if (closing !== undefined && !ctx.connection.isOpen) await closing;
  }
}

/**
 * `UIDL n` after a RETR: its answer ("+OK n uidl", RFC 1939 §7) must name the message we asked for. Anything
 * else means the answers no longer line up with our commands (the message before was cut short and its rest
 * taken for answers): the connection is closed and the RETR fails with code TRUNCATED.
 */
async function confirmUidl(connection: Pop3Connection, msg: number, uidl: string): Promise<void> {
  const reply = await connection.request('UIDL', commandLine(`UIDL ${msg}`), 'single');
  const words = reply.text.trim().split(/\s+/);
  if (reply.status === 'ok' && words[0] === String(msg) && words[1] === uidl) return;
  const error = new Pop3Error(
    'protocol',
    `the answer to RETR ${msg} ended early: the UIDL answer after it was ${JSON.stringify(reply.text.slice(0, 60))}, not "${msg} ${uidl}", ` +
      'so the server did not dot-stuff a line holding only "." (RFC 1939 §3) and the message was cut short',
    { code: TRUNCATED },
  );
  connection.close(error);
  throw error;
}
