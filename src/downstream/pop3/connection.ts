/**
 * One POP3 client connection, from greeting to close: reads command lines, runs them one at a time (a
 * pipelining client's commands wait in the reader, RFC 2449 §6.6), and turns a Pop3Error into the
 * `-ERR` line in one place. Nothing a client sends can escape as an exception.
 */
import type net from 'node:net';
import tls from 'node:tls';
import type { ContinuationLine, Pop3CommandContext, Pop3Outcome, Pop3ServerContext } from './command.js';
import { findCommand } from './commands/index.js';
import { errLine, Pop3Error } from './errors.js';
import { Pop3Output } from './output.js';
import { LineReader, type ReaderEvent } from './reader.js';
import { Pop3Session } from './session.js';
import { InputWaiter } from '../../runtime/input-waiter.js';

/**
 * RFC 2449 §4 caps a command at 255 octets; AUTH PLAIN's initial response and SASL answers may be longer
 * (RFC 5034 §4), so lines up to 8 KiB are read and longer ones refused.
 */
export const MAX_LINE_BYTES = 8 * 1024;
/** Unread pipelined input above this pauses the socket until the session catches up. */
const PAUSE_ABOVE = 64 * 1024;
const CLOSE_GRACE_MS = 5_000;

export interface Pop3ConnectionOptions {
  /** Before login: a deadline from the connect. After: inactivity (RFC 1939 §3: at least 10 minutes). */
  timeouts: { authorization: number; transaction: number };
  loopback: boolean;
  /** Implicit TLS (POP3S): the socket is a TLSSocket already. */
  secure: boolean;
}

export class Pop3Connection {
  private readonly reader = new LineReader(MAX_LINE_BYTES);
  private readonly out: Pop3Output;
  readonly session: Pop3Session;
  private ended = false;
  private readonly gone = new AbortController();
  private inputEnded = false;
  private readonly input = new InputWaiter();
  private stopExpungeFeed?: () => void;
  private readonly loginDeadline: number;
  private resolveClosed!: () => void;
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));
  private readonly handlers = {
    data: (chunk: Buffer) => {
      this.reader.push(chunk);
      if (this.reader.buffered > PAUSE_ABOVE) this.socket.pause();
      this.input.notify();
    },
    end: () => {
      this.inputEnded = true;
      this.input.notify();
    },
    close: () => this.onGone(),
    error: (err: Error) => {
      this.server.logger.debug({ err: err.message, remote: this.session.remoteAddress }, 'POP3 connection error');
      this.onGone();
    },
  };

  constructor(
    private socket: net.Socket,
    private readonly server: Pop3ServerContext,
    private readonly options: Pop3ConnectionOptions,
  ) {
    this.out = new Pop3Output(socket);
    this.session = new Pop3Session(socket.remoteAddress ?? 'unknown', options.loopback, options.secure);
    this.loginDeadline = Date.now() + options.timeouts.authorization;
    socket.once('close', () => this.resolveClosed());
  }

  start(): void {
    this.attach(this.socket);
    // No APOP timestamp in the greeting (RFC 1939 §7): APOP is not offered.
    this.out.line('+OK hotbridge POP3 ready');
    void this.run();
  }

  /** Server stop: the session ends without UPDATE, so nothing is deleted (RFC 1939 §6). */
  shutdown(): void {
    if (this.ended) return;
    this.out.line('-ERR [SYS/TEMP] Server shutting down, nothing was deleted');
    this.end();
  }

  destroy(): void {
    this.ended = true;
    this.input.notify();
    this.socket.destroy();
  }

  private attach(socket: net.Socket): void {
    socket.on('data', this.handlers.data);
    socket.on('end', this.handlers.end);
    socket.on('close', this.handlers.close);
    socket.on('error', this.handlers.error);
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.handlers.data);
    socket.off('end', this.handlers.end);
    socket.off('close', this.handlers.close);
    socket.off('error', this.handlers.error);
  }

  private onGone(): void {
    this.ended = true;
    this.gone.abort();
    this.input.notify();
  }

  /** The next line; undefined when the connection is gone, 'timeout' after the state's timeout. */
  private async nextEvent(): Promise<ReaderEvent | 'timeout' | undefined> {
    for (;;) {
      if (this.ended) return undefined;
      const authorization = this.session.state === 'authorization';
      if (authorization && Date.now() >= this.loginDeadline) return 'timeout';
      const event = this.reader.next();
      if (this.socket.isPaused() && this.reader.buffered < PAUSE_ABOVE / 2) this.socket.resume();
      if (event) return event;
      if (this.inputEnded) return undefined;
      const wait = authorization ? this.loginDeadline - Date.now() : this.options.timeouts.transaction;
      if (wait <= 0 || !(await this.input.wait(wait))) return 'timeout';
    }
  }

  private async run(): Promise<void> {
    try {
      while (!this.ended) {
        const event = await this.nextEvent();
        if (event === undefined) break;
        if (event === 'timeout') {
          // RFC 1939 §3: an autologout timer closes the session without entering UPDATE.
          this.out.line('-ERR Disconnected for inactivity, nothing was deleted');
          break;
        }
        if (event.kind === 'too-long') {
          this.out.line(`-ERR Line too long (the limit is ${MAX_LINE_BYTES} bytes)`);
          continue;
        }
        this.out.cork();
        const outcome = await this.execute(event.line);
        this.out.uncork();
        if (outcome?.then === 'close') break;
        if (outcome?.then === 'stls') this.startTls();
        await this.out.drain();
      }
    } catch (err) {
      this.out.uncork();
      this.server.logger.error({ err, remote: this.session.remoteAddress }, 'POP3 session failed');
      this.out.line('-ERR [SYS/TEMP] Internal server error, closing the connection');
    } finally {
      this.out.uncork();
      this.end();
    }
  }

  private async execute(line: Buffer): Promise<Pop3Outcome> {
    // Commands are ASCII (RFC 1939 §3); a password or a SASL answer may be UTF-8.
    const text = line.toString('utf8');
    const space = text.indexOf(' ');
    const keyword = (space < 0 ? text : text.slice(0, space)).toUpperCase();
    const rest = space < 0 ? '' : text.slice(space + 1);
    try {
      if (keyword === '') throw new Pop3Error('Empty command');
      const command = findCommand(keyword);
      if (!command) throw new Pop3Error(`Unknown command ${keyword.slice(0, 20).replace(/[^\x21-\x7e]/g, '?')}`);
      if (!command.states.includes(this.session.state)) {
        throw new Pop3Error(
          this.session.state === 'authorization' ? `Log in first (${keyword} needs a login)` : `${keyword} is only allowed before login`,
        );
      }
      const outcome = await command.run(this.context(rest === '' ? [] : rest.split(' ')));
      if (this.session.state === 'transaction' && !this.stopExpungeFeed) this.watchExpunges();
      return outcome;
    } catch (err) {
      if (this.ended) return { then: 'close' };
      if (err instanceof Pop3Error) {
        this.out.line(errLine(err));
        return;
      }
      this.server.logger.error({ err, command: keyword, remote: this.session.remoteAddress }, 'POP3 command failed');
      this.out.line(errLine(new Pop3Error('Internal server error', 'SYS/TEMP')));
      return;
    }
  }

  private context(args: string[]): Pop3CommandContext {
    return {
      session: this.session,
      server: this.server,
      out: this.out,
      args,
      connectionClosed: this.gone.signal,
      continuation: (text) => this.continuation(text),
    };
  }

  private async continuation(text: string): Promise<ContinuationLine> {
    this.out.line(`+ ${text}`);
    // The challenge must leave now: the client answers only once it has it.
    this.out.uncork();
    const event = await this.nextEvent();
    this.out.cork();
    if (event === undefined || event === 'timeout') return { closed: true };
    if (event.kind === 'too-long') return { tooLong: true };
    return { line: event.line.toString('utf8') };
  }

  /** Messages expunged by another session answer -ERR on RETR from now on (see session.ts). */
  private watchExpunges(): void {
    this.stopExpungeFeed = this.server.maildrop.onExpunged(this.session.mailboxId, (uids) => {
      for (const uid of uids) this.session.gone.add(uid);
    });
  }

  /** STLS: "+OK" went out in plaintext; the same socket now carries TLS (RFC 2595 §4). */
  private startTls(): void {
    const context = this.server.tls?.();
    if (!context) return;
    const raw = this.socket;
    this.detach(raw);
    // Plaintext the client sent after STLS must not be read as commands inside TLS.
    this.reader.reset();
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
    secure.once('close', () => this.resolveClosed());
    this.socket = secure;
    this.attach(secure);
    this.out.setSocket(secure);
    this.session.secure = true;
  }

  private end(): void {
    const already = this.ended;
    this.ended = true;
    this.stopExpungeFeed?.();
    this.input.notify();
    if (already && this.socket.destroyed) return;
    if (!this.socket.writableEnded) this.socket.end();
    const socket = this.socket;
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }
}
