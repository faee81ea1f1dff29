/**
 * One POP3 transport: the socket (plain, TLS, or plain upgraded by STLS), the response reader, and the queue of
 * commands waiting for their answers in order. It knows framing and deadlines, not POP3 semantics.
 *
 * Deadlines measure progress, not silence alone: each window of `timeoutMs` must complete a response or bring
 * at least MIN_PROGRESS_BYTES_PER_SECOND × the window, so a server that drips a byte now and then cannot hold a
 * session for ever. While a streamed body's sink is busy (the store writing), reading pauses and no deadline runs.
 *
 * Failure is all-or-nothing: a timeout, a dropped line, a socket error or a stream that is not POP3 rejects every
 * waiting command with the same typed error and destroys the socket. Every socket gets an 'error' listener
 * before anything else happens, so nothing escapes as an uncaught exception (ECONNRESET included).
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../../runtime/logger.js';
import { ProtocolTrace } from '../../runtime/protocol-trace.js';
import { Pop3Error, TOO_LARGE, TRUNCATED } from './errors.js';
import { trustContextFor } from '../tls-trust.js';
import { Pop3ResponseReader, MAX_STATUS_LINE, type BodySink, type Pop3Response, type ResponseShape } from './reader.js';

export interface TransportOptions {
  host: string;
  port: number;
  /** true: TLS from the first byte (port 995); false: plain TCP (STLS may upgrade it later). */
  implicitTls: boolean;
  /** An extra trusted CA (PEM), added to Node's default roots. */
  ca?: Buffer | string;
  /** Deadline for the connect, the handshakes, and each response (restarted whenever bytes arrive). */
  timeoutMs: number;
  /** Where debug (one line per command) and trace (the dialogue, secrets replaced) go; none by default. */
  logger?: Logger;
}

/** A body sink that may ask the connection to stop reading for a while (the store is writing). */
export interface ResponseSink extends BodySink {
  /** Checked after bytes were written: a promise while the sink wants no more (reading resumes when it settles). */
  backlog(): Promise<void> | undefined;
}

export interface RequestOptions {
  /** Largest body of a multi-line answer (after unstuffing); a larger one fails the connection (TOO-LARGE). */
  limit?: number;
  /** Streams the body of a multi-line answer here instead of collecting it. */
  sink?: ResponseSink;
  /**
   * The answer counts only once the bytes after its end look like the next status line (RFC 1939 §3): a server
   * that does not dot-stuff ends a message early at a lone "." and sends the rest of it where the next status
   * line belongs. Then the connection fails with code TRUNCATED. The caller must send another command (NOOP)
   * after the last such one, or the answer waits for the deadline.
   */
  verifyEnd?: boolean;
}

interface QueuedCommand {
  /** Names the command in errors; never holds arguments that could be secrets. */
  label: string;
  /** The line to send, CRLF included; null to only wait for a response (the greeting). */
  bytes: Buffer | null;
  shape: ResponseShape;
  limit: number;
  sink: ResponseSink | undefined;
  verifyEnd: boolean;
  resolve: (response: Pop3Response) => void;
  reject: (error: Pop3Error) => void;
}

/** A complete answer that waits for the first bytes of the next one (RequestOptions.verifyEnd). */
interface Unverified {
  command: QueuedCommand;
  response: Pop3Response;
}

/**
 * The least a window of `timeoutMs` must bring while an answer is due, unless an answer completes in it: about
 * 8 kbit/s, well below any working link, far above a server dripping bytes to keep the session alive.
 */
export const MIN_PROGRESS_BYTES_PER_SECOND = 1024;

interface Handshake {
  label: string;
  tls: boolean;
  reject: (error: Pop3Error) => void;
}

/** Socket error codes that mean the network or the peer went away, not that TLS was refused. */
const NETWORK_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
  'ERR_SOCKET_CLOSED',
]);

/** TLS options with verification always on: there is deliberately no way to turn it off. */
function tlsOptions(options: TransportOptions): tls.ConnectionOptions {
  const result: tls.ConnectionOptions = {
    host: options.host,
    port: options.port,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  };
  // RFC 6066 §3: SNI carries host names only; the certificate check then uses `host` (IP SANs).
  if (net.isIP(options.host) === 0) result.servername = options.host;
  if (options.ca !== undefined) result.secureContext = trustContextFor(options.ca);
  return result;
}

export class Pop3Connection {
  private socket: net.Socket;
  /** The TCP socket under an STLS upgrade, kept so that closing destroys both. */
  private rawSocket: net.Socket | undefined;
  private reader = new Pop3ResponseReader();
  private readonly queue: QueuedCommand[] = [];
  /** How many commands at the head of the queue have been written (or, for the greeting, are awaited). */
  private inFlight = 0;
  private window = 1;
  private timer: NodeJS.Timeout | undefined;
  /** Bytes received, and answers completed, since the deadline window began. */
  private windowBytes = 0;
  private windowAnswers = 0;
  private handshake: Handshake | undefined;
  private closedWith: Pop3Error | undefined;
  private readonly trace: ProtocolTrace | undefined;
  private unverified: Unverified | undefined;
  /** Set while reading is paused for a busy sink. */
  private pausedFor: Promise<void> | undefined;

  private constructor(
    socket: net.Socket,
    private readonly options: TransportOptions,
  ) {
    this.socket = socket;
    this.trace = options.logger ? new ProtocolTrace(options.logger, 'POP3') : undefined;
    this.listen(socket);
  }

  /** Opens the TCP connection, and the TLS session for implicit TLS, verifying the certificate. */
  static async open(options: TransportOptions): Promise<Pop3Connection> {
    const socket = options.implicitTls ? tls.connect(tlsOptions(options)) : net.connect({ host: options.host, port: options.port });
    const connection = new Pop3Connection(socket, options);
    await connection.awaitHandshake(
      options.implicitTls ? 'secureConnect' : 'connect',
      options.implicitTls ? 'TLS handshake' : 'connect',
      options.implicitTls,
    );
    socket.setNoDelay(true);
    options.logger?.debug({ host: options.host, port: options.port, tls: options.implicitTls }, 'POP3 connected');
    return connection;
  }

  get isOpen(): boolean {
    return this.closedWith === undefined;
  }

  get isTls(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  /**
   * How many commands may be outstanding at once. 1 unless the server advertised PIPELINING (RFC 2449 §6.6);
   * commands beyond the window wait in the queue and are written as answers come back.
   */
  setWindow(size: number): void {
    this.window = Math.max(1, Math.floor(size));
    this.pump();
  }

  /** Queues a command (or, with `line` null, waits for an unsolicited response such as the greeting). */
  request(label: string, line: Buffer | null, shape: ResponseShape, options: RequestOptions = {}): Promise<Pop3Response> {
    if (this.closedWith !== undefined) {
      return Promise.reject(
        new Pop3Error('io', `cannot send ${label}: the POP3 connection is closed`, {
          temporary: true,
          cause: this.closedWith,
        }),
      );
    }
    return new Promise<Pop3Response>((resolve, reject) => {
      this.queue.push({
        label,
        bytes: line,
        shape,
        limit: options.limit ?? Number.MAX_SAFE_INTEGER,
        sink: options.sink,
        verifyEnd: options.verifyEnd ?? false,
        resolve,
        reject,
      });
      this.pump();
    });
  }

  /**
   * RFC 2595 §4: after `+OK` to STLS, the TLS handshake starts on the same socket. Anything the server sent
   * after that `+OK` in the clear could be an injection, so it is a protocol error, not data.
   */
  async upgradeToTls(): Promise<void> {
    if (this.closedWith !== undefined) throw this.closedWith;
    if (this.queue.length > 0 || this.unverified !== undefined || this.reader.buffered > 0) {
      const error = new Pop3Error('protocol', 'POP3 server sent data after its STLS reply (RFC 2595 §4)');
      this.fail(error);
      throw error;
    }
    const raw = this.socket;
    raw.removeListener('data', this.onData);
    raw.removeListener('close', this.onClose);
    const secure = tls.connect({ ...tlsOptions(this.options), socket: raw });
    this.rawSocket = raw;
    this.socket = secure;
    this.reader = new Pop3ResponseReader();
    this.listen(secure);
    await this.awaitHandshake('secureConnect', 'TLS handshake after STLS', true);
  }

  /** Ends the connection gracefully (after QUIT was answered); nothing may be pending. */
  end(): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = new Pop3Error('io', 'the POP3 session has ended', { temporary: true });
    this.clearTimer();
    const socket = this.socket;
    socket.end();
    // A server that never closes its side must not keep the socket (and the process) alive.
    setTimeout(() => this.destroySockets(), this.options.timeoutMs).unref();
  }

  /** Destroys the connection at once; every waiting command is rejected with `error`. */
  close(error?: Pop3Error): void {
    this.fail(error ?? new Pop3Error('io', 'the POP3 connection was closed by the client', { temporary: true }));
  }

  private listen(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private awaitHandshake(event: string, label: string, isTls: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.handshake = { label, tls: isTls, reject };
      this.restartTimer();
      this.socket.once(event, () => {
        this.handshake = undefined;
        this.clearTimer();
        this.pump();
        resolve();
      });
    });
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.closedWith !== undefined) return;
    this.reader.push(chunk);
    this.windowBytes += chunk.length;
    this.deliver();
  };

  private readonly onError = (error: Error): void => {
    this.fail(this.classify(error));
  };

  private readonly onClose = (): void => {
    const during = this.handshake?.label ?? this.unverified?.command.label ?? this.queue[0]?.label;
    const detail = during === undefined ? '' : ` while waiting for the answer to ${during}`;
    this.fail(new Pop3Error('io', `the POP3 server closed the connection${detail}`, { temporary: true }));
  };

  private readonly onTimeout = (): void => {
    this.timer = undefined;
    const minimum = Math.ceil((MIN_PROGRESS_BYTES_PER_SECOND * this.options.timeoutMs) / 1000);
    if (this.handshake === undefined && (this.windowAnswers > 0 || this.windowBytes >= minimum)) {
      this.restartTimer();
      return;
    }
    const during = this.handshake?.label ?? this.unverified?.command.label ?? this.queue[0]?.label ?? 'a command';
    const what =
      this.windowBytes === 0
        ? `did not answer ${during} within ${this.options.timeoutMs} ms`
        : `sent only ${this.windowBytes} bytes of the answer to ${during} in ${this.options.timeoutMs} ms (fewer than ${minimum})`;
    this.fail(new Pop3Error('timeout', `the POP3 server ${what}`, { temporary: true }));
  };

  /** Hands complete responses to the commands at the head of the queue, in order. */
  private deliver(): void {
    for (;;) {
      if (this.unverified !== undefined && !this.verifyEnd(this.unverified)) return;
      if (this.inFlight === 0 || this.pausedFor !== undefined) break;
      const command = this.queue[0];
      let response: Pop3Response | undefined;
      try {
        response = this.reader.read(command.shape, command.limit, command.sink);
      } catch (error) {
        this.fail(this.readFailure(error, command));
        return;
      }
      if (command.sink !== undefined) this.pauseWhileBusy(command.sink);
      if (response === undefined) break;
      this.queue.shift();
      this.inFlight--;
      this.logResponse(command, response);
      this.windowAnswers++;
      if (command.verifyEnd && response.status === 'ok') this.unverified = { command, response };
      else command.resolve(response);
    }
    if (this.inFlight === 0 && this.unverified === undefined && this.reader.buffered > MAX_STATUS_LINE) {
      // Nobody asked: a server that keeps talking must not grow our memory.
      this.fail(new Pop3Error('protocol', 'the POP3 server sent data nobody asked for'));
      return;
    }
    this.pump();
  }

  private readFailure(error: unknown, command: QueuedCommand): Pop3Error {
    if (!(error instanceof Pop3Error)) return new Pop3Error('protocol', String(error));
    if (error.code !== TOO_LARGE) return error;
    return new Pop3Error('protocol', `the answer to ${command.label} is larger than the limit of ${command.limit} bytes`, {
      code: TOO_LARGE,
    });
  }

  /**
   * Settles the answer waiting for the next status line; false when the connection failed because what follows
   * it is not one. Stays waiting (true) while too few bytes are here to tell.
   */
  private verifyEnd(waiting: Unverified): boolean {
    const verdict = this.reader.nextLooksLikeStatus();
    if (verdict === undefined) return true;
    this.unverified = undefined;
    if (verdict) {
      waiting.command.resolve(waiting.response);
      return true;
    }
    this.unverified = waiting;
    this.fail(
      new Pop3Error(
        'protocol',
        `the answer to ${waiting.command.label} ended early: what follows its end is not a status line, so the server ` +
          'did not dot-stuff a line holding only "." (RFC 1939 §3) and the message was cut short',
        { code: TRUNCATED },
      ),
    );
    return false;
  }

  /** Stops reading while the sink of a streamed body is busy; resumes (and reads what waits) when it is done. */
  private pauseWhileBusy(sink: ResponseSink): void {
    if (this.pausedFor !== undefined) return;
    const busy = sink.backlog();
    if (busy === undefined) return;
    this.pausedFor = busy;
    this.socket.pause();
    this.clearTimer();
    busy.then(
      () => {
        this.pausedFor = undefined;
        if (this.closedWith !== undefined) return;
        this.socket.resume();
        this.restartTimer();
        this.deliver();
      },
      (error: unknown) => {
        this.pausedFor = undefined;
        this.fail(new Pop3Error('io', `reading stopped: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
      },
    );
  }

  /** Writes queued commands while the window allows; keeps the deadline armed while answers are due. */
  private pump(): void {
    if (this.closedWith !== undefined || this.handshake !== undefined) return;
    const wasIdle = this.inFlight === 0;
    while (this.inFlight < this.queue.length && this.inFlight < this.window) {
      const command = this.queue[this.inFlight];
      this.inFlight++;
      if (command.bytes !== null) {
        this.trace?.client(command.bytes.toString('utf8').replace(/\r\n$/, ''));
        this.socket.write(command.bytes);
      }
    }
    if (this.inFlight === 0 && this.unverified === undefined) this.clearTimer();
    else if (wasIdle || this.timer === undefined) this.restartTimer();
    // Responses that arrived before their command was written (the greeting) are already buffered.
    if (wasIdle && this.inFlight > 0 && this.reader.buffered > 0) this.deliver();
  }

  /** debug: one line per command and its answer; trace: the server's lines (listing bodies by size). */
  private logResponse(command: QueuedCommand, response: Pop3Response): void {
    const logger = this.options.logger;
    if (!logger) return;
    const indicator = response.status === 'ok' ? '+OK' : response.status === 'err' ? '-ERR' : '+';
    this.trace?.server(`${indicator}${response.text ? ` ${response.text}` : ''}`);
    // Listings and messages alike: their size, never their lines (a message is the user's, a listing long).
    if (response.body) this.trace?.data('S', response.body.length);
    logger.debug(
      `POP3 ${command.label}: ${indicator}${response.text && response.status !== 'continue' ? ` ${response.text.slice(0, 120)}` : ''}${response.body ? ` (${response.body.length} bytes)` : ''}`,
    );
  }

  private restartTimer(): void {
    this.clearTimer();
    this.windowBytes = 0;
    this.windowAnswers = 0;
    if (this.pausedFor !== undefined) return;
    if (this.handshake === undefined && this.inFlight === 0 && this.unverified === undefined) return;
    this.timer = setTimeout(this.onTimeout, this.options.timeoutMs);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private classify(error: Error): Pop3Error {
    if (error instanceof Pop3Error) return error;
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${this.options.host}:${this.options.port}`;
    const networkFault = code !== undefined && NETWORK_ERROR_CODES.has(code);
    if (this.handshake?.tls === true && !networkFault) {
      return new Pop3Error('tls', `TLS with ${where} failed: ${error.message}`, { cause: error });
    }
    return new Pop3Error('io', `POP3 connection to ${where} failed: ${error.message}`, {
      temporary: true,
      cause: error,
    });
  }

  private fail(error: Pop3Error): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = error;
    this.clearTimer();
    const handshake = this.handshake;
    this.handshake = undefined;
    const waiting = this.queue.splice(0);
    const unverified = this.unverified;
    this.unverified = undefined;
    this.inFlight = 0;
    this.destroySockets();
    handshake?.reject(error);
    unverified?.command.reject(error);
    for (const command of waiting) command.reject(error);
  }

  private destroySockets(): void {
    this.socket.destroy();
    this.rawSocket?.destroy();
  }
}
