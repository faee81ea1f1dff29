/**
 * One client connection: reads commands with the CommandReader, dispatches them to the command
 * modules one at a time, sends the mailbox updates each command allows, and writes the tagged reply.
 * This is the one place where an `ImapError` becomes a tagged NO/BAD line, and where nothing a client
 * sends can escape as an exception: malformed input gets BAD and the session goes on.
 *
 * Longer than the ~400 lines a module aims for, on purpose: the read loop, IDLE's continuation reads, the
 * deadlines and the error boundary all share the connection's state, and split apart they would pass it
 * back and forth; each command's work is in commands/.
 */
import type net from 'node:net';
import tls from 'node:tls';
import { StoreError } from '../../store/index.js';
import { TimeSlice } from '../../runtime/time-slice.js';
import { capabilityList } from './capabilities.js';
import type { CommandContext, ContinuationReply, ServerContext } from './command.js';
import { findCommand } from './commands/index.js';
import { fromStoreError, ImapError, taggedLine } from './errors.js';
import { SectionSyntaxError } from './fetch/section.js';
import { ResponseOutput } from './output.js';
import { ImapSession, type SessionState } from './session.js';
import { ArgReader, PendingLiteral } from './wire/args.js';
import { CommandReader, type RawCommand, type ReaderEvent } from './wire/reader.js';
import { ProtocolTrace } from '../../runtime/protocol-trace.js';
import { InputWaiter } from '../../runtime/input-waiter.js';

/** RFC 3501 leaves the line length open; 64 KiB is far above any real command and bounds memory. */
export const MAX_LINE_BYTES = 64 * 1024;
/** Unread input above this pauses the socket until the session catches up. */
const PAUSE_ABOVE = 256 * 1024;
/**
 * A client that sends this many BAD or unknown commands in a row is not a mail client having a bad day:
 * it gets BYE and the connection ends (smtp-server closes after 10 unrecognised commands; Dovecot after
 * 20 errors in a row, imap_max_bad_commands' predecessor). Any OK or NO starts the count again.
 */
export const MAX_BAD_COMMANDS_IN_A_ROW = 20;
/**
 * While pipelined commands are being answered, the answers are held back this long at most (see run()):
 * long enough to span commands that wait for the store, short enough that no client notices.
 */
const HOLD_ANSWERS_MS = 5;
/** After BYE, a client that does not close is cut off after this long. */
const CLOSE_GRACE_MS = 5_000;
/**
 * The largest literal accepted before login. LOGIN, AUTHENTICATE and ID need a few hundred bytes at
 * most; an anonymous client must not make the server buffer a message-sized literal (35 MB by default).
 */
export const PRE_LOGIN_LITERAL_BYTES = 8 * 1024;

/** Per-connection settings the server decides. */
export interface ConnectionOptions {
  /** Inactivity before autologout (RFC 3501 §5.4: at least 30 minutes once logged in). */
  autologoutMs: { unauthenticated: number; authenticated: number };
  /** Whether plaintext login is fine: the client reached a loopback address (or allow_plaintext_lan). */
  loopback: boolean;
  /** Implicit TLS (IMAPS): the socket is a TLSSocket from the start. */
  secure?: boolean;
  /**
   * While idling, a client that does not read its updates: once more than `bytes` wait in the socket's
   * buffer and it does not drain below that within `graceMs`, the session ends instead of queueing more.
   */
  idleOutputLimit: { bytes: number; graceMs: number };
}

/** Why a command is not allowed now (RFC 3501 §3: each command belongs to certain states). */
function stateError(state: SessionState, allowed: readonly SessionState[]): string {
  if (state === 'not-authenticated') return 'Log in first';
  if (allowed.includes('not-authenticated') && !allowed.includes('authenticated')) return 'Already logged in';
  if (allowed.includes('selected') && !allowed.includes('authenticated')) return 'Select a mailbox first';
  return 'Not allowed in this state';
}

/** One client connection, from greeting to close. */
export class ImapConnection {
  private readonly reader: CommandReader;
  private readonly out: ResponseOutput;
  private readonly session: ImapSession;
  /** The dialogue, at trace level, secrets replaced. */
  private readonly trace: ProtocolTrace;
  private socket: net.Socket | tls.TLSSocket;
  private ended = false;
  /** The client closed its sending side: commands already received are still answered (half-close). */
  private inputEnded = false;
  private readonly input = new InputWaiter();
  private readonly handlers = {
    data: (chunk: Buffer) => this.onData(chunk),
    end: () => {
      this.inputEnded = true;
      this.input.notify();
    },
    close: () => this.onGone(),
    error: (err: Error) => {
      this.server.logger.debug({ err: err.message, remote: this.session.remoteAddress }, 'IMAP connection error');
      this.onGone();
    },
  };
  /**
   * Before login the autologout is a deadline counted from the connect, not from the last byte: a
   * client trickling a byte now and then must not hold an anonymous session (and its buffers) forever.
   */
  private readonly loginDeadline: number;
  /**
   * This connection's turn on the event loop. Pipelined commands that need no I/O (20,000 `UID FETCH n
   * FLAGS` in one packet) would otherwise run back to back on resolved promises and hold every other
   * client up for seconds; between commands the connection lets the others in once its slice is used.
   */
  private readonly slice = new TimeSlice();
  /** BAD replies since the last OK or NO (see MAX_BAD_COMMANDS_IN_A_ROW). */
  private badInARow = 0;
  private resolveClosed!: () => void;
  /** Aborted when the client is gone: a login waiting for its password check gives it up. */
  private readonly gone = new AbortController();
  /** Resolves once the socket is closed. */
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));

  constructor(
    socket: net.Socket,
    private readonly server: ServerContext,
    private readonly options: ConnectionOptions,
  ) {
    this.socket = socket;
    this.reader = new CommandReader({
      maxLineBytes: MAX_LINE_BYTES,
      maxLiteralBytes: Math.min(PRE_LOGIN_LITERAL_BYTES, server.maxLiteralBytes),
    });
    this.loginDeadline = Date.now() + options.autologoutMs.unauthenticated;
    this.out = new ResponseOutput(socket);
    this.session = new ImapSession(socket.remoteAddress ?? 'unknown', options.loopback, options.secure ?? false);
    this.trace = new ProtocolTrace(server.logger, 'IMAP');
    socket.once('close', () => {
      this.server.logger.debug({ remote: this.session.remoteAddress, user: this.session.account }, 'IMAP connection closed');
      this.resolveClosed();
    });
  }

  start(): void {
    this.attach(this.socket);
    this.server.logger.debug({ remote: this.session.remoteAddress }, 'IMAP connection opened');
    if (this.trace.enabled) this.out.tap = this.trace;
    this.out.untagged(`OK [CAPABILITY ${capabilityList(this.session, this.server)}] hotbridge ready`);
    this.out.flush();
    void this.run();
  }

  /** Ends the session from outside (server shutdown). */
  shutdown(reason: string): void {
    this.closeWithBye(reason);
  }

  /** Cuts the connection at once (server shutdown, after the grace period). */
  destroy(): void {
    this.ended = true;
    this.gone.abort();
    this.input.notify();
    this.socket.destroy();
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', this.handlers.data);
    socket.on('end', this.handlers.end);
    socket.on('close', this.handlers.close);
    socket.on('error', this.handlers.error);
  }

  private detach(socket: net.Socket | tls.TLSSocket): void {
    socket.off('data', this.handlers.data);
    socket.off('end', this.handlers.end);
    socket.off('close', this.handlers.close);
    socket.off('error', this.handlers.error);
  }

  private onData(chunk: Buffer): void {
    this.reader.push(chunk);
    if (this.reader.buffered > PAUSE_ABOVE) this.socket.pause();
    this.input.notify();
  }

  private onGone(): void {
    this.ended = true;
    this.gone.abort();
    this.input.notify();
  }

  private get autologoutMs(): number {
    return this.session.state === 'not-authenticated' ? this.options.autologoutMs.unauthenticated : this.options.autologoutMs.authenticated;
  }

  /**
   * The next reader event; undefined once the connection is gone, 'timeout' after `timeoutMs` without
   * input. A line (AUTHENTICATE, IDLE's DONE) must be complete within `timeoutMs` altogether, so a
   * client trickling bytes cannot keep an IDLE open past its limit; a command only needs the input to
   * keep flowing (a large APPEND on a slow link may take long).
   */
  private async nextEvent(mode: 'command' | 'line', timeoutMs: number): Promise<ReaderEvent | 'timeout' | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.ended) return undefined;
      const preLogin = this.session.state === 'not-authenticated';
      // Checked before reading too, so pipelining commands does not outlast the deadline either.
      if (preLogin && Date.now() >= this.loginDeadline) return 'timeout';
      const event = this.reader.next(mode);
      if (this.socket.isPaused() && this.reader.buffered < PAUSE_ABOVE / 2) this.socket.resume();
      if (event) return event;
      if (this.inputEnded) return undefined;
      this.out.flush();
      let wait = mode === 'line' ? deadline - Date.now() : timeoutMs;
      if (preLogin) wait = Math.min(wait, this.loginDeadline - Date.now());
      if (wait <= 0 || !(await this.input.wait(wait))) return 'timeout';
    }
  }

  /** The largest literal the next command may announce: small until login (see PRE_LOGIN_LITERAL_BYTES). */
  private literalLimit(): number {
    return this.session.state === 'not-authenticated'
      ? Math.min(PRE_LOGIN_LITERAL_BYTES, this.server.maxLiteralBytes)
      : this.server.maxLiteralBytes;
  }

  private async run(): Promise<void> {
    try {
      while (!this.ended) {
        const event = await this.nextEvent('command', this.autologoutMs);
        if (event === undefined) break;
        if (event === 'timeout') {
          this.closeWithBye('Autologout; idle for too long');
          break;
        }
        if (this.slice.due()) await this.slice.yield();
        await this.handleEvent(event);
        // The reader sees the next command's literal announcements only after this one is done.
        this.reader.setMaxLiteralBytes(this.literalLimit());
        // More input already received (pipelined commands): their answers join this one's in one write,
        // sent once the input is used up (nextEvent) or HOLD_ANSWERS_MS from now. A client that sends
        // commands without reading the answers waits here, so its answers never pile up in memory (the
        // socket is paused meanwhile once enough input is queued).
        if (this.reader.buffered > 0 && !this.out.congested) this.out.flushWithin(HOLD_ANSWERS_MS);
        else await this.out.drain();
      }
    } catch (err) {
      this.server.logger.error({ err, remote: this.session.remoteAddress }, 'IMAP session failed');
      this.closeWithBye('Internal server error, closing the connection');
    } finally {
      this.end();
      this.session.deselect();
    }
  }

  private async handleEvent(event: ReaderEvent): Promise<void> {
    switch (event.kind) {
      case 'continue': {
        const refusal = this.refuseBeforeLiteral(event.partial);
        if (refusal) {
          this.reader.abandon();
          this.out.write(taggedLine(refusal.tag, refusal.error.status, refusal.error.text, refusal.error.code));
          this.countReply(refusal.error.status);
        } else {
          this.out.write('+ Ready for literal data\r\n');
        }
        return;
      }
      case 'line-too-long':
        this.out.write(taggedLine(event.tag, 'BAD', `Command line too long (the limit is ${MAX_LINE_BYTES} bytes)`));
        this.countReply('BAD');
        return;
      case 'literal-too-large': {
        const limit = `the limit is ${this.literalLimit()} bytes`;
        if (this.session.state === 'not-authenticated')
          this.out.write(taggedLine(event.tag, 'BAD', `Literal too large before login (${limit})`, 'TOOBIG'));
        else if (event.command === 'APPEND') this.out.write(taggedLine(event.tag, 'NO', `Message too large (${limit})`, 'TOOBIG'));
        else this.out.write(taggedLine(event.tag, 'BAD', `Literal too large (${limit})`, 'TOOBIG'));
        // The client is already sending a non-synchronizing literal we will not read: the stream is lost.
        if (!event.synchronizing) this.closeWithBye('Literal too large, closing the connection');
        else this.countReply(this.session.state !== 'not-authenticated' && event.command === 'APPEND' ? 'NO' : 'BAD');
        return;
      }
      case 'line':
        // Only asked for by readLine(); a stray one is a command line like any other.
        await this.execute({ segments: [event.line], literals: [] });
        return;
      case 'command':
        await this.execute(event.command);
        return;
    }
  }

  private context(tag: string, uid: boolean): CommandContext {
    return {
      tag,
      uid,
      session: this.session,
      server: this.server,
      out: this.out,
      slice: this.slice,
      connectionClosed: this.gone.signal,
      capabilities: () => capabilityList(this.session, this.server),
      sendContinuation: (text) => {
        this.out.write(`+ ${text}\r\n`);
        this.out.flush();
      },
      readLine: (timeoutMs) => this.readLine(timeoutMs ?? this.autologoutMs),
      syncNow: async () => {
        if (this.ended || !(await this.idleOutputDrains())) return;
        await this.syncView(true);
        this.out.flush();
      },
      closeWithBye: (text) => this.closeWithBye(text),
    };
  }

  private async readLine(timeoutMs: number): Promise<ContinuationReply> {
    const event = await this.nextEvent('line', timeoutMs);
    if (event === undefined) return { closed: true };
    if (event === 'timeout') return { timeout: true };
    if (event.kind === 'line') {
      // AUTHENTICATE answers and IDLE's DONE; the trace redacts the former.
      this.trace.client(event.line.toString('utf8'));
      return { line: event.line };
    }
    return { tooLong: true };
  }

  /**
   * Whether the client is reading what IDLE sends it. Outside IDLE the session waits for the output to
   * drain after every command; while idling, updates caused by other sessions would otherwise pile up
   * in the socket's buffer for as long as the IDLE lasts (29 minutes) if the client never reads. Such a
   * client is given `graceMs` to catch up, then it gets BYE and the connection is cut.
   */
  private async idleOutputDrains(): Promise<boolean> {
    const { bytes, graceMs } = this.options.idleOutputLimit;
    const socket = this.socket;
    if (socket.writableLength <= bytes) return true;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, graceMs);
      socket.on('drain', done);
      socket.on('close', done);
    });
    if (this.ended) return false;
    if (socket.writableLength <= bytes) return true;
    this.server.logger.warn(
      { remote: this.session.remoteAddress, queued: socket.writableLength },
      'IMAP client does not read its IDLE updates; closing',
    );
    this.closeWithBye('Too many unread updates, closing the connection');
    // The client is not reading, so neither the BYE nor a polite close would get through.
    socket.destroy();
    return false;
  }

  /** Reads the command name, state and (via the module) arguments so far; a reason to refuse, if any. */
  private refuseBeforeLiteral(partial: RawCommand): { tag: string; error: ImapError } | undefined {
    const args = new ArgReader(partial, true);
    let tag: string;
    try {
      tag = args.tag();
    } catch {
      return undefined;
    }
    try {
      args.space();
      const { spec } = this.commandFor(args);
      spec.beforeLiteral?.(args, { session: this.session, server: this.server });
      return undefined;
    } catch (err) {
      if (err instanceof ImapError) return { tag, error: err };
      if (err instanceof PendingLiteral) return undefined;
      this.server.logger.error({ err }, 'IMAP literal pre-check failed');
      return undefined;
    }
  }

  /**
   * Reads the command name (and a UID prefix) and finds its module; BAD for an unknown command or one not
   * allowed in this state (RFC 3501 §6).
   */
  private commandFor(args: ArgReader): { name: string; uid: boolean; spec: NonNullable<ReturnType<typeof findCommand>> } {
    let name = args.atom('a command name').toUpperCase();
    let uid = false;
    if (name === 'UID') {
      args.space();
      name = args.atom('a command after UID').toUpperCase();
      uid = true;
    }
    const spec = findCommand(name, uid);
    if (!spec) throw ImapError.bad(uid ? `UID ${name} is not a command` : `Unknown command ${name}`);
    if (!spec.states.includes(this.session.state)) throw ImapError.bad(stateError(this.session.state, spec.states));
    return { name, uid, spec };
  }

  private async execute(command: RawCommand): Promise<void> {
    if (this.trace.enabled)
      this.trace.client(
        command.segments
          .map((segment, i) => segment.toString('utf8') + (i < command.literals.length ? ` [${command.literals[i].length} bytes]` : ''))
          .join(''),
      );
    const args = new ArgReader(command);
    let tag: string;
    try {
      tag = args.tag();
    } catch {
      this.out.write(taggedLine('*', 'BAD', 'Missing or invalid command tag'));
      this.countReply('BAD');
      return;
    }
    let name = '';
    let uid = false;
    // Until the arguments are known, held back (a command that fails before then is BAD: no updates).
    let allowsExpunge = false;
    try {
      if (!args.acceptSpace()) throw ImapError.bad('Missing command name after the tag');
      const found = this.commandFor(args);
      ({ name, uid } = found);
      const { spec } = found;
      const parsed = spec.parse(args, { uid, session: this.session });
      allowsExpunge = spec.expungeAllowed?.(uid, parsed) ?? true;
      const outcome = (await spec.run(this.context(tag, uid), parsed)) ?? {};
      if (this.ended) return;
      await this.syncView(allowsExpunge);
      if (this.ended) return;
      this.out.write(
        taggedLine(tag, 'OK', outcome.text ?? `${uid ? 'UID ' : ''}${name} completed`, outcome.codeAfterSync?.() ?? outcome.code),
      );
      this.server.logger.debug(
        { remote: this.session.remoteAddress, user: this.session.account },
        `IMAP ${tag} ${uid ? 'UID ' : ''}${name}: OK`,
      );
      this.countReply('OK');
      if (outcome.then === 'starttls') this.startTls();
      else if (outcome.then === 'logout') this.end();
    } catch (err) {
      if (this.ended) return;
      const error = this.toImapError(err, name);
      // A NO still reports what changed meanwhile, as any response may (RFC 3501 §7).
      if (error.status === 'NO') await this.syncView(allowsExpunge).catch(() => undefined);
      if (this.ended) return;
      this.out.write(taggedLine(tag, error.status, error.text, error.code));
      this.server.logger.debug(
        { remote: this.session.remoteAddress, user: this.session.account },
        `IMAP ${tag} ${uid ? 'UID ' : ''}${name || '(unknown)'}: ${error.status} ${error.text}`,
      );
      this.countReply(error.status);
    }
  }

  /** Counts BAD replies in a row; the 20th ends the session (MAX_BAD_COMMANDS_IN_A_ROW). */
  private countReply(status: 'OK' | 'NO' | 'BAD'): void {
    if (status !== 'BAD') {
      this.badInARow = 0;
      return;
    }
    this.badInARow++;
    if (this.badInARow < MAX_BAD_COMMANDS_IN_A_ROW || this.ended) return;
    this.server.counters.closedForBadCommands++;
    this.server.logger.warn(
      { remote: this.session.remoteAddress, bad: this.badInARow },
      'IMAP client sent too many bad commands in a row; closing',
    );
    this.closeWithBye(`Too many bad commands (${MAX_BAD_COMMANDS_IN_A_ROW} in a row), closing the connection`);
  }

  private toImapError(err: unknown, command: string): ImapError {
    if (err instanceof ImapError) return err;
    if (err instanceof StoreError) return fromStoreError(err);
    if (err instanceof SectionSyntaxError) return ImapError.bad(err.message);
    this.server.logger.error({ err, command, remote: this.session.remoteAddress }, 'IMAP command failed');
    return ImapError.no('Internal server error', 'SERVERBUG');
  }

  private async syncView(expunges: boolean): Promise<void> {
    const view = this.session.view;
    if (!view) return;
    const qresync = this.session.enabled.has('QRESYNC');
    await view.sync(this.out, { expunges, modseq: this.session.condstore, vanished: qresync, slice: this.slice });
    if (view.wasDeleted) {
      this.closeWithBye('The selected mailbox was deleted by another session');
      return;
    }
    // RFC 7162 §3.2, §6: a QRESYNC client takes the highest MODSEQ it saw as its new HIGHESTMODSEQ
    // unless told otherwise; while an expunge is held back (FETCH, STORE, SEARCH) it must be told a
    // value below that expunge's, or a reconnect would never learn of it.
    if (qresync && !expunges && view.hasHeldExpunges()) {
      this.out.untagged(`OK [HIGHESTMODSEQ ${view.reportableModseq()}] Expunges are held back until a command that may report them`);
    }
  }

  /** STARTTLS: the tagged OK goes out in plaintext, then the same socket carries TLS (RFC 3501 §6.2.1). */
  private startTls(): void {
    const raw = this.socket as net.Socket;
    this.out.flush();
    this.detach(raw);
    // Plaintext the client sent after STARTTLS must not be read as commands inside TLS.
    this.reader.reset();
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: this.server.tls });
    this.socket = secure;
    this.attach(secure);
    this.out.setSocket(secure);
    this.session.secure = true;
  }

  private closeWithBye(text: string): void {
    if (this.ended) return;
    this.out.write(`* BYE ${text}\r\n`);
    this.end();
  }

  /** Flushes and closes; the socket is destroyed if the client does not close its side in time. */
  private end(): void {
    const alreadyEnded = this.ended;
    this.ended = true;
    this.out.flush();
    this.input.notify();
    if (alreadyEnded && this.socket.destroyed) return;
    if (!this.socket.writableEnded) this.socket.end();
    const socket = this.socket;
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }
}
